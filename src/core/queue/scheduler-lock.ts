/**
 * One scheduler per data directory. The lock is a file created exclusively (O_EXCL) holding the
 * holder's pid and host; a lock whose holder is no longer alive on this host is stale and is
 * taken over, so a crashed scheduler never blocks the next one.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'

export const LOCK_FILE = 'scheduler.lock'

interface LockInfo {
  readonly pid: number
  readonly host: string
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

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function readLock(file: string): LockInfo | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LockInfo
  } catch {
    return null // unreadable or half-written: treat as stale
  }
}

/** The live scheduler holding the data directory, if any. */
export function lockHolder(dataDir: string): LockInfo | null {
  const info = readLock(join(dataDir, LOCK_FILE))
  if (!info) return null
  if (info.host !== hostname()) return info // cannot check another host's processes: assume alive
  return alive(info.pid) ? info : null
}

export class SchedulerLock {
  private constructor(private readonly file: string) {}

  /** Takes the lock or throws SchedulerLockError naming the live holder. */
  static acquire(dataDir: string): SchedulerLock {
    const file = join(dataDir, LOCK_FILE)
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(file, 'wx')
        const info: LockInfo = { pid: process.pid, host: hostname(), since: Date.now() }
        writeSync(fd, JSON.stringify(info))
        closeSync(fd)
        return new SchedulerLock(file)
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

  release(): void {
    const info = readLock(this.file)
    if (info?.pid === process.pid) rmSync(this.file, { force: true })
  }
}
