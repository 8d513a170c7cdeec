/**
 * The core: the API contract (src/shared/api/contract.ts) implemented over the run store and
 * the scheduler. Every client goes through `call` — the CLI in-process, the web server over
 * HTTP, the desktop app through its relay — so every request is validated here, once.
 */
import { EventEmitter } from 'node:events'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, extname, join } from 'node:path'
import { layerTable } from '@shared/architecture'
import {
  ApiError,
  isMethodName,
  validateParams,
  type ApiEvents,
  type ApiMethods,
  type EpochEstimate,
  type EventName,
  type MethodName,
  type Params,
  type QueueState,
  type Result,
  type RunDetail,
  type RunProgress,
} from '@shared/api/contract'
import type { Run } from '@shared/api/types'
import {
  ConfigError,
  parseExperimentConfig,
  type ExperimentConfig,
} from '@shared/config/experiment'
import { costTotals } from '@shared/cost'
import { expandGrid } from '@shared/grid'
import type { StartedMessage, StepMessage, TrainerMessage } from '@shared/protocol/trainer'
import { buildReport } from './reports/build'
import { exportReport } from './reports/export'
import { PdfUnavailableError } from './reports/pdf'
import { Scheduler } from './queue/scheduler'
import { lockHolder, SchedulerLockError } from './queue/scheduler-lock'
import { RunStore, StoreError } from './store'
import { trainerEntry } from './queue/trainer-process'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

const MIME_TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.md': 'text/markdown',
  '.csv': 'text/csv',
  '.json': 'application/json',
  '.pdf': 'application/pdf',
  '.png': 'image/png',
}

type Handlers = { [M in MethodName]: (params: Params<M>) => Result<M> | Promise<Result<M>> }
type CoreEvents = { [E in EventName]: [payload: ApiEvents[E]] }

export interface CoreOptions {
  readonly dataDir: string
  /**
   * Run the queue in this process: `true` requires the scheduler lock, `'if-free'` takes it when
   * no other process holds it (the app and the web server), `false` only enqueues and reads (the
   * CLI's queue commands while `queue start` runs elsewhere).
   */
  readonly scheduler: boolean | 'if-free'
  readonly concurrency?: number
}

/** Live progress of runs trained by this process's scheduler. */
interface Live {
  started: StartedMessage | null
  lastStep: StepMessage | null
  secondsPerStep: number | null
}

export class Core extends EventEmitter<CoreEvents> {
  readonly store: RunStore
  readonly scheduler: Scheduler | null
  private readonly live = new Map<string, Live>()
  private readonly handlers: Handlers

  constructor(private readonly options: CoreOptions) {
    super()
    this.store = RunStore.open(options.dataDir)
    this.scheduler = this.startScheduler()
    this.handlers = this.makeHandlers()
  }

  private startScheduler(): Scheduler | null {
    if (this.options.scheduler === false) return null
    const scheduler = new Scheduler(this.store, {
      dataDir: this.options.dataDir,
      concurrency: this.options.concurrency,
    })
    try {
      scheduler.start()
    } catch (err) {
      if (err instanceof SchedulerLockError && this.options.scheduler === 'if-free') return null
      throw err
    }
    scheduler.on('runStarted', (run) => {
      this.live.set(run.id, { started: null, lastStep: null, secondsPerStep: null })
      this.emit('runStarted', { run })
    })
    scheduler.on('message', (runId, m) => this.onMessage(runId, m))
    scheduler.on('runFinished', (run) => {
      this.live.delete(run.id)
      this.emit('runFinished', { run })
    })
    scheduler.on('queueChanged', () =>
      this.emit('queueChanged', { paused: this.store.queuePaused() }),
    )
    return scheduler
  }

  private onMessage(runId: string, m: TrainerMessage): void {
    const live = this.live.get(runId)
    if (!live) return
    if (m.type === 'started') live.started = m
    if (m.type === 'step') {
      if (live.lastStep && m.step > live.lastStep.step) {
        const dt = (m.time - live.lastStep.time) / 1000 / (m.step - live.lastStep.step)
        live.secondsPerStep =
          live.secondsPerStep === null ? dt : 0.9 * live.secondsPerStep + 0.1 * dt
      }
      live.lastStep = m
    }
    if (m.type === 'step' || m.type === 'epoch') {
      const progress = this.progressOf(runId)
      if (progress) this.emit('runProgress', { runId, progress, message: m })
    }
  }

  /** Progress of a running run: live when this process trains it, else from its log. */
  private progressOf(runId: string): RunProgress | null {
    const live = this.live.get(runId)
    const started = live?.started ?? this.store.latestEvent(runId, 'started')?.message ?? null
    if (!started) return null
    const step = live?.lastStep ?? this.store.latestEvent(runId, 'step')?.message ?? null
    const secondsPerStep =
      live?.secondsPerStep ??
      (step && step.examplesPerSec > 0
        ? this.store.requireRun(runId).config.train.batchSize / step.examplesPerSec
        : null)
    const epoch = step?.epoch ?? started.startEpoch + 1
    const stepInEpoch = step?.stepInEpoch ?? 0
    const remaining =
      (started.epochs - epoch) * started.stepsPerEpoch + (started.stepsPerEpoch - stepInEpoch)
    return {
      epoch,
      epochs: started.epochs,
      stepInEpoch,
      stepsPerEpoch: started.stepsPerEpoch,
      loss: step?.loss ?? null,
      examplesPerSec: step?.examplesPerSec ?? null,
      etaSeconds: secondsPerStep === null ? null : remaining * secondsPerStep,
      backend: started.backend,
    }
  }

  /** Validates and dispatches one request. Errors come out as ApiError with a clear message. */
  async call(method: string, params: unknown): Promise<unknown> {
    if (!isMethodName(method)) throw new ApiError('not-found', `no API method "${method}"`)
    try {
      const handler = this.handlers[method] as (p: unknown) => unknown
      return await handler(validateParams(method, params))
    } catch (err) {
      throw toApiError(err)
    }
  }

  /** The typed in-process client (what the CLI uses). */
  readonly api = new Proxy({} as { [M in MethodName]: (p: Params<M>) => Promise<Result<M>> }, {
    get: (_target, method: string) => (params: unknown) => this.call(method, params),
  })

  private queueState(): QueueState {
    const running = this.store.listRuns({ status: ['running'] })
    const queued = this.store.queue()
    const progress: Record<string, RunProgress> = {}
    for (const run of running) {
      const p = this.progressOf(run.id)
      if (p) progress[run.id] = p
    }
    return {
      paused: this.store.queuePaused(),
      schedulerRunning: this.scheduler !== null || lockHolder(this.options.dataDir) !== null,
      runs: [...running, ...queued],
      progress,
    }
  }

  private makeHandlers(): Handlers {
    const store = this.store
    return {
      listRuns: (p) => store.listRuns({ status: p.status, experiment: p.experiment }),
      getRun: (p): RunDetail => {
        const run = store.requireRun(p.id)
        const finished = store.latestEvent(p.id, 'finished')?.message
        const started = store.latestEvent(p.id, 'started')?.message
        return {
          run,
          classNames: finished?.classNames ?? null,
          perClassAccuracy: finished?.perClassAccuracy ?? null,
          confusion: finished?.confusion ?? null,
          progress: run.status === 'running' ? this.progressOf(p.id) : null,
          skippedBackends: started?.skipped ?? [],
        }
      },
      getMetrics: (p) => {
        const out: Record<string, Record<string, ReturnType<RunStore['metricSeries']>>> = {}
        for (const id of p.ids) {
          store.requireRun(id)
          out[id] = Object.fromEntries(p.names.map((name) => [name, store.metricSeries(id, name)]))
        }
        return out
      },
      getEvents: (p) => {
        store.requireRun(p.id)
        return store.events(p.id, { afterSeq: p.afterSeq, limit: p.limit })
      },
      listExperiments: () => store.listExperiments(),
      queueState: () => this.queueState(),
      addRuns: (p) => {
        const { configs } = expandGrid(p.base, p.axes, p.seeds)
        const result = store.addRuns(p.experiment, configs, { priority: p.priority })
        if (result.added.length > 0) {
          this.emit('runQueued', { runs: result.added })
          this.emit('queueChanged', { paused: store.queuePaused() })
        }
        return result
      },
      pauseQueue: () => {
        store.setQueuePaused(true)
        this.emit('queueChanged', { paused: true })
        return this.queueState()
      },
      resumeQueue: () => {
        store.setQueuePaused(false)
        this.emit('queueChanged', { paused: false })
        return this.queueState()
      },
      reorderRun: (p) => {
        store.reorder(p.id, p.index)
        this.emit('queueChanged', { paused: store.queuePaused() })
        return this.queueState()
      },
      cancelRun: (p) => {
        const before = store.requireRun(p.id)
        const run = store.cancel(p.id)
        // The scheduler that owns a running run notices the status within a poll; stopping its
        // trainer directly (same host) makes that immediate.
        if (before.status === 'running' && before.pid !== null) {
          try {
            process.kill(before.pid, 'SIGTERM')
          } catch {
            // already gone
          }
        }
        this.emit('runChanged', { run })
        this.emit('queueChanged', { paused: store.queuePaused() })
        return run
      },
      retryRun: (p) => {
        const run = store.retry(p.id)
        this.emit('runChanged', { run })
        this.emit('queueChanged', { paused: store.queuePaused() })
        return run
      },
      deleteRuns: (p) => {
        for (const id of p.ids) {
          if (store.requireRun(id).status === 'running') {
            throw new ApiError(
              'illegal-state',
              `run ${id} is training: cancel it before deleting it`,
            )
          }
        }
        const folders = store.delete(p.ids)
        for (const folder of folders) rmSync(folder, { recursive: true, force: true })
        this.emit('queueChanged', { paused: store.queuePaused() })
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
      estimateEpoch: (p) => this.estimateEpoch(p.config),
      measureEpoch: (p) => this.measureEpoch(p.config),
      exportReport: (p) => {
        if (p.ids.length === 0)
          throw new ApiError('invalid-params', 'ids must name at least one run')
        const report = buildReport(store, p.ids, { title: p.title })
        const dir = mkdtempSync(join(tmpdir(), 'nin-lab-export-'))
        try {
          const stem = `nin-lab-report-${report.createdAt.slice(0, 10)}`
          let written: string[]
          try {
            written = exportReport(report, p.format, join(dir, `${stem}.${p.format}`))
          } catch (err) {
            if (err instanceof PdfUnavailableError) throw new ApiError('unavailable', err.message)
            throw err
          }
          return {
            files: written.map((file) => ({
              name: basename(file),
              mimeType: MIME_TYPES[extname(file)] ?? 'application/octet-stream',
              base64: readFileSync(file).toString('base64'),
            })),
          }
        } finally {
          rmSync(dir, { recursive: true, force: true })
        }
      },
    }
  }

  /**
   * Expected seconds per epoch, from finished runs on this machine: their measured training
   * throughput, converted to this config's cost (training FLOPs per image) — throughput in FLOP/s
   * carries over between NiN variants far better than images/s does.
   */
  private estimateEpoch(input: unknown): EpochEstimate {
    const parsed = parseExperimentConfig(input)
    if (!parsed.ok) throw new ConfigError(parsed.issues)
    const config = parsed.value
    const flopsPerImage = costTotals(layerTable(config.model), config.train).trainFlopsPerImage
    const images = config.data.trainLimit ?? 60_000
    const history = this.store
      .listRuns({ status: ['completed', 'running', 'cancelled', 'interrupted'] })
      .filter((r) => r.epochsDone > 0 || r.status === 'running')
    // Prefer runs of similar cost (same input size and batch) on the backend this config asks for.
    const score = (r: Run): number =>
      (r.config.model.inputSize === config.model.inputSize ? 2 : 0) +
      (r.config.train.batchSize === config.train.batchSize ? 1 : 0) +
      (config.train.backend === 'auto' || r.backend === config.train.backend ? 1 : 0)
    const samples = history
      .map((r) => ({ run: r, rate: this.measuredRate(r) }))
      .filter((s): s is { run: Run; rate: number } => s.rate !== null)
      .sort((a, b) => score(b.run) - score(a.run) || b.run.createdAt - a.run.createdAt)
      .slice(0, 5)
    if (samples.length === 0) {
      return {
        secondsPerEpoch: null,
        imagesPerSecond: null,
        basis: 'none',
        backend: null,
        detail: 'no runs on this machine yet: measure a few steps, or the first run will tell',
      }
    }
    const flopsPerSecond =
      samples.reduce((sum, s) => sum + s.rate * costOf(s.run.config), 0) / samples.length
    const imagesPerSecond = flopsPerSecond / flopsPerImage
    return {
      secondsPerEpoch: images / imagesPerSecond,
      imagesPerSecond,
      basis: 'history',
      backend: samples[0]?.run.backend ?? null,
      detail: `from ${samples.length} earlier run${samples.length === 1 ? '' : 's'} on this machine, scaled by training FLOPs`,
    }
  }

  /**
   * Times a few real training steps of the config in a fresh trainer process (the same code path
   * as `nin-lab bench`), at the config's batch size capped at 64 to bound time and memory.
   */
  private async measureEpoch(input: unknown): Promise<EpochEstimate> {
    const parsed = parseExperimentConfig(input)
    if (!parsed.ok) throw new ConfigError(parsed.issues)
    const config = parsed.value
    const batchSize = Math.min(config.train.batchSize, 64)
    const dir = mkdtempSync(join(tmpdir(), 'nin-lab-measure-'))
    try {
      const file = join(dir, 'config.json')
      writeFileSync(file, JSON.stringify({ ...config, train: { ...config.train, batchSize } }))
      const { stdout } = await execFileAsync(
        process.execPath,
        [trainerEntry(), '--bench', file, '--steps', '3', '--warmup', '1'],
        {
          timeout: 300_000,
          maxBuffer: 1 << 20,
        },
      )
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '))
      if (!line) throw new ApiError('internal', 'the measurement printed no result')
      const result = JSON.parse(line.slice('RESULT '.length)) as {
        imgPerS: number
        backend: string
        threads: number | null
      }
      const images = config.data.trainLimit ?? 60_000
      const busy = this.store.listRuns({ status: ['running'] }).length > 0
      return {
        secondsPerEpoch: images / result.imgPerS,
        imagesPerSecond: result.imgPerS,
        basis: 'measured',
        backend: result.backend,
        detail:
          `3 training steps at batch ${batchSize} just timed on ${result.backend}${result.threads ? ` ×${result.threads}` : ''}` +
          (busy ? ' (while another run was training: expect it faster alone)' : ''),
      }
    } catch (err) {
      if (err instanceof ApiError) throw err
      const message =
        (err as { stderr?: string }).stderr?.trim().split('\n').at(-1) ??
        (err instanceof Error ? err.message : String(err))
      throw new ApiError('unavailable', `could not measure this config: ${message}`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }

  /** A run's measured training images/s (its latest epoch), or null. */
  private measuredRate(run: Run): number | null {
    const epoch = this.store.latestEvent(run.id, 'epoch')?.message
    return epoch && epoch.examplesPerSec > 0 ? epoch.examplesPerSec : null
  }

  async close(): Promise<void> {
    await this.scheduler?.stop('interrupt')
    this.store.close()
  }
}

const costOf = (config: ExperimentConfig): number =>
  costTotals(layerTable(config.model), config.train).trainFlopsPerImage

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

export type { ApiMethods }
