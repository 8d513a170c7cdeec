/**
 * One run's page, without its presentation: the run record (live from the runs store, else as
 * fetched), its detail (per-class accuracy, confusion, skipped backends), live metric series, the
 * log in pages, and the actions its status allows. The App mounts one run view per run id, so
 * the id is fixed for the life of this composable.
 */
import { computed, getCurrentScope, onScopeDispose, ref, shallowRef } from 'vue'
import type { ComputedRef, Ref, ShallowRef } from 'vue'
import type { RunDetail, RunProgress } from '@shared/api/contract'
import type { MetricSample, Run, RunEvent } from '@shared/api/types'
import { layerTable, type Layer } from '@shared/architecture'
import { METRICS, type MetricName } from '@shared/metrics'
import { canCancel, canRetry } from '@shared/run-state'
import { api, errorMessage, onEvent, onReconnect, toApiError } from '../api'
import { runCost, type RunCost } from '../lib/run-cost'
import { useQueueStore } from '../stores/queue'
import { useRunsStore } from '../stores/runs'
import { useLiveMetrics } from './useLiveMetrics'

/** The series the run page draws. */
export const RUN_CHART_METRICS: readonly MetricName[] = [
  METRICS.stepLoss,
  METRICS.trainLoss,
  METRICS.testLoss,
  METRICS.trainAcc,
  METRICS.testAcc,
]

/** Log lines fetched per page. */
export const EVENTS_PAGE = 1000

export interface RunDetailState {
  /** The run record: the live one from the runs store when it has it, else the fetched one. */
  readonly run: ComputedRef<Run | null>
  readonly detail: Readonly<ShallowRef<RunDetail | null>>
  readonly notFound: Readonly<Ref<boolean>>
  /** The latest problem loading or acting on the run (null when the last attempt worked). */
  readonly error: ComputedRef<string | null>
  readonly progress: ComputedRef<RunProgress | null>
  /** Metric name → samples, live while the run trains. */
  readonly series: ComputedRef<Partial<Record<MetricName, readonly MetricSample[]>>>
  readonly events: Readonly<ShallowRef<readonly RunEvent[]>>
  /** The log has lines past the ones loaded. */
  readonly moreEvents: Readonly<Ref<boolean>>
  loadEvents(): Promise<void>
  readonly layers: ComputedRef<Layer[] | null>
  readonly cost: ComputedRef<RunCost | null>
  readonly classNames: ComputedRef<readonly string[]>
  /** An action is on its way (buttons wait). */
  readonly busy: Readonly<Ref<boolean>>
  readonly canCancel: ComputedRef<boolean>
  readonly canRetry: ComputedRef<boolean>
  cancel(): Promise<void>
  retry(): Promise<void>
}

export function useRunDetail(id: string): RunDetailState {
  const runs = useRunsStore()
  const queue = useQueueStore()

  const detail = shallowRef<RunDetail | null>(null)
  const notFound = ref(false)
  /** The run exists (its detail came once): from then on its metrics are worth fetching. */
  const found = ref(false)
  const ownError = ref<string | null>(null)

  const run = computed(() => runs.byId.get(id) ?? detail.value?.run ?? null)
  const progress = computed(() =>
    run.value ? (queue.progress[run.value.id] ?? detail.value?.progress ?? null) : null,
  )

  const live = useLiveMetrics(() => (found.value ? [id] : []), RUN_CHART_METRICS)
  const series = computed(() => live.metrics.value[id] ?? {})
  const error = computed(() => ownError.value ?? live.error.value)

  async function loadDetail(): Promise<void> {
    try {
      const d = await api.getRun({ id })
      detail.value = d
      runs.upsert([d.run])
      found.value = true
      ownError.value = null
    } catch (err) {
      const e = toApiError(err)
      if (e.code === 'not-found') notFound.value = true
      else ownError.value = errorMessage(e)
    }
  }

  const { events, moreEvents, loadEvents } = runLog(id, (message) => (ownError.value = message))

  // --- keeping current ----------------------------------------------------------------------

  /** The run changed: its record, and the log's tail when everything before it is shown. */
  function refresh(): void {
    if (!found.value) return
    void loadDetail()
    if (!moreEvents.value) void loadEvents()
  }
  const ofThisRun =
    (handler: () => void) =>
    ({ run: r }: { run: { id: string } }): void => {
      if (r.id === id) handler()
    }
  const offs = [
    onEvent('runStarted', ofThisRun(refresh)),
    onEvent('runFinished', ofThisRun(refresh)),
    onEvent('runChanged', ofThisRun(refresh)),
    onReconnect(refresh),
  ]
  if (getCurrentScope()) onScopeDispose(() => offs.forEach((off) => off()))

  if (id) {
    void (async () => {
      await loadDetail()
      if (!found.value) return
      await Promise.all([loadEvents(), run.value ? runs.loadEpochSeconds([run.value]) : null])
    })()
  }

  const { layers, cost, classNames } = derivedOf(run, detail)

  const { busy, act } = actions(ownError, loadDetail)

  return {
    run,
    detail,
    notFound,
    error,
    progress,
    series,
    events,
    moreEvents,
    loadEvents,
    layers,
    cost,
    classNames,
    busy,
    canCancel: computed(() => (run.value ? canCancel(run.value.status) : false)),
    canRetry: computed(() => (run.value ? canRetry(run.value.status) : false)),
    cancel: () => act(() => api.cancelRun({ id })),
    retry: () => act(() => api.retryRun({ id })),
  }
}

/** The run's log, loaded a page at a time (`onError`: a page failed to load). */
function runLog(id: string, onError: (message: string) => void) {
  // --- the log, in pages -------------------------------------------------------------------

  const events = shallowRef<readonly RunEvent[]>([])
  const moreEvents = ref(false)

  async function loadEventsPage(): Promise<void> {
    try {
      const afterSeq = events.value.at(-1)?.seq
      const page = await api.getEvents({
        id,
        limit: EVENTS_PAGE,
        ...(afterSeq !== undefined ? { afterSeq } : {}),
      })
      events.value = [...events.value, ...page]
      moreEvents.value = page.length === EVENTS_PAGE
    } catch (err) {
      onError(errorMessage(err))
    }
  }

  // Pages are fetched one at a time: two fetches after the same line would both append it.
  let eventsLoading: Promise<void> | null = null
  let eventsAgain = false
  /** Loads the next page of the log (everything after what is shown). */
  function loadEvents(): Promise<void> {
    if (eventsLoading) {
      eventsAgain = true
      return eventsLoading
    }
    eventsLoading = (async () => {
      do {
        eventsAgain = false
        await loadEventsPage()
      } while (eventsAgain)
    })().finally(() => {
      eventsLoading = null
    })
    return eventsLoading
  }
  return { events, moreEvents, loadEvents }
}

/** What the page shows from the run's config and detail: layers, cost, class names. */
function derivedOf(run: ComputedRef<Run | null>, detail: ShallowRef<RunDetail | null>) {
  // --- derived ------------------------------------------------------------------------------

  const layers = computed<Layer[] | null>(() => {
    if (!run.value) return null
    try {
      return layerTable(run.value.config.model)
    } catch {
      return null
    }
  })
  const cost = computed(() => (run.value ? runCost(run.value) : null))
  const classNames = computed(
    () =>
      detail.value?.classNames ?? detail.value?.perClassAccuracy?.map((_, i) => `class ${i}`) ?? [],
  )
  return { layers, cost, classNames }
}

/** An action on the run: the buttons wait for it, then the run is loaded again. */
function actions(ownError: Ref<string | null>, loadDetail: () => Promise<void>) {
  // --- actions ------------------------------------------------------------------------------

  const busy = ref(false)
  async function act(action: () => Promise<unknown>): Promise<void> {
    busy.value = true
    try {
      await action()
      ownError.value = null
      await loadDetail()
    } catch (err) {
      ownError.value = errorMessage(err)
    } finally {
      busy.value = false
    }
  }
  return { busy, act }
}
