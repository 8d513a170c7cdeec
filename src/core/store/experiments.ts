/** The experiments table: named groups of runs (an ablation study, a grid). */
import type { Experiment, ExperimentSummary } from '@shared/api/types'
import type Database from 'better-sqlite3'
import { prepare } from './statement'

interface ExperimentRow {
  id: number
  name: string
  description: string
  created_at: number
}

export const toExperiment = (row: ExperimentRow): Experiment => ({
  id: row.id,
  name: row.name,
  description: row.description,
  createdAt: row.created_at,
})

export function experimentStatements(db: Database.Database) {
  return {
    insert: prepare<[{ name: string; description: string; createdAt: number }]>(
      db,
      'INSERT INTO experiments (name, description, created_at) VALUES (@name, @description, @createdAt)',
    ),
    byName: prepare<[name: string], ExperimentRow>(db, 'SELECT * FROM experiments WHERE name = ?'),
    byId: prepare<[id: number], ExperimentRow>(db, 'SELECT * FROM experiments WHERE id = ?'),
    all: prepare<[], ExperimentRow & { runs: number }>(
      db,
      `SELECT e.*, (SELECT COUNT(*) FROM runs r WHERE r.experiment_id = e.id) AS runs
       FROM experiments e ORDER BY e.created_at, e.id`,
    ),
  }
}

export type ExperimentStatements = ReturnType<typeof experimentStatements>

export type { Experiment, ExperimentSummary }
