/**
 * What RunStore.open checks before it trusts a data folder and its database, each failure a
 * StoreError that names the file and says what to do, with nothing written:
 *
 * - the folder: a dangling or looping symlink is named as such (not a raw ELOOP/ENOENT);
 * - the database is not silently recreated next to the runs of a lost one: a missing or 0-byte
 *   nin-lab.db beside a non-empty runs/ folder is refused (a fresh database would orphan them);
 * - the small tables every command reads (runs, experiments, …) pass SQLite's integrity check,
 *   so damage there is reported as damage, not as "no run r…" or an empty list;
 * - read-only access to a WAL database in a folder NiN Lab may not write to (see openReadOnly).
 */
import { existsSync, lstatSync, readdirSync, readlinkSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import Database from 'better-sqlite3'
import { runsDir } from '../paths'
import { StoreError } from './errors'

const errnoOf = (err: unknown): string | undefined => {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** Refuses a data folder path that is a dangling or looping symlink, naming it and the fix. */
export function checkDataFolder(dir: string): void {
  let link: string | undefined
  try {
    if (lstatSync(dir).isSymbolicLink()) link = readlinkSync(dir)
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return // nothing there yet: it will be created
    if (errnoOf(err) !== 'ELOOP') return // other problems surface, translated, when it is used
  }
  try {
    statSync(dir)
  } catch (err) {
    const code = errnoOf(err)
    if (code === 'ELOOP') {
      throw new StoreError(
        'cannot-open',
        `cannot use ${dir} as the data folder: it is a symlink that loops back on itself ` +
          '(ELOOP); point it at a real folder, or use another --data-dir',
        { cause: err },
      )
    }
    if (code === 'ENOENT' && link !== undefined) {
      throw new StoreError(
        'cannot-open',
        `cannot use ${dir} as the data folder: it is a symlink to ${resolve(dir, '..', link)}, ` +
          'which does not exist; create that folder (or restore the disk it was on), or use another --data-dir',
        { cause: err },
      )
    }
  }
}

/** The run folders in `<dataDir>/runs` (none when it does not exist). */
function runFolders(dataDir: string): string[] {
  try {
    return readdirSync(runsDir(dataDir))
  } catch {
    return []
  }
}

/** Whether the database file holds nothing yet (missing or 0 bytes): SQLite would start afresh. */
export function isEmptyDatabaseFile(file: string): boolean {
  try {
    return statSync(file).size === 0
  } catch (err) {
    return errnoOf(err) === 'ENOENT'
  }
}

/**
 * Refuses to start a new database beside the run folders of an old one: those runs (their
 * checkpoints, models, logs) would no longer be listed anywhere, and a new run could never
 * reuse their ids. Called when the database holds no NiN Lab schema yet.
 */
export function refuseOrphaningRuns(dataDir: string, file: string): void {
  const folders = runFolders(dataDir)
  if (folders.length === 0) return
  const state = existsSync(file) ? 'is empty (0 bytes or no tables)' : 'is missing'
  throw new StoreError(
    'lost',
    `${file} ${state}, but ${runsDir(dataDir)} holds ${folders.length} run folder` +
      `${folders.length === 1 ? '' : 's'} (e.g. ${folders[0]}): the database that listed them is lost. ` +
      'Restore nin-lab.db from a backup; or, to start a new database, first move the runs folder ' +
      `aside (e.g. mv ${runsDir(dataDir)} ${runsDir(dataDir)}.orphaned). NiN Lab changed nothing.`,
  )
}

/** The tables every command reads; small, so checking them on every open costs next to nothing. */
const CHECKED_TABLES = ['experiments', 'runs', 'settings', 'artifacts'] as const

/**
 * `PRAGMA integrity_check(table)` on the small tables (and their indexes). SQLite notices some
 * damage only when a read happens to cross it, and a damaged index can make a lookup return no
 * row at all; checking up front makes every command say "damaged" alike.
 */
export function checkTablesSound(db: Database.Database, file: string): void {
  const present = new Set(
    db.prepare<[], string>("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all(),
  )
  for (const table of CHECKED_TABLES) {
    if (!present.has(table)) continue
    const findings = db.prepare<[], string>(`PRAGMA integrity_check(${table})`).pluck().all()
    if (findings.length !== 1 || findings[0] !== 'ok') {
      const first = findings
        .join('\n')
        .replace(/\*\*\* in database \w+ \*\*\*/g, '')
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line.length > 0)
        .slice(0, 3)
      throw new StoreError(
        'corrupt',
        `${file} is damaged (SQLite's integrity check of its ${table} table: ${first.join('; ')}); ` +
          'restore it from a backup, or move it away to start afresh',
      )
    }
  }
}

/**
 * Opens a database read-only. In WAL mode SQLite needs the -shm file to read, and creates it
 * when it can; in a folder it may not write to (a read-only mount, another user's data) it
 * cannot, and every read fails with SQLITE_CANTOPEN. When no -shm exists no process has the
 * database open for writing, so it is opened as immutable (`?immutable=1`: no locks, no WAL)
 * instead — unless a -wal file still holds commits (a crash), which only a writer can apply.
 */
export function openReadOnly(file: string, busyTimeoutMs: number): Database.Database {
  const db = new Database(file, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs })
  try {
    db.pragma('user_version', { simple: true })
    return db
  } catch (err) {
    db.close()
    const code = errnoOf(err)
    const noShm = code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY_DIRECTORY'
    if (!noShm || existsSync(`${file}-shm`)) throw err
  }
  const wal = `${file}-wal`
  if (existsSync(wal) && statSync(wal).size > 0) {
    throw new StoreError(
      'read-only',
      `cannot read ${file} without write access to its folder: its write-ahead log ${wal} holds ` +
        'changes not yet in the database, and only a process that may write there can apply them. ' +
        'Run any nin-lab command once with write access, or copy the data folder somewhere writable',
    )
  }
  let immutable: Database.Database | undefined
  try {
    immutable = new Database(`${pathToFileURL(file).href}?immutable=1`, {
      readonly: true,
      timeout: busyTimeoutMs,
    })
    immutable.pragma('user_version', { simple: true })
    return immutable
  } catch (err) {
    immutable?.close()
    throw new StoreError(
      'read-only',
      `cannot read ${file}: it is a WAL database in a folder NiN Lab may not write to, and SQLite ` +
        `needs to create ${file}-shm there to read it (${err instanceof Error ? err.message : String(err)}); ` +
        'give write access to the folder, or copy the data folder somewhere writable',
      { cause: err },
    )
  }
}
