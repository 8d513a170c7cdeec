/**
 * The core: the API contract (src/shared/api/contract.ts) implemented over the run store and
 * the scheduler. Every client goes through `call` — the CLI in-process (`core.api`), the web
 * server over HTTP, the desktop app through its relay — so every request is validated here,
 * once, and every rule the contract enforces lives behind this one door.
 *
 * This file only opens the pieces, dispatches, and tells the clients what changed (events); each
 * concern has its own module: reads of stored runs (run-reads.ts), queueing a grid and asking
 * before reusing runs (add-runs.ts), the queue's settings, slots, Redis and workers
 * (queue-settings.ts), live progress (progress.ts), time estimates and benchmarks
 * (estimates.ts), the exercises (exercises.ts), reports (reports/files.ts), models
 * (models/export.ts), the queue (queue/scheduler.ts), persistence (store/), run folders
 * (paths.ts).
 */
import { EventEmitter } from 'node:events'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import {
  ApiError,
  isMethodName,
  QUEUE_PAGE,
  validateParams,
  type ApiEvents,
  type EventName,
  type MethodName,
  type Params,
  type QueueState,
  type Result,
  type RunProgress,
} from '@shared/api/contract'
import type { QueueSettings, Run } from '@shared/api/types'
import { ConfigError } from '@shared/config/experiment'
import { MAX_JSON_DEPTH, nestsDeeperThan } from '@shared/json'
import { addGrid, askAboutReuse } from './add-runs'
import { Estimates } from './estimates'
import { ExerciseStudies } from './exercises'
import { modelFiles } from './models/export'
import { removeRunFolders } from './paths'
import { LiveProgress } from './progress'
import { isAlive } from './queue/process-identity'
import { cpuSlots, Scheduler } from './queue/scheduler'
import { LOCK_FILE, lockHolder, SchedulerLockError } from './queue/scheduler-lock'
import { QueueSetup } from './queue-settings'
import { reportFiles } from './reports/files'
import { compareStoredRuns, listRunsPage, runDetail, runEvents, runMetrics } from './run-reads'
import { toStoreError } from './store/errors'
import { DB_FILE, RunStore, StoreError } from './store'

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

export { REDIS_ENV } from './queue-settings'

export class Core extends EventEmitter<CoreEvents> {
  readonly store: RunStore
  readonly scheduler: Scheduler | null
  private readonly queueSetup: QueueSetup
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
    this.queueSetup = new QueueSetup(this.store, options.dataDir, options.queue)
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

  private startScheduler(): Scheduler | null {
    if (this.options.scheduler === false) return null
    const settings = this.queueSetup.effective()
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
    this.queueSetup.apply(scheduler, settings)
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

  /** One entry per method: the concerns' modules do the work; the core tells the clients. */
  private makeHandlers(): Handlers {
    const store = this.store
    return {
      listRuns: (p) => listRunsPage(store, p),
      getRun: (p) => runDetail(store, p.id, (id) => this.progress.of(id)),
      getMetrics: (p) => runMetrics(store, p),
      getEvents: (p) => runEvents(store, p),
      listExperiments: () => store.listExperiments(),
      queueState: (p) => this.queueState(p.limit),
      addRuns: async (p) => this.runsQueued(await addGrid(store, p, (runs) => this.queued(runs))),
      pauseQueue: () => this.setPaused(true),
      resumeQueue: () => {
        this.scheduler?.resume()
        return this.setPaused(false)
      },
      reorderRun: (p) => {
        store.reorder(p.id, p.index)
        this.queueChanged()
        return this.queueState()
      },
      cancelRun: (p) => this.cancelRun(p.id),
      retryRun: (p) => {
        // A run left `running` by a process that died (e.g. while its disk was full) can be
        // retried too: its owner is checked by identity, so a live run is never taken over.
        store.releaseOrphan(p.id, isAlive)
        return this.runChanged(store.retry(p.id), { queue: true })
      },
      deleteRuns: (p) => {
        // The store refuses runs that cannot be deleted (src/shared/run-state.ts canDelete).
        removeRunFolders(store.delete(p.ids))
        this.queueChanged()
        return { deleted: p.ids }
      },
      setNotes: (p) => this.runChanged(store.setNotes(p.id, p.notes)),
      setTags: (p) => this.runChanged(store.setTags(p.id, p.tags)),
      estimateEpoch: (p) => this.estimates.estimateEpoch(p.config),
      measureEpoch: (p) => this.estimates.measureEpoch(p.config),
      benchmark: (p) => this.estimates.benchmark(p.config, p),
      getQueueSettings: () => this.queueSetup.view(this.scheduler),
      setQueueSettings: (p) => {
        this.queueSetup.update(p, this.scheduler)
        this.queueChanged()
        return this.queueSetup.view(this.scheduler)
      },
      listWorkers: () => this.queueSetup.workers(this.scheduler),
      compareRuns: (p) => compareStoredRuns(store, p),
      exportReport: (p) => reportFiles(store, p),
      exportModel: (p) => modelFiles(store, p),
      exerciseStudy: (p) => this.exercises.study(p),
      queueExercise: (p) => {
        const result = this.exercises.queue(p, askAboutReuse)
        if (result.added.length > 0) this.queued(result.added)
        return this.runsQueued(result)
      },
      exerciseAnswer: (p) => this.exercises.answer(p),
      exportExerciseAnswer: (p) => this.exercises.exportAnswer(p),
      listViews: () => store.listViews(),
      saveView: (p) => store.saveView(p.name, p.state, p.id),
      deleteView: (p) => {
        store.deleteView(p.id)
        return { deleted: p.id }
      },
    }
  }

  private queued(runs: Run[]): void {
    this.emit('runQueued', { runs })
  }

  /** After runs were added: the queue changed when any was (linked ones never enter it). */
  private runsQueued<T extends { readonly added: readonly Run[] }>(result: T): T {
    if (result.added.length > 0) this.queueChanged()
    return result
  }

  private runChanged(run: Run, options: { readonly queue?: boolean } = {}): Run {
    this.emit('runChanged', { run })
    if (options.queue) this.queueChanged()
    return run
  }

  private setPaused(paused: boolean): QueueState {
    this.store.setQueuePaused(paused)
    this.queueChanged()
    return this.queueState()
  }

  private cancelRun(id: string): Run {
    const run = this.store.cancel(id)
    // A run this process trains stops now; one trained by another scheduler process stops
    // when that scheduler sees the status (within its poll). Only a scheduler signals its
    // own trainers: a pid in the database is never signalled on its word alone.
    this.scheduler?.stopRun(id, 'cancel')
    return this.runChanged(run, { queue: true })
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
