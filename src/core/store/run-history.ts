/**
 * A run's history, from trainer messages down: each message kept in the run's log (events), the
 * metric points it makes (metrics) and their step buckets (metric-buckets.ts), its effect on the
 * run row (status, summary, checkpoint, artifacts), and the run's health judged again. Also the
 * reads of that history, and dropping what came after a checkpoint when a run resumes.
 */
import { metricPoints } from '@shared/metrics'
import {
  epochSummary,
  statusAfter,
  type EpochSummary,
  type TrainerMessage,
} from '@shared/protocol/trainer'
import { isOpen, type RunStatus } from '@shared/run-state'
import type { StoreContext } from './context'
import { StoreError } from './errors'
import { messageDigest, messageEpoch, toEvent, type RunEvent } from './events'
import { refreshHealth } from './health'
import {
  BucketWriter,
  rebuildAfterTruncate,
  sampledSeries,
  truncateBuckets,
  type SeriesWindow,
} from './metric-buckets'
import { toSample, type MetricSample } from './metrics'
import { SUMMARY_METRIC, toRun } from './runs'

export interface TruncateResult {
  readonly points: number
  readonly events: number
}

const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null)

/** Messages after which a run's health is judged again (src/core/store/health.ts). */
const JUDGED_AFTER: ReadonlySet<TrainerMessage['type']> = new Set([
  'started',
  'epoch',
  'finished',
  'failed',
  'diverged',
  'cancelled',
])

export class RunHistory {
  private readonly sql: StoreContext['sql']

  constructor(private readonly ctx: StoreContext) {
    this.sql = ctx.sql
  }

  /**
   * Records a batch of trainer messages in one transaction: each appended to the run's log,
   * its metric points upserted, and the run updated (status on a final message, summary on
   * `epoch`, checkpoint epoch on `checkpoint`, engine/backend/params on `started`). A message
   * already recorded (same content) is skipped whole, so replaying a log is harmless. A
   * `started` message that resumes from epoch E drops what was recorded after E.
   * Returns how many messages were new.
   */
  persistMessages(
    runId: string,
    messages: readonly TrainerMessage[],
    options: { readonly attempt?: number } = {},
  ): number {
    if (messages.length === 0) return 0
    return this.ctx.write(() => {
      const row = this.ctx.requireRow(runId)
      // Fencing: a trainer of an older attempt (presumed dead, then back) must not write.
      if (options.attempt !== undefined && options.attempt !== row.attempt) {
        throw new StoreError(
          'stale-attempt',
          `refused ${messages.length} message(s) of run ${runId} from attempt ${options.attempt}: ` +
            `its current attempt is ${row.attempt}`,
        )
      }
      let status = row.status
      let seq = this.sql.events.maxSeq.get(runId) ?? 0
      let stored = 0
      let judge = false
      const buckets = new BucketWriter(this.sql.buckets, runId)
      for (const m of messages) {
        if (m.runId !== runId) {
          throw new StoreError('invalid', `a message of run ${m.runId} was given for run ${runId}`)
        }
        const json = JSON.stringify(m)
        const epoch = messageEpoch(m)
        const digest = messageDigest(json)
        const inserted = this.sql.events.insert.run(
          runId,
          seq + 1,
          m.time,
          m.type,
          epoch,
          digest,
          json,
        )
        if (inserted.changes === 0) continue
        seq++
        stored++
        for (const p of metricPoints(m)) {
          const value = finiteOrNull(p.value)
          buckets.point(p.name, p.step, p.epoch, p.time, value)
          this.sql.metrics.upsert.run(runId, p.name, p.step, p.epoch, p.time, value)
        }
        status = this.applyMessage(runId, status, m)
        judge ||= JUDGED_AFTER.has(m.type)
      }
      buckets.finish()
      if (judge) refreshHealth(this.sql.health, { id: runId, config: toRun(row).config, status })
      return stored
    })
  }

  /**
   * Drops the metric points and progress events (step, epoch, checkpoint) after the run's last
   * checkpoint, and recomputes its summary: a resumed run then replaces, never duplicates, what
   * happened after that checkpoint. Log lines and final messages stay as history.
   */
  truncateAfterCheckpoint(runId: string): TruncateResult {
    return this.ctx.write(() =>
      truncateHistory(this.ctx, runId, this.ctx.requireRow(runId).last_checkpoint_epoch),
    )
  }

  metricSeries(runId: string, name: string): MetricSample[] {
    return this.ctx.guard(() =>
      this.sql.metrics.series.all(this.ctx.dataId(runId), name).map(toSample),
    )
  }

  /**
   * One series downsampled to about `window.maxPoints` points over an optional step window: min
   * and max per bucket from the metric buckets, the raw points when the window holds few enough.
   */
  metricSeriesSampled(runId: string, name: string, window: SeriesWindow): MetricSample[] {
    return this.ctx.guard(() =>
      sampledSeries(this.sql.buckets, this.ctx.dataId(runId), name, window),
    )
  }

  metricNames(runId: string): string[] {
    return this.ctx.guard(() => this.sql.metrics.names.all(this.ctx.dataId(runId)))
  }

  /** The run's log from `afterSeq` on (0: from the start), at most `limit` events. */
  events(
    runId: string,
    options: { readonly afterSeq?: number; readonly limit?: number } = {},
  ): RunEvent[] {
    return this.ctx.guard(() =>
      this.sql.events.page
        .all(this.ctx.dataId(runId), options.afterSeq ?? 0, options.limit ?? 100_000)
        .map(toEvent),
    )
  }

  /**
   * One row per epoch, from the run's log, in epoch order. A resumed run's replaced epochs are
   * already gone from the log (see truncateAfterCheckpoint), so each epoch appears once.
   */
  epochRows(runId: string): EpochSummary[] {
    const rows = new Map<number, EpochSummary>()
    for (const { message: m } of this.events(runId))
      if (m.type === 'epoch') rows.set(m.epoch, epochSummary(m))
    return [...rows.values()].sort((a, b) => a.epoch - b.epoch)
  }

  /** The newest message of one type in the run's log (e.g. its last `step`), if any. */
  latestEvent<T extends TrainerMessage['type']>(
    runId: string,
    type: T,
  ): (RunEvent & { message: Extract<TrainerMessage, { type: T }> }) | undefined {
    return this.ctx.guard(() => {
      const row = this.sql.events.latestOfType.get(this.ctx.dataId(runId), type)
      return row === undefined
        ? undefined
        : (toEvent(row) as RunEvent & { message: Extract<TrainerMessage, { type: T }> })
    })
  }

  /**
   * Judges the runs stored before migration 8 from their epochs (once: each then has a health).
   * A database that another process holds busy is left for the next open: nothing depends on it.
   */
  backfillHealth(): void {
    const ids = this.ctx.guard(() => this.sql.health.unjudged.all())
    if (ids.length === 0) return
    try {
      this.ctx.write(() => {
        for (const id of ids) refreshHealth(this.sql.health, toRun(this.ctx.requireRow(id)))
      })
    } catch (err) {
      // Busy: another process writes right now; these rows read as not judged until next time.
      if (!(err instanceof StoreError && err.code === 'busy')) throw err
    }
  }

  /** Applies one new message's effect on the run row; returns the run's status after it. */
  private applyMessage(runId: string, status: RunStatus, m: TrainerMessage): RunStatus {
    switch (m.type) {
      case 'started':
        if (isOpen(status)) truncateHistory(this.ctx, runId, m.startEpoch)
        this.sql.runs.started.run({
          id: runId,
          engine: m.engine,
          backend: m.backend,
          versionsJson: JSON.stringify(m.versions),
          params: m.params,
          pid: m.pid,
          time: m.time,
        })
        return status === 'queued' ? 'running' : status
      case 'epoch':
        this.sql.runs.epochDone.run({ id: runId, epoch: m.epoch, acc: finiteOrNull(m.testAcc) })
        return status
      case 'checkpoint':
        this.sql.runs.checkpointed.run(m.epoch, runId)
        this.sql.artifacts.upsert.run(runId, 'checkpoint', m.path, null, m.time, m.epoch)
        return status
      case 'finished':
      case 'failed':
      case 'diverged':
      case 'cancelled': {
        // The first final state wins: a run the user cancelled stays cancelled even if its
        // trainer reports something else on the way out.
        if (!isOpen(status)) return status
        const next = statusAfter(m)
        const error =
          m.type === 'failed'
            ? m.error
            : m.type === 'diverged'
              ? `the loss became ${m.loss} at epoch ${m.epoch}, step ${m.step}: lower train.lr and retry`
              : null
        this.sql.runs.finish.run({ id: runId, status: next, error, now: m.time })
        if (m.type === 'finished') {
          this.sql.runs.completedWith.run({
            id: runId,
            acc: finiteOrNull(m.testAcc),
            epochs: m.epochs,
          })
          this.sql.artifacts.upsert.run(runId, 'model', m.modelPath, null, m.time, null)
        }
        return next
      }
      default:
        return status
    }
  }
}

/**
 * Drops what was recorded after `epoch` (metric points and their buckets, progress events,
 * later checkpoints) and recomputes the run's summary and health. Inside a write.
 */
export function truncateHistory(ctx: StoreContext, runId: string, epoch: number): TruncateResult {
  const dropped = truncateBuckets(ctx.sql.buckets, runId, epoch)
  const points = ctx.sql.metrics.deleteAfterEpoch.run(runId, epoch).changes
  if (dropped !== null) rebuildAfterTruncate(ctx.sql.buckets, runId, dropped)
  const events = ctx.sql.events.deleteAfterEpoch.run(runId, epoch).changes
  ctx.sql.artifacts.deleteCheckpointsAfter.run(runId, epoch)
  ctx.sql.runs.resummarize.run({ id: runId, checkpoint: epoch, metric: SUMMARY_METRIC })
  const run = toRun(ctx.requireRow(runId))
  refreshHealth(ctx.sql.health, run)
  return { points, events }
}
