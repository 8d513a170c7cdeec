/**
 * Run health in the store: judged (src/shared/health.ts, `classifyHealth`) from the run's stored
 * epochs whenever an epoch or a final message is persisted, whichever process persists it — a
 * local slot, the foreground `nin-lab run`, or the head for a remote worker — and kept in
 * `runs.health_json` (migration 8), so listing runs never recomputes it.
 */
import type Database from 'better-sqlite3'
import type { ExperimentConfig } from '@shared/config/experiment'
import { classifyHealth, type HealthEpoch, type RunHealth } from '@shared/health'
import { isOpen, type RunStatus } from '@shared/run-state'
import { prepare, preparePluck } from './statement'

export function healthStatements(db: Database.Database) {
  return {
    /** The run's `epoch` messages in order (one seek by the run_events_type index). */
    epochs: preparePluck<[runId: string], string>(
      db,
      "SELECT json FROM run_events WHERE run_id = ? AND type = 'epoch' ORDER BY seq",
    ),
    /** Test images per evaluation, from the latest `started` message. */
    testCount: preparePluck<[runId: string], number | null>(
      db,
      `SELECT json_extract(json, '$.testCount') FROM run_events
       WHERE run_id = ? AND type = 'started' ORDER BY seq DESC LIMIT 1`,
    ),
    /** Sets a run's health, and that of every run linked to it (they stand for it). */
    set: prepare<[{ id: string; json: string }]>(
      db,
      'UPDATE runs SET health_json = @json WHERE id = @id OR linked_from = @id',
    ),
    /** Rows with epochs stored before migration 8 judged them. */
    unjudged: preparePluck<[], string>(
      db,
      `SELECT id FROM runs WHERE health_json IS NULL AND linked_from IS NULL
         AND (epochs_done > 0 OR status NOT IN ('queued', 'running'))`,
    ),
  }
}

export type HealthStatements = ReturnType<typeof healthStatements>

/** A number read back from JSON (non-finite values were stored as null): NaN for null. */
const num = (v: unknown): number => (typeof v === 'number' ? v : Number.NaN)

/** The run's epochs as the classifier reads them, the last message of each epoch winning. */
export function storedEpochs(sql: HealthStatements, runId: string): HealthEpoch[] {
  const byEpoch = new Map<number, HealthEpoch>()
  for (const json of sql.epochs.all(runId)) {
    const m = JSON.parse(json) as Record<string, unknown>
    const epoch = num(m['epoch'])
    byEpoch.set(epoch, {
      epoch,
      trainLoss: num(m['trainLoss']),
      testLoss: num(m['testLoss']),
      testAcc: num(m['testAcc']),
    })
  }
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch)
}

/** Judges the run from what is stored and stores the verdict. */
export function refreshHealth(
  sql: HealthStatements,
  run: { readonly id: string; readonly config: ExperimentConfig; readonly status: RunStatus },
): RunHealth {
  const health = classifyHealth({
    epochs: storedEpochs(sql, run.id),
    numClasses: run.config.model.numClasses,
    plannedEpochs: run.config.train.epochs,
    ended: !isOpen(run.status),
    testCount: sql.testCount.get(run.id) ?? null,
  })
  sql.set.run({ id: run.id, json: JSON.stringify(health) })
  return health
}
