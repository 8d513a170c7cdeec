/** The artifacts table: files a run produced (checkpoints, the final model, exports, logs). */
import type Database from 'better-sqlite3'
import type { Artifact, ArtifactKind } from '@shared/api/types'
import { prepare } from './statement'

export type { Artifact, ArtifactKind }

export interface NewArtifact {
  readonly kind: ArtifactKind
  readonly path: string
  readonly bytes?: number | null
  readonly epoch?: number | null
}

interface ArtifactRow {
  id: number
  run_id: string
  kind: ArtifactKind
  path: string
  bytes: number | null
  created_at: number
  epoch: number | null
}

export const toArtifact = (row: ArtifactRow): Artifact => ({
  id: row.id,
  runId: row.run_id,
  kind: row.kind,
  path: row.path,
  bytes: row.bytes,
  createdAt: row.created_at,
  epoch: row.epoch,
})

export function artifactStatements(db: Database.Database) {
  return {
    /** One row per file: a checkpoint rewritten at the same path updates its row. */
    upsert: prepare<
      [
        runId: string,
        kind: ArtifactKind,
        path: string,
        bytes: number | null,
        createdAt: number,
        epoch: number | null,
      ]
    >(
      db,
      `INSERT INTO artifacts (run_id, kind, path, bytes, created_at, epoch) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (run_id, path) DO UPDATE SET kind = excluded.kind,
         bytes = COALESCE(excluded.bytes, bytes), created_at = excluded.created_at,
         epoch = excluded.epoch`,
    ),
    forRun: prepare<[runId: string], ArtifactRow>(
      db,
      'SELECT * FROM artifacts WHERE run_id = ? ORDER BY created_at, id',
    ),
    deleteCheckpointsAfter: prepare<[runId: string, epoch: number]>(
      db,
      "DELETE FROM artifacts WHERE run_id = ? AND kind = 'checkpoint' AND epoch > ?",
    ),
  }
}

export type ArtifactStatements = ReturnType<typeof artifactStatements>
