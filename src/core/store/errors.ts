/**
 * Store errors a person can act on. SQLite and the file system report problems as codes
 * (SQLITE_READONLY, ENOSPC, …); the CLI, the server and the app show this message as is, so it
 * names the file and says what to do.
 */
import { dirname } from 'node:path'

export type StoreErrorCode =
  /** No run, experiment or row with that id. */
  | 'not-found'
  /** The operation does not apply to the run in its current state (e.g. retry a running run). */
  | 'illegal-state'
  /** An argument the store cannot accept (an empty experiment name, a bad position). */
  | 'invalid'
  /** The database was written by a newer NiN Lab. */
  | 'newer-schema'
  /** The file is not a (NiN Lab) SQLite database. */
  | 'not-a-database'
  | 'read-only'
  | 'disk-full'
  | 'cannot-open'
  /** Another process held the database lock for longer than the busy timeout. */
  | 'busy'
  /** A message from an attempt of a run that is no longer its current one (fencing). */
  | 'stale-attempt'
  | 'corrupt'
  /** The database is missing or empty beside the run folders of a lost one. */
  | 'lost'
  | 'io'

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'StoreError'
  }
}

const codeOf = (err: unknown): string | undefined => {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/**
 * Translates a SQLite or file-system error met while using `file` into a StoreError that says
 * what to do; anything else (a bug, a StoreError already) comes back unchanged.
 */
export function toStoreError(err: unknown, file: string, busyTimeoutMs: number): unknown {
  if (err instanceof StoreError) return err
  const code = codeOf(err)
  if (code === undefined) return err
  const dir = dirname(file)
  const detail = err instanceof Error ? err.message : String(err)
  const make = (c: StoreErrorCode, message: string): StoreError =>
    new StoreError(c, message, { cause: err })
  const elsewhere = 'or use another --data-dir'

  if (code.startsWith('SQLITE_READONLY') || code === 'EROFS') {
    return make(
      'read-only',
      `cannot write to ${file} (${detail}): NiN Lab needs write access to the database and to ${dir} ` +
        `(it keeps nin-lab.db-wal and nin-lab.db-shm beside it); fix the permissions, ${elsewhere}`,
    )
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return make(
      'read-only',
      `permission denied on ${dir} (${detail}): NiN Lab needs to create and write files there; ` +
        `fix the permissions, ${elsewhere}`,
    )
  }
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') {
    return make(
      'disk-full',
      `the disk holding ${file} is full (${detail}); nothing of the failed change was written. ` +
        `Free some space (old runs' checkpoints under ${dir}/runs are the largest files) and try again`,
    )
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    return make(
      'cannot-open',
      `cannot open ${file} (${detail}): check that ${dir} is a folder you may write to and that ` +
        `nin-lab.db is a file, ${elsewhere}`,
    )
  }
  if (code === 'ELOOP') {
    return make(
      'cannot-open',
      `cannot use ${dir} as the data folder (${detail}): its path goes through a symlink loop; ${elsewhere}`,
    )
  }
  if (code === 'ENOTDIR' || code === 'EEXIST') {
    return make(
      'cannot-open',
      `cannot use ${dir} as the data folder (${detail}): a file is in the way; ${elsewhere}`,
    )
  }
  if (code === 'SQLITE_NOTADB') {
    return make(
      'not-a-database',
      `${file} is not a SQLite database (${detail}); if it was NiN Lab's, it is damaged: restore ` +
        `it from a backup. NiN Lab leaves it untouched: move it away, ${elsewhere}`,
    )
  }
  if (code.startsWith('SQLITE_CORRUPT')) {
    return make(
      'corrupt',
      `${file} is damaged (${detail}); restore it from a backup, or move it away to start afresh`,
    )
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return make(
      'busy',
      `${file} stayed locked by another process for ${busyTimeoutMs / 1000} s (${detail}); ` +
        'try again, and check that no stuck nin-lab process holds it',
    )
  }
  if (code.startsWith('SQLITE_IOERR') || code === 'EIO') {
    return make('io', `reading or writing ${file} failed (${detail}); check the disk`)
  }
  return err
}
