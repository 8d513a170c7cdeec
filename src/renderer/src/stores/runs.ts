/**
 * Every run the store knows, kept current by pushed events: the Runs table, the navigation count,
 * the compare view and the run detail all read from here.
 */
import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'
import type { Run } from '@shared/api/types'
import { METRICS } from '@shared/metrics'
import { runPages } from '@shared/api/list-pages'
import { api, errorMessage, onEvent, onReconnect } from '../api'

/** getMetrics takes at most this many ids at once. */
const IDS_PER_CALL = 500

export const useRunsStore = defineStore('runs', () => {
  const runs = shallowRef<readonly Run[]>([])
  /** How many runs the store has in all (more than `runs` holds while pages still arrive). */
  const total = ref(0)
  const loaded = ref(false)
  const loading = ref(false)
  const error = ref<string | null>(null)

  const byId = computed(() => new Map(runs.value.map((r) => [r.id, r])))

  /** Each load's number: a newer load (a reconnect) makes an older one stop. */
  let generation = 0
  /** Runs that events brought in while a load was under way: newer than what it listed. */
  let touched: Map<string, Run> | null = null

  /**
   * Every run, newest first, page by page (the server answers other calls between pages). The
   * first load shows each page as it arrives; a reload swaps the list once it is whole.
   */
  async function load(): Promise<void> {
    const mine = ++generation
    const first = !loaded.value
    touched = new Map()
    loading.value = true
    try {
      const seen: Run[] = []
      for await (const page of runPages((p) => api.listRuns(p), { order: 'newest' })) {
        if (mine !== generation) return
        seen.push(...page.runs)
        total.value = page.total
        if (first) showLoaded(seen)
      }
      showLoaded(seen)
      error.value = null
    } catch (err) {
      if (mine === generation) error.value = errorMessage(err)
    } finally {
      if (mine === generation) {
        loading.value = false
        touched = null
      }
    }
  }

  /** The listed runs, with what events said meanwhile winning (it is newer). */
  function showLoaded(listed: readonly Run[]): void {
    const latest = touched ?? new Map<string, Run>()
    const ids = new Set(listed.map((r) => r.id))
    const extra = [...latest.values()].filter((r) => !ids.has(r.id)).reverse()
    runs.value = [...extra, ...listed.map((r) => latest.get(r.id) ?? r)]
    loaded.value = true
  }

  /**
   * Inserts or replaces runs (newest data wins). The list stays newest first: runs new to it
   * go in front, the last created first, so ties in creation time keep a stable order.
   */
  function upsert(updated: readonly Run[]): void {
    if (updated.length === 0) return
    for (const r of updated) touched?.set(r.id, r)
    const incoming = new Map(updated.map((r) => [r.id, r]))
    const next = runs.value.map((r) => incoming.get(r.id) ?? r)
    const known = new Set(runs.value.map((r) => r.id))
    const fresh = updated.filter((r) => !known.has(r.id)).reverse()
    runs.value = fresh.length > 0 ? [...fresh, ...next] : next
  }

  function removeLocal(ids: readonly string[]): void {
    const gone = new Set(ids)
    runs.value = runs.value.filter((r) => !gone.has(r.id))
  }

  const edits = runEdits(upsert, removeLocal)

  onEvent('runQueued', ({ runs: added }) => upsert(added))
  onEvent('runStarted', ({ run }) => upsert([run]))
  onEvent('runFinished', ({ run }) => upsert([run]))
  onEvent('runChanged', ({ run }) => upsert([run]))
  onReconnect(() => void load())

  return {
    runs,
    total,
    byId,
    loaded,
    loading,
    error,
    load,
    upsert,
    removeLocal,
    ...epochTimes(),
    ...edits,
  }
})

/** Mean training seconds per epoch, per run id (a column of the tables), loaded on demand. */
function epochTimes() {
  // From the `epoch/seconds` metric.
  const epochSeconds = ref<Record<string, number>>({})

  /** Loads seconds per epoch for runs that have epochs and are not known yet (or still run). */
  async function loadEpochSeconds(list: readonly Run[]): Promise<void> {
    const ids = list
      .filter((r) => r.epochsDone > 0 && (r.status === 'running' || !(r.id in epochSeconds.value)))
      .map((r) => r.id)
    for (let i = 0; i < ids.length; i += IDS_PER_CALL) {
      const chunk = ids.slice(i, i + IDS_PER_CALL)
      try {
        const metrics = await api.getMetrics({ ids: chunk, names: [METRICS.epochSeconds] })
        const next = { ...epochSeconds.value }
        for (const id of chunk) {
          const values = (metrics[id]?.[METRICS.epochSeconds] ?? [])
            .map((m) => m.value)
            .filter((v) => Number.isFinite(v))
          if (values.length > 0) next[id] = values.reduce((a, b) => a + b, 0) / values.length
        }
        epochSeconds.value = next
      } catch {
        // A column of the table, not worth an error banner: it stays empty.
      }
    }
  }

  return { epochSeconds, loadEpochSeconds }
}

/** A run's notes and tags, and deleting runs: each answer goes into the list. */
function runEdits(
  upsert: (updated: readonly Run[]) => void,
  removeLocal: (ids: readonly string[]) => void,
) {
  async function setNotes(id: string, notes: string): Promise<void> {
    upsert([await api.setNotes({ id, notes })])
  }

  async function setTags(id: string, tags: string[]): Promise<void> {
    upsert([await api.setTags({ id, tags })])
  }

  async function deleteRuns(ids: string[]): Promise<string[]> {
    const { deleted } = await api.deleteRuns({ ids })
    removeLocal(deleted)
    return deleted
  }

  return { setNotes, setTags, deleteRuns }
}
