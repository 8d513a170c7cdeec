/**
 * A remote worker (`nin-lab worker`): pulls run jobs from the head's BullMQ queue "runs", trains
 * each in the same trainer process a local run gets (engine `auto` on this machine, one run per
 * slot: a GPU or a CPU slot), and sends everything back to the head, in order, through the
 * reports list — trainer messages, then each checkpoint and the final model as files in chunks.
 * It keeps no state the head needs: a run's folder here is scratch, rebuilt from what a job
 * carries.
 *
 * Everything it reads from Redis must be signed with the fleet key, and everything it writes is
 * signed with it (src/core/queue/fleet-key.ts): a job someone else put there is refused unread.
 * Reports are bounded: log lines are cut with a marker (checkTrainerMessage), batches closed at
 * about REPORT_TARGET_CHARS, files sent CHUNK_BYTES at a time, so Redis is never blocked for long.
 * A report Redis refuses (full) is retried with backoff; if it still cannot be sent, the run is
 * stopped and nothing later of it is sent (the head resumes it from the last checkpoint it holds).
 *
 * It beats every HEARTBEAT_MS (a key with a TTL, so the head sees it die), checks once a second
 * that each run's attempt is still current (a cancelled or re-dispatched run is stopped), and on
 * SIGTERM drains: it takes nothing new, stops its runs after their current step and hands them
 * back (they resume elsewhere from their last checkpoint), then exits.
 */
import { randomBytes } from 'node:crypto'
import {
  closeSync,
  copyFileSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  rmSync,
} from 'node:fs'
import { hostname } from 'node:os'
import { basename, join, relative, sep } from 'node:path'
import { Worker, type Job } from 'bullmq'
import { Redis } from 'ioredis'
import type { GpuInfo } from '@shared/api/types'
import { validateExperimentConfig, type ExperimentConfig } from '@shared/config/experiment'
import { isTerminal, type TrainerMessage } from '@shared/protocol/trainer'
import {
  attemptKey,
  checkAttemptRecord,
  CHUNK_BYTES,
  checkRunJob,
  HEARTBEAT_MS,
  HEARTBEAT_TTL_MS,
  KEY_PREFIX,
  MAX_ATTEMPT_CHARS,
  MAX_FILE_BYTES,
  MAX_JOB_CHARS,
  REPORT_TARGET_CHARS,
  RUNS_QUEUE,
  supersedes,
  workerKey,
  type AttemptRecord,
  type Report,
  type WorkerBeat,
} from '@shared/protocol/worker'
import { open, sign } from '@core/queue/fleet-key'
import { redisOptions } from '@core/queue/redis'
import { dropJobFiles, hashFile, takeJobFiles } from '@core/queue/job-files'
import { isRefusedWrite, pushReport } from '@core/queue/report-channel'
import type { LocalSlot } from '@core/queue/scheduler'
import { startTrainer, type TrainerHandle } from '@core/queue/trainer-process'

export interface WorkerOptions {
  readonly redisUrl: string
  /** The fleet key the head gave out of band (--fleet-key-file, $NIN_LAB_FLEET_KEY). */
  readonly fleetKey: string
  /** How the fleet knows this worker; unique per worker. */
  readonly name: string
  readonly slots: readonly LocalSlot[]
  /** Scratch space: datasets/ (the cache) and runs/<id>-<attempt>/. */
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
/** Tries of a report Redis refuses (full), backing off from 200 ms to 5 s: about a minute. */
const SEND_TRIES = 15

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err))

/**
 * A checkpoint or model folder, kept for shipping: its files hard-linked (copied where links
 * fail) into `outbox`, so that the trainer may drop the folder meanwhile (it keeps two
 * checkpoints). SHA256SUMS last: the head takes a folder as complete once it has arrived.
 */
function stage(dir: string, outbox: string): string[] {
  mkdirSync(outbox, { recursive: true })
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .sort((a, b) => Number(a === 'SHA256SUMS') - Number(b === 'SHA256SUMS') || a.localeCompare(b))
  for (const name of names) {
    try {
      linkSync(join(dir, name), join(outbox, name))
    } catch {
      copyFileSync(join(dir, name), join(outbox, name))
    }
  }
  return names.map((n) => join(outbox, n))
}

/** A run this worker trains: its trainer, and why we stopped it (then it is handed back). */
interface RunningRun {
  readonly runId: string
  trainer: TrainerHandle | null
  handback: string | null
  /** A report could not be sent: nothing later of this attempt may be. */
  broken: boolean
}

/** A report before the worker stamps its session and sequence number on it. */
type Unsigned<R> = R extends Report ? Omit<R, 'seq' | 'session'> : never
type ReportBody = Unsigned<Report>

export class RemoteWorker {
  private readonly redis: Redis
  private readonly worker: Worker
  private readonly freeSlots: LocalSlot[]
  /** Runs training here, by `<run>.<attempt>` (a run cancelled and queued again may overlap). */
  private readonly running = new Map<string, RunningRun>()
  private beat: NodeJS.Timeout | null = null
  private draining = false
  private readonly startedAt = Date.now()
  /** This process's identity in every report, and the sequence number of the last one. */
  private readonly session = randomBytes(12).toString('base64url')
  private seq = 0
  /** Runs whose attempt key held a value the head did not sign (each said once). */
  private readonly forgedAttempts = new Set<string>()
  readonly closed: Promise<void>
  private resolveClosed: () => void = () => {}

  constructor(private readonly options: WorkerOptions) {
    const connection = redisOptions(options.redisUrl)
    this.freeSlots = [...options.slots]
    this.redis = new Redis(connection)
    this.redis.on('error', (err) => this.warn(`redis: ${err.message}`))
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
      running: [...new Set([...this.running.values()].map((r) => r.runId))],
      offers: this.options.offers,
      version: this.options.version,
      startedAt: this.startedAt,
      beatAt: Date.now(),
      draining: this.draining,
    }
    try {
      await this.redis.set(
        workerKey(this.options.name),
        sign(this.options.fleetKey, 'beat', JSON.stringify(beat)),
        'PX',
        HEARTBEAT_TTL_MS,
      )
    } catch (err) {
      this.warn(`heartbeat: ${messageOf(err)}`)
    }
  }

  /** A job's run id, attempt and config, if the head signed it for this job id; else null. */
  private readJob(
    job: Job,
  ): { runId: string; attempt: number; spec: ReturnType<typeof checkRunJob> } | null {
    const envelope = (job.data as { envelope?: unknown } | null)?.envelope
    const opened = open([this.options.fleetKey], 'job', envelope, MAX_JOB_CHARS)
    try {
      if ('error' in opened) throw new Error(opened.error)
      const spec = checkRunJob(JSON.parse(opened.body))
      // A signed job copied under another job id would train one attempt twice.
      if (job.id !== `${spec.runId}.${spec.attempt}`)
        throw new Error('it was copied under another id')
      return { runId: spec.runId, attempt: spec.attempt, spec }
    } catch (err) {
      this.options.log(
        `✗ refused job ${String(job.id).slice(0, 80)}: ${messageOf(err)}. This worker takes no ` +
          'more jobs: if the head rotated its fleet key, restart it with the new --fleet-key-file',
      )
      // A worker holding an old key would otherwise take, and refuse, job after job that workers
      // with the new key could train. (A forged job stops it the same way: a delay, which anyone
      // who can write to Redis can cause anyhow.)
      void this.worker.pause(true).catch(() => {})
      return null
    }
  }

  /** BullMQ's processor: one attempt of one run, from job to the last report. */
  private async train(job: Job): Promise<string> {
    const read = this.readJob(job)
    if (!read) return 'refused'
    const { runId, attempt, spec } = read
    let config: ExperimentConfig
    try {
      config = validateExperimentConfig(spec.config, `the job of run ${runId}`)
    } catch (err) {
      // This worker's NiN Lab reads the config differently (another version): the run fails
      // once, with the reason, instead of bouncing between workers.
      const error = `worker ${this.options.name} cannot read this config: ${messageOf(err)}`
      await this.send({
        ...this.base(runId, attempt, null),
        kind: 'messages',
        messages: [{ type: 'failed', runId, time: Date.now(), error }],
      })
      return 'refused'
    }
    if (this.draining) {
      await this.send({
        ...this.base(runId, attempt, null),
        kind: 'handback',
        reason: 'the worker is shutting down',
      })
      return 'handed back'
    }
    const record = await this.attemptRecord(runId)
    if (record && supersedes(record, attempt)) {
      this.options.log(`· ${runId} attempt ${attempt} is no longer current: skipped`)
      return 'stale'
    }
    const slot = this.freeSlots.shift()
    if (!slot) throw new Error('no free slot (more jobs than slots)')
    // One folder per attempt: the trainer of a run cancelled a moment ago may still be exiting.
    const runDir = join(this.options.workDir, 'runs', `${runId}-${attempt}`)
    try {
      // The head's copy is the truth: start from exactly the checkpoint it sent.
      rmSync(runDir, { recursive: true, force: true })
      mkdirSync(runDir, { recursive: true })
      // The checkpoint comes in pieces, a command each; its pieces go once it is whole here.
      await takeJobFiles(this.redis, String(job.id), spec.checkpoint, runDir)
      void dropJobFiles(this.redis, String(job.id)).catch(() => {})
      return await this.supervise(runId, attempt, slot, runDir, {
        runId,
        config,
        dataDir: this.options.workDir,
        runDir,
        resume: spec.resume,
      })
    } finally {
      this.freeSlots.push(slot)
      rmSync(runDir, { recursive: true, force: true })
      rmSync(`${runDir}.outbox`, { recursive: true, force: true })
    }
  }

  private base(runId: string, attempt: number, gpu: GpuInfo | null) {
    return { runId, attempt, worker: this.options.name, host: hostname(), pid: process.pid, gpu }
  }

  /**
   * Sends one report, signed, stamped with this process's session and the next sequence number;
   * retried with backoff while Redis is full. Throws when it could not be sent.
   */
  private async send(body: ReportBody): Promise<void> {
    const report = { ...body, session: this.session, seq: ++this.seq }
    const envelope = sign(this.options.fleetKey, 'report', JSON.stringify(report))
    for (let i = 1, wait = 200; ; i++, wait = Math.min(wait * 2, 5000)) {
      try {
        return await pushReport(this.redis, envelope)
      } catch (err) {
        if (!isRefusedWrite(err) || i >= SEND_TRIES) throw err
        this.warn(`redis refused a report of ${body.runId}, retrying: ${messageOf(err)}`)
        await sleep(wait)
      }
    }
  }

  /** Sends a staged file in CHUNK_BYTES pieces, one report each, reading one piece at a time. */
  private async sendFile(
    base: ReturnType<RemoteWorker['base']>,
    path: string,
    relPath: string,
  ): Promise<void> {
    const { sha256: digest, size } = hashFile(path)
    if (size > MAX_FILE_BYTES)
      throw new Error(`${relPath} is ${size} bytes, more than the ${MAX_FILE_BYTES} a file may be`)
    const fd = openSync(path, 'r')
    try {
      const buffer = Buffer.alloc(CHUNK_BYTES)
      for (let offset = 0; offset === 0 || offset < size;) {
        const n = readSync(fd, buffer, 0, Math.min(CHUNK_BYTES, size - offset), offset)
        await this.send({
          ...base,
          kind: 'chunk',
          path: relPath,
          offset,
          size,
          sha256: digest,
          base64: buffer.subarray(0, n).toString('base64'),
        })
        offset += n
        if (n === 0) break
      }
    } finally {
      closeSync(fd)
    }
  }

  private async supervise(
    runId: string,
    attempt: number,
    slot: LocalSlot,
    runDir: string,
    trainerJob: Parameters<typeof startTrainer>[0],
  ): Promise<string> {
    const base = this.base(runId, attempt, slot.gpu)
    const entry: RunningRun = { runId, trainer: null, handback: null, broken: false }
    const out = this.outbox(entry, base, runDir)
    const onMessage = (m: TrainerMessage): void => {
      // A run we stopped is handed back, not cancelled: its `cancelled` stays here.
      if (m.type === 'cancelled' && entry.handback !== null) return
      if (m.type === 'step') return out.add(m)
      // Files first, then the message that names them.
      if (m.type === 'checkpoint' || m.type === 'finished') {
        out.flush()
        out.ship(m.type === 'checkpoint' ? m.path : m.modelPath)
      }
      out.add(m)
      out.flush()
    }
    const trainer = startTrainer(trainerJob, onMessage, {
      stopGraceMs: this.options.stopGraceMs,
      onWarning: (message) => this.warn(message),
      env: slot.gpu ? { CUDA_VISIBLE_DEVICES: String(slot.gpu.index) } : {},
    })
    entry.trainer = trainer
    const key = `${runId}.${attempt}`
    this.running.set(key, entry)
    void this.heartbeat()
    this.options.log(
      `▶ ${runId} attempt ${attempt} on ${slot.gpu ? `GPU ${slot.gpu.index}` : slot.id}`,
    )
    const watch = setInterval(() => this.checkAttempt(entry, attempt), ATTEMPT_CHECK_MS)
    const exit = await trainer.done
    clearInterval(watch)
    out.flush()
    if (entry.handback !== null && (!exit.terminal || exit.terminal.type === 'cancelled')) {
      out.report({ ...base, kind: 'handback', reason: entry.handback })
    } else if (!exit.terminal) {
      const reason = exit.crash ?? 'the trainer ended without a final message'
      out.report({ ...base, kind: 'crash', reason })
    }
    // The run stays in this worker's heartbeat until its last report is in Redis: the head
    // counts a run its worker no longer lists as lost.
    await out.drained()
    this.running.delete(key)
    void this.heartbeat()
    const outcome = entry.broken
      ? 'its reports could not be sent'
      : exit.terminal
        ? isTerminal(exit.terminal)
          ? exit.terminal.type
          : 'ended'
        : 'handed back'
    this.options.log(`■ ${runId} attempt ${attempt}: ${outcome}`)
    return outcome
  }

  /**
   * The head's signed record of a run's attempt, or null when there is none or it is not the
   * head's (a forged or malformed value is ignored — said once per run — so Redis access alone
   * cannot stop or delay a run).
   */
  private async attemptRecord(runId: string): Promise<AttemptRecord | null> {
    const value = await this.redis.get(attemptKey(runId))
    if (value === null) return null
    const opened = open([this.options.fleetKey], 'attempt', value, MAX_ATTEMPT_CHARS)
    try {
      if ('error' in opened) throw new Error(opened.error)
      return checkAttemptRecord(JSON.parse(opened.body), runId)
    } catch (err) {
      if (!this.forgedAttempts.has(runId)) {
        if (this.forgedAttempts.size > 10_000) this.forgedAttempts.clear()
        this.forgedAttempts.add(runId)
        this.warn(`ignored the attempt key of run ${runId} (not the head's): ${messageOf(err)}`)
      }
      return null
    }
  }

  /** Stops a run whose attempt is no longer the current one (cancelled, or re-dispatched). */
  private checkAttempt(entry: RunningRun, attempt: number): void {
    void this.attemptRecord(entry.runId).then(
      (record) => {
        if (record && supersedes(record, attempt) && entry.handback === null) {
          entry.handback =
            record.attempt === attempt ? 'cancelled on the head' : 'no longer the current attempt'
          entry.trainer?.stop()
        }
      },
      () => {},
    )
  }

  /**
   * What one run sends, in order: a chain of reports (messages batched every FLUSH_MS or at
   * about REPORT_TARGET_CHARS, checkpoint and model folders as chunked files). If a report cannot
   * be sent, the run is broken: its trainer is stopped and nothing later of it is sent, so the
   * head never gets a message naming files it did not get.
   */
  private outbox(entry: RunningRun, base: ReturnType<RemoteWorker['base']>, runDir: string) {
    let batch: TrainerMessage[] = []
    let chars = 0
    let chain: Promise<unknown> = Promise.resolve()
    let timer: NodeJS.Timeout | null = null
    let staged = 0
    const later = (task: () => Promise<void>): void => {
      chain = chain.then(async () => {
        if (entry.broken) return
        try {
          await task()
        } catch (err) {
          entry.broken = true
          this.warn(`reports of ${entry.runId} could not be sent (${messageOf(err)}): stopping it`)
          entry.handback ??= 'its reports could not be sent'
          entry.trainer?.stop()
        }
      })
    }
    const report = (r: ReportBody): void => later(() => this.send(r))
    const flush = (): void => {
      if (timer) clearTimeout(timer)
      timer = null
      if (batch.length === 0) return
      report({ ...base, kind: 'messages', messages: batch })
      batch = []
      chars = 0
    }
    const add = (m: TrainerMessage): void => {
      batch.push(m)
      chars += JSON.stringify(m).length
      if (chars >= REPORT_TARGET_CHARS) flush()
      else timer ??= setTimeout(flush, FLUSH_MS)
    }
    const ship = (dir: string): void => {
      let files: string[]
      const outbox = join(`${runDir}.outbox`, String(++staged))
      try {
        files = stage(dir, outbox)
      } catch (err) {
        return this.warn(`could not stage ${dir}: ${messageOf(err)}`)
      }
      const folder = relative(runDir, dir).split(sep).join('/')
      later(async () => {
        for (const file of files) await this.sendFile(base, file, `${folder}/${basename(file)}`)
        rmSync(outbox, { recursive: true, force: true })
      })
    }
    return { add, flush, ship, report, drained: () => chain }
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
    this.redis.disconnect()
    this.resolveClosed()
  }
}
