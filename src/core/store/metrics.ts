/** The metric_points table: one row per (run, metric, step), from `metricPoints(message)`. */
import type { MetricSample } from '@shared/api/types'
import type Database from 'better-sqlite3'
import { prepare, preparePluck } from './statement'

interface MetricRow {
  step: number
  epoch: number
  time: number
  value: number | null
}

export const toSample = (row: MetricRow): MetricSample => ({
  step: row.step,
  epoch: row.epoch,
  time: row.time,
  value: row.value ?? NaN,
})

export function metricStatements(db: Database.Database) {
  return {
    /**
     * Upsert: a point replayed (the same message persisted twice, or a resumed run redoing a
     * step) replaces the old one instead of adding a second.
     */
    upsert: prepare<
      [runId: string, name: string, step: number, epoch: number, time: number, value: number | null]
    >(
      db,
      `INSERT INTO metric_points (run_id, name, step, epoch, time, value) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (run_id, name, step)
       DO UPDATE SET epoch = excluded.epoch, time = excluded.time, value = excluded.value`,
    ),
    series: prepare<[runId: string, name: string], MetricRow>(
      db,
      'SELECT step, epoch, time, value FROM metric_points WHERE run_id = ? AND name = ? ORDER BY step',
    ),
    names: preparePluck<[runId: string], string>(
      db,
      'SELECT DISTINCT name FROM metric_points WHERE run_id = ? ORDER BY name',
    ),
    deleteAfterEpoch: prepare<[runId: string, epoch: number]>(
      db,
      'DELETE FROM metric_points WHERE run_id = ? AND epoch > ?',
    ),
  }
}

export type MetricStatements = ReturnType<typeof metricStatements>

export type { MetricSample }
