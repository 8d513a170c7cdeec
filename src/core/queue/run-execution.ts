/**
 * One run being trained: its trainer process, and the persistence of everything it says — into
 * the store and, as a plain JSON-lines log, into the run's folder (messages.jsonl), which keeps a
 * run folder self-describing even away from its database.
 *
 * Step messages are buffered and committed in one transaction at least every `flushMs`; every
 * other message (started, epoch, checkpoint, final) flushes the buffer and is committed at once,
 * so an epoch or a state change is on disk before anything else happens. The scheduler and
 * `nin-lab run` both train through this class.
 */
import { appendFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import type { Run } from '@shared/api/types'
import type { TrainerMessage } from '@shared/protocol/trainer'
import { runDirOf } from '../paths'
import type { RunStore } from '../store'
import { crashMessage, startTrainer, type TrainerExit, type TrainerHandle } from './trainer-process'

export type StopReason = 'cancel' | 'shutdown'

export interface RunExecutionOptions {
  readonly dataDir: string
  /** Longest a step metric waits in memory before it is committed. */
  readonly flushMs?: number
  readonly onMessage?: (message: TrainerMessage) => void
  /** A store write failed (full disk, locked database); the messages are kept and retried. */
  readonly onStoreError?: (error: Error) => void
}

export interface ExecutionResult {
  readonly exit: TrainerExit
  readonly stopReason: StopReason | null
}

export class RunExecution {
  readonly run: Run
  readonly done: Promise<ExecutionResult>
  private readonly trainer: TrainerHandle
  private readonly logFile: string
  private readonly flushMs: number
  private buffer: TrainerMessage[] = []
  private flushTimer: NodeJS.Timeout | null = null
  private reason: StopReason | null = null

  /** Starts the run's trainer; the run must be queued (it becomes running). */
  constructor(
    private readonly store: RunStore,
    queued: Run,
    private readonly options: RunExecutionOptions,
  ) {
    this.flushMs = options.flushMs ?? 500
    const runDir = runDirOf(options.dataDir, queued.id)
    this.logFile = join(runDir, 'messages.jsonl')
    const resume = queued.lastCheckpointEpoch > 0
    if (resume) store.truncateAfterCheckpoint(queued.id)
    // IPC messages arrive asynchronously: never before this constructor has finished.
    this.trainer = startTrainer(
      { runId: queued.id, config: queued.config, dataDir: options.dataDir, runDir, resume },
      (m) => this.onMessage(m),
    )
    if (this.trainer.pid === undefined) {
      this.trainer.kill()
      throw new Error('the trainer process could not be started')
    }
    this.run = store.markStarted(queued.id, {
      pid: this.trainer.pid,
      host: hostname(),
      engine: queued.config.engine,
    })
    this.done = this.trainer.done.then((exit) => {
      if (!exit.terminal) this.record(crashMessage(this.run.id, exit), { persist: false })
      this.flush()
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
      appendFileSync(this.logFile, JSON.stringify(m) + '\n')
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
      this.store.persistMessages(this.run.id, this.buffer)
      this.buffer = []
    } catch (err) {
      // The transaction rolled back, so nothing was half-written: keep the messages, retry.
      this.options.onStoreError?.(err instanceof Error ? err : new Error(String(err)))
      this.flushTimer = setTimeout(() => this.flush(), Math.max(this.flushMs, 1000))
    }
  }
}
