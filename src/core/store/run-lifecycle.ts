/**
 * How a run moves between states (src/shared/run-state.ts says which moves are allowed): started
 * and claimed with a fencing attempt, owned, finished, interrupted, cancelled, retried, moved in
 * the queue. A write about an older attempt of a run is refused or a no-op (AttemptFence).
 */
import type { Placement, RunOwner } from '@shared/api/types'
import {
  canMove,
  canReorder,
  orList,
  statusesThatCanBecome,
  type RunStatus,
} from '@shared/run-state'
import { checkInteger, type StoreContext } from './context'
import { StoreError } from './errors'
import { truncateHistory } from './run-history'
import { toRun, type Run, type RunRow } from './runs'

/** What the scheduler knows when it spawns a run's trainer. */
export interface StartInfo {
  readonly pid: number
  readonly host: string
  readonly engine: string
  /** Often unknown until the trainer's `started` message (`auto` walks a ladder). */
  readonly backend?: string | null
  readonly versions?: Readonly<Record<string, string>> | null
}

export type FinalStatus = Exclude<RunStatus, 'queued' | 'running'>

/** Only for this attempt of the run: a write about an older one is a no-op (see claim). */
export interface AttemptFence {
  readonly attempt?: number
}

const isStale = (row: RunRow, fence: AttemptFence): boolean =>
  fence.attempt !== undefined && fence.attempt !== row.attempt

export class RunLifecycle {
  private readonly sql: StoreContext['sql']

  constructor(private readonly ctx: StoreContext) {
    this.sql = ctx.sql
  }

  /**
   * queued → running. Conditional on the run still being queued, so two schedulers (should the
   * data-folder lock ever fail) cannot both start it: the second gets a StoreError.
   */
  markStarted(runId: string, info: StartInfo): Run {
    return this.ctx.write(() => {
      const row = this.ctx.requireRow(runId)
      this.checkTransition(row, 'running', 'start', 'started')
      this.sql.runs.start.run({
        id: runId,
        pid: info.pid,
        host: info.host,
        engine: info.engine,
        backend: info.backend ?? null,
        versionsJson: info.versions == null ? null : JSON.stringify(info.versions),
        now: this.ctx.now(),
      })
      return this.ctx.requireRun(runId)
    })
  }

  /**
   * Claims a queued run for a new attempt held by `owner`: queued → running, attempt + 1 (the
   * attempt's fencing token). Returns null, changing nothing, when the run is no longer queued
   * (another process cancelled, deleted or claimed it since it was picked): a race the queue
   * allows, not an error.
   */
  claim(runId: string, owner: RunOwner, placement: Placement | null = null): Run | null {
    return this.ctx.write(() => {
      const changed = this.sql.runs.claim.run({
        id: runId,
        host: owner.host,
        ownerJson: JSON.stringify(owner),
        placementJson: placement === null ? null : JSON.stringify(placement),
        now: this.ctx.now(),
      }).changes
      return changed === 1 ? this.ctx.requireRun(runId) : null
    })
  }

  /** The worker that took a run's current attempt, and where it trains (no-op if stale). */
  setOwner(runId: string, attempt: number, owner: RunOwner, placement: Placement): boolean {
    return this.ctx.write(
      () =>
        this.sql.runs.setOwner.run({
          id: runId,
          attempt,
          host: owner.host,
          ownerJson: JSON.stringify(owner),
          placementJson: JSON.stringify(placement),
        }).changes === 1,
    )
  }

  /** Records the trainer process of a run's current attempt (no-op for an older attempt). */
  setTrainer(runId: string, attempt: number, trainer: { pid: number; engine: string }): void {
    this.ctx.write(() => {
      this.sql.runs.setTrainer.run({ id: runId, attempt, ...trainer })
    })
  }

  /**
   * A running run whose owner is gone (`ownerAlive` says false: its process died, e.g. killed
   * while the disk was full, so nothing could record the end) becomes interrupted, so that it can
   * be retried. Runs in any other state, and runs whose owner lives or cannot be checked, are left
   * alone; returns whether it changed the run.
   */
  releaseOrphan(runId: string, ownerAlive: (owner: RunOwner) => boolean | null): boolean {
    return this.ctx.write(() => {
      const run = toRun(this.ctx.requireRow(runId))
      if (run.status !== 'running') return false
      if (run.owner !== null && ownerAlive(run.owner) !== false) return false
      this.sql.runs.finish.run({
        id: runId,
        status: 'interrupted',
        error: 'the process that trained this run is gone',
        now: this.ctx.now(),
      })
      return true
    })
  }

  /**
   * Ends a run (e.g. its process exited without a final message: failed). Asking for the state
   * the run is already in is a no-op, so the scheduler may confirm what a message already did.
   */
  markFinished(
    runId: string,
    status: FinalStatus,
    error: string | null = null,
    options: AttemptFence = {},
  ): Run {
    return this.ctx.write(() => {
      const row = this.ctx.requireRow(runId)
      if (row.status === status || isStale(row, options)) return toRun(row)
      this.checkTransition(row, status, `mark`, `marked ${status}`)
      this.sql.runs.finish.run({ id: runId, status, error, now: this.ctx.now() })
      return this.ctx.requireRun(runId)
    })
  }

  /**
   * running → interrupted for runs whose process vanished (found at startup, or by a watchdog).
   * Runs in other states are left alone; returns the runs changed.
   */
  markInterrupted(
    runIds: readonly string[],
    reason = 'its trainer process ended without a final message',
    options: AttemptFence = {},
  ): Run[] {
    return this.ctx.write(() => {
      const changed: string[] = []
      for (const id of new Set(runIds)) {
        const row = this.sql.runs.byId.get(id)
        if (row?.status !== 'running' || isStale(row, options)) continue
        this.sql.runs.finish.run({ id, status: 'interrupted', error: reason, now: this.ctx.now() })
        changed.push(id)
      }
      return changed.map((id) => this.ctx.requireRun(id))
    })
  }

  /**
   * Cancels a queued, running or interrupted run. For a running run this only records the
   * decision: the scheduler that owns its process sees the status and stops it; the trainer's own
   * last words (its `cancelled`, a crash on SIGTERM) are kept as history, and the first final state
   * wins. A retry of the cancelled run advances the attempt (see retry).
   */
  cancel(runId: string): Run {
    return this.ctx.write(() => {
      const row = this.ctx.requireRow(runId)
      if (row.status === 'cancelled') return toRun(row)
      this.checkTransition(row, 'cancelled', 'cancel', 'cancelled')
      this.sql.runs.finish.run({ id: runId, status: 'cancelled', error: null, now: this.ctx.now() })
      return this.ctx.requireRun(runId)
    })
  }

  /**
   * failed / cancelled / interrupted / diverged → queued, at the end of its priority's queue
   * (`front: true`: first, e.g. for runs a crash interrupted). The checkpoint stays, so the run
   * resumes from it; what was recorded after the checkpoint is dropped now, since the resumed
   * run records it again.
   */
  retry(runId: string, options: { readonly front?: boolean } = {}): Run {
    return this.ctx.write(() => {
      const row = this.ctx.requireRow(runId)
      this.checkTransition(row, 'queued', 'retry', 'retried')
      // A cancelled run's trainer may still be on its way out (cancel only records the decision):
      // a new attempt, so nothing it says from now on (a crash on SIGTERM, a late `failed`) can
      // decide the run queued again. Cancel then retry ends exactly "queued again".
      if (row.status === 'cancelled') this.sql.runs.advanceAttempt.run(runId)
      const position = options.front
        ? (this.sql.runs.minQueuedPosition.get() ??
            (this.sql.runs.maxQueuePosition.get() ?? 0) + 1) - 1
        : (this.sql.runs.maxQueuePosition.get() ?? 0) + 1
      this.sql.runs.requeue.run({ id: runId, queuePosition: position, now: this.ctx.now() })
      truncateHistory(this.ctx, runId, row.last_checkpoint_epoch)
      return this.ctx.requireRun(runId)
    })
  }

  /**
   * Moves a queued run to `index` (0 = starts next) in the queue as `queue()` lists it. Priority
   * ranks first, so a run moved among runs of another priority takes on the priority it needs
   * to stay where it was put (dragged to the top, it runs next).
   */
  reorder(runId: string, index: number): Run {
    checkInteger(index, 'queue index', 0)
    return this.ctx.write(() => {
      const row = this.ctx.requireRow(runId)
      if (!canReorder(row.status)) {
        throw new StoreError(
          'illegal-state',
          `cannot move run ${runId} in the queue: it is ${row.status}, not queued`,
        )
      }
      const queue = this.sql.runs.queue.all().filter((r) => r.id !== runId)
      const at = Math.min(index, queue.length)
      const above = queue[at - 1]
      const below = queue[at]
      let priority = row.priority
      if (above !== undefined && priority > above.priority) priority = above.priority
      if (below !== undefined && priority < below.priority) priority = below.priority
      queue.splice(at, 0, { ...row, priority })
      // Renumber from the smallest position: stays below max + 1, where new runs are appended.
      const base = Math.min(...queue.map((r) => r.queue_position))
      queue.forEach((r, k) => this.sql.runs.setQueuePlace.run(r.priority, base + k, r.id))
      return this.ctx.requireRun(runId)
    })
  }

  private checkTransition(row: RunRow, to: RunStatus, verb: string, participle: string): void {
    if (canMove(row.status, to)) return
    const from = statusesThatCanBecome(to)
    throw new StoreError(
      'illegal-state',
      `cannot ${verb} run ${row.id}: it is ${row.status} (only ${orList(from)} runs can be ${participle})`,
    )
  }
}
