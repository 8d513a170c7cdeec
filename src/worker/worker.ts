/**
 * A remote worker (`nin-lab worker`): pulls run jobs from the head's BullMQ queue "runs", trains
 * each in the same trainer process a local run gets (engine `auto` on this machine, one run per
 * slot: a GPU or a CPU slot), and sends everything back to the head, in order, through the
 * queue "reports" — trainer messages, then each checkpoint and the final model as files. It keeps
 * no state the head needs: a run's folder here is scratch, rebuilt from what a job carries.
 *
 * It beats every HEARTBEAT_MS (a key with a TTL, so the head sees it die), checks once a second
 * that each run's attempt is still current (a cancelled or re-dispatched run is stopped), and on
 * SIGTERM drains: it takes nothing new, stops its runs after their current step and hands them
 * back (they resume elsewhere from their last checkpoint), then exits.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { dirname, join, relative, sep } from 'node:path'
import { Queue, Worker, type Job } from 'bullmq'
import { Redis } from 'ioredis'
import type { GpuInfo } from '@shared/api/types'
import { validateExperimentConfig, type ExperimentConfig } from '@shared/config/experiment'
import { isTerminal, type TrainerMessage } from '@shared/protocol/trainer'
import {
  attemptKey,
  checkRunJob,
  HEARTBEAT_MS,
  HEARTBEAT_TTL_MS,
  isSafeRelativePath,
  KEY_PREFIX,
  REPORTS_QUEUE,
  RUNS_QUEUE,
  workerKey,
  type Report,
  type ShippedFile,
  type WorkerBeat,
} from '@shared/protocol/worker'
import { redisOptions } from '@core/queue/redis'
import type { LocalSlot } from '@core/queue/scheduler'
import { startTrainer, type TrainerHandle } from '@core/queue/trainer-process'

export interface WorkerOptions {
  readonly redisUrl: string
  /** How the fleet knows this worker; unique per worker. */
  readonly name: string
  readonly slots: readonly LocalSlot[]
  /** Scratch space: datasets/ (the cache) and runs/<id>/. */
  readonly workDir: string
  /** What `engine: auto` trains on here, for the fleet view. */
  readonly offers: string
  readonly version: string
  /** SIGTERM → SIGKILL grace for trainers asked to stop. */
  readonly stopGraceMs?: number
  readonly log: (line: string) => void
}

/** Step messages wait at most this long before they go to the head in one report. */
const FLUSH_MS = 500
/** How often each run checks that its attempt is still the current one. */
const ATTEMPT_CHECK_MS = 1000

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex')

function filesUnder(root: string, dir: string): ShippedFile[] {
  const out: ShippedFile[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...filesUnder(root, path))
    else if (entry.isFile()) {
      const data = readFileSync(path)
      out.push({
        path: relative(root, path).split(sep).join('/'),
        base64: data.toString('base64'),
        sha256: sha256(data),
      })
    }
  }
  return out
}

/** Writes the checkpoint a job carries into the run's scratch folder (checked paths only). */
function unpack(runDir: string, files: readonly ShippedFile[]): void {
  for (const file of files) {
    if (!isSafeRelativePath(file.path))
      throw new Error(`the job names a path outside the run: ${file.path}`)
    const data = Buffer.from(file.base64, 'base64')
    if (sha256(data) !== file.sha256) throw new Error(`${file.path} arrived damaged`)
    const path = join(runDir, ...file.path.split('/'))
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(`${path}.tmp`, data)
    renameSync(`${path}.tmp`, path)
  }
}

/** A run this worker trains: its trainer, and why we stopped it (then it is handed back). */
interface RunningRun {
  trainer: TrainerHandle | null
  handback: string | null
}

export class RemoteWorker {
  private readonly redis: Redis
  private readonly reports: Queue
  private readonly worker: Worker
  private readonly freeSlots: LocalSlot[]
  private readonly running = new Map<string, RunningRun>()
  private beat: NodeJS.Timeout | null = null
  private draining = false
  private readonly startedAt = Date.now()
  readonly closed: Promise<void>
  private resolveClosed: () => void = () => {}

  constructor(private readonly options: WorkerOptions) {
    const connection = redisOptions(options.redisUrl)
    this.freeSlots = [...options.slots]
    this.redis = new Redis(connection)
    this.redis.on('error', (err) => this.warn(`redis: ${err.message}`))
    this.reports = new Queue(REPORTS_QUEUE, { connection, prefix: KEY_PREFIX })
    this.reports.on('error', (err) => this.warn(`redis (reports): ${err.message}`))
    this.worker = new Worker(RUNS_QUEUE, (job) => this.train(job), {
      connection,
      prefix: KEY_PREFIX,
      name: options.name,
      concurrency: Math.max(1, options.slots.length),
      // A job whose worker died is not run again by BullMQ: the head re-dispatches the run as a
      // new attempt (with the checkpoint that came back), which is what a resume must be.
      maxStalledCount: 0,
      removeOnComplete: { count: 100 },
      removeOnFail: { count: 100 },
    })
    this.worker.on('error', (err) => this.warn(`redis (runs): ${err.message}`))
    this.worker.on('failed', (job, err) =>
      this.options.log(`✗ job ${job?.id ?? '?'} failed: ${err.message}`),
    )
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve))
    this.beat = setInterval(() => void this.heartbeat(), HEARTBEAT_MS)
    void this.heartbeat()
  }

  private lastWarning = ''
  private warn(message: string): void {
    if (message === this.lastWarning) return
    this.lastWarning = message
    this.options.log(`warning: ${message}`)
  }

  private async heartbeat(): Promise<void> {
    const beat: WorkerBeat = {
      name: this.options.name,
      host: hostname(),
      pid: process.pid,
      slots: this.options.slots.length,
      gpus: this.options.slots.flatMap((s) => (s.gpu ? [s.gpu] : [])),
      running: [...this.running.keys()],
      offers: this.options.offers,
      version: this.options.version,
      startedAt: this.startedAt,
      beatAt: Date.now(),
      draining: this.draining,
    }
    try {
      await this.redis.set(
        workerKey(this.options.name),
        JSON.stringify(beat),
        'PX',
        HEARTBEAT_TTL_MS,
      )
    } catch (err) {
      this.warn(`heartbeat: ${(err as Error).message}`)
    }
  }

  /** BullMQ's processor: one attempt of one run, from job to the last report. */
  private async train(job: Job): Promise<string> {
    const spec = checkRunJob(job.data)
    let config: ExperimentConfig
    try {
      config = validateExperimentConfig(spec.config, `the job of run ${spec.runId}`)
    } catch (err) {
      // This worker's NiN Lab reads the config differently (another version): the run fails
      // once, with the reason, instead of bouncing between workers.
      const error = `worker ${this.options.name} cannot read this config: ${(err as Error).message}`
      await this.send({
        ...this.base(spec.runId, spec.attempt, null),
        kind: 'messages',
        messages: [{ type: 'failed', runId: spec.runId, time: Date.now(), error }],
      })
      return 'refused'
    }
    if (this.draining) {
      await this.send({
        ...this.base(spec.runId, spec.attempt, null),
        kind: 'handback',
        reason: 'the worker is shutting down',
      })
      return 'handed back'
    }
    if ((await this.redis.get(attemptKey(spec.runId))) !== String(spec.attempt)) {
      this.options.log(`· ${spec.runId} attempt ${spec.attempt} is no longer current: skipped`)
      return 'stale'
    }
    const slot = this.freeSlots.shift()
    if (!slot) throw new Error('no free slot (more jobs than slots)')
    const runDir = join(this.options.workDir, 'runs', spec.runId)
    try {
      // The head's copy is the truth: start from exactly the checkpoint it sent.
      rmSync(runDir, { recursive: true, force: true })
      mkdirSync(runDir, { recursive: true })
      unpack(runDir, spec.checkpoint)
      return await this.supervise(spec.runId, spec.attempt, slot, runDir, {
        runId: spec.runId,
        config,
        dataDir: this.options.workDir,
        runDir,
        resume: spec.resume,
      })
    } finally {
      this.freeSlots.push(slot)
      rmSync(runDir, { recursive: true, force: true })
    }
  }

  private base(runId: string, attempt: number, gpu: GpuInfo | null) {
    return { runId, attempt, worker: this.options.name, host: hostname(), pid: process.pid, gpu }
  }

  /** Sends one report (BullMQ keeps them in order: one producer, one consumer at the head). */
  private send(report: Report): Promise<unknown> {
    return this.reports.add('report', report, {
      attempts: 1,
      removeOnComplete: true,
      removeOnFail: { count: 1000 },
    })
  }

  private async supervise(
    runId: string,
    attempt: number,
    slot: LocalSlot,
    runDir: string,
    trainerJob: Parameters<typeof startTrainer>[0],
  ): Promise<string> {
    const base = { ...this.base(runId, attempt, slot.gpu) }
    let batch: TrainerMessage[] = []
    let chain: Promise<unknown> = Promise.resolve()
    let timer: NodeJS.Timeout | null = null
    const enqueue = (report: Report): void => {
      chain = chain
        .then(() => this.send(report))
        .catch((err: unknown) => this.warn(`report of ${runId}: ${(err as Error).message}`))
    }
    const flush = (): void => {
      if (timer) clearTimeout(timer)
      timer = null
      if (batch.length === 0) return
      enqueue({ ...base, kind: 'messages', messages: batch })
      batch = []
    }
    const shipDir = (dir: string): void => {
      try {
        enqueue({ ...base, kind: 'files', files: filesUnder(runDir, dir) })
      } catch (err) {
        this.warn(`could not send ${dir}: ${(err as Error).message}`)
      }
    }
    const entry: RunningRun = { trainer: null, handback: null }
    const onMessage = (m: TrainerMessage): void => {
      // A run we stopped is handed back, not cancelled: its `cancelled` stays here.
      if (m.type === 'cancelled' && entry.handback !== null) return
      if (m.type === 'step') {
        batch.push(m)
        timer ??= setTimeout(flush, FLUSH_MS)
        return
      }
      // Files first, then the message that names them.
      if (m.type === 'checkpoint' || m.type === 'finished') {
        flush()
        shipDir(m.type === 'checkpoint' ? m.path : m.modelPath)
      }
      batch.push(m)
      flush()
    }
    const trainer = startTrainer(trainerJob, onMessage, {
      stopGraceMs: this.options.stopGraceMs,
      onWarning: (message) => this.warn(message),
      env: slot.gpu ? { CUDA_VISIBLE_DEVICES: String(slot.gpu.index) } : {},
    })
    entry.trainer = trainer
    this.running.set(runId, entry)
    void this.heartbeat()
    this.options.log(
      `▶ ${runId} attempt ${attempt} on ${slot.gpu ? `GPU ${slot.gpu.index}` : slot.id}`,
    )
    const watch = setInterval(() => {
      void this.redis.get(attemptKey(runId)).then(
        (current) => {
          if (current !== String(attempt) && entry.handback === null) {
            entry.handback =
              current === 'cancelled' ? 'cancelled on the head' : 'no longer the current attempt'
            trainer.stop()
          }
        },
        () => {},
      )
    }, ATTEMPT_CHECK_MS)
    const exit = await trainer.done
    clearInterval(watch)
    this.running.delete(runId)
    flush()
    if (entry.handback !== null && (!exit.terminal || exit.terminal.type === 'cancelled')) {
      enqueue({ ...base, kind: 'handback', reason: entry.handback })
    } else if (!exit.terminal) {
      enqueue({
        ...base,
        kind: 'crash',
        reason: exit.crash ?? 'the trainer ended without a final message',
      })
    }
    await chain
    void this.heartbeat()
    const outcome = exit.terminal
      ? isTerminal(exit.terminal)
        ? exit.terminal.type
        : 'ended'
      : 'handed back'
    this.options.log(`■ ${runId} attempt ${attempt}: ${outcome}`)
    return outcome
  }

  /** SIGTERM: take nothing new, hand the current runs back after their step, then close. */
  async drain(): Promise<void> {
    if (this.draining) return
    this.draining = true
    await this.heartbeat()
    this.options.log('draining: the current runs stop after their step and go back to the head…')
    for (const entry of this.running.values()) {
      entry.handback ??= 'the worker is shutting down'
      entry.trainer?.stop()
    }
    await this.worker.close()
    await this.close()
  }

  async close(): Promise<void> {
    if (this.beat) clearInterval(this.beat)
    this.beat = null
    await this.worker.close().catch(() => {})
    await this.redis.del(workerKey(this.options.name)).catch(() => {})
    await this.reports.close().catch(() => {})
    this.redis.disconnect()
    this.resolveClosed()
  }
}
