/**
 * The scheduler: runs queued runs (priority, then FIFO), `concurrency` trainers at a time
 * (each a RunExecution, which persists what its trainer says).
 *
 * Crash safety: at start-up, a run left `running` has no live trainer (we hold the data
 * directory's lock, so no other scheduler owns it): it becomes `interrupted` and is queued again
 * at the front, to resume from its last checkpoint; whatever it recorded after that checkpoint is
 * dropped and recorded again by the resumed run, never duplicated.
 */
import { EventEmitter } from 'node:events'
import type { TrainerMessage } from '@shared/protocol/trainer'
import { SchedulerLock } from './scheduler-lock'
import type { Run, RunStore } from '../store'
import { RunExecution, type ExecutionResult } from './run-execution'

/** Automatic resumes of one run after its trainer died, before the run is marked failed. */
export const MAX_AUTO_RESUMES = 2

export interface SchedulerOptions {
  readonly dataDir: string
  /** Trainers at once (default 1: two trainers on one CPU only slow each other down). */
  readonly concurrency?: number
  /** How often to look for new work, cancellations and pause changes from other processes. */
  readonly pollMs?: number
  /** Longest a step metric waits in memory before it is committed. */
  readonly flushMs?: number
}

export interface SchedulerEvents {
  runStarted: [run: Run]
  message: [runId: string, message: TrainerMessage]
  runFinished: [run: Run]
  queueChanged: []
  idle: []
  storeError: [runId: string, error: Error]
}

export class Scheduler extends EventEmitter<SchedulerEvents> {
  private readonly active = new Map<string, RunExecution>()
  private readonly concurrency: number
  private readonly pollMs: number
  private lock: SchedulerLock | null = null
  private poller: NodeJS.Timeout | null = null
  private stopped = false
  /** Trainer deaths per run in this session, for MAX_AUTO_RESUMES. */
  private readonly crashes = new Map<string, number>()

  constructor(
    private readonly store: RunStore,
    private readonly options: SchedulerOptions,
  ) {
    super()
    this.concurrency = Math.max(1, options.concurrency ?? 1)
    this.pollMs = options.pollMs ?? 1000
  }

  /** Takes the data directory's lock (throws SchedulerLockError if held), recovers, starts. */
  start(): void {
    this.lock = SchedulerLock.acquire(this.options.dataDir)
    this.recoverInterrupted()
    this.poller = setInterval(() => this.tick(), this.pollMs)
    this.tick()
  }

  get running(): readonly Run[] {
    return [...this.active.values()].map((a) => a.run)
  }

  /** True when nothing runs and nothing runnable is queued (or the queue is paused). */
  isIdle(): boolean {
    return (
      this.active.size === 0 && (this.store.queuePaused() || this.store.nextQueued() === undefined)
    )
  }

  /**
   * Stops scheduling. `mode: 'wait'` lets running trainers finish their current run;
   * `'interrupt'` stops them after their current step; they resume on the next start.
   */
  async stop(mode: 'wait' | 'interrupt' = 'interrupt'): Promise<void> {
    this.stopped = true
    if (this.poller) clearInterval(this.poller)
    this.poller = null
    const finishing = [...this.active.values()].map((execution) => {
      if (mode === 'interrupt') execution.stop('shutdown')
      return execution.done
    })
    await Promise.all(finishing)
    // Let the completion handlers record the outcome before the lock goes.
    await new Promise((resolve) => setImmediate(resolve))
    this.lock?.release()
    this.lock = null
  }

  /** Stops a run this scheduler trains (no-op for any other run): after its current step. */
  stopRun(runId: string, reason: 'cancel' | 'shutdown'): void {
    this.active.get(runId)?.stop(reason)
  }

  private recoverInterrupted(): void {
    const orphans = this.store.listRuns({ status: 'running' })
    if (orphans.length === 0) return
    const interrupted = this.store.markInterrupted(
      orphans.map((r) => r.id),
      'the scheduler stopped while this run was training',
    )
    // Each is put at the front: re-queue the last first, so the oldest ends up first in line.
    for (const run of [...interrupted].reverse()) this.store.retry(run.id, { front: true })
    this.emit('queueChanged')
  }

  /** One scheduling pass: honour cancellations made elsewhere, then fill free slots. */
  private tick(): void {
    if (this.stopped) return
    for (const execution of this.active.values()) {
      if (
        execution.stopReason === null &&
        this.store.getRun(execution.run.id)?.status === 'cancelled'
      ) {
        execution.stop('cancel')
      }
    }
    while (!this.stopped && this.active.size < this.concurrency && !this.store.queuePaused()) {
      const next = this.store.nextQueued()
      if (!next) break
      this.launch(next)
    }
    if (this.active.size === 0) this.emit('idle')
  }

  private launch(run: Run): void {
    let execution: RunExecution
    try {
      execution = new RunExecution(this.store, run, {
        dataDir: this.options.dataDir,
        flushMs: this.options.flushMs,
        onMessage: (m) => this.emit('message', run.id, m),
        onStoreError: (err) => this.emit('storeError', run.id, err),
      })
    } catch (err) {
      this.store.markFinished(run.id, 'failed', err instanceof Error ? err.message : String(err))
      return
    }
    this.active.set(run.id, execution)
    this.emit('runStarted', execution.run)
    this.emit('queueChanged')
    void execution.done.then((result) => {
      this.settle(execution, result)
      this.active.delete(run.id)
      const finished = this.store.getRun(run.id)
      if (finished) this.emit('runFinished', finished)
      this.emit('queueChanged')
      this.tick()
    })
  }

  /**
   * Decides how a run whose trainer has exited ends. A trainer that died without a final
   * message (killed, out of memory, a native crash) leaves the run interrupted and queued again
   * at the front, to resume from its checkpoint — up to MAX_AUTO_RESUMES times in a row, so a
   * run that crashes its trainer every time cannot hold the queue forever. A run stopped because
   * this scheduler shut down is queued again the same way.
   */
  private settle(execution: RunExecution, { exit, stopReason }: ExecutionResult): void {
    const id = execution.run.id
    if (!exit.terminal) {
      const crashes = (this.crashes.get(id) ?? 0) + 1
      this.crashes.set(id, crashes)
      if (stopReason === 'cancel' || crashes > MAX_AUTO_RESUMES) execution.persistCrash(exit)
      else {
        this.store.markInterrupted([id], exit.crash ?? 'its trainer process ended')
        this.store.retry(id, { front: true })
      }
    } else if (stopReason === 'shutdown' && exit.terminal.type === 'cancelled') {
      this.store.retry(id, { front: true })
    }
  }
}
