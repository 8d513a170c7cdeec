/**
 * The core: the API contract (src/shared/api/contract.ts) implemented over the run store and
 * the scheduler. Every client goes through `call` — the CLI in-process (`core.api`), the web
 * server over HTTP, the desktop app through its relay — so every request is validated here,
 * once, and every rule the contract enforces lives behind this one door.
 *
 * This file only opens the pieces and dispatches; each concern has its own module: live
 * progress (progress.ts), time estimates and benchmarks (estimates.ts), reports
 * (reports/files.ts), the queue (queue/scheduler.ts), persistence (store/).
 */
import { EventEmitter } from 'node:events'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import {
  ApiError,
  CONFIRM_GRID_RUNS,
  isMethodName,
  MAX_GRID_RUNS,
  MAX_LIST,
  QUEUE_PAGE,
  validateParams,
  type ApiEvents,
  type EventName,
  type MethodName,
  type Params,
  type QueueSettingsView,
  type QueueState,
  type Result,
  type RunDetail,
  type RunProgress,
} from '@shared/api/contract'
import { parseGpuList, type QueueSettings } from '@shared/api/types'
import { ConfigError } from '@shared/config/experiment'
import { CompareError, compareRuns, healthOf, type Comparison } from '@shared/comparison'
import { expandGridYielding } from '@shared/grid'
import { HEALTH_LABELS } from '@shared/health'
import { MAX_JSON_DEPTH, nestsDeeperThan } from '@shared/json'
import { Estimates } from './estimates'
import { ExerciseStudies } from './exercises'
import { LiveProgress } from './progress'
import { isAlive } from './queue/process-identity'
import { readWorkers } from './queue/fleet'
import { peekFleetKey } from './queue/fleet-key'
import { describeRedisUrl, redisOptions } from './queue/redis'
import { cpuSlots, Scheduler } from './queue/scheduler'
import { resolveSlots } from './queue/slots'
import { LOCK_FILE, lockHolder, SchedulerLockError } from './queue/scheduler-lock'
import { toStoreError } from './store/errors'
import { reportFiles } from './reports/files'
import { modelFiles } from './models/export'
import { DB_FILE, decodeCursor, encodeCursor, RunStore, StoreError, type ListCursor } from './store'

type Handlers = { [M in MethodName]: (params: Params<M>) => Result<M> | Promise<Result<M>> }
type CoreEvents = { [E in EventName]: [payload: ApiEvents[E]] }

/** The typed in-process client: one async function per method, as every transport has. */
export type CoreApi = { [M in MethodName]: (params: Params<M>) => Promise<Result<M>> }

export interface CoreOptions {
  readonly dataDir: string
  /**
   * Run the queue in this process: `true` requires the scheduler lock, `'if-free'` takes it when
   * no other process holds it (the app and the web server), `false` only enqueues and reads (the
   * CLI's queue commands while `queue start` runs elsewhere).
   */
  readonly scheduler: boolean | 'if-free'
  /**
   * Overrides of the data folder's saved queue settings for this process (`queue start
   * --concurrency/--gpus/--redis`); $NIN_LAB_REDIS overrides the saved Redis URL too.
   */
  readonly queue?: Partial<QueueSettings>
  /**
   * How long SQLite itself waits for another process's write lock. Short, because that wait
   * blocks this process's event loop (every other request waits with it); `call` then waits
   * longer without blocking (BUSY_RETRY_MS).
   */
  readonly busyTimeoutMs?: number
  /**
   * Only read (ls, show, export): open the database read-only, so a data folder this user may
   * only read works. A database that does not exist yet, or needs its schema upgraded, is opened
   * for writing after all (there is nothing to read, or it must be upgraded once).
   */
  readonly readonly?: boolean
}

/** See CoreOptions.busyTimeoutMs. */
export const CORE_BUSY_TIMEOUT_MS = 20
/** How long a request keeps retrying, off the event loop, while another process writes. */
export const BUSY_RETRY_MS = 3000
const BUSY_RETRY_STEP_MS = 25

/** Remote workers through this Redis, unless the command line says otherwise. */
export const REDIS_ENV = 'NIN_LAB_REDIS'

export class Core extends EventEmitter<CoreEvents> {
  readonly store: RunStore
  readonly scheduler: Scheduler | null
  /** Why the slots differ from the settings, once resolved (e.g. --gpus auto found no GPU). */
  private slotsNote: string | null = null
  private redisUrl: string | null = null
  private redisFrom: 'settings' | 'environment' | 'command line' | null = null
  private readonly progress: LiveProgress
  private readonly estimates: Estimates
  private readonly exercises: ExerciseStudies
  private readonly handlers: Handlers

  /**
   * Opens the data folder's store and, when asked, its scheduler. A store that cannot be opened
   * and a scheduler lock another process holds come out as ApiErrors, like every other refusal.
   */
  constructor(private readonly options: CoreOptions) {
    super()
    try {
      this.store = openStore(options)
    } catch (err) {
      throw toApiError(err)
    }
    this.progress = new LiveProgress(this.store)
    this.estimates = new Estimates(this.store)
    this.exercises = new ExerciseStudies(this.store, this.estimates)
    try {
      this.scheduler = this.startScheduler()
    } catch (err) {
      const dataDir = this.store.dataDir
      this.store.close()
      // A folder it may read but not write (another user's): the lock file cannot be made. Said
      // in the store's words ("permission denied on DIR … fix the permissions"), never a stack.
      throw err instanceof SchedulerLockError
        ? new ApiError('illegal-state', err.message)
        : toApiError(toStoreError(err, join(dataDir, LOCK_FILE), CORE_BUSY_TIMEOUT_MS))
    }
    this.handlers = this.makeHandlers()
  }

  /** The saved queue settings with this process's overrides, and where the Redis URL came from. */
  private effectiveSettings(): QueueSettings {
    const saved = this.store.queueSettings()
    const over = this.options.queue ?? {}
    const env = process.env[REDIS_ENV]
    const redis =
      over.redis !== undefined ? over.redis : env !== undefined && env !== '' ? env : saved.redis
    this.redisFrom =
      redis === null
        ? null
        : over.redis !== undefined
          ? 'command line'
          : env !== undefined && env !== ''
            ? 'environment'
            : 'settings'
    return { ...saved, ...over, redis }
  }

  /** Applies queue settings to this process's scheduler: slots (after the GPU probe), Redis. */
  private applySettings(scheduler: Scheduler, settings: QueueSettings): void {
    if (settings.redis !== this.redisUrl) {
      try {
        if (settings.redis) redisOptions(settings.redis) // a bad URL: said once, never retried
        scheduler.setRemote(settings.redis)
        this.redisUrl = settings.redis
      } catch (err) {
        console.error(`nin-lab: no remote workers: ${(err as Error).message}`)
        scheduler.setRemote(null)
        this.redisUrl = null
      }
    }
    if (settings.gpus === null) {
      this.slotsNote = null
      scheduler.setSlots(cpuSlots(settings.concurrency))
      return
    }
    // No local slot until the probe says which GPUs there are (a few seconds).
    scheduler.setSlots([])
    void resolveSlots(settings).then(
      ({ slots, note }) => {
        this.slotsNote = note
        if (note) console.error(`nin-lab: ${note}`)
        scheduler.setSlots(slots)
      },
      (err: unknown) => console.error(`nin-lab: could not resolve --gpus: ${String(err)}`),
    )
  }

  private startScheduler(): Scheduler | null {
    if (this.options.scheduler === false) return null
    const settings = this.effectiveSettings()
    const scheduler = new Scheduler(this.store, {
      dataDir: this.options.dataDir,
      slots: settings.gpus === null ? cpuSlots(settings.concurrency) : [],
    })
    try {
      scheduler.start()
    } catch (err) {
      if (err instanceof SchedulerLockError && this.options.scheduler === 'if-free') return null
      throw err
    }
    scheduler.on('runStarted', (run) => {
      this.progress.track(run.id)
      this.emit('runStarted', { run })
    })
    scheduler.on('message', (runId, m) => {
      if (!this.progress.observe(runId, m) || (m.type !== 'step' && m.type !== 'epoch')) return
      const progress = this.progress.of(runId)
      if (progress) this.emit('runProgress', { runId, progress, message: m })
    })
    scheduler.on('runFinished', (run) => {
      this.progress.forget(run.id)
      this.emit('runFinished', { run })
    })
    scheduler.on('queueChanged', () => this.queueChanged())
    // Problems the scheduler survived go to the host's log; a halt also shows in queueState.
    scheduler.on('warning', (message) => console.error(`nin-lab: ${message}`))
    scheduler.on('halted', (halt) => console.error(`nin-lab: ${halt.reason}`))
    this.applySettings(scheduler, settings)
    return scheduler
  }

  /** Validates and dispatches one request. Errors come out as ApiError with a clear message. */
  async call(method: string, params: unknown): Promise<unknown> {
    if (!isMethodName(method)) throw new ApiError('not-found', `no API method "${method}"`)
    // Parameters may arrive already parsed (Electron and Node IPC): bound their nesting before
    // anything walks them recursively.
    if (nestsDeeperThan(params)) {
      throw new ApiError(
        'invalid-params',
        `${method}: the parameters nest deeper than ${MAX_JSON_DEPTH} levels`,
      )
    }
    const handler = this.handlers[method] as (p: unknown) => unknown
    const deadline = Date.now() + BUSY_RETRY_MS
    for (;;) {
      try {
        return await handler(validateParams(method, params))
      } catch (err) {
        // Another process holds the write lock: the write was rolled back whole, so trying the
        // request again is safe. Wait on a timer, so other requests are answered meanwhile.
        if (err instanceof StoreError && err.code === 'busy' && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, BUSY_RETRY_STEP_MS))
          continue
        }
        if (err instanceof StoreError && err.code === 'busy') {
          throw new ApiError(
            'unavailable',
            `${this.store.file} stayed locked by another process for ${BUSY_RETRY_MS / 1000} s: ` +
              'try again, and check that no stuck nin-lab process holds it',
          )
        }
        throw toApiError(err)
      }
    }
  }

  /** The typed in-process client (what the CLI uses): the same door as every transport. */
  readonly api = new Proxy({} as CoreApi, {
    get: (_target, method: string) => (params: unknown) => this.call(method, params),
  })

  private queueChanged(): void {
    this.emit('queueChanged', { paused: this.store.queuePaused() })
  }

  private queueState(limit = QUEUE_PAGE): QueueState {
    const running = this.store.listRuns({ status: ['running'] })
    const progress: Record<string, RunProgress> = {}
    for (const run of running) {
      const p = this.progress.of(run.id)
      if (p) progress[run.id] = p
    }
    return {
      paused: this.store.queuePaused(),
      schedulerRunning: this.scheduler !== null || lockHolder(this.options.dataDir) !== null,
      halted: this.scheduler?.halt ?? null,
      runs: [...running, ...this.store.queue({ limit })],
      queuedTotal: this.store.queuedCount(),
      progress,
    }
  }

  private runDetail(id: string): RunDetail {
    const run = this.store.requireRun(id)
    const finished = this.store.latestEvent(id, 'finished')?.message
    const started = this.store.latestEvent(id, 'started')?.message
    return {
      resumedAt: started !== undefined && started.startEpoch > 0 ? started.time : null,
      run,
      classNames: finished?.classNames ?? null,
      perClassAccuracy: finished?.perClassAccuracy ?? null,
      confusion: finished?.confusion ?? null,
      progress: run.status === 'running' ? this.progress.of(id) : null,
      skippedBackends: started?.skipped ?? [],
      precisionReason: started?.precisionReason ?? null,
      epochs: this.store.epochRows(id),
      // A linked run has no folder of its own: its files are its source run's.
      runDir: this.store.runDir(run.linkedFrom?.runId ?? id),
      artifacts: this.store.artifacts(id),
    }
  }

  private makeHandlers(): Handlers {
    const store = this.store
    return {
      listRuns: (p) => {
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
          // A page at most, however many were asked for: `next` continues.
          limit: Math.min(p.limit ?? MAX_LIST, MAX_LIST),
        })
        const next = page.next === null ? null : encodeCursor(page.next)
        return { runs: page.runs, total: store.countRuns(filter), next }
      },
      getRun: (p) => this.runDetail(p.id),
      getMetrics: (p) => {
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
      },
      getEvents: (p) => {
        store.requireRun(p.id)
        return store.events(p.id, { afterSeq: p.afterSeq, limit: p.limit })
      },
      listExperiments: () => store.listExperiments(),
      queueState: (p) => this.queueState(p.limit),
      addRuns: async (p) => {
        checkGridSize(p)
        // A big grid is validated and stored in chunks, letting other calls in between: 10,000
        // runs in one go held every other call up for 6.5 s. Each chunk is a transaction, so an
        // add cut short keeps whole chunks, and adding the grid again adds only what is missing.
        const { configs } = await expandGridYielding(p.base, p.axes, p.seeds, nextTurn)
        const reuse = p.reuse ?? 'ask'
        // Nothing is linked silently: reuse 'ask' (the default) refuses, listing the matches.
        if (reuse === 'ask') askAboutReuse(store.reusableRuns(p.experiment, configs))
        const result: Result<'addRuns'> = { added: [], skipped: 0, linked: [] }
        for (let i = 0; i < configs.length; i += ADD_CHUNK) {
          if (i > 0) await nextTurn()
          const chunk = configs.slice(i, i + ADD_CHUNK)
          const part = store.addRuns(p.experiment, chunk, {
            priority: p.priority,
            reuse: reuse === 'link' ? 'link' : 'train',
          })
          result.added.push(...part.added)
          result.linked.push(...part.linked)
          result.skipped += part.skipped
          if (part.added.length > 0) this.emit('runQueued', { runs: part.added })
        }
        if (result.added.length > 0) this.queueChanged()
        return result
      },
      pauseQueue: () => {
        store.setQueuePaused(true)
        this.queueChanged()
        return this.queueState()
      },
      resumeQueue: () => {
        this.scheduler?.resume()
        store.setQueuePaused(false)
        this.queueChanged()
        return this.queueState()
      },
      reorderRun: (p) => {
        store.reorder(p.id, p.index)
        this.queueChanged()
        return this.queueState()
      },
      cancelRun: (p) => {
        const run = store.cancel(p.id)
        // A run this process trains stops now; one trained by another scheduler process stops
        // when that scheduler sees the status (within its poll). Only a scheduler signals its
        // own trainers: a pid in the database is never signalled on its word alone.
        this.scheduler?.stopRun(p.id, 'cancel')
        this.emit('runChanged', { run })
        this.queueChanged()
        return run
      },
      retryRun: (p) => {
        // A run left `running` by a process that died (e.g. while its disk was full) can be
        // retried too: its owner is checked by identity, so a live run is never taken over.
        store.releaseOrphan(p.id, isAlive)
        const run = store.retry(p.id)
        this.emit('runChanged', { run })
        this.queueChanged()
        return run
      },
      deleteRuns: (p) => {
        // The store refuses runs that cannot be deleted (src/shared/run-state.ts canDelete).
        const folders = store.delete(p.ids)
        for (const folder of folders) rmSync(folder, { recursive: true, force: true })
        this.queueChanged()
        return { deleted: p.ids }
      },
      setNotes: (p) => {
        const run = store.setNotes(p.id, p.notes)
        this.emit('runChanged', { run })
        return run
      },
      setTags: (p) => {
        const run = store.setTags(p.id, p.tags)
        this.emit('runChanged', { run })
        return run
      },
      estimateEpoch: (p) => this.estimates.estimateEpoch(p.config),
      measureEpoch: (p) => this.estimates.measureEpoch(p.config),
      benchmark: (p) => this.estimates.benchmark(p.config, p),
      getQueueSettings: () => this.queueSettingsView(),
      setQueueSettings: (p) => {
        const saved = store.queueSettings()
        let gpus = saved.gpus
        if (p.gpus !== undefined) {
          const parsed = parseGpuList(p.gpus)
          if (parsed !== null && typeof parsed === 'object' && 'error' in parsed)
            throw new ApiError('invalid-params', parsed.error)
          gpus = parsed
        }
        const redis = p.redis === undefined ? saved.redis : p.redis === '' ? null : p.redis
        if (redis) {
          try {
            redisOptions(redis)
          } catch (err) {
            throw new ApiError('invalid-params', (err as Error).message)
          }
        }
        const next: QueueSettings = { concurrency: p.concurrency ?? saved.concurrency, gpus, redis }
        store.setQueueSettings(next)
        if (this.scheduler) this.applySettings(this.scheduler, this.effectiveSettings())
        this.queueChanged()
        return this.queueSettingsView()
      },
      listWorkers: async () => {
        const redis = this.scheduler?.remote ? this.redisUrl : this.effectiveSettings().redis
        if (!redis) return { workers: [], redis: null, error: null }
        try {
          const { beats, ignored } = this.scheduler?.remote
            ? await this.scheduler.remote.fleetView()
            : await readWorkers(redis, peekFleetKey(this.options.dataDir))
          return { workers: beats, redis: describeRedisUrl(redis), error: null, ignored }
        } catch (err) {
          return { workers: [], redis: describeRedisUrl(redis), error: (err as Error).message }
        }
      },
      compareRuns: (p) => compareStoredRuns(store, p),
      exportReport: (p) => reportFiles(store, p),
      exportModel: (p) => modelFiles(store, p),
      exerciseStudy: (p) => this.exercises.study(p),
      queueExercise: (p) => {
        const result = this.exercises.queue(p, askAboutReuse)
        if (result.added.length > 0) {
          this.emit('runQueued', { runs: result.added })
          this.queueChanged()
        }
        return result
      },
      exerciseAnswer: (p) => this.exercises.answer(p),
      exportExerciseAnswer: async (p) => {
        const answer = await this.exercises.answer({ exercise: p.exercise, scale: p.scale })
        const ids = answer.groups.flatMap((g) => g.runIds)
        if (ids.length === 0) {
          throw new ApiError(
            'illegal-state',
            `${answer.experiment} has no runs yet: queue the study first (nin-lab exercise queue ${p.exercise} --scale ${p.scale})`,
          )
        }
        return reportFiles(
          store,
          {
            ids,
            format: p.format,
            title: `d2l §8.3 exercise ${answer.exercise} at ${answer.preset}: ${answer.title}`,
            fileName: p.fileName,
          },
          answer,
        )
      },
      listViews: () => store.listViews(),
      saveView: (p) => store.saveView(p.name, p.state, p.id),
      deleteView: (p) => {
        store.deleteView(p.id)
        return { deleted: p.id }
      },
    }
  }

  private queueSettingsView(): QueueSettingsView {
    const saved = this.store.queueSettings()
    return {
      saved: { ...saved, redis: saved.redis === null ? null : describeRedisUrl(saved.redis) },
      scheduler: this.scheduler
        ? {
            slots: this.scheduler.localSlots,
            note: this.slotsNote,
            redis: this.redisUrl === null ? null : describeRedisUrl(this.redisUrl),
            redisFrom: this.redisUrl === null ? null : this.redisFrom,
          }
        : null,
    }
  }

  async close(): Promise<void> {
    await this.scheduler?.stop('interrupt')
    this.store.close()
  }
}

function openStore(options: CoreOptions): RunStore {
  const busyTimeoutMs = options.busyTimeoutMs ?? CORE_BUSY_TIMEOUT_MS
  if (
    options.readonly &&
    options.scheduler === false &&
    existsSync(join(options.dataDir, DB_FILE))
  ) {
    try {
      return RunStore.open(options.dataDir, { readonly: true, busyTimeoutMs })
    } catch (err) {
      // An older schema: upgrade it once (needs write access), then read.
      if (!(err instanceof StoreError && err.code === 'illegal-state')) throw err
    }
  }
  return RunStore.open(options.dataDir, { busyTimeoutMs })
}

/**
 * Refuses a grid too big to queue, and asks for confirmation of a big one — before anything is
 * expanded, so a request naming 10^20 runs costs nothing.
 */
/** Runs stored per transaction when a grid is added (see addRuns). */
const ADD_CHUNK = 100
/** Resolves on the event loop's next turn, after the I/O (other requests) waiting for it. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

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

function checkGridSize(p: Params<'addRuns'>): void {
  const runs = p.axes.reduce((n, axis) => n * Math.max(1, axis.values.length), 1) * p.seeds
  if (runs > MAX_GRID_RUNS) {
    throw new ApiError(
      'invalid-params',
      `this grid has ${runs.toLocaleString('en-US')} runs; at most ${MAX_GRID_RUNS.toLocaleString('en-US')} ` +
        'can be queued at once: use fewer axis values or seeds, or queue it in parts',
    )
  }
  if (runs > CONFIRM_GRID_RUNS && p.confirm !== true) {
    throw new ApiError(
      'needs-confirmation',
      `this grid queues ${runs.toLocaleString('en-US')} runs (more than ${CONFIRM_GRID_RUNS}): ` +
        'confirm to queue them (the CLI takes --yes)',
    )
  }
}

/**
 * Queueing runs that completed runs elsewhere already trained is never silent: the answer names
 * each (one issue per run: which run, experiment, date and health) and the caller repeats the
 * call with `reuse: 'link'` or `'train'` (the CLI's --link / --train, a choice in the form).
 */
function askAboutReuse(matches: ReturnType<RunStore['reusableRuns']>): void {
  if (matches.length === 0) return
  const issues = matches.map(({ name, source }) => ({
    path: name,
    message:
      `${name}: the same config, engine and precision completed as run ${source.id} of ` +
      `experiment "${source.experiment}"` +
      `${source.finishedAt === null ? '' : `, trained ${new Date(source.finishedAt).toISOString().slice(0, 10)}`}` +
      ` (test accuracy ${source.finalTestAcc === null ? '—' : `${(source.finalTestAcc * 100).toFixed(2)}%`}, ${HEALTH_LABELS[source.health.status]})`,
  }))
  throw new ApiError(
    'needs-confirmation',
    `${matches.length} of these runs ${matches.length === 1 ? 'was' : 'were'} already trained ` +
      'in another experiment: link them (reuse: link; the CLI takes --link) or train them anew ' +
      '(reuse: train; --train)',
    issues,
  )
}

/** The comparison of stored runs; bad options (an unknown field, a baseline no group has) are
 * invalid parameters whose message names the fix. */
function compareStoredRuns(store: RunStore, p: Params<'compareRuns'>): Comparison {
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

/** Maps the store's and the config's errors onto the contract's error codes. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err
  if (err instanceof ConfigError) return new ApiError('invalid-config', err.message, err.issues)
  if (err instanceof StoreError) {
    const code =
      err.code === 'not-found'
        ? 'not-found'
        : err.code === 'illegal-state'
          ? 'illegal-state'
          : err.code === 'invalid'
            ? 'invalid-params'
            : 'unavailable'
    return new ApiError(code, err.message)
  }
  return new ApiError('internal', err instanceof Error ? err.message : String(err))
}
