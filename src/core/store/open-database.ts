/**
 * Opening a data folder's database: the folder and file checks (open-checks.ts), its modes
 * (privacy.ts), WAL, the busy timeout, and the schema brought up to date (migrations.ts).
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import Database from 'better-sqlite3'
import { StoreError, toStoreError } from './errors'
import { checkSchema, LATEST_VERSION, migrate } from './migrations'
import {
  checkDataFolder,
  checkTablesSound,
  isEmptyDatabaseFile,
  openReadOnly,
  refuseOrphaningRuns,
} from './open-checks'
import { makeDataFolderPrivate } from './privacy'

// better-sqlite3 reads SQLITE_USE_URI once, when its native addon loads (at the first
// `new Database`). URI file names are how a WAL database is read where no -shm file can be
// created (`file:…?immutable=1`, see openReadOnly); plain paths, all NiN Lab passes otherwise,
// mean the same either way. A value the user set is left alone.
process.env['SQLITE_USE_URI'] ??= '1'

export const DB_FILE = 'nin-lab.db'
export const BUSY_TIMEOUT_MS = 5000

export interface RunStoreOptions {
  /** Open without writing anything (no folder, no migration); writes fail with a StoreError. */
  readonly readonly?: boolean
  /** How long to wait for another process's write lock before giving up. */
  readonly busyTimeoutMs?: number
  /** The clock for created/queued/started/finished times (tests pin it). */
  readonly now?: () => number
}

/** An open, checked, migrated connection and where it lives. */
export interface OpenedDatabase {
  readonly db: Database.Database
  readonly dir: string
  readonly file: string
  readonly busyTimeoutMs: number
}

/**
 * Opens (creating when needed) `<dataDir>/nin-lab.db` and brings its schema up to date.
 * Refuses, without writing anything, a file that is not a NiN Lab database and one written by
 * a newer NiN Lab; file-system and SQLite failures become StoreErrors that say what to do.
 */
export function openDatabase(dataDir: string, options: RunStoreOptions = {}): OpenedDatabase {
  const dir = resolve(dataDir)
  const file = join(dir, DB_FILE)
  const busyTimeoutMs = options.busyTimeoutMs ?? BUSY_TIMEOUT_MS
  const readonly = options.readonly ?? false
  const fail = (err: unknown): never => {
    throw toStoreError(err, file, busyTimeoutMs)
  }
  try {
    checkDataFolder(dir)
    if (!readonly) {
      // Before SQLite creates anything: a fresh database must not orphan existing runs.
      if (isEmptyDatabaseFile(file)) refuseOrphaningRuns(dir, file)
    }
    const tightened = makeDataFolderPrivate(dir, file, { create: !readonly })
    if (tightened !== null) console.error(`nin-lab: ${tightened}`)
  } catch (err) {
    fail(err)
  }
  if (readonly && !existsSync(file)) {
    refuseOrphaningRuns(dir, file)
    throw new StoreError(
      'cannot-open',
      `no NiN Lab database at ${file}: check the --data-dir (opening read-only creates nothing)`,
    )
  }
  let db: Database.Database
  try {
    db = readonly
      ? openReadOnly(file, busyTimeoutMs)
      : new Database(file, { timeout: busyTimeoutMs })
  } catch (err) {
    return fail(err)
  }
  try {
    db.pragma(`busy_timeout = ${busyTimeoutMs}`)
    // Read-only checks first: a database we must refuse is left exactly as it was.
    const version = checkSchema(db, file)
    if (version === 0) {
      if (readonly) {
        // Run folders without the database that listed them say "lost", read-only or not.
        refuseOrphaningRuns(dir, file)
        throw new StoreError(
          'cannot-open',
          `${file} holds no NiN Lab data yet (it is empty); check the --data-dir`,
        )
      }
      refuseOrphaningRuns(dir, file)
    } else checkTablesSound(db, file)
    if (readonly) {
      if (version < LATEST_VERSION) {
        throw new StoreError(
          'illegal-state',
          `${file} has schema ${version}, older than this NiN Lab's ${LATEST_VERSION}: open ` +
            'it once with write access so that it can be upgraded',
        )
      }
    } else {
      const mode = db.pragma('journal_mode = WAL', { simple: true })
      if (mode !== 'wal') {
        throw new StoreError(
          'cannot-open',
          `${file}: SQLite could not switch it to WAL journaling (it stays ${String(mode)}); ` +
            'a network file system can cause this: use a local --data-dir',
        )
      }
    }
    db.pragma('foreign_keys = ON')
    // NORMAL in WAL mode: a power cut may lose the last commits, never corrupt the file.
    db.pragma('synchronous = NORMAL')
    if (!readonly) migrate(db, file)
    return { db, dir, file, busyTimeoutMs }
  } catch (err) {
    db.close()
    return fail(err)
  }
}
