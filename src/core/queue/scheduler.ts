/**
 * The scheduler: runs queued runs (priority, then FIFO), `concurrency` trainers at a time
 * (each a RunExecution, which persists what its trainer says).
 *
 * Crash safety: at start-up, a run left `running` whose owner is gone (the process that trained
 * it died; owners are checked by identity, not by pid alone) is `interrupted` and queued again
 * at the front, to resume from its last checkpoint; whatever it recorded after that checkpoint is
 * dropped and recorded again by the resumed run, never duplicated. A run trained by a live
 * foreground `nin-lab run` is left to it.
 *
 * Slots: one trainer per local slot — `concurrency` CPU slots, or one per GPU (its trainer sees
 * only that GPU, through CUDA_VISIBLE_DEVICES) — and, with a Redis URL, remote workers beside
 * them (fleet.ts): a queued run goes to whichever frees first.
 *
 * Nothing that happens to one run, a request or the disk may stop the scheduler: every timer
 * callback is guarded, a run that another process cancels between being picked and being started
 * is skipped, and a full or read-only disk *halts* the queue (no new runs start, the running ones
 * stop after their step and go back to the queue) with an error that says what to do, until
 * `resume` is asked for.
 */
import { EventEmitter } from 'node:events'
import type { GpuInfo } from '@shared/api/types'
import { isTerminal, type TrainerMessage } from '@shared/protocol/trainer'
import { canRetry } from '@shared/run-state'
import { DiskReserve } from './disk-reserve'
import { SchedulerLock } from './scheduler-lock'
import { StoreError, type Run, type RunStore } from '../store'
import { Fleet, type FleetOptions } from './fleet'
import { FleetKey, loadFleetKey } from './fleet-key'
import { isAlive } from './process-identity'
import { RunExecution, RunNotClaimedError, type ExecutionResult } from './run-execution'

/** Automatic resumes of one run after its trainer died, before the run is marked failed. */
export const MAX_AUTO_RESUMES = 2

/** Where a local trainer runs: a CPU slot, or one GPU. */
export interface LocalSlot {
  readonly id: string
  readonly gpu: GpuInfo | null
}

export const cpuSlots = (count: number): LocalSlot[] =>
  Array.from({ length: Math.max(0, count) }, (_, i) => ({ id: `cpu${i}`, gpu: null }))

export const gpuSlots = (gpus: readonly GpuInfo[]): LocalSlot[] =>
  gpus.map((gpu) => ({ id: `gpu${gpu.index}`, gpu }))

export interface SchedulerOptions {
  readonly dataDir: string
  /** Trainers at once on CPU slots (default 1: two trainers on one CPU only slow each other). */
  readonly concurrency?: number
  /** The local slots, instead of `concurrency` CPU slots (e.g. one per GPU; none: remote only). */
  readonly slots?: readonly LocalSlot[]
  /** Dispatch to remote workers through this Redis too. */
  readonly redisUrl?: string | null
  /** How often to look for new work, cancellations and pause changes from other processes. */
  readonly pollMs?: number
  /** Longest a step metric waits in memory before it is committed. */
  readonly flushMs?: number
  /** SIGTERM → SIGKILL grace for trainers asked to stop. */
  readonly stopGraceMs?: number
  /** The trainer script instead of the built one (tests: a stand-in trainer). */
  readonly trainerEntry?: string
  /** The clock of the halt's `since` (tests; default Date.now). */
  readonly now?: () => number
  /** The fleet's clock (tests: no real waits between retries; see FleetOptions). */
  readonly fleetClock?: FleetOptions['clock']
}

/** Why the queue stopped starting runs by itself (cleared by `resume`). */
export interface Halt {
  readonly reason: string
  readonly since: number
}

export interface SchedulerEvents {
  runStarted: [run: Run]
  message: [runId: string, message: TrainerMessage]
  runFinished: [run: Run]
  queueChanged: []
  idle: []
  storeError: [runId: string, error: Error]
  /** The queue halted (full or read-only disk); the reason says what to do. */
  halted: [halt: Halt]
  /** Something went wrong that the scheduler survived; for the log. */
  warning: [message: string]
}

/** Store and file-system failures that no retry fixes until the user acts. */
function isDiskProblem(err: unknown): boolean {
  if (err instanceof StoreError) return err.code === 'disk-full' || err.code === 'read-only'
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'EROFS'
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err))

export class Scheduler extends EventEmitter<SchedulerEvents> {
  private readonly active = new Map<string, RunExecution>()
  /** The slot each active run trains in. */
  private readonly slotOf = new Map<string, LocalSlot>()
  private slots: readonly LocalSlot[]
  private fleet: Fleet | null = null
  private readonly pollMs: number
  private lock: SchedulerLock | null = null
  private poller: NodeJS.Timeout | null = null
  private stopped = false
  private haltState: Halt | null = null
  /** Trainer deaths per run in this session, for MAX_AUTO_RESUMES. */
  private readonly crashes = new Map<string, number>()
  /** Outcomes that could not be written yet (the store failed): retried on every tick. */
  private readonly unsettled = new Map<string, () => void>()
  /** Space given back on a full disk, so the runs it stops can still be recorded. */
  private readonly reserve: DiskReserve

  constructor(
    private readonly store: RunStore,
    private readonly options: SchedulerOptions,
  ) {
    super()
    this.slots = options.slots ?? cpuSlots(Math.max(1, options.concurrency ?? 1))
    this.pollMs = options.pollMs ?? 1000
    this.reserve = new DiskReserve(options.dataDir)
  }

  /** Takes the data directory's lock (throws SchedulerLockError if held), recovers, starts. */
  start(): void {
    this.lock = SchedulerLock.acquire(this.options.dataDir)
    this.reserve.take()
    try {
      this.recoverOrphans()
    } catch (err) {
      this.lock.release()
      this.lock = null
      throw err
    }
    if (this.options.redisUrl) this.setRemote(this.options.redisUrl)
    this.poller = setInterval(() => this.tick(), this.pollMs)
    this.tick()
  }

  /** The local slots from now on; runs in a slot that goes keep training to their end. */
  setSlots(slots: readonly LocalSlot[]): void {
    this.slots = slots
    this.emit('queueChanged')
    this.tick()
  }

  get localSlots(): readonly LocalSlot[] {
    return this.slots
  }

  /** Remote workers through this Redis from now on (null: none). */
  setRemote(redisUrl: string | null): void {
    const old = this.fleet
    this.fleet = null
    if (old) void old.close()
    if (!redisUrl) return
    // The fleet key, made on first use; workers need a copy (docs/scale-out.md).
    const loaded = loadFleetKey(this.options.dataDir)
    if (loaded.created) this.emit('warning', loaded.created)
    const key = new FleetKey(this.options.dataDir, loaded.key)
    this.fleet = new Fleet(this.store, {
      redisUrl,
      key: () => key.current(),
      onRedisFull: (reason) => this.haltFor(reason),
      maxAutoResumes: MAX_AUTO_RESUMES,
      clock: this.options.fleetClock,
      onMessage: (runId, m) => {
        this.emit('message', runId, m)
        const run = m.type === 'started' || isTerminal(m) ? this.store.getRun(runId) : undefined
        if (run && m.type === 'started') this.emit('runStarted', run)
        else if (run) this.emit('runFinished', run)
      },
      onChange: () => this.emit('queueChanged'),
      onWarning: (message) => this.emit('warning', message),
      onDiskProblem: (err) => this.haltQueue(err),
    })
  }

  /** The fleet of remote workers, when a Redis URL is set. */
  get remote(): Fleet | null {
    return this.fleet
  }

  get running(): readonly Run[] {
    return [...this.active.values()].map((a) => a.run)
  }

  /** Why the queue halted by itself, or null. */
  get halt(): Halt | null {
    return this.haltState
  }

  /** True when nothing runs and nothing runnable is queued (or the queue is paused or halted). */
  isIdle(): boolean {
    if (this.active.size > 0 || (this.fleet?.inFlight ?? 0) > 0) return false
    if (this.haltState) return true
    try {
      return this.store.queuePaused() || this.store.nextQueued() === undefined
    } catch {
      return false
    }
  }

  /** Clears a halt: the queue starts runs again (a new problem halts it again). */
  resume(): void {
    if (!this.haltState) return
    this.haltState = null
    this.reserve.take()
    this.emit('queueChanged')
    this.tick()
  }

  /** Stops a run this scheduler trains, here or on a worker (no-op for any other run). */
  stopRun(runId: string, reason: 'cancel' | 'shutdown'): void {
    this.active.get(runId)?.stop(reason)
    if (reason === 'cancel') void this.fleet?.cancel(runId).catch(() => {})
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
    this.settlePending()
    // Remote runs go on training on their workers; a new head picks them up again.
    await this.fleet?.close()
    this.fleet = null
    this.reserve.release()
    this.lock?.release()
    this.lock = null
  }

  /** Runs left `running` by a process that is gone: interrupted, and first in the queue. */
  private recoverOrphans(): void {
    const orphans = this.store
      .listRuns({ status: 'running' })
      // A run nobody owns, or whose owner is dead on this host. An owner on another host cannot
      // be checked from here, and remote workers are the fleet's business: left alone.
      .filter((r) => r.owner === null || (r.owner.kind !== 'worker' && isAlive(r.owner) === false))
    if (orphans.length === 0) return
    const interrupted = this.store.markInterrupted(
      orphans.map((r) => r.id),
      'the process that trained this run stopped while it was training',
    )
    // Each is put at the front: re-queue the last first, so the oldest ends up first in line.
    for (const run of [...interrupted].reverse()) this.store.retry(run.id, { front: true })
    this.emit('queueChanged')
  }

  /** One scheduling pass: honour cancellations made elsewhere, then fill free slots. Never throws. */
  private tick(): void {
    if (this.stopped) return
    try {
      this.settlePending()
      for (const execution of this.active.values()) {
        const now = this.store.getRun(execution.run.id)
        // Cancelled — perhaps already queued again — by another process: a newer attempt.
        if (
          execution.stopReason === null &&
          (now?.status === 'cancelled' || now?.attempt !== execution.attempt)
        ) {
          execution.stop('cancel')
        }
      }
      const mayStart = (): boolean => !this.stopped && !this.haltState && !this.store.queuePaused()
      for (let slot = this.freeSlot(); slot && mayStart(); slot = this.freeSlot()) {
        const next = this.nextStartable()
        if (!next || !this.launch(next, slot)) break
      }
      // The fleet is ticked even while the queue is paused or halted: it dispatches only while
      // mayStart(), but it must keep following the runs it dispatched (a worker that died, a job
      // that vanished), or a halt with runs in flight would never become idle.
      if (this.fleet) {
        void this.fleet
          .tick(() => this.nextStartable(), mayStart)
          .then(() => {
            if (this.isIdle()) this.emit('idle')
          })
      } else if (this.active.size === 0) this.emit('idle')
    } catch (err) {
      if (isDiskProblem(err)) this.haltQueue(err)
      else this.emit('warning', `scheduling pass failed: ${messageOf(err)}`)
    }
  }

  /**
   * The next queued run, unless its previous trainer here is still on its way out (cancelled,
   * then queued again at once): it starts once that trainer has exited, never beside it.
   */
  private nextStartable(): Run | undefined {
    const next = this.store.nextQueued()
    return next && !this.active.has(next.id) ? next : undefined
  }

  private freeSlot(): LocalSlot | undefined {
    const used = new Set([...this.slotOf.values()].map((s) => s.id))
    return this.slots.find((s) => !used.has(s.id))
  }

  /** Starts a run; false when nothing more should be started in this pass. */
  private launch(run: Run, slot: LocalSlot): boolean {
    let execution: RunExecution
    try {
      execution = new RunExecution(this.store, run, {
        dataDir: this.options.dataDir,
        ownerKind: 'scheduler',
        gpu: slot.gpu,
        flushMs: this.options.flushMs,
        stopGraceMs: this.options.stopGraceMs,
        trainerEntry: this.options.trainerEntry,
        onMessage: (m) => this.emit('message', run.id, m),
        onStoreError: (err) => this.onStoreError(run.id, err),
        onWarning: (message) => this.emit('warning', `run ${run.id}: ${message}`),
      })
    } catch (err) {
      // Cancelled, deleted or claimed by another process since it was picked: skip it.
      if (err instanceof RunNotClaimedError) return true
      // Another process holds the database: nothing happened, try again on the next tick.
      if (err instanceof StoreError && err.code === 'busy') return false
      if (isDiskProblem(err)) {
        this.afterStore(run.id, () => this.store.retry(run.id, { front: true }))
        this.haltQueue(err)
        return false
      }
      const crashes = (this.crashes.get(run.id) ?? 0) + 1
      this.crashes.set(run.id, crashes)
      const message = `its trainer could not start: ${messageOf(err)}`
      this.afterStore(run.id, () => {
        if (crashes > MAX_AUTO_RESUMES) this.store.markFinished(run.id, 'failed', message)
        else this.store.retry(run.id, { front: true })
      })
      this.emit('warning', `run ${run.id}: ${message}`)
      return crashes <= MAX_AUTO_RESUMES
    }
    this.active.set(run.id, execution)
    this.slotOf.set(run.id, slot)
    this.emit('runStarted', execution.run)
    this.emit('queueChanged')
    void execution.done.then((result) => {
      this.active.delete(run.id)
      this.slotOf.delete(run.id)
      this.afterStore(run.id, () => this.settle(execution, result))
      try {
        const finished = this.store.getRun(run.id)
        if (finished) this.emit('runFinished', finished)
      } catch {
        // reported by afterStore
      }
      this.emit('queueChanged')
      this.tick()
    })
    return true
  }

  private onStoreError(runId: string, err: Error): void {
    this.emit('storeError', runId, err)
    if (isDiskProblem(err)) this.haltQueue(err)
  }

  /**
   * A full or read-only disk: start nothing more, and stop what runs after its current step (it
   * goes back to the front of the queue and resumes from its checkpoint once space is freed).
   */
  private haltQueue(err: unknown): void {
    if (this.haltState) return
    // The reserve's space lets the runs stopped below be recorded as interrupted and queued.
    this.reserve.release()
    const detail = messageOf(err)
    this.haltState = {
      reason:
        `the queue stopped: ${detail}. Free space (or fix the permissions) on the disk holding ` +
        `${this.options.dataDir}, then resume the queue (\`nin-lab queue resume\`, or Resume in the app); ` +
        'stopped runs continue from their last checkpoint',
      since: (this.options.now ?? Date.now)(),
    }
    for (const execution of this.active.values()) execution.stop('shutdown')
    this.emit('halted', this.haltState)
    this.emit('queueChanged')
  }

  /** Starts nothing more until `resume`, for a reason that is not the disk (Redis is full). */
  private haltFor(reason: string): void {
    if (this.haltState) return
    this.haltState = { reason: `the queue stopped: ${reason}`, since: Date.now() }
    this.emit('halted', this.haltState)
    this.emit('queueChanged')
  }

  /** Runs a store write now, or keeps it for the next tick if the store fails. */
  private afterStore(runId: string, write: () => void): void {
    try {
      write()
      this.unsettled.delete(runId)
    } catch (err) {
      this.unsettled.set(runId, write)
      if (isDiskProblem(err)) this.haltQueue(err)
      else this.emit('warning', `run ${runId}: could not record its outcome: ${messageOf(err)}`)
    }
  }

  private settlePending(): void {
    for (const [runId, write] of [...this.unsettled]) this.afterStore(runId, write)
  }

  /**
   * Decides how a run whose trainer has exited ends. A trainer that died without a final
   * message (killed, out of memory, a native crash) leaves the run interrupted and queued again
   * at the front, to resume from its checkpoint — up to MAX_AUTO_RESUMES times in a row, so a
   * run that crashes its trainer every time cannot hold the queue forever. A run stopped because
   * this scheduler shut down (or halted) is queued again the same way.
   */
  private settle(execution: RunExecution, { exit, stopReason }: ExecutionResult): void {
    const id = execution.run.id
    // Every write is fenced by this execution's attempt: a run cancelled and retried meanwhile
    // has a newer one (queued again, or training elsewhere): the old trainer's end decides nothing.
    const fence = { attempt: execution.attempt }
    const current = (): Run | undefined => {
      const run = this.store.getRun(id)
      return run?.attempt === execution.attempt ? run : undefined
    }
    if (stopReason === 'shutdown') {
      // A run that ended on its own before the stop took effect keeps its outcome.
      if (exit.terminal && exit.terminal.type !== 'cancelled') return
      // Back to the front of the queue: its final `cancelled` may not have been stored (a full
      // disk), and then it is still `running` here.
      this.store.markInterrupted([id], exit.crash ?? 'its trainer was stopped', fence)
      const run = current()
      if (run && canRetry(run.status)) this.store.retry(id, { front: true })
      return
    }
    if (!exit.terminal) {
      const crashes = (this.crashes.get(id) ?? 0) + 1
      this.crashes.set(id, crashes)
      if (stopReason === 'cancel' || crashes > MAX_AUTO_RESUMES) execution.persistCrash(exit)
      else if (
        this.store.markInterrupted([id], exit.crash ?? 'its trainer process ended', fence).length
      )
        this.store.retry(id, { front: true })
    }
  }
}
