/**
 * The compare view's state: which runs are selected (remembered across reloads) and the chart
 * toolbar (x axis, smoothing, log y, group by).
 */
import { defineStore } from 'pinia'
import { computed, ref, watch } from 'vue'
import type { XAxisMode } from '@shared/smoothing'

const KEY = 'ninLab.compare'

interface Saved {
  ids: string[]
  xMode: XAxisMode
  smoothing: number
  logY: boolean
  groupBy: string
}

function loadSaved(): Partial<Saved> {
  try {
    const v = JSON.parse(window.localStorage.getItem(KEY) ?? '{}') as unknown
    return typeof v === 'object' && v !== null ? (v as Partial<Saved>) : {}
  } catch {
    return {}
  }
}

export const useCompareStore = defineStore('compare', () => {
  const saved = loadSaved()
  const ids = ref<string[]>(
    Array.isArray(saved.ids) ? saved.ids.filter((x) => typeof x === 'string') : [],
  )
  const xMode = ref<XAxisMode>(
    saved.xMode === 'epoch' || saved.xMode === 'time' ? saved.xMode : 'step',
  )
  const smoothing = ref<number>(
    typeof saved.smoothing === 'number' && saved.smoothing >= 0 && saved.smoothing < 1
      ? saved.smoothing
      : 0.6,
  )
  const logY = ref<boolean>(saved.logY === true)
  /** A flat config path (`model.head`), or '' for one line per run. */
  const groupBy = ref<string>(typeof saved.groupBy === 'string' ? saved.groupBy : '')

  const count = computed(() => ids.value.length)
  const has = (id: string): boolean => ids.value.includes(id)

  function set(next: readonly string[]): void {
    ids.value = [...new Set(next)]
  }
  function toggle(id: string): void {
    ids.value = has(id) ? ids.value.filter((x) => x !== id) : [...ids.value, id]
  }
  function remove(gone: readonly string[]): void {
    ids.value = ids.value.filter((x) => !gone.includes(x))
  }

  watch(
    [ids, xMode, smoothing, logY, groupBy],
    () => {
      const state: Saved = {
        ids: ids.value,
        xMode: xMode.value,
        smoothing: smoothing.value,
        logY: logY.value,
        groupBy: groupBy.value,
      }
      try {
        window.localStorage.setItem(KEY, JSON.stringify(state))
      } catch {
        // storage unavailable: the selection lasts for this session only
      }
    },
    { deep: true },
  )

  return { ids, xMode, smoothing, logY, groupBy, count, has, set, toggle, remove }
})
