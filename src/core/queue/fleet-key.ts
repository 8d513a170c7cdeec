/**
 * The fleet key: a secret the head and its workers share, so that Redis access alone can no
 * longer complete, fail or rewrite a run (docs/scale-out.md, "Trust"). The head keeps it in
 * `<data-dir>/fleet-key` (mode 0600, made on first use like the web mode's access key); a worker
 * gets it out of band — `nin-lab worker --fleet-key-file PATH`, or `$NIN_LAB_FLEET_KEY` — never as
 * a command-line argument, which every local user reads in `ps` and /proc/<pid>/cmdline.
 *
 * Every job, report and heartbeat crossing Redis is an envelope `v1.<hmac>.<body>`: the body is
 * the JSON text itself and the HMAC-SHA256 covers a domain ("job", "report", "beat", "attempt") and exactly
 * those bytes, checked in constant time before the body is parsed. The body names the run, its
 * attempt, the worker and its session, and a sequence number, so a signed report cannot be moved
 * to another run, attempt or worker, nor replayed (the head wants each holder's sequence to rise).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describeFileType, writeFileSafely } from '../files'
import { keyFileStat, WatchedKeyFile } from '../key-file'

export const FLEET_KEY_FILE = 'fleet-key'
export const FLEET_KEY_ENV = 'NIN_LAB_FLEET_KEY'
/** 32 random bytes as base64url: 43 characters. Anything from 32 to 200 of [\w-] is accepted. */
const KEY_PATTERN = /^[\w-]{32,200}$/

export type SignedDomain = 'job' | 'report' | 'beat' | 'attempt'

export class FleetKeyError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'FleetKeyError'
  }
}

export const fleetKeyPath = (dataDir: string): string => join(dataDir, FLEET_KEY_FILE)

/** The key in a file, or null when the file is missing or holds no key. */
function readKeyFile(path: string): string | null {
  const st = keyFileStat(path)
  if (st === null) return null
  if (!st.isFile()) {
    throw new FleetKeyError(`${path} is ${describeFileType(st)}, not a fleet key file`)
  }
  if (st.size > 1024) throw new FleetKeyError(`${path} is too large to be a fleet key`)
  const key = readFileSync(path, 'utf8').trim()
  return KEY_PATTERN.test(key) ? key : null
}

/** Writes a new fleet key into the data folder (mode 0600, one rename) and returns it. */
export function rotateFleetKey(dataDir: string): string {
  const key = randomBytes(32).toString('base64url')
  writeFileSafely(fleetKeyPath(dataDir), `${key}\n`, { createFolder: true, mode: 0o600 })
  return key
}

/**
 * The head's fleet key, made on first use. A key file others may read may have leaked: it is
 * replaced (workers then need the new one), and `created` says why.
 */
export function loadFleetKey(dataDir: string): { key: string; created: string | null } {
  const path = fleetKeyPath(dataDir)
  const key = readKeyFile(path)
  if (key === null) {
    return {
      key: rotateFleetKey(dataDir),
      created: `a new fleet key was written to ${path}: give it to each worker (--fleet-key-file)`,
    }
  }
  if (((keyFileStat(path)?.mode ?? 0) & 0o077) !== 0 && process.platform !== 'win32') {
    return {
      key: rotateFleetKey(dataDir),
      created: `${path} was readable by other users, so a new fleet key replaced it: give it to each worker`,
    }
  }
  return { key, created: null }
}

/** The head's key without creating one (a read-only look at the fleet); null when none yet. */
export function peekFleetKey(dataDir: string): string | null {
  try {
    return readKeyFile(fleetKeyPath(dataDir))
  } catch {
    return null
  }
}

/** A worker's key: from --fleet-key-file, else $NIN_LAB_FLEET_KEY. Throws FleetKeyError. */
export function workerFleetKey(file: string | undefined, env = process.env): string {
  if (file !== undefined) {
    const key = readKeyFile(file)
    if (key === null) throw new FleetKeyError(`${file} holds no fleet key (or does not exist)`)
    return key
  }
  const key = env[FLEET_KEY_ENV]?.trim()
  if (key === undefined || key === '') {
    throw new FleetKeyError(
      `a worker needs the head's fleet key: copy <head data-dir>/${FLEET_KEY_FILE} here and give ` +
        `--fleet-key-file PATH, or set ${FLEET_KEY_ENV}`,
    )
  }
  if (!KEY_PATTERN.test(key))
    throw new FleetKeyError(
      `${FLEET_KEY_ENV} does not hold a fleet key (32–200 of A-Z a-z 0-9 _ -)`,
    )
  return key
}

const mac = (key: string, domain: SignedDomain, body: string): Buffer =>
  createHmac('sha256', key).update(`nin-lab fleet v1\n${domain}\n`).update(body).digest()

/** `v1.<hmac hex>.<body>`: what goes into Redis. */
export function sign(key: string, domain: SignedDomain, body: string): string {
  return `v1.${mac(key, domain, body).toString('hex')}.${body}`
}

/**
 * The body of an envelope whose HMAC is right for one of `keys`, or an error saying why not. The
 * length is checked before anything else, the HMAC (constant time) before the body is parsed.
 */
export function open(
  keys: readonly string[],
  domain: SignedDomain,
  envelope: unknown,
  maxBytes: number,
): { body: string } | { error: string } {
  if (typeof envelope !== 'string') return { error: 'not a signed envelope' }
  if (envelope.length > maxBytes)
    return { error: `${envelope.length} characters, over the limit of ${maxBytes}` }
  if (!envelope.startsWith('v1.') || envelope.charAt(67) !== '.')
    return { error: 'not a signed envelope (no v1.<hmac>.)' }
  const given = Buffer.from(envelope.slice(3, 67), 'hex')
  const body = envelope.slice(68)
  if (given.length !== 32) return { error: 'not a signed envelope (bad hmac)' }
  for (const key of keys) {
    if (timingSafeEqual(given, mac(key, domain, body))) return { body }
  }
  return { error: 'its signature does not match the fleet key' }
}

/**
 * The key in force for a running head: read again whenever the file changes, so that
 * `nin-lab key rotate --fleet` takes effect without a restart.
 */
export class FleetKey extends WatchedKeyFile {
  constructor(dataDir: string, initial: string) {
    super(fleetKeyPath(dataDir), initial, readKeyFile)
  }
}
