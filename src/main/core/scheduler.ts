/**
 * The scheduler: runs queued runs (priority, then FIFO), `concurrency` trainers at a time, and
 * persists everything their trainers say.
 *
 * Persistence: step messages are buffered and written in one transaction at least every
 * `flushMs` (a step rate of several per second would otherwise mean a commit per step); every
 * other message (started, epoch, checkpoint, final) flushes the buffer and is written at once,
 * so an epoch or a state change is on disk before anything else happens.
 *
 * Crash safety: at start-up, a run left `running` has no live trainer (we hold the data
 * directory's lock, so no other scheduler owns it): it becomes `interrupted` and is queued again
 * at the front, to resume from its last checkpoint; whatever it recorded after that checkpoint is
 * dropped and recorded again by the resumed run, never duplicated.
 */
import { EventEmitter } from 'node:events'
import { hostname } from 'node:os'
import type { TrainerMessage } from '@shared/protocol/trainer'
import { runDirOf } from './paths'
import { SchedulerLock } from './scheduler-lock'
import type { Run, RunStore } from './store'
import { crashMessage, startTrainer, type TrainerExit, type TrainerHandle } from './trainer-process'

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

interface Active {
  readonly run: Run
  readonly trainer: TrainerHandle
  buffer: TrainerMessage[]
  flushTimer: NodeJS.Timeout | null
  /** Why we asked the trainer to stop: a user's cancel, or this scheduler shutting down. */
  stopReason: 'cancel' | 'shutdown' | null
}

export class Scheduler extends EventEmitter<SchedulerEvents> {
  private readonly active = new Map<string, Active>()
  private readonly concurrency: number
  private readonly pollMs: number
  private readonly flushMs: number
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
    this.flushMs = options.flushMs ?? 500
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
   * `'interrupt'` stops them after their current step (they can be retried and resume).
   */
  async stop(mode: 'wait' | 'interrupt' = 'interrupt'): Promise<void> {
    this.stopped = true
    if (this.poller) clearInterval(this.poller)
    this.poller = null
    const finishing = [...this.active.values()].map((a) => {
      if (mode === 'interrupt' && a.stopReason === null) {
        a.stopReason = 'shutdown'
        a.trainer.stop()
      }
      return a.trainer.done
    })
    await Promise.all(finishing)
    // Let the exit handlers persist the final messages before the lock goes.
    await new Promise((resolve) => setImmediate(resolve))
    this.lock?.release()
    this.lock = null
  }

  private recoverInterrupted(): void {
    const orphans = this.store.listRuns({ status: 'running' })
    if (orphans.length === 0) return
    const interrupted = this.store.markInterrupted(
      orphans.map((r) => r.id),
      'the scheduler stopped while this run was training',
    )
    // Oldest first, each put at the front: the last one re-queued runs first, so reverse.
    for (const run of [...interrupted].reverse()) this.store.retry(run.id, { front: true })
    this.emit('queueChanged')
  }

  /** One scheduling pass: honour cancellations made elsewhere, then fill free slots. */
  private tick(): void {
    if (this.stopped) return
    for (const a of this.active.values()) {
      if (a.stopReason === null && this.store.getRun(a.run.id)?.status === 'cancelled') {
        a.stopReason = 'cancel'
        a.trainer.stop()
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
    const resume = run.lastCheckpointEpoch > 0
    if (resume) this.store.truncateAfterCheckpoint(run.id)
    const runDir = runDirOf(this.options.dataDir, run.id)
    // Messages arrive over IPC, so never before this function has registered the run.
    const slot: { active?: Active } = {}
    const trainer = startTrainer(
      { runId: run.id, config: run.config, dataDir: this.options.dataDir, runDir, resume },
      (m) => {
        if (slot.active) this.onMessage(slot.active, m)
      },
    )
    if (trainer.pid === undefined) {
      this.store.markFinished(run.id, 'failed', 'the trainer process could not be started')
      return
    }
    const started = this.store.markStarted(run.id, {
      pid: trainer.pid,
      host: hostname(),
      engine: run.config.engine,
    })
    const current: Active = { run: started, trainer, buffer: [], flushTimer: null, stopReason: null }
    slot.active = current
    this.active.set(run.id, current)
    this.emit('runStarted', started)
    this.emit('queueChanged')
    void trainer.done.then((exit) => {
      if (!exit.terminal) this.onCrash(current, exit)
      this.flush(current)
      // Stopped because the scheduler shut down, not by the user: it resumes on the next start.
      if (current.stopReason === 'shutdown' && exit.terminal?.type === 'cancelled') {
        this.store.retry(run.id, { front: true })
      }
      this.active.delete(run.id)
      const finished = this.store.getRun(run.id)
      if (finished) this.emit('runFinished', finished)
      this.emit('queueChanged')
      this.tick()
    })
  }

  /**
   * A trainer that died without a final message (killed, out of memory, a native crash) is
   * interrupted, not failed: it is queued again at the front and resumes from its checkpoint.
   * After MAX_AUTO_RESUMES such deaths in a row it fails instead, so a run that crashes its
   * trainer every time cannot hold the queue forever.
   */
  private onCrash(a: Active, exit: TrainerExit): void {
    this.flush(a)
    const crashes = (this.crashes.get(a.run.id) ?? 0) + 1
    this.crashes.set(a.run.id, crashes)
    if (a.stopReason === 'cancel' || crashes > MAX_AUTO_RESUMES) {
      a.buffer.push(crashMessage(a.run.id, exit))
      return
    }
    this.store.markInterrupted([a.run.id], exit.crash ?? 'its trainer process ended')
    this.store.retry(a.run.id, { front: true })
  }

  private onMessage(a: Active, m: TrainerMessage): void {
    this.emit('message', a.run.id, m)
    a.buffer.push(m)
    if (m.type === 'step') a.flushTimer ??= setTimeout(() => this.flush(a), this.flushMs)
    else this.flush(a)
  }

  private flush(a: Active): void {
    if (a.flushTimer) clearTimeout(a.flushTimer)
    a.flushTimer = null
    if (a.buffer.length === 0) return
    try {
      this.store.persistMessages(a.run.id, a.buffer)
      a.buffer = []
    } catch (err) {
      // A full disk or a locked database: keep the messages and try again shortly; the
      // transaction rolled back, so nothing was half-written.
      this.emit('storeError', a.run.id, err instanceof Error ? err : new Error(String(err)))
      a.flushTimer = setTimeout(() => this.flush(a), Math.max(this.flushMs, 1000))
    }
  }
}
