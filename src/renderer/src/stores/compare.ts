/**
 * The compare view's state: which runs are selected, the charts (one metric each), the toolbar
 * (x axis, smoothing, log y, group by), the config filter, the runs left out of the charts, the
 * x window zoomed into, and the saved view it came from. Remembered across reloads; a saved view
 * (`saveView`) is this state under a name.
 */
import { defineStore } from 'pinia'
import { computed, ref, shallowRef, watch } from 'vue'
import { MAX_VIEW_CHARTS, type SavedView, type ViewState } from '@shared/api/contract'
import type { MetricName } from '@shared/metrics'
import type { XAxisMode } from '@shared/smoothing'
import { filterText, type ConfigFilter } from '../lib/config-filter'
import { CHARTABLE_METRICS, DEFAULT_CHARTS, isMetricName } from '../lib/metric-info'

const KEY = 'ninLab.compare'

/** The smoothing Compare starts with: it applies to per-step curves only. */
export const DEFAULT_SMOOTHING = 0.6

interface Saved {
  ids: string[]
  xMode: XAxisMode
  smoothing: number
  logY: boolean
  groupBy: string
  charts: MetricName[]
  filterText: string
  hidden: string[]
}

function loadSaved(): Partial<Saved> {
  try {
    const v = JSON.parse(window.localStorage.getItem(KEY) ?? '{}') as unknown
    return typeof v === 'object' && v !== null ? (v as Partial<Saved>) : {}
  } catch {
    return {}
  }
}

const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []

const isXMode = (v: unknown): v is XAxisMode => v === 'step' || v === 'epoch' || v === 'time'

/** An x range zoomed into (in the x axis's own unit), or null for the whole range. */
export interface XWindow {
  readonly start: number
  readonly end: number
}

export const useCompareStore = defineStore('compare', () => {
  const refs = compareState(loadSaved())
  persist(refs)
  const count = computed(() => refs.ids.value.length)
  const has = (id: string): boolean => refs.ids.value.includes(id)
  return {
    ...refs,
    count,
    has,
    ...selectionActions(refs, has),
    ...chartActions(refs),
    ...viewActions(refs),
  }
})

/** The state, as saved last (each field checked; defaults where it is missing or wrong). */
function compareState(saved: Partial<Saved>) {
  const ids = ref<string[]>(strings(saved.ids))
  const xMode = ref<XAxisMode>(isXMode(saved.xMode) ? saved.xMode : 'step')
  const smoothing = ref<number>(
    typeof saved.smoothing === 'number' && saved.smoothing >= 0 && saved.smoothing < 1
      ? saved.smoothing
      : DEFAULT_SMOOTHING,
  )
  const logY = ref<boolean>(saved.logY === true)
  /** A flat config path (`model.head`), or '' for one line per run. */
  const groupBy = ref<string>(typeof saved.groupBy === 'string' ? saved.groupBy : '')
  const savedCharts = strings(saved.charts).filter(isMetricName)
  const charts = ref<MetricName[]>(
    Array.isArray(saved.charts) ? savedCharts.slice(0, MAX_VIEW_CHARTS) : [...DEFAULT_CHARTS],
  )
  /** The config filter as typed (`head=gap microConvs=1,2`). */
  const query = ref<string>(typeof saved.filterText === 'string' ? saved.filterText : '')
  /** Runs left out of the charts (the legend's toggles); they stay in the tables. */
  const hidden = ref<string[]>(strings(saved.hidden))
  /** The x window all line charts are zoomed into (they share the x axis). */
  const zoom = shallowRef<XWindow | null>(null)
  /** The saved view this state was opened from (and is saved over by default). */
  const view = shallowRef<Pick<SavedView, 'id' | 'name'> | null>(null)
  return { ids, xMode, smoothing, logY, groupBy, charts, query, hidden, zoom, view }
}
type State = ReturnType<typeof compareState>

/** Selecting runs, and hiding them from the charts. */
function selectionActions({ ids, hidden }: State, has: (id: string) => boolean) {
  function set(next: readonly string[]): void {
    ids.value = [...new Set(next)]
  }
  function toggle(id: string): void {
    ids.value = has(id) ? ids.value.filter((x) => x !== id) : [...ids.value, id]
  }
  function remove(gone: readonly string[]): void {
    ids.value = ids.value.filter((x) => !gone.includes(x))
  }
  function toggleHidden(id: string): void {
    hidden.value = hidden.value.includes(id)
      ? hidden.value.filter((x) => x !== id)
      : [...hidden.value, id]
  }

  return { set, toggle, remove, toggleHidden }
}

/** The charts: one metric each, at most MAX_VIEW_CHARTS. */
function chartActions({ charts }: State) {
  function setChart(index: number, metric: MetricName): void {
    const next = [...charts.value]
    next[index] = metric
    charts.value = next
  }
  function removeChart(index: number): void {
    charts.value = charts.value.filter((_, i) => i !== index)
  }
  /** Adds a chart of the first metric no chart shows yet. */
  function addChart(): void {
    if (charts.value.length >= MAX_VIEW_CHARTS) return
    const next = CHARTABLE_METRICS.find((m) => !charts.value.includes(m)) ?? CHARTABLE_METRICS[0]
    if (next) charts.value = [...charts.value, next]
  }

  return { setChart, removeChart, addChart }
}

/** The state as a saved view, and a saved view opened. */
function viewActions(s: State) {
  const { ids, charts, xMode, smoothing, logY, groupBy, hidden, query, zoom, view } = s
  /** The state to save as a view (`filters`: the query as the view parses it). */
  function state(filters: readonly ConfigFilter[]): ViewState {
    return {
      ids: [...ids.value],
      charts: [...charts.value],
      xMode: xMode.value,
      smoothing: smoothing.value,
      logY: logY.value,
      groupBy: groupBy.value,
      filters: filters.map((f) => ({ path: f.path, op: f.op, values: [...f.values] })),
      hidden: [...hidden.value],
    }
  }

  /** Opens a saved view: its state replaces this one. */
  function apply(next: ViewState, from: Pick<SavedView, 'id' | 'name'> | null = null): void {
    ids.value = [...next.ids]
    charts.value = next.charts.filter(isMetricName)
    xMode.value = next.xMode
    smoothing.value = next.smoothing
    logY.value = next.logY
    groupBy.value = next.groupBy
    hidden.value = [...next.hidden]
    query.value = next.filters
      .map((f) => filterText({ path: f.path, op: f.op, values: f.values.map(String) }))
      .join(' ')
    zoom.value = null
    view.value = from
  }

  return { state, apply }
}

/** Remembered across reloads (all but the zoom and the view); a new x axis drops the zoom. */
function persist(s: State): void {
  const { ids, xMode, smoothing, logY, groupBy, charts, query, hidden, zoom } = s
  watch(
    [ids, xMode, smoothing, logY, groupBy, charts, query, hidden],
    () => {
      const state: Saved = {
        ids: ids.value,
        xMode: xMode.value,
        smoothing: smoothing.value,
        logY: logY.value,
        groupBy: groupBy.value,
        charts: charts.value,
        filterText: query.value,
        hidden: hidden.value,
      }
      try {
        window.localStorage.setItem(KEY, JSON.stringify(state))
      } catch {
        // storage unavailable: the selection lasts for this session only
      }
    },
    { deep: true },
  )
  // A new x axis has other units: the zoom window no longer means anything.
  watch(xMode, () => (zoom.value = null))
}
