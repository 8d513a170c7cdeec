/**
 * The data folder is private: runs, notes and the access key are nobody else's business. The
 * folder is 0700 and the database with its WAL and shared-memory files 0600; a folder or
 * database left more open (by an older NiN Lab, or a umask of 022) is tightened once, saying so.
 * Every process that writes there runs with umask 077 (the trainers and report workers it
 * starts inherit it), so whatever else lands in the folder — run folders, checkpoints, logs,
 * dataset caches, exports — is readable by its owner only.
 */
import { chmodSync, closeSync, existsSync, lstatSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'

export const PRIVATE_FOLDER_MODE = 0o700
export const PRIVATE_FILE_MODE = 0o600
/** The umask of a process that writes in a data folder. */
export const PRIVATE_UMASK = 0o077

const octal = (mode: number): string => `0${(mode & 0o777).toString(8)}`

/** Takes group's and others' access to `path` away (`mode`: what may stay); says what changed. */
function tighten(path: string, mode: number): string | null {
  let st
  try {
    st = lstatSync(path)
  } catch {
    return null // not there (yet)
  }
  // Only what this user owns (root may pass a folder to another user's care: left alone).
  if (st.isSymbolicLink() || (st.mode & 0o077) === 0) return null
  if (process.getuid !== undefined && st.uid !== process.getuid()) return null
  // Only group's and others' bits go: a folder the owner made read-only stays read-only.
  const next = st.mode & mode & 0o777
  try {
    chmodSync(path, next)
  } catch {
    return null // a read-only file system: nothing can be written there either
  }
  return `${path} ${octal(st.mode)} → ${octal(next)}`
}

/**
 * Makes the data folder private before SQLite opens its database: creates the folder 0700
 * (its parents as usual) and the database file 0600 (SQLite gives the -wal and -shm files the
 * database's mode), and tightens what an older version left open. Returns the notice to print
 * once, or null when nothing changed. Opening read-only (`create: false`) creates nothing but
 * still tightens what this user owns: a looser mode is never what anyone asked for.
 */
export function makeDataFolderPrivate(
  dir: string,
  dbFile: string,
  options: { readonly create: boolean },
): string | null {
  if (options.create && !existsSync(dir)) {
    // The parents as usual (~/.local/share is not ours to close); the folder itself private.
    mkdirSync(dirname(dir), { recursive: true })
    mkdirSync(dir, { mode: PRIVATE_FOLDER_MODE })
  }
  if (process.platform === 'win32') return null // modes mean little there; ACLs protect it
  process.umask(PRIVATE_UMASK)
  if (options.create && !existsSync(dbFile)) {
    try {
      closeSync(openSync(dbFile, 'a', PRIVATE_FILE_MODE))
    } catch {
      // A folder it may not write: SQLite's own attempt says so, in the store's words.
    }
  }
  const changed = [
    tighten(dir, PRIVATE_FOLDER_MODE),
    ...['', '-wal', '-shm'].map((suffix) => tighten(`${dbFile}${suffix}`, PRIVATE_FILE_MODE)),
  ].filter((c): c is string => c !== null)
  if (changed.length === 0) return null
  return `made the data folder private (only you can read its runs and notes): ${changed.join(', ')}`
}
