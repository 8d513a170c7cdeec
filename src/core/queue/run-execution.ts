/**
 * One run being trained: its trainer process, and the persistence of everything it says — into
 * the store and, as a plain JSON-lines log, into the run's folder (messages.jsonl), which keeps a
 * run folder self-describing even away from its database.
 *
 * Step messages are buffered and committed in one transaction at least every `flushMs`; every
 * other message (started, epoch, checkpoint, final) flushes the buffer and is committed at once,
 * so an epoch or a state change is on disk before anything else happens. The scheduler and
 * `nin-lab run` both train through this class.
 *
 * Starting is a claim: the run goes queued → running as a new attempt owned by this process
 * (store.claim), before any trainer exists, so a run that another process cancelled or deleted a
 * moment ago is simply not started. Every write carries the attempt, so a trainer of an older
 * attempt can never write over the current one.
 */
import { appendFileSync, closeSync, constants, openSync } from 'node:fs'
import { join } from 'node:path'
import type { GpuInfo, Run, RunOwner } from '@shared/api/types'
import type { TrainerMessage } from '@shared/protocol/trainer'
import { runDirOf } from '../paths'
import { StoreError, type RunStore } from '../store'
import { currentProcess } from './process-identity'
import { crashMessage, startTrainer, type TrainerExit, type TrainerHandle } from './trainer-process'

/** messages.jsonl is appended to, never followed through a symlink planted in its place. */
const APPEND_NO_FOLLOW =
  constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW

/** The run was not queued any more when this process came to start it (cancelled, deleted, or
 * claimed by another process): nothing was started. */
export class RunNotClaimedError extends Error {
  constructor(runId: string) {
    super(`run ${runId} is no longer queued: another process cancelled, deleted or started it`)
    this.name = 'RunNotClaimedError'
  }
}

export type StopReason = 'cancel' | 'shutdown'

export interface RunExecutionOptions {
  readonly dataDir: string
  /** Who trains it: the scheduler, or the foreground `nin-lab run`. */
  readonly ownerKind: RunOwner['kind']
  /** SIGTERM → SIGKILL grace for a trainer asked to stop (default STOP_GRACE_MS). */
  readonly stopGraceMs?: number
  /** Longest a step metric waits in memory before it is committed. */
  readonly flushMs?: number
  readonly onMessage?: (message: TrainerMessage) => void
  /** A store write failed (full disk, locked database); the messages are kept and retried. */
  readonly onStoreError?: (error: Error) => void
  /** Something failed beside the run (its log files), the run goes on. */
  readonly onWarning?: (message: string) => void
  /** The GPU of the slot it trains in (its trainer sees only that one), or null. */
  readonly gpu?: GpuInfo | null
  /** The trainer script instead of the built one (tests: a stand-in trainer). */
  readonly trainerEntry?: string
}

export interface ExecutionResult {
  readonly exit: TrainerExit
  readonly stopReason: StopReason | null
}

export class RunExecution {
  readonly run: Run
  /** The fencing token of this execution's claim (store.claim). */
  readonly attempt: number
  readonly done: Promise<ExecutionResult>
  private readonly trainer: TrainerHandle
  private readonly logFile: string
  private readonly flushMs: number
  private buffer: TrainerMessage[] = []
  private flushTimer: NodeJS.Timeout | null = null
  private reason: StopReason | null = null
  /** messages.jsonl, opened on the first message (the trainer creates the run folder). */
  private logFd: number | null = null

  /**
   * Claims the queued run and starts its trainer. Throws RunNotClaimedError when the run is no
   * longer queued (nothing happened), and any other error when the trainer could not start (the
   * run is then interrupted).
   */
  constructor(
    private readonly store: RunStore,
    queued: Run,
    private readonly options: RunExecutionOptions,
  ) {
    this.flushMs = options.flushMs ?? 500
    const me = currentProcess()
    const gpu = options.gpu ?? null
    const claimed = store.claim(
      queued.id,
      { kind: options.ownerKind, ...me },
      { host: me.host, worker: null, gpu },
    )
    if (!claimed) throw new RunNotClaimedError(queued.id)
    this.attempt = claimed.attempt
    const runDir = runDirOf(options.dataDir, claimed.id)
    this.logFile = join(runDir, 'messages.jsonl')
    const resume = claimed.lastCheckpointEpoch > 0
    try {
      if (resume) store.truncateAfterCheckpoint(claimed.id)
      // IPC messages arrive asynchronously: never before this constructor has finished.
      this.trainer = startTrainer(
        { runId: claimed.id, config: claimed.config, dataDir: options.dataDir, runDir, resume },
        (m) => this.onMessage(m),
        {
          stopGraceMs: options.stopGraceMs,
          onWarning: options.onWarning,
          env: gpu ? { CUDA_VISIBLE_DEVICES: String(gpu.index) } : {},
          entry: options.trainerEntry,
        },
      )
      if (this.trainer.pid === undefined) {
        this.trainer.kill()
        throw new Error('the trainer process could not be started')
      }
      store.setTrainer(claimed.id, this.attempt, {
        pid: this.trainer.pid,
        engine: claimed.config.engine,
      })
    } catch (err) {
      // Nothing trains it: it is interrupted, for the caller to retry or fail.
      const message = err instanceof Error ? err.message : String(err)
      try {
        store.markInterrupted([claimed.id], `its trainer could not start: ${message}`)
      } catch {
        // The store itself failed (e.g. the same full disk): the owner is this process, so once
        // it is gone the run counts as orphaned and the next scheduler re-queues it.
      }
      throw err
    }
    this.run = store.requireRun(claimed.id)
    this.done = this.trainer.done.then((exit) => {
      if (!exit.terminal) this.record(crashMessage(this.run.id, exit), { persist: false })
      this.flush()
      if (this.logFd !== null) closeSync(this.logFd)
      this.logFd = null
      return { exit, stopReason: this.reason }
    })
  }

  get stopReason(): StopReason | null {
    return this.reason
  }

  /** Asks the trainer to stop after its current step. */
  stop(reason: StopReason): void {
    if (this.reason !== null) return
    this.reason = reason
    this.trainer.stop()
  }

  kill(): void {
    this.trainer.kill()
  }

  /** Commits the crash message the caller decided on (the scheduler may resume instead). */
  persistCrash(exit: TrainerExit): void {
    this.buffer.push(crashMessage(this.run.id, exit))
    this.flush()
  }

  private onMessage(m: TrainerMessage): void {
    this.record(m, { persist: true })
    this.options.onMessage?.(m)
  }

  private record(m: TrainerMessage, opts: { persist: boolean }): void {
    try {
      this.logFd ??= openSync(this.logFile, APPEND_NO_FOLLOW)
      appendFileSync(this.logFd, JSON.stringify(m) + '\n')
    } catch {
      // The run folder log is a convenience copy; the store is the record.
    }
    if (!opts.persist) return
    this.buffer.push(m)
    if (m.type === 'step') this.flushTimer ??= setTimeout(() => this.flush(), this.flushMs)
    else this.flush()
  }

  private flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer)
    this.flushTimer = null
    if (this.buffer.length === 0) return
    try {
      this.store.persistMessages(this.run.id, this.buffer, { attempt: this.attempt })
      this.buffer = []
    } catch (err) {
      if (err instanceof StoreError && err.code === 'stale-attempt') {
        // Another attempt owns the run now: this trainer's news must never be stored.
        this.buffer = []
        this.options.onWarning?.(err.message)
        this.stop('shutdown')
        return
      }
      // The store was closed (its process is shutting down): the messages stay in
      // messages.jsonl, and the run is resumed from its checkpoint by the next scheduler.
      if (!this.store.connection.open) {
        this.buffer = []
        return
      }
      // The transaction rolled back, so nothing was half-written: keep the messages, retry —
      // soon and quietly while another process holds the lock, else reporting it, and never
      // keeping the process alive for it.
      const busy = err instanceof StoreError && err.code === 'busy'
      if (!busy) this.options.onStoreError?.(err instanceof Error ? err : new Error(String(err)))
      this.flushTimer = setTimeout(() => this.flush(), busy ? 50 : Math.max(this.flushMs, 1000))
      this.flushTimer.unref()
    }
  }
}
