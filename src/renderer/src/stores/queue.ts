/**
 * The queue as the scheduler sees it (running first, then queued in start order), live progress
 * of running runs, and the runs that need attention (failed, cancelled, interrupted, diverged, or
 * at chance: `needsAttention` in src/shared/run-state.ts).
 */
import { defineStore } from 'pinia'
import { computed, ref, shallowRef, type Ref, type ShallowRef } from 'vue'
import type { QueueState, RunProgress } from '@shared/api/contract'
import type { Run } from '@shared/api/types'
import { canReorder } from '@shared/run-state'
import { api, errorMessage, onEvent, onReconnect } from '../api'

/** Coalesce bursts of events (a grid of 18 runs queued at once) into one refetch. */
const REFRESH_DELAY_MS = 150
/** Runs needing attention listed in the Queue view; older ones stay reachable from Runs. */
export const ATTENTION_SHOWN = 20

export const useQueueStore = defineStore('queue', () => {
  const state = shallowRef<QueueState | null>(null)
  const progress = ref<Record<string, RunProgress>>({})
  const attention = shallowRef<readonly Run[]>([])
  /** All runs needing attention, including those not fetched. */
  const attentionTotal = ref(0)
  const error = ref<string | null>(null)
  const busy = ref<string | null>(null)

  const derived = queueLists(state, attention)

  function apply(next: QueueState): void {
    state.value = next
    progress.value = { ...next.progress }
  }

  async function load(): Promise<void> {
    try {
      const [next, needs] = await Promise.all([
        api.queueState({}),
        // The newest few hundred are plenty to show the most recent ATTENTION_SHOWN.
        api.listRuns({ attention: true, order: 'newest', limit: 500 }),
      ])
      apply(next)
      attention.value = needs.runs
      attentionTotal.value = needs.total
      error.value = null
    } catch (err) {
      error.value = errorMessage(err)
    }
  }

  let timer: ReturnType<typeof setTimeout> | null = null
  function refreshSoon(): void {
    if (timer) return
    timer = setTimeout(() => {
      timer = null
      void load()
    }, REFRESH_DELAY_MS)
  }

  const actions = queueActions({ error, busy, apply, refreshSoon }, derived.queuedIndex)

  onEvent('runProgress', ({ runId, progress: p }) => {
    progress.value = { ...progress.value, [runId]: p }
  })
  onEvent('runQueued', refreshSoon)
  onEvent('runStarted', refreshSoon)
  onEvent('runFinished', refreshSoon)
  onEvent('runChanged', refreshSoon)
  onEvent('queueChanged', ({ paused: p }) => {
    if (state.value) state.value = { ...state.value, paused: p }
    refreshSoon()
  })
  onReconnect(refreshSoon)

  return { state, progress, attention, attentionTotal, error, busy, ...derived, load, ...actions }
})

/** What the Queue view lists: running, then queued in start order; the runs needing attention. */
function queueLists(state: ShallowRef<QueueState | null>, attention: ShallowRef<readonly Run[]>) {
  const running = computed(() => state.value?.runs.filter((r) => r.status === 'running') ?? [])
  const queued = computed(() => state.value?.runs.filter((r) => r.status === 'queued') ?? [])
  const paused = computed(() => state.value?.paused ?? false)
  /** Running, then queued in start order: the queue table's rows. */
  const active = computed(() => [...running.value, ...queued.value])
  /** Running + queued (all of them, not only those listed), for the navigation count. */
  const activeCount = computed(() => running.value.length + (state.value?.queuedTotal ?? 0))
  /** Queued runs past the listed page. */
  const unlistedQueued = computed(() =>
    Math.max(0, (state.value?.queuedTotal ?? 0) - queued.value.length),
  )
  /** Why the queue stopped by itself (a full disk), saying what to do. */
  const halted = computed(() => state.value?.halted ?? null)
  /** The most recent runs needing attention (newest first), at most ATTENTION_SHOWN. */
  const recentAttention = computed(() =>
    [...attention.value]
      .sort((a, b) => (b.finishedAt ?? b.queuedAt) - (a.finishedAt ?? a.queuedAt))
      .slice(0, ATTENTION_SHOWN),
  )

  /** A run's index among the queued runs (what reorderRun takes); -1 if it is not queued. */
  const queuedIndex = (id: string): number => queued.value.findIndex((r) => r.id === id)
  const canMoveUp = (run: Run): boolean => canReorder(run.status) && queuedIndex(run.id) > 0
  const canMoveDown = (run: Run): boolean => {
    const i = queuedIndex(run.id)
    return canReorder(run.status) && i >= 0 && i < queued.value.length - 1
  }

  return {
    running,
    queued,
    paused,
    active,
    activeCount,
    unlistedQueued,
    halted,
    recentAttention,
    queuedIndex,
    canMoveUp,
    canMoveDown,
  }
}

interface ActionContext {
  readonly error: Ref<string | null>
  readonly busy: Ref<string | null>
  apply(next: QueueState): void
  refreshSoon(): void
}

/** The queue's and its runs' actions: each shows which run is busy and any error, then refreshes. */
function queueActions(
  { error, busy, apply, refreshSoon }: ActionContext,
  queuedIndex: (id: string) => number,
) {
  /** Runs an action, showing which run is busy and any error; then refreshes. */
  async function act<T>(key: string, action: () => Promise<T>): Promise<T | undefined> {
    busy.value = key
    try {
      const result = await action()
      error.value = null
      return result
    } catch (err) {
      error.value = errorMessage(err)
      return undefined
    } finally {
      busy.value = null
      refreshSoon()
    }
  }

  const pause = async (): Promise<void> => {
    const next = await act('queue', () => api.pauseQueue({}))
    if (next) apply(next)
  }
  const resume = async (): Promise<void> => {
    const next = await act('queue', () => api.resumeQueue({}))
    if (next) apply(next)
  }
  const cancel = async (id: string): Promise<void> => {
    await act(id, () => api.cancelRun({ id }))
  }
  const retry = async (id: string): Promise<void> => {
    await act(id, () => api.retryRun({ id }))
  }
  /** Moves a queued run to `index` among the queued runs (0 = starts next). */
  const move = async (id: string, index: number): Promise<void> => {
    const next = await act(id, () => api.reorderRun({ id, index: Math.max(0, index) }))
    if (next) apply(next)
  }
  const moveUp = (id: string): Promise<void> => move(id, queuedIndex(id) - 1)
  const moveDown = (id: string): Promise<void> => move(id, queuedIndex(id) + 1)

  return { pause, resume, cancel, retry, move, moveUp, moveDown }
}
