/**
 * What every part of the run store shares: the one connection of a data folder's database, its
 * prepared statements, the clock, and the two ways in — `guard` (a read) and `write` (one
 * IMMEDIATE transaction). The aggregates (experiment-store.ts, run-catalog.ts,
 * run-lifecycle.ts, run-history.ts, view-store.ts, setting-store.ts, artifact-store.ts) each
 * hold this context, so a write of one nests inside a write of another as a savepoint.
 */
import type Database from 'better-sqlite3'
import { runDirOf } from '../paths'
import { artifactStatements, type ArtifactStatements } from './artifacts'
import { StoreError, toStoreError } from './errors'
import { eventStatements, type EventStatements } from './events'
import { experimentStatements, type ExperimentStatements } from './experiments'
import { healthStatements, type HealthStatements } from './health'
import { bucketStatements, type BucketStatements } from './metric-buckets'
import { metricStatements, type MetricStatements } from './metrics'
import { runStatements, toRun, type Run, type RunRow, type RunStatements } from './runs'
import { settingStatements, type SettingStatements } from './settings'
import { viewStatements, type ViewStatements } from './views'

/** Every table module's prepared statements, prepared once per connection. */
export interface StoreStatements {
  readonly experiments: ExperimentStatements
  readonly runs: RunStatements
  readonly metrics: MetricStatements
  readonly events: EventStatements
  readonly artifacts: ArtifactStatements
  readonly settings: SettingStatements
  readonly buckets: BucketStatements
  readonly views: ViewStatements
  readonly health: HealthStatements
}

const storeStatements = (db: Database.Database): StoreStatements => ({
  experiments: experimentStatements(db),
  runs: runStatements(db),
  metrics: metricStatements(db),
  events: eventStatements(db),
  artifacts: artifactStatements(db),
  settings: settingStatements(db),
  buckets: bucketStatements(db),
  views: viewStatements(db),
  health: healthStatements(db),
})

export class StoreContext {
  readonly sql: StoreStatements

  constructor(
    /** The raw connection, for diagnostics and tests; all writes go through the methods. */
    readonly connection: Database.Database,
    readonly dataDir: string,
    readonly file: string,
    private readonly busyTimeoutMs: number,
    readonly now: () => number,
  ) {
    this.sql = storeStatements(connection)
  }

  /** A run's folder: checkpoints, final model, messages.jsonl. */
  runDir(runId: string): string {
    return runDirOf(this.dataDir, runId)
  }

  /**
   * Where a run's messages, metrics and artifacts are stored: its own id, or for a linked run
   * its source's (a linked run has none of its own). An unknown id reads as itself (no rows).
   */
  dataId(runId: string): string {
    return this.sql.runs.dataId.get(runId) ?? runId
  }

  requireRow(runId: string): RunRow {
    const row = this.sql.runs.byId.get(runId)
    if (row === undefined) throw new StoreError('not-found', `no run ${runId} in ${this.file}`)
    return row
  }

  /** The run as callers see it; a missing run is a StoreError ('not-found'). */
  requireRun(runId: string): Run {
    return toRun(this.requireRow(runId))
  }

  /** Runs `fn` translating SQLite and file-system errors into StoreErrors. */
  guard<T>(fn: () => T): T {
    try {
      return fn()
    } catch (err) {
      throw toStoreError(err, this.file, this.busyTimeoutMs)
    }
  }

  /** Runs `fn` in one IMMEDIATE transaction (nested calls become savepoints). */
  write<T>(fn: () => T): T {
    return this.guard(() => this.connection.transaction(fn).immediate())
  }
}

export function checkInteger(value: number, what: string, min = -1_000_000): void {
  if (!Number.isInteger(value) || value < min || value > 1_000_000) {
    throw new StoreError(
      'invalid',
      `${what} must be an integer from ${min} to 1000000 (got ${value})`,
    )
  }
}
