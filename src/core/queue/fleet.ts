/**
 * The head's side of remote workers (docs/scale-out.md): it dispatches queued runs to the BullMQ
 * queue "runs", ingests what workers report through the reports list (report-channel.ts), and
 * watches the fleet.
 *
 * The head stays the one source of truth. A dispatch is a claim (a new attempt: the fencing
 * token) and a job, signed with the fleet key (fleet-key.ts), carrying the run's config and the
 * latest checkpoint the head holds. Every report must be signed with the fleet key, be within
 * bounds, name the run's current attempt, come from the worker that holds the claim (the first
 * to report on the attempt takes it) and carry a sequence number higher than the last one taken,
 * before it is checked (src/shared/protocol/worker.ts) and stored; anything else is refused and
 * logged once. Reports are processed one at a time, in the order workers sent them, so a run's
 * messages are persisted exactly as a local trainer's are; a report the store cannot take yet (a
 * busy or full disk) is retried in place, never skipped.
 *
 * Files come in chunks and land only in the run's checkpoint and model folders, under the names
 * the trainers write; a `checkpoint` or `finished` message is taken only once its folder is
 * complete on the head, so no run ends with checkpoints that exist only in the artifacts table.
 *
 * Liveness: workers beat every HEARTBEAT_MS into a key with a TTL. A run whose worker's beat has
 * expired, whose worker no longer lists it, or whose job vanished (Redis lost it), is interrupted
 * and queued again at the front; its next dispatch resumes from the last checkpoint that came back.
 * A Redis that refuses writes (full: maxmemory with noeviction) is retried with backoff, then
 * halts dispatch with an error that says what to do.
 */
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import type { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import type { IgnoredBeat } from '@shared/api/contract'
import type { Run } from '@shared/api/types'
import type { TrainerMessage } from '@shared/protocol/trainer'
import {
  attemptBody,
  attemptKey,
  checkBeat,
  checkReport,
  HEAD_KEY,
  HEARTBEAT_TTL_MS,
  KEY_PREFIX,
  MAX_BEAT_CHARS,
  MAX_REPORT_CHARS,
  ReportError,
  RUNS_QUEUE,
  shippedFolder,
  WORKER_KEY_PATTERN,
  workerKey,
  type ChunkReport,
  type Report,
  type RunJob,
  type WorkerBeat,
} from '@shared/protocol/worker'
import { StoreError, type RunStore } from '../store'
import { open, sign } from './fleet-key'
import { dropJobFiles, filesUnder, hashFile, putJobFiles, type FoundFile } from './job-files'
import { bullmq, ioredis, redisOptions } from './redis'
import { isRefusedWrite, refusedWriteAdvice, reportsWaiting, takeReport } from './report-channel'

export interface FleetOptions {
  readonly redisUrl: string
  /** The fleet key in force (read again after `nin-lab key rotate --fleet`). */
  readonly key: () => string
  /** A message of a remote run was stored (for live progress). */
  readonly onMessage: (runId: string, message: TrainerMessage) => void
  /** A remote run was dispatched, ended or handed back: the queue changed. */
  readonly onChange: (run: Run | null) => void
  readonly onWarning: (message: string) => void
  /** The store refused a report for a reason no retry fixes until the user acts. */
  readonly onDiskProblem: (err: unknown) => void
  /** Redis refused the writes of a dispatch even after retries: dispatch must stop. */
  readonly onRedisFull: (reason: string) => void
  /** Automatic resumes of a run after its worker died, before the run is marked failed. */
  readonly maxAutoResumes: number
  /**
   * The clock (tests: a controllable one): the time, the wait between retries of a write Redis
   * refused, and how long a run must look lost before it is (default: a heartbeat's TTL).
   */
  readonly clock?: {
    readonly now: () => number
    readonly sleep: (ms: number) => Promise<void>
    readonly lostAfterMs?: number
  }
}

/** How many checkpoints a resumed job carries: the newest, and the one before in case it is bad. */
const CHECKPOINTS_SHIPPED = 2
/** How long the ingest loop waits when no report waits. */
const INGEST_IDLE_MS = 50
/** Tries of a dispatch's Redis writes (backing off from 100 ms to 2 s) before dispatch halts. */
const DISPATCH_TRIES = 6

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err))

/** Who holds a dispatched run's current claim, and the last sequence number taken from it. */
interface Claim {
  readonly attempt: number
  worker: string | null
  session: string | null
  seq: number
}

export class Fleet {
  private readonly redis: Redis
  private readonly runs: Queue
  /** Runs this head dispatched and still follows, and who holds each claim. */
  private readonly dispatched = new Map<string, Claim>()
  private readonly crashes = new Map<string, number>()
  /** Runs that look lost, and since when (see watch). */
  private readonly suspects = new Map<string, number>()
  /** Problems already logged (a malformed heartbeat, a forged report): each said once. */
  private readonly said = new Set<string>()
  private readonly ingesting: Promise<void>
  private readonly now: () => number
  private readonly sleep: (ms: number) => Promise<void>
  private readonly lostAfterMs: number
  private stopped = false
  private ticking = false

  constructor(
    private readonly store: RunStore,
    private readonly options: FleetOptions,
  ) {
    this.now = options.clock?.now ?? Date.now
    this.sleep = options.clock?.sleep ?? sleep
    this.lostAfterMs = options.clock?.lostAfterMs ?? HEARTBEAT_TTL_MS
    const connection = redisOptions(options.redisUrl)
    this.redis = new (ioredis().Redis)(connection)
    this.redis.on('error', (err) => this.warnOnce(`redis: ${err.message}`))
    this.runs = new (bullmq().Queue)(RUNS_QUEUE, { connection, prefix: KEY_PREFIX })
    this.runs.on('error', (err) => this.warnOnce(`redis (runs queue): ${err.message}`))
    // Runs a previous head process dispatched are followed again (reconciliation after a crash):
    // the worker that took each holds its claim; its session is bound by its next report.
    for (const run of store.listRuns({ status: 'running' })) {
      if (run.owner?.kind === 'worker') {
        const worker = run.owner.worker ?? null
        this.dispatched.set(run.id, { attempt: run.attempt, worker, session: null, seq: 0 })
      }
    }
    this.ingesting = this.ingestLoop()
  }

  private lastWarning = ''
  private warnOnce(message: string): void {
    if (message === this.lastWarning) return
    this.lastWarning = message
    this.options.onWarning(message)
  }

  /** Logs a problem the first time it is seen (a flood of forged reports is one line). */
  private sayOnce(key: string, message: string): void {
    if (this.said.has(key)) return
    if (this.said.size > 10_000) this.said.clear()
    this.said.add(key)
    this.options.onWarning(message)
  }

  /** Runs dispatched and not yet ended. */
  get inFlight(): number {
    return this.dispatched.size
  }

  /** The workers whose heartbeat is current and signed with the fleet key. */
  async workers(): Promise<WorkerBeat[]> {
    return (await this.fleetView()).beats
  }

  /** The workers, and the heartbeats ignored (each logged once) and why. */
  async fleetView(): Promise<FleetView> {
    const view = await readBeats(this.redis, this.options.key())
    for (const { worker, why } of view.ignored) {
      const said = `${workerKey(worker)}: ${why}`
      this.sayOnce(`beat ${said}`, `ignored a heartbeat: ${said}`)
    }
    return view
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
      const free = this.freeSlots(beats)
      for (let i = 0; i < free && canStart() && !this.stopped; i++) {
        const run = nextQueued()
        if (!run || !(await this.dispatch(run))) break
      }
      // Work waits and no worker can take it: perhaps because Redis refuses every worker's
      // heartbeat (full). Without a write of its own the head would never learn it, and wait
      // forever instead of halting with what to do.
      if (free <= 0 && canStart() && !this.stopped && nextQueued()) await this.markAlive()
    } catch (err) {
      this.warnOnce(`the fleet could not be reached: ${messageOf(err)}`)
    } finally {
      this.ticking = false
    }
  }

  /**
   * Free slots in the fleet: each worker's slots (capped by checkBeat to what it proved) less
   * what it trains, by its own word or by this head's claims, whichever is more; less the runs
   * dispatched that no worker has reported on yet (waiting, or just taken).
   */
  private freeSlots(beats: readonly WorkerBeat[]): number {
    const held = new Map<string, number>()
    let unbound = 0
    for (const claim of this.dispatched.values()) {
      if (claim.worker) held.set(claim.worker, (held.get(claim.worker) ?? 0) + 1)
      else unbound++
    }
    return (
      -unbound +
      beats
        .filter((b) => !b.draining)
        .reduce(
          (n, b) => n + Math.max(0, b.slots - Math.max(b.running.length, held.get(b.name) ?? 0)),
          0,
        )
    )
  }

  /** Claims a queued run and hands it to the fleet; false when dispatch must stop for now. */
  private async dispatch(queued: Run): Promise<boolean> {
    const run = this.store.claim(queued.id, { kind: 'worker', host: '', pid: 0, start: null })
    if (!run) return true
    this.dispatched.set(run.id, { attempt: run.attempt, worker: null, session: null, seq: 0 })
    const jobId = `${run.id}.${run.attempt}`
    const files = run.lastCheckpointEpoch > 0 ? this.latestCheckpoints(run) : []
    try {
      await this.withRetries(async () => {
        await this.writeAttempt(run.id, run.attempt, false)
        // The checkpoint's files first, a piece per command; the job lists them, signed.
        const job: RunJob = {
          runId: run.id,
          attempt: run.attempt,
          config: run.config,
          checkpoint: await putJobFiles(this.redis, jobId, files),
          resume: run.lastCheckpointEpoch > 0,
        }
        const envelope = sign(this.options.key(), 'job', JSON.stringify(job))
        await this.runs.add(
          'train',
          { envelope },
          {
            jobId,
            attempts: 1,
            removeOnComplete: { count: 100 },
            removeOnFail: { count: 100 },
          },
        )
      })
    } catch (err) {
      // Redis refused it: the run waits in the queue again, first, and nothing more is
      // dispatched while Redis is full (no attempt storm).
      this.dispatched.delete(run.id)
      await dropJobFiles(this.redis, jobId).catch(() => {})
      this.store.markInterrupted([run.id], `it could not be dispatched: ${messageOf(err)}`, {
        attempt: run.attempt,
      })
      this.store.retry(run.id, { front: true })
      if (isRefusedWrite(err)) {
        this.redisFull(`the job of run ${run.id}`, err)
        return false
      }
      throw err
    }
    this.options.onChange(run)
    return true
  }

  /**
   * Redis refused a write even after retries: dispatch halts, saying what to do. Runs dispatched
   * that no worker has reported on yet go back to the front of the queue now: a full Redis may
   * never let a worker take their job, and a halted queue must still come to rest (the runs
   * workers train are followed as before: they end, or their worker is presumed dead or drops
   * them). A job taken meanwhile trains an attempt whose reports are refused (no claim), until
   * the run is dispatched again.
   */
  private redisFull(what: string, err: unknown): void {
    this.options.onRedisFull(
      `Redis refused to store ${what} (${messageOf(err)}): ${refusedWriteAdvice(err)}, then ` +
        'resume the queue (`nin-lab queue resume`, or Resume in the app); runs that were training ' +
        'resume from their last checkpoint',
    )
    for (const [runId, claim] of [...this.dispatched]) {
      if (claim.worker !== null) continue
      this.dispatched.delete(runId)
      this.suspects.delete(runId)
      const why = 'Redis is full: its job was recalled before a worker started it'
      if (this.store.markInterrupted([runId], why, { attempt: claim.attempt }).length > 0)
        this.store.retry(runId, { front: true })
      this.options.onChange(this.store.getRun(runId) ?? null)
    }
  }

  /**
   * Writes the head's mark (`nin-lab:head`: its pid and the time, for whoever looks), retried;
   * a Redis that still refuses it halts dispatch, as a refused dispatch does.
   */
  private async markAlive(): Promise<void> {
    const mark = JSON.stringify({ pid: process.pid, at: this.now() })
    try {
      await this.withRetries(async () => {
        await this.redis.set(HEAD_KEY, mark, 'PX', HEARTBEAT_TTL_MS)
      })
    } catch (err) {
      if (isRefusedWrite(err)) this.redisFull("the head's mark", err)
      else throw err
    }
  }

  /** A run's attempt record, signed: the attempt in force, or that it ended. */
  private async writeAttempt(runId: string, attempt: number, ended: boolean): Promise<void> {
    const body = attemptBody({ runId, attempt, ended })
    await this.redis.set(attemptKey(runId), sign(this.options.key(), 'attempt', body))
  }

  /**
   * Tells any worker still on a run's `attempt` that it is over (retried; a full Redis halts).
   * Written late — after a newer attempt's record — it stops nothing newer: a worker stops only
   * on a record that supersedes its own attempt.
   */
  private async endAttempt(runId: string, attempt: number): Promise<void> {
    try {
      await this.withRetries(() => this.writeAttempt(runId, attempt, true))
    } catch (err) {
      if (isRefusedWrite(err)) this.redisFull(`the end of run ${runId}'s attempt`, err)
      else this.warnOnce(`could not tell the workers that run ${runId} ended: ${messageOf(err)}`)
    }
  }

  /** Runs a Redis write, retried with backoff while Redis refuses it (full); other errors at once. */
  private async withRetries(write: () => Promise<void>): Promise<void> {
    for (let i = 1, wait = 100; ; i++, wait = Math.min(wait * 2, 2000)) {
      try {
        return await write()
      } catch (err) {
        if (!isRefusedWrite(err) || i >= DISPATCH_TRIES || this.stopped) throw err
        this.warnOnce(`redis refused a write, retrying: ${messageOf(err)}`)
        await this.sleep(wait)
      }
    }
  }

  /** The newest checkpoint folders the head holds for a run, as files relative to its folder. */
  private latestCheckpoints(run: Run): FoundFile[] {
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

  /** Runs whose worker is gone, or whose job vanished, are interrupted and queued again. */
  private async watch(beats: readonly WorkerBeat[]): Promise<void> {
    const byName = new Map(beats.map((b) => [b.name, b]))
    for (const [runId, claim] of [...this.dispatched]) {
      const run = this.store.getRun(runId)
      if (!run || run.status !== 'running' || run.attempt !== claim.attempt) {
        // Ended (or cancelled, or re-dispatched elsewhere): tell any worker still on it to stop.
        this.dispatched.delete(runId)
        await this.endAttempt(runId, claim.attempt)
        continue
      }
      const worker = claim.worker ?? run.owner?.worker ?? null
      const lost = worker
        ? await this.workerLost(run, worker, byName.get(worker))
        : await this.jobLost(run)
      if (lost) this.resumeLater(run, lost)
    }
  }

  /**
   * Why a run a worker took is lost, or null: its worker's beat expired (the TTL is the grace),
   * or the worker lives but no longer lists the run — its last reports never came (Redis refused
   * them) — for a heartbeat's TTL after every report that waited was ingested.
   */
  private async workerLost(run: Run, worker: string, beat?: WorkerBeat): Promise<string | null> {
    if (!beat) return `its worker ${worker} stopped answering`
    if (beat.running.includes(run.id)) {
      this.suspects.delete(run.id)
      return null
    }
    return this.lostAfterGrace(run.id, `its worker ${worker} no longer trains it`, true)
  }

  /**
   * Not started by a worker yet: its job must still be waiting or being picked up. A job that
   * vanished (Redis lost it) or ended (its worker died before the run started, and BullMQ failed
   * the stalled job) will never start it.
   */
  private async jobLost(run: Run): Promise<string | null> {
    const job = await this.runs.getJob(`${run.id}.${run.attempt}`)
    const state = job ? await job.getState() : 'missing'
    if (!['missing', 'failed', 'completed', 'unknown'].includes(state)) {
      this.suspects.delete(run.id)
      return null
    }
    const why = `its job ${state === 'missing' ? 'vanished from Redis' : `is ${state}`} before a worker started it`
    // A job that completed (or was completed and pruned: 'missing') sent every report of its run
    // before it ended; on a loaded head those may still wait, and ingesting them starts (or ends)
    // the run. A failed job (its worker died before the run started) never sent any.
    return this.lostAfterGrace(run.id, why, state !== 'failed')
  }

  /** `why` once it has held for a heartbeat's TTL (and, if asked, no report waits), else null. */
  private async lostAfterGrace(
    runId: string,
    why: string,
    drained: boolean,
  ): Promise<string | null> {
    const since = this.suspects.get(runId) ?? this.now()
    this.suspects.set(runId, since)
    if (this.now() - since < this.lostAfterMs) return null
    if (drained && (await reportsWaiting(this.redis)) > 0) return null
    this.suspects.delete(runId)
    return why
  }

  /** Interrupted and first in the queue, to resume from its checkpoint (or failed, at last). */
  private resumeLater(run: Run, why: string): void {
    this.dispatched.delete(run.id)
    this.suspects.delete(run.id)
    const fence = { attempt: run.attempt }
    if (this.store.markInterrupted([run.id], why, fence).length === 0) return
    // Counted only when it ended the attempt: news about an attempt already over is no death.
    const crashes = (this.crashes.get(run.id) ?? 0) + 1
    this.crashes.set(run.id, crashes)
    if (crashes > this.options.maxAutoResumes) {
      this.store.markFinished(run.id, 'failed', `${why} (${crashes} times in a row)`, fence)
    } else this.store.retry(run.id, { front: true })
    void this.endAttempt(run.id, run.attempt)
    this.options.onChange(this.store.getRun(run.id) ?? null)
  }

  /** Stops a remote run (cancelled): its worker sees the attempt key change within a beat. */
  async cancel(runId: string): Promise<void> {
    const claim = this.dispatched.get(runId)
    if (!claim) return
    this.dispatched.delete(runId)
    await this.endAttempt(runId, claim.attempt)
  }

  /** Takes reports one at a time, in order, until closed. Never throws. */
  private async ingestLoop(): Promise<void> {
    let done = false
    while (!this.stopped) {
      try {
        const taken = await takeReport(this.redis, MAX_REPORT_CHARS, done)
        done = false
        if (taken === null) await sleep(INGEST_IDLE_MS)
        else if ('droppedChars' in taken) {
          this.sayOnce(
            'oversized',
            `dropped a report of ${taken.droppedChars} characters unread (the limit is ` +
              `${MAX_REPORT_CHARS}); further ones are dropped without a word`,
          )
        } else {
          await this.ingest(taken.report)
          done = true
        }
      } catch (err) {
        this.warnOnce(`redis (reports): ${messageOf(err)}`)
        await sleep(1000)
      }
    }
  }

  /** One report: opened with the fleet key, checked against the run's claim, then stored. */
  private async ingest(envelope: string): Promise<void> {
    let report: Report
    try {
      const opened = open([this.options.key()], 'report', envelope, MAX_REPORT_CHARS)
      if ('error' in opened) throw new ReportError(opened.error)
      report = checkReport(JSON.parse(opened.body))
    } catch (err) {
      const why = messageOf(err)
      this.sayOnce(`report ${why.slice(0, 200)}`, `refused a report: ${why}`)
      return
    }
    const run = this.store.getRun(report.runId)
    const claim = this.dispatched.get(report.runId)
    const refusal = whyRefused(run, claim, report)
    if (refusal !== null || !run || !claim) {
      this.sayOnce(
        `${report.runId}.${report.attempt}.${report.worker}.${refusal}`,
        `refused a ${report.kind} report of run ${report.runId} from ${report.worker}: ${refusal}`,
      )
      return
    }
    claim.worker = report.worker
    claim.session = report.session
    claim.seq = report.seq
    await this.applyInPlace(run, report)
  }

  /** Applies a report, retrying while the store cannot take it yet (skipping would reorder). */
  private async applyInPlace(run: Run, report: Report): Promise<void> {
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
          // A message naming files that never came whole: the run resumes from what did.
          this.options.onWarning(`refused a report of run ${run.id}: ${err.message}`)
          if (report.kind === 'messages') this.resumeLater(run, err.message)
          return
        }
        const disk = isDiskError(err)
        if (!disk && !(err instanceof StoreError)) {
          this.options.onWarning(`could not apply a report of run ${run.id}: ${messageOf(err)}`)
          return
        }
        // A full or read-only disk halts the queue until the user acts; a busy store passes.
        if (disk) this.options.onDiskProblem(err)
        await sleep(wait)
      }
    }
  }

  private apply(run: Run, report: Report): void {
    const runDir = this.store.runDir(run.id)
    switch (report.kind) {
      case 'chunk':
        writeChunk(runDir, report, run.config.train.epochs)
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
        if (
          this.store.markInterrupted(
            [run.id],
            `handed back by ${report.worker}: ${report.reason}`,
            { attempt: report.attempt },
          ).length > 0
        )
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
   * folder — which must be complete by now (its files came first) — and the first `started`
   * records which worker took the run.
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
      case 'checkpoint': {
        const path = join(runDir, 'checkpoints', `epoch-${String(m.epoch).padStart(4, '0')}`)
        requireComplete(path, `checkpoint ${m.epoch}`)
        return { ...m, path }
      }
      case 'finished': {
        const modelPath = join(runDir, 'model')
        requireComplete(modelPath, 'the final model')
        return { ...m, modelPath }
      }
      default:
        return m
    }
  }

  async close(): Promise<void> {
    this.stopped = true
    await this.ingesting
    await Promise.allSettled([this.runs.close()])
    this.redis.disconnect()
  }
}

/** Why a report may not touch its run, or null when it comes from the claim's holder, in order. */
function whyRefused(run: Run | undefined, claim: Claim | undefined, report: Report): string | null {
  if (!run) return 'no such run'
  if (run.attempt !== report.attempt || !claim || claim.attempt !== report.attempt)
    return `attempt ${report.attempt} is not the run's current one (${run.attempt})`
  if (claim.worker !== null && claim.worker !== report.worker)
    return `the run's claim is held by ${claim.worker}`
  if (claim.session !== null && claim.session !== report.session)
    return `the run's claim is held by another process of ${claim.worker}`
  if (claim.session !== null && report.seq <= claim.seq)
    return `report ${report.seq} comes after ${claim.seq}: a replay`
  return null
}

/** A full or read-only disk, in the store or in the run's folder: no retry fixes it by itself. */
const isDiskError = (err: unknown): boolean =>
  err instanceof StoreError
    ? err.code === 'disk-full' || err.code === 'read-only'
    : ['ENOSPC', 'EDQUOT', 'EROFS'].includes((err as NodeJS.ErrnoException | undefined)?.code ?? '')

/**
 * A checkpoint or model folder is complete once its SHA256SUMS (shipped last) is there with
 * every file it lists. A message naming an incomplete folder is refused: its files were lost.
 */
function requireComplete(dir: string, what: string): void {
  const sums = join(dir, 'SHA256SUMS')
  const ok =
    existsSync(sums) &&
    statSync(sums).size <= 64 * 1024 &&
    readFileSync(sums, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .every((line) => {
        const name = line.slice(66).trim()
        return name !== '' && !name.includes('/') && existsSync(join(dir, name))
      })
  if (!ok) throw new ReportError(`${what} never arrived whole on the head (its files were lost)`)
}

/** The size of a file, 0 when it does not exist. */
function sizeOf(path: string): number {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}

/**
 * Writes one chunk of a shipped file: only into the run's checkpoint or model folders, under a
 * name the trainers write, in order (a chunk must start where the file so far ends; one already
 * written is skipped), and the whole file is renamed into place only once its sha256 matches.
 */
function writeChunk(runDir: string, chunk: ChunkReport, epochs: number): void {
  const folder = shippedFolder(chunk.path, epochs)
  if (folder === null) {
    throw new ReportError(
      `${chunk.path} is not a file a worker may ship: only checkpoint and model files, under the names the trainers write`,
    )
  }
  const path = join(runDir, ...chunk.path.split('/'))
  const part = `${path}.part`
  const data = Buffer.from(chunk.base64, 'base64')
  mkdirSync(join(runDir, ...folder.split('/')), { recursive: true })
  const have = chunk.offset === 0 ? 0 : sizeOf(part)
  if (have === chunk.offset + data.length && have < chunk.size) return // a re-ingested chunk
  if (have !== chunk.offset) {
    rmSync(part, { force: true })
    throw new ReportError(`${chunk.path}: a chunk at ${chunk.offset} came after ${have} bytes`)
  }
  const flags =
    constants.O_WRONLY |
    constants.O_CREAT |
    constants.O_NOFOLLOW |
    (chunk.offset === 0 ? constants.O_TRUNC : constants.O_APPEND)
  const fd = openSync(part, flags, 0o644)
  try {
    if (!fstatSync(fd).isFile()) throw new ReportError(`${chunk.path}: not a regular file`)
    writeSync(fd, data)
  } finally {
    closeSync(fd)
  }
  if (chunk.offset + data.length < chunk.size) return
  if (hashFile(part).sha256 !== chunk.sha256) {
    rmSync(part, { force: true })
    throw new ReportError(`${chunk.path} arrived damaged (its sha256 does not match)`)
  }
  renameSync(part, path)
}

/** The workers whose heartbeat is current and signed, and the heartbeats ignored and why. */
export interface FleetView {
  readonly beats: WorkerBeat[]
  readonly ignored: IgnoredBeat[]
}

/** The worker name a heartbeat's key gives, as given (cut: a key may be megabytes long). */
const nameInKey = (redisKey: string): string =>
  redisKey.slice(workerKey('').length, workerKey('').length + 200)

/** The heartbeats in Redis: the workers alive now, by name, and why others were ignored. */
async function readBeats(redis: Redis, key: string | null): Promise<FleetView> {
  const keys: string[] = []
  let cursor = '0'
  // SCAN, bounded: a fleet has tens of workers, not millions.
  for (let i = 0; i < 100; i++) {
    const [next, found] = await redis.scan(cursor, 'MATCH', WORKER_KEY_PATTERN, 'COUNT', 100)
    keys.push(...found)
    cursor = next
    if (cursor === '0') break
  }
  const beats: WorkerBeat[] = []
  const ignored: IgnoredBeat[] = []
  if (keys.length === 0) return { beats, ignored }
  // Sizes first: a key someone filled with megabytes is never read.
  const lengths = (await redis.pipeline(keys.map((k) => ['strlen', k])).exec()) ?? []
  const readable = keys.filter((k, i) => {
    const [err, n] = lengths[i] ?? [null, 0]
    const why = err ? 'not a string' : Number(n) > MAX_BEAT_CHARS ? `${String(n)} characters` : null
    if (why) ignored.push({ worker: nameInKey(k), why })
    return why === null
  })
  const values = readable.length > 0 ? await redis.mget(...readable) : []
  readable.forEach((k, i) => {
    const value = values[i]
    if (value === null || value === undefined) return // expired meanwhile
    const beat = openBeat(key, k, value)
    if (typeof beat === 'string') ignored.push({ worker: nameInKey(k), why: beat })
    else beats.push(beat)
  })
  return { beats: beats.sort((a, b) => a.name.localeCompare(b.name)), ignored }
}

/** A heartbeat checked: signed with the fleet key, well-formed, under its own name's key. */
function openBeat(key: string | null, redisKey: string, value: string): WorkerBeat | string {
  if (key === null) return 'this data folder has no fleet key yet to check it'
  const opened = open([key], 'beat', value, MAX_BEAT_CHARS)
  if ('error' in opened) return opened.error
  try {
    const beat = checkBeat(JSON.parse(opened.body))
    return redisKey === `${KEY_PREFIX}:worker:${beat.name}` ? beat : 'it names another worker'
  } catch (err) {
    return messageOf(err)
  }
}

/**
 * The workers on a Redis this process does not dispatch to (the app reading a fleet that another
 * process's scheduler runs): a short-lived connection that gives up after a few seconds.
 */
export async function readWorkers(redisUrl: string, key: string | null): Promise<FleetView> {
  const redis = new (ioredis().Redis)({
    ...redisOptions(redisUrl),
    maxRetriesPerRequest: 1,
    connectTimeout: 3000,
    retryStrategy: () => null,
    lazyConnect: true,
  })
  redis.on('error', () => {})
  try {
    await redis.connect()
    return await readBeats(redis, key)
  } finally {
    redis.disconnect()
  }
}
