/**
 * The head's side of remote workers (docs/scale-out.md): it dispatches queued runs to the BullMQ
 * queue "runs", ingests what workers report through the queue "reports", and watches the fleet.
 *
 * The head stays the one source of truth. A dispatch is a claim (a new attempt: the fencing
 * token) and a job carrying the run's config and the latest checkpoint the head holds. Every
 * report is checked (src/shared/protocol/worker.ts), and stored only when its attempt is the run's
 * current one; a stale attempt's reports (a worker presumed dead that comes back) are refused and
 * logged. Reports are processed one at a time, in the order workers sent them, so a run's
 * messages are persisted exactly as a local trainer's are; a report the store cannot take yet
 * (a busy or full disk) is retried in place, never skipped.
 *
 * Liveness: workers beat every HEARTBEAT_MS into a key with a TTL. A run whose worker's beat has
 * expired, or whose job vanished (Redis lost it), is interrupted and queued again at the front;
 * its next dispatch resumes from the last checkpoint that came back.
 */
import { createHash } from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'
import { Queue, Worker, type Job } from 'bullmq'
import { Redis } from 'ioredis'
import type { Run } from '@shared/api/types'
import type { TrainerMessage } from '@shared/protocol/trainer'
import {
  attemptKey,
  CANCELLED,
  checkReport,
  HEARTBEAT_TTL_MS,
  KEY_PREFIX,
  REPORTS_QUEUE,
  ReportError,
  RUNS_QUEUE,
  WORKER_KEY_PATTERN,
  type Report,
  type RunJob,
  type ShippedFile,
  type WorkerBeat,
} from '@shared/protocol/worker'
import { StoreError, type RunStore } from '../store'
import { redisOptions } from './redis'

export interface FleetOptions {
  readonly redisUrl: string
  /** A message of a remote run was stored (for live progress). */
  readonly onMessage: (runId: string, message: TrainerMessage) => void
  /** A remote run was dispatched, ended or handed back: the queue changed. */
  readonly onChange: (run: Run | null) => void
  readonly onWarning: (message: string) => void
  /** The store refused a report for a reason no retry fixes until the user acts. */
  readonly onDiskProblem: (err: unknown) => void
  /** Automatic resumes of a run after its worker died, before the run is marked failed. */
  readonly maxAutoResumes: number
}

/** How many checkpoints a resumed job carries: the newest, and the one before in case it is bad. */
const CHECKPOINTS_SHIPPED = 2

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex')

/** Every file under `dir`, relative to `root`, with forward slashes. */
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

export class Fleet {
  private readonly redis: Redis
  private readonly runs: Queue
  private readonly reports: Worker
  /** Runs this head dispatched and still follows: run id → attempt. */
  private readonly dispatched = new Map<string, number>()
  private readonly crashes = new Map<string, number>()
  /** Runs that look lost, and since when (see watch). */
  private readonly suspects = new Map<string, number>()
  /** The reports queue seen from the producer side: how many reports still wait for ingest. */
  private readonly reportsBacklog: Queue
  private stopped = false
  private ticking = false

  constructor(
    private readonly store: RunStore,
    private readonly options: FleetOptions,
  ) {
    const connection = redisOptions(options.redisUrl)
    this.redis = new Redis(connection)
    this.redis.on('error', (err) => this.warnOnce(`redis: ${err.message}`))
    this.runs = new Queue(RUNS_QUEUE, { connection, prefix: KEY_PREFIX })
    this.runs.on('error', (err) => this.warnOnce(`redis (runs queue): ${err.message}`))
    this.reports = new Worker(REPORTS_QUEUE, (job) => this.ingest(job), {
      connection,
      prefix: KEY_PREFIX,
      // One at a time: the order of reports is the order of a run's messages.
      concurrency: 1,
      removeOnComplete: { count: 0 },
      removeOnFail: { count: 1000 },
    })
    this.reports.on('error', (err) => this.warnOnce(`redis (reports): ${err.message}`))
    this.reportsBacklog = new Queue(REPORTS_QUEUE, { connection, prefix: KEY_PREFIX })
    this.reportsBacklog.on('error', (err) => this.warnOnce(`redis (reports): ${err.message}`))
    // Runs a previous head process dispatched are followed again (reconciliation after a crash).
    for (const run of store.listRuns({ status: 'running' })) {
      if (run.owner?.kind === 'worker') this.dispatched.set(run.id, run.attempt)
    }
  }

  private lastWarning = ''
  private warnOnce(message: string): void {
    if (message === this.lastWarning) return
    this.lastWarning = message
    this.options.onWarning(message)
  }

  /** Runs dispatched and not yet ended. */
  get inFlight(): number {
    return this.dispatched.size
  }

  /** The workers whose heartbeat is current. */
  async workers(): Promise<WorkerBeat[]> {
    return readBeats(this.redis)
  }

  /**
   * One pass: re-dispatch runs whose worker died or whose job vanished, stop runs that are no
   * longer running here (cancelled elsewhere), and dispatch queued runs while workers have free
   * slots. Never throws; never overlaps itself.
   */
  async tick(nextQueued: () => Run | undefined, canStart: () => boolean): Promise<void> {
    if (this.ticking || this.stopped) return
    this.ticking = true
    try {
      const beats = await this.workers()
      await this.watch(beats)
      const free =
        beats
          .filter((b) => !b.draining)
          .reduce((n, b) => n + Math.max(0, b.slots - b.running.length), 0) -
        (await this.runs.getWaitingCount())
      for (let i = 0; i < free && canStart() && !this.stopped; i++) {
        const run = nextQueued()
        if (!run || !(await this.dispatch(run))) break
      }
    } catch (err) {
      this.warnOnce(`the fleet could not be reached: ${(err as Error).message}`)
    } finally {
      this.ticking = false
    }
  }

  /** Claims a queued run and hands it to the fleet; false if it was not queued any more. */
  private async dispatch(queued: Run): Promise<boolean> {
    const run = this.store.claim(queued.id, { kind: 'worker', host: '', pid: 0, start: null })
    if (!run) return true
    this.dispatched.set(run.id, run.attempt)
    const job: RunJob = {
      runId: run.id,
      attempt: run.attempt,
      config: run.config,
      checkpoint: run.lastCheckpointEpoch > 0 ? this.latestCheckpoints(run) : [],
      resume: run.lastCheckpointEpoch > 0,
    }
    try {
      await this.redis.set(attemptKey(run.id), String(run.attempt))
      await this.runs.add('train', job, {
        jobId: `${run.id}.${run.attempt}`,
        attempts: 1,
        removeOnComplete: { count: 100 },
        removeOnFail: { count: 100 },
      })
    } catch (err) {
      // Redis is unreachable: the run waits in the queue again.
      this.dispatched.delete(run.id)
      this.store.markInterrupted([run.id], `it could not be dispatched: ${(err as Error).message}`)
      this.store.retry(run.id, { front: true })
      throw err
    }
    this.options.onChange(run)
    return true
  }

  /** The newest checkpoint folders the head holds for a run, as files relative to its folder. */
  private latestCheckpoints(run: Run): ShippedFile[] {
    const runDir = this.store.runDir(run.id)
    const dirs = this.store
      .artifacts(run.id)
      .filter(
        (a) => a.kind === 'checkpoint' && a.epoch !== null && a.epoch <= run.lastCheckpointEpoch,
      )
      .sort((a, b) => (b.epoch ?? 0) - (a.epoch ?? 0))
      .map((a) => a.path)
      .filter((p) => existsSync(p) && statSync(p).isDirectory())
      .slice(0, CHECKPOINTS_SHIPPED)
    return dirs.flatMap((dir) => filesUnder(runDir, dir))
  }

  /** Runs whose worker is gone or whose job vanished are interrupted and queued again. */
  private async watch(beats: readonly WorkerBeat[]): Promise<void> {
    const alive = new Set(beats.map((b) => b.name))
    for (const [runId, attempt] of [...this.dispatched]) {
      const run = this.store.getRun(runId)
      if (!run || run.status !== 'running' || run.attempt !== attempt) {
        // Ended (or cancelled, or re-dispatched elsewhere): tell any worker still on it to stop.
        this.dispatched.delete(runId)
        await this.redis.set(attemptKey(runId), CANCELLED)
        continue
      }
      const worker = run.owner?.worker
      if (worker) {
        // The heartbeat's TTL is the grace already.
        if (!alive.has(worker)) this.resumeLater(run, `its worker ${worker} stopped answering`)
        continue
      }
      // Not started by a worker yet: its job must still be waiting or being picked up. A job that
      // vanished (Redis lost it) or ended (its worker died before the run started, and BullMQ
      // failed the stalled job) will never start it.
      const job = await this.runs.getJob(`${runId}.${attempt}`)
      const state = job ? await job.getState() : 'missing'
      const lost = ['missing', 'failed', 'completed', 'unknown'].includes(state)
        ? `its job ${state === 'missing' ? 'vanished from Redis' : `is ${state}`} before a worker started it`
        : null
      if (!lost) {
        this.suspects.delete(runId)
        continue
      }
      const since = this.suspects.get(runId) ?? Date.now()
      this.suspects.set(runId, since)
      // Lost only once it stays so for a heartbeat's TTL: a worker may be taking the job now.
      if (Date.now() - since < HEARTBEAT_TTL_MS) continue
      // A job that completed (or was completed and pruned: 'missing') sent every report of its
      // run before it ended; on a loaded head those may still wait in the reports queue, and
      // ingesting them starts (or ends) the run. So it is lost only once that queue has drained.
      // A failed job (its worker died before the run started) never sent any: the grace is enough.
      if (state !== 'failed' && (await this.reportsWaiting()) > 0) continue
      this.suspects.delete(runId)
      this.resumeLater(run, lost)
    }
  }

  private async reportsWaiting(): Promise<number> {
    const counts = await this.reportsBacklog.getJobCounts('waiting', 'active', 'delayed')
    return Object.values(counts).reduce((a, b) => a + b, 0)
  }

  /** Interrupted and first in the queue, to resume from its checkpoint (or failed, at last). */
  private resumeLater(run: Run, why: string): void {
    this.dispatched.delete(run.id)
    const crashes = (this.crashes.get(run.id) ?? 0) + 1
    this.crashes.set(run.id, crashes)
    this.store.markInterrupted([run.id], why)
    if (crashes > this.options.maxAutoResumes) {
      this.store.markFinished(run.id, 'failed', `${why} (${crashes} times in a row)`)
    } else this.store.retry(run.id, { front: true })
    void this.redis.set(attemptKey(run.id), CANCELLED).catch(() => {})
    this.options.onChange(this.store.getRun(run.id) ?? null)
  }

  /** Stops a remote run (cancelled): its worker sees the attempt key change within a beat. */
  async cancel(runId: string): Promise<void> {
    if (!this.dispatched.has(runId)) return
    this.dispatched.delete(runId)
    await this.redis.set(attemptKey(runId), CANCELLED)
  }

  /** BullMQ's processor for the reports queue. Throws only for reports that can never apply. */
  private async ingest(job: Job): Promise<void> {
    let report: Report
    try {
      report = checkReport(job.data)
    } catch (err) {
      this.options.onWarning(`refused a malformed report: ${(err as Error).message}`)
      return
    }
    const run = this.store.getRun(report.runId)
    if (!run || run.attempt !== report.attempt || !this.dispatched.has(run.id)) {
      this.options.onWarning(
        `refused a ${report.kind} report of run ${report.runId} from ${report.worker}: attempt ` +
          `${report.attempt} is not the run's current one (${run ? run.attempt : 'no such run'})`,
      )
      return
    }
    // A report the store cannot take now is retried in place: skipping it would reorder.
    for (let wait = 100; !this.stopped; wait = Math.min(wait * 2, 5000)) {
      try {
        this.apply(run, report)
        return
      } catch (err) {
        if (err instanceof StoreError && err.code === 'stale-attempt') {
          this.options.onWarning(err.message)
          return
        }
        if (err instanceof ReportError) {
          this.options.onWarning(`refused a report of run ${run.id}: ${err.message}`)
          return
        }
        if (err instanceof StoreError && (err.code === 'disk-full' || err.code === 'read-only'))
          this.options.onDiskProblem(err)
        else if (!(err instanceof StoreError)) throw err
        await new Promise((resolve) => setTimeout(resolve, wait))
      }
    }
  }

  private apply(run: Run, report: Report): void {
    const runDir = this.store.runDir(run.id)
    switch (report.kind) {
      case 'files':
        for (const file of report.files) writeShipped(runDir, file)
        return
      case 'messages': {
        const messages = report.messages.map((m) => this.localize(run, report, m))
        this.store.persistMessages(run.id, messages, { attempt: report.attempt })
        for (const m of messages) this.options.onMessage(run.id, m)
        if (
          messages.some(
            (m) =>
              m.type === 'finished' ||
              m.type === 'failed' ||
              m.type === 'diverged' ||
              m.type === 'cancelled',
          )
        ) {
          this.dispatched.delete(run.id)
          this.options.onChange(this.store.getRun(run.id) ?? null)
        }
        return
      }
      case 'handback':
        this.dispatched.delete(run.id)
        this.store.markInterrupted([run.id], `handed back by ${report.worker}: ${report.reason}`)
        this.store.retry(run.id, { front: true })
        this.options.onChange(this.store.getRun(run.id) ?? null)
        return
      case 'crash':
        this.resumeLater(run, `its trainer on ${report.worker} died: ${report.reason}`)
        return
    }
  }

  /**
   * A worker's message as the head stores it: paths point into the head's copy of the run's
   * folder, and the first `started` records which worker took the run.
   */
  private localize(run: Run, report: Report, m: TrainerMessage): TrainerMessage {
    const runDir = this.store.runDir(run.id)
    switch (m.type) {
      case 'started': {
        const { host, pid, worker, gpu } = report
        this.store.setOwner(
          run.id,
          run.attempt,
          { kind: 'worker', host, pid, start: null, worker },
          { host, worker, gpu },
        )
        return m
      }
      case 'checkpoint':
        return {
          ...m,
          path: join(runDir, 'checkpoints', `epoch-${String(m.epoch).padStart(4, '0')}`),
        }
      case 'finished':
        return { ...m, modelPath: join(runDir, 'model') }
      default:
        return m
    }
  }

  async close(): Promise<void> {
    this.stopped = true
    await Promise.allSettled([this.reports.close(), this.runs.close(), this.reportsBacklog.close()])
    this.redis.disconnect()
  }
}

/** The heartbeats in Redis: the workers alive now, by name. */
async function readBeats(redis: Redis): Promise<WorkerBeat[]> {
  const keys: string[] = []
  let cursor = '0'
  // SCAN, bounded: a fleet has tens of workers, not millions.
  for (let i = 0; i < 100; i++) {
    const [next, found] = await redis.scan(cursor, 'MATCH', WORKER_KEY_PATTERN, 'COUNT', 100)
    keys.push(...found)
    cursor = next
    if (cursor === '0') break
  }
  if (keys.length === 0) return []
  const beats: WorkerBeat[] = []
  for (const v of await redis.mget(...keys)) {
    if (v === null) continue
    try {
      beats.push(JSON.parse(v) as WorkerBeat)
    } catch {
      // a malformed beat is ignored (and expires)
    }
  }
  return beats.sort((a, b) => a.name.localeCompare(b.name))
}

/**
 * The workers on a Redis this process does not dispatch to (the app reading a fleet that another
 * process's scheduler runs): a short-lived connection that gives up after a few seconds.
 */
export async function readWorkers(redisUrl: string): Promise<WorkerBeat[]> {
  const redis = new Redis({
    ...redisOptions(redisUrl),
    maxRetriesPerRequest: 1,
    connectTimeout: 3000,
    retryStrategy: () => null,
    lazyConnect: true,
  })
  redis.on('error', () => {})
  try {
    await redis.connect()
    return await readBeats(redis)
  } finally {
    redis.disconnect()
  }
}

/** Writes a file a worker shipped into the run's folder, checked and atomically. */
function writeShipped(runDir: string, file: ShippedFile): void {
  const data = Buffer.from(file.base64, 'base64')
  if (sha256(data) !== file.sha256) {
    throw new ReportError(`${file.path} arrived damaged (its sha256 does not match)`)
  }
  const path = join(runDir, ...file.path.split('/'))
  if (!path.startsWith(runDir + sep)) throw new ReportError(`${file.path} leaves the run's folder`)
  mkdirSync(dirname(path), { recursive: true })
  const tmp = `${path}.tmp-${process.pid}`
  try {
    writeFileSync(tmp, data)
    renameSync(tmp, path)
  } finally {
    rmSync(tmp, { force: true })
  }
}
