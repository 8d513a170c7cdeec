/** The views table: saved comparison views (the Compare page's state under a name). */
import type { SavedView, ViewState } from '@shared/api/contract'
import type Database from 'better-sqlite3'
import { prepare } from './statement'

interface ViewRow {
  id: number
  name: string
  state_json: string
  created_at: number
  updated_at: number
}

export const toView = (row: ViewRow): SavedView => ({
  id: row.id,
  name: row.name,
  // Written from a validated state by saveView; read back as is.
  state: JSON.parse(row.state_json) as ViewState,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
})

export function viewStatements(db: Database.Database) {
  return {
    all: prepare<[], ViewRow>(db, 'SELECT * FROM views ORDER BY name COLLATE NOCASE, id'),
    byId: prepare<[id: number], ViewRow>(db, 'SELECT * FROM views WHERE id = ?'),
    byName: prepare<[name: string], ViewRow>(db, 'SELECT * FROM views WHERE name = ?'),
    insert: prepare<[{ name: string; stateJson: string; now: number }]>(
      db,
      `INSERT INTO views (name, state_json, created_at, updated_at)
       VALUES (@name, @stateJson, @now, @now)`,
    ),
    update: prepare<[{ id: number; name: string; stateJson: string; now: number }]>(
      db,
      'UPDATE views SET name = @name, state_json = @stateJson, updated_at = @now WHERE id = @id',
    ),
    delete: prepare<[id: number]>(db, 'DELETE FROM views WHERE id = ?'),
  }
}

export type ViewStatements = ReturnType<typeof viewStatements>
