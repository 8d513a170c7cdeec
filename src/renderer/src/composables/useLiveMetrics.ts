/**
 * Metric series of some runs, kept live: the one place that loads them, appends the points that
 * `runProgress` events carry, refetches what may have been missed, and lets go of its event
 * subscriptions when its owner (a view) goes away. The run detail and the compare view both
 * draw from it.
 *
 * Lifecycle:
 * - load: when the tracked ids change, the runs that came in are fetched; the ones that left
 *   are dropped. `reload()` refetches on demand.
 * - live append: a `runProgress` point of a tracked run is appended at once, unless its series
 *   already reaches that step (a step the server has sent us before).
 * - refetch: after the event stream reconnects (events pushed while it was down are lost), and
 *   when a tracked run starts (a resumed run's points after its checkpoint were replaced) or
 *   finishes (the stored series is the final word).
 * - dispose: with the effect scope that created it (a component's setup, unmounted), or by hand.
 *
 * Points that arrive while a fetch is on its way are kept aside and laid over the fetched series
 * when it lands (only those past its last step): a fetch answers with what the store had when it
 * read, so nothing streamed meanwhile is lost, and nothing is counted twice.
 */
import { getCurrentScope, onScopeDispose, ref, shallowRef, toValue, watch } from 'vue'
import type { MaybeRefOrGetter, Ref, ShallowRef } from 'vue'
import type { MetricSample } from '@shared/api/types'
import { metricPoints, type MetricName, type MetricPoint } from '@shared/metrics'
import { api, errorMessage, onEvent, onReconnect } from '../api'
import type { RunMetrics } from '../lib/compare'

type RunSeries = Partial<Record<MetricName, readonly MetricSample[]>>

export interface LiveMetricsOptions {
  /** Called after a fetch landed (the compare view marks it for its benchmark). */
  readonly onLoaded?: (ids: readonly string[]) => void
  /**
   * Fetch each series downsampled to about this many points (min/max per bucket, first and last
   * exact: the core's `getMetrics` maxPoints); points streamed in later are appended raw.
   */
  readonly maxPoints?: number
}

export interface LiveMetrics {
  /** Run id → metric name → samples in step order; only tracked runs. */
  readonly metrics: Readonly<ShallowRef<RunMetrics>>
  /** A fetch is on its way. */
  readonly loading: Readonly<Ref<boolean>>
  /** Why the last fetch failed; null once one succeeds. */
  readonly error: Readonly<Ref<string | null>>
  /** Refetches the given tracked runs (default: all of them). */
  reload(ids?: readonly string[]): Promise<void>
  /** Stops listening to events and watching the ids (automatic when the owning scope ends). */
  dispose(): void
}

const toSample = (p: MetricPoint): MetricSample => ({
  step: p.step,
  epoch: p.epoch,
  time: p.time,
  value: p.value,
})

/** `series` with the points of `points` that lie past its last step appended, in order. */
function appendNewer(series: RunSeries, points: readonly MetricPoint[]): RunSeries {
  let next: Record<string, readonly MetricSample[]> | null = null
  for (const p of points) {
    const current = (next ?? series)[p.name] ?? []
    const last = current.at(-1)
    if (last !== undefined && p.step <= last.step) continue
    next ??= { ...series }
    next[p.name] = [...current, toSample(p)]
  }
  return (next as RunSeries | null) ?? series
}

/**
 * Which fetch is the newest per run and metric (an older answer that lands later is stale), and
 * the points streamed in since it was sent, to lay over its answer. Keyed by run and metric: a
 * chart's new metric is fetched on its own, beside a fetch of the others that may still be on
 * its way.
 */
function fetchLedger() {
  const latestFetch = new Map<string, number>()
  const sinceFetch = new Map<string, MetricPoint[]>()
  const keyOf = (id: string, name: string): string => `${id}\n${name}`
  return {
    /** Fetch `seq` is sent for these runs and metrics. */
    sent(ids: readonly string[], names: readonly MetricName[], seq: number): void {
      for (const id of ids) {
        for (const name of names) {
          latestFetch.set(keyOf(id, name), seq)
          sinceFetch.set(keyOf(id, name), [])
        }
      }
    },
    /** A point streamed in, kept while a fetch of its series is on its way. */
    streamed(runId: string, p: MetricPoint): void {
      sinceFetch.get(keyOf(runId, p.name))?.push(p)
    },
    /**
     * Fetch `seq`'s answer for a series landed (or failed): the points streamed since it was sent
     * when it is the newest fetch of that series (which is then settled), else null.
     */
    settle(id: string, name: string, seq: number): MetricPoint[] | null {
      const key = keyOf(id, name)
      if (latestFetch.get(key) !== seq) return null
      latestFetch.delete(key)
      const streamed = sinceFetch.get(key) ?? []
      sinceFetch.delete(key)
      return streamed
    },
    clear(): void {
      sinceFetch.clear()
      latestFetch.clear()
    },
  }
}
type FetchLedger = ReturnType<typeof fetchLedger>

/**
 * The fetched series laid over `metrics`: names fetched replace theirs (with what streamed in
 * since), the others stay as they were; only the newest fetch of a series counts.
 */
function mergeFetched(
  metrics: RunMetrics,
  fetched: RunMetrics,
  asked: { ids: readonly string[]; names: readonly MetricName[]; seq: number },
  ledger: FetchLedger,
  isTracked: (id: string) => boolean,
): { next: RunMetrics; landed: string[] } {
  const next: Record<string, RunSeries> = { ...metrics }
  const landed: string[] = []
  for (const id of asked.ids) {
    const got = fetched[id] ?? {}
    let series: RunSeries | null = null
    for (const name of asked.names) {
      const streamed = ledger.settle(id, name, asked.seq)
      if (streamed === null || !isTracked(id)) continue
      series ??= { ...(next[id] ?? {}) }
      series = appendNewer({ ...series, [name]: got[name] ?? [] }, streamed)
    }
    if (series) {
      next[id] = series
      landed.push(id)
    }
  }
  return { next, landed }
}

export function useLiveMetrics(
  ids: MaybeRefOrGetter<readonly string[]>,
  metricNames: MaybeRefOrGetter<readonly MetricName[]>,
  options: LiveMetricsOptions = {},
): LiveMetrics {
  const names = (): MetricName[] => [...new Set(toValue(metricNames))]
  const metrics = shallowRef<RunMetrics>({})
  const loading = ref(false)
  const error = ref<string | null>(null)

  const tracked = (): string[] => [...new Set(toValue(ids))]
  const isTracked = (id: string): boolean => toValue(ids).includes(id)

  const ledger = fetchLedger()
  let fetchSeq = 0
  let inFlight = 0
  let disposed = false

  async function reload(
    which: readonly string[] = tracked(),
    only: readonly MetricName[] = names(),
  ): Promise<void> {
    const wanted = [...new Set(which)].filter(isTracked)
    const asked = [...only]
    if (wanted.length === 0 || asked.length === 0 || disposed) return
    const seq = ++fetchSeq
    ledger.sent(wanted, asked, seq)
    inFlight++
    loading.value = true
    try {
      const fetched = await api.getMetrics({
        ids: wanted,
        names: asked,
        ...(options.maxPoints !== undefined ? { maxPoints: options.maxPoints } : {}),
      })
      if (disposed) return
      const { next, landed } = mergeFetched(
        metrics.value,
        fetched,
        { ids: wanted, names: asked, seq },
        ledger,
        isTracked,
      )
      metrics.value = next
      error.value = null
      if (landed.length > 0) options.onLoaded?.(landed)
    } catch (err) {
      for (const id of wanted) for (const name of asked) ledger.settle(id, name, seq)
      if (!disposed) error.value = errorMessage(err)
    } finally {
      inFlight--
      if (inFlight === 0) loading.value = false
    }
  }

  function append(runId: string, points: readonly MetricPoint[]): void {
    const current = names()
    const wanted = points.filter((p) => current.includes(p.name))
    if (wanted.length === 0) return
    for (const p of wanted) ledger.streamed(runId, p)
    const before = metrics.value[runId] ?? {}
    const next = appendNewer(before, wanted)
    if (next !== before) metrics.value = { ...metrics.value, [runId]: next }
  }

  const stop = follow({ metrics, tracked, isTracked, names, reload, append })
  function dispose(): void {
    if (disposed) return
    disposed = true
    stop()
    ledger.clear()
  }
  if (getCurrentScope()) onScopeDispose(dispose)

  return { metrics, loading, error, reload, dispose }
}

interface Following {
  readonly metrics: ShallowRef<RunMetrics>
  tracked(): string[]
  isTracked(id: string): boolean
  names(): MetricName[]
  reload(which?: readonly string[], only?: readonly MetricName[]): Promise<void>
  append(runId: string, points: readonly MetricPoint[]): void
}

/**
 * Keeps the series current: streamed points appended, a run fetched again when it starts or
 * finishes, everything after a reconnect, runs and metrics as they are added. Returns the stop.
 */
function follow({ metrics, tracked, isTracked, names, reload, append }: Following): () => void {
  const offs = [
    onEvent('runProgress', ({ runId, message }) => {
      if (isTracked(runId)) append(runId, metricPoints(message))
    }),
    onEvent('runStarted', ({ run }) => {
      if (isTracked(run.id)) void reload([run.id])
    }),
    onEvent('runFinished', ({ run }) => {
      if (isTracked(run.id)) void reload([run.id])
    }),
    onReconnect(() => void reload()),
  ]

  const stopWatch = watch(
    () => tracked().join('\n'),
    (_key, previousKey) => {
      const now = tracked()
      const before = new Set(previousKey ? previousKey.split('\n') : [])
      const kept = Object.fromEntries(Object.entries(metrics.value).filter(([id]) => isTracked(id)))
      if (Object.keys(kept).length !== Object.keys(metrics.value).length) metrics.value = kept
      void reload(now.filter((id) => !before.has(id)))
    },
    { immediate: true },
  )

  // A metric added (a chart's picker): fetch it for every tracked run; one dropped stays cached.
  const stopNames = watch(
    () => names().join('\n'),
    (key, previous) => {
      const before = new Set(previous ? previous.split('\n') : [])
      const added = key.split('\n').filter((n) => n !== '' && !before.has(n)) as MetricName[]
      if (added.length > 0) void reload(tracked(), added)
    },
  )
  return () => {
    stopWatch()
    stopNames()
    offs.forEach((off) => off())
  }
}
