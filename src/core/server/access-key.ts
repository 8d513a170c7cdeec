/**
 * The web mode's access key, kept per data folder in `<data-dir>/access-key` (mode 0600, only
 * this user may read it), so that it survives restarts: a bookmark, an open tab and a reload all
 * keep working after `npm start` again. `nin-lab key rotate` (or `serve --rotate-key`) replaces
 * it; a running server picks the new key up at its next request, and pages holding the old one
 * show the "access key missing or out of date" screen.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describeFileType, writeFileSafely } from '../files'
import { keyFileStat, WatchedKeyFile } from '../key-file'

export const ACCESS_KEY_FILE = 'access-key'
const KEY_PATTERN = /^[\w-]{20,200}$/

export const accessKeyPath = (dataDir: string): string => join(dataDir, ACCESS_KEY_FILE)

export const newAccessKey = (): string => randomBytes(24).toString('base64url')

export class AccessKeyError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'AccessKeyError'
  }
}

/** The key in the file, or null when there is none usable (missing, or not a key). */
function readKey(path: string): string | null {
  const st = keyFileStat(path)
  if (st === null) return null
  if (!st.isFile()) {
    throw new AccessKeyError(
      `${path} is ${describeFileType(st)}, not the access key file: remove it, then start again`,
    )
  }
  const key = readFileSync(path, 'utf8').trim()
  return KEY_PATTERN.test(key) ? key : null
}

/** Writes a new key (mode 0600, replacing any old one in one rename) and returns it. */
export function rotateAccessKey(dataDir: string): string {
  const key = newAccessKey()
  writeFileSafely(accessKeyPath(dataDir), `${key}\n`, { createFolder: true, mode: 0o600 })
  return key
}

export interface LoadedKey {
  readonly key: string
  /** Why a new key was made, when one was ("no key yet", "readable by others"). */
  readonly created: string | null
}

/**
 * The data folder's key, made on first use. A key file that others may read (group or world
 * bits) may have leaked: it is replaced, and `created` says so.
 */
export function loadAccessKey(dataDir: string): LoadedKey {
  const path = accessKeyPath(dataDir)
  const key = readKey(path)
  if (key === null) {
    const st = keyFileStat(path)
    return {
      key: rotateAccessKey(dataDir),
      created: st === null ? 'no access key yet' : 'the access key file held no key',
    }
  }
  const mode = (keyFileStat(path)?.mode ?? 0) & 0o077
  if (mode !== 0 && process.platform !== 'win32') {
    return {
      key: rotateAccessKey(dataDir),
      created: `${path} was readable by other users, so a new key replaced it`,
    }
  }
  return { key, created: null }
}

/**
 * The key in force for a running server: read again whenever the file changes (a rotation from
 * another shell takes effect at once); the last good key stays while the file is missing or bad.
 */
export class AccessKey extends WatchedKeyFile {
  constructor(dataDir: string, initial: string) {
    super(accessKeyPath(dataDir), initial, readKey)
  }
}
