/**
 * One scheduler per data directory. The lock is a file created exclusively (O_EXCL) holding the
 * holder's identity (host, pid and process start time); a lock whose holder is no longer alive
 * on this host is stale and is taken over, so a crashed scheduler never blocks the next one. The
 * start time matters: after a reboot or pid reuse, an unrelated process with the recorded pid
 * must not keep the lock alive.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import {
  currentProcess,
  isAlive,
  isProcessIdentity,
  type ProcessIdentity,
} from './process-identity'

export const LOCK_FILE = 'scheduler.lock'

export interface LockInfo extends ProcessIdentity {
  readonly since: number
}

export class SchedulerLockError extends Error {
  constructor(
    message: string,
    readonly holder: LockInfo,
  ) {
    super(message)
    this.name = 'SchedulerLockError'
  }
}

function readLock(file: string): LockInfo | null {
  try {
    const info: unknown = JSON.parse(readFileSync(file, 'utf8'))
    if (!isProcessIdentity(info)) {
      // A lock written before identities (no start time) still names a host and a pid.
      const o = info as { host?: unknown; pid?: unknown; since?: unknown }
      return typeof o.host === 'string' && typeof o.pid === 'number'
        ? { host: o.host, pid: o.pid, start: null, since: Number(o.since) || 0 }
        : null
    }
    return info as LockInfo
  } catch {
    return null // unreadable or half-written: treat as stale
  }
}

/** The live scheduler holding the data directory, if any. */
export function lockHolder(dataDir: string): LockInfo | null {
  const info = readLock(join(dataDir, LOCK_FILE))
  if (!info) return null
  // Another host's processes cannot be checked from here: assume it lives.
  return isAlive(info) === false ? null : info
}

export class SchedulerLock {
  private constructor(
    private readonly file: string,
    private readonly me: LockInfo,
  ) {}

  /** Takes the lock or throws SchedulerLockError naming the live holder. */
  static acquire(dataDir: string): SchedulerLock {
    const file = join(dataDir, LOCK_FILE)
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(file, 'wx')
        const info: LockInfo = { ...currentProcess(), since: Date.now() }
        writeSync(fd, JSON.stringify(info))
        closeSync(fd)
        return new SchedulerLock(file, info)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
      const holder = lockHolder(dataDir)
      if (holder && holder.pid !== process.pid) {
        throw new SchedulerLockError(
          `another scheduler (pid ${holder.pid} on ${holder.host}) is already running the queue in ${dataDir}; ` +
            'runs you add are picked up by it',
          holder,
        )
      }
      rmSync(file, { force: true }) // stale: its holder is gone
    }
    throw new Error(`could not take the scheduler lock ${file}`)
  }

  /** Removes the lock if it is still ours (never another scheduler's that took over). */
  release(): void {
    const info = readLock(this.file)
    if (info?.pid === this.me.pid && info.start === this.me.start && info.host === this.me.host)
      rmSync(this.file, { force: true })
  }
}
