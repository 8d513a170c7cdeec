/** The settings table: small key/value state shared by every process on the data folder. */
import type Database from 'better-sqlite3'
import { prepare, preparePluck } from './statement'

/** Keys in use; values are JSON. */
export const SETTING_KEYS = { queuePaused: 'queue.paused', queue: 'queue.settings' } as const

export function settingStatements(db: Database.Database) {
  return {
    get: preparePluck<[key: string], string>(db, 'SELECT value FROM settings WHERE key = ?'),
    set: prepare<[key: string, value: string]>(
      db,
      `INSERT INTO settings (key, value) VALUES (?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    ),
  }
}

export type SettingStatements = ReturnType<typeof settingStatements>
