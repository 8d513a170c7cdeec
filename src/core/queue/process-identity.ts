/**
 * Which process is this, really? A pid alone is not an identity: pids are reused, so a lock or a
 * run row naming pid 4242 may name an unrelated process by now (a scheduler that signalled such
 * a pid once killed one). An identity is host + pid + the process's start time (Linux: field 22
 * of /proc/<pid>/stat, in clock ticks since boot), and a recorded identity is alive only when a
 * process with that pid exists *and* started at that time.
 */
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'

export interface ProcessIdentity {
  readonly host: string
  readonly pid: number
  /** Start time as the OS reports it; null where it cannot be read (then the pid alone counts). */
  readonly start: string | null
}

/** The start time of a live process, or null (no such process, or no /proc here). */
export function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) is in parentheses and may hold spaces: count after its end.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[19] ?? null
  } catch {
    return null
  }
}

export const currentProcess = (): ProcessIdentity => ({
  host: hostname(),
  pid: process.pid,
  start: processStart(process.pid),
})

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Whether the recorded process still runs: true, false, or null when it cannot be known (it ran
 * on another host).
 */
export function isAlive(who: ProcessIdentity): boolean | null {
  if (who.host !== hostname()) return null
  if (!Number.isInteger(who.pid) || who.pid <= 0 || !pidExists(who.pid)) return false
  if (who.start === null) return true
  const now = processStart(who.pid)
  return now === null ? true : now === who.start
}

export function isProcessIdentity(v: unknown): v is ProcessIdentity {
  if (typeof v !== 'object' || v === null) return false
  const o = v as Record<string, unknown>
  return (
    typeof o['host'] === 'string' &&
    typeof o['pid'] === 'number' &&
    (o['start'] === null || typeof o['start'] === 'string')
  )
}
