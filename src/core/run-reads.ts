/**
 * The API's reads of stored runs, over the run store: a page of runs by cursor, metric series
 * (raw or downsampled), a run's log, a run's detail page, and the comparison of runs.
 */
import {
  ApiError,
  MAX_LIST,
  type Params,
  type Result,
  type RunDetail,
  type RunProgress,
} from '@shared/api/contract'
import { CompareError, compareRuns, healthOf, type Comparison } from '@shared/comparison'
import { decodeCursor, encodeCursor, type ListCursor, type RunStore } from './store'

/** A page of runs (at most MAX_LIST, however many were asked for: `next` continues). */
export function listRunsPage(store: RunStore, p: Params<'listRuns'>): Result<'listRuns'> {
  const filter = {
    status: p.status,
    experiment: p.experiment,
    search: p.search,
    attention: p.attention,
  }
  const page = store.listRunsPage({
    ...filter,
    order: p.order,
    offset: p.offset,
    after: listCursor(p),
    limit: Math.min(p.limit ?? MAX_LIST, MAX_LIST),
  })
  const next = page.next === null ? null : encodeCursor(page.next)
  return { runs: page.runs, total: store.countRuns(filter), next }
}

/** listRuns' cursor, checked: a page continues either by cursor or by offset, not both. */
function listCursor(p: Params<'listRuns'>): ListCursor | undefined {
  if (p.cursor === undefined) return undefined
  if (p.offset !== undefined) {
    throw new ApiError(
      'invalid-params',
      "listRuns: give cursor or offset, not both (cursor: the previous answer's next)",
    )
  }
  const cursor = decodeCursor(p.cursor)
  if (cursor === null) {
    throw new ApiError('invalid-params', "listRuns: cursor must be a listRuns answer's next")
  }
  return cursor
}

/** Each run's series by name: every point, or downsampled when a size or window is given. */
export function runMetrics(store: RunStore, p: Params<'getMetrics'>): Result<'getMetrics'> {
  const out: Result<'getMetrics'> = {}
  for (const id of p.ids) {
    store.requireRun(id)
    const { maxPoints, fromStep, toStep } = p
    out[id] = Object.fromEntries(
      p.names.map((name) => [
        name,
        maxPoints === undefined && fromStep === undefined && toStep === undefined
          ? store.metricSeries(id, name)
          : store.metricSeriesSampled(id, name, {
              maxPoints: maxPoints ?? Number.MAX_SAFE_INTEGER,
              fromStep,
              toStep,
            }),
      ]),
    )
  }
  return out
}

export function runEvents(store: RunStore, p: Params<'getEvents'>): Result<'getEvents'> {
  store.requireRun(p.id)
  return store.events(p.id, { afterSeq: p.afterSeq, limit: p.limit })
}

/** A run's detail page; `progress`: its live progress, when this process trains it. */
export function runDetail(
  store: RunStore,
  id: string,
  progress: (runId: string) => RunProgress | null,
): RunDetail {
  const run = store.requireRun(id)
  const finished = store.latestEvent(id, 'finished')?.message
  const started = store.latestEvent(id, 'started')?.message
  return {
    resumedAt: started !== undefined && started.startEpoch > 0 ? started.time : null,
    run,
    classNames: finished?.classNames ?? null,
    perClassAccuracy: finished?.perClassAccuracy ?? null,
    confusion: finished?.confusion ?? null,
    progress: run.status === 'running' ? progress(id) : null,
    skippedBackends: started?.skipped ?? [],
    precisionReason: started?.precisionReason ?? null,
    epochs: store.epochRows(id),
    // A linked run has no folder of its own: its files are its source run's.
    runDir: store.runDir(run.linkedFrom?.runId ?? id),
    artifacts: store.artifacts(id),
  }
}

/** The comparison of stored runs; bad options (an unknown field, a baseline no group has) are
 * invalid parameters whose message names the fix. */
export function compareStoredRuns(store: RunStore, p: Params<'compareRuns'>): Comparison {
  const runs = [...new Set(p.ids)].map((id) => {
    const run = store.requireRun(id)
    return { ...run, health: healthOf(run)?.status ?? null }
  })
  try {
    return compareRuns(runs, { by: p.by, averageOver: p.averageOver, baseline: p.baseline })
  } catch (err) {
    if (err instanceof CompareError) throw new ApiError('invalid-params', err.message)
    throw err
  }
}
