/**
 * The reports channel, worker → head: a plain Redis list of signed envelopes (fleet-key.ts).
 * Not a BullMQ queue: a BullMQ consumer fetches a job whole, so anyone who can write to Redis could
 * make the head read (and hold) a 150 MB string. Here the head takes the next report with a Lua
 * script that measures it inside Redis and drops it, unread, when it is longer than the limit.
 *
 * Reliability: the report being ingested waits in a second list until the head has stored it, so
 * a head killed mid-report ingests that report again when it comes back (the store skips a
 * message it already holds). One head per Redis takes reports, one at a time, in the order each
 * worker sent them.
 */
import type { Redis } from 'ioredis'
import { INGESTING_LIST, REPORTS_LIST } from '@shared/protocol/worker'

/**
 * KEYS[1] the reports list, KEYS[2] the ingesting list; ARGV[1] the longest report taken, ARGV[2]
 * '1' when the report taken before is done (one round trip per report). Returns nil (nothing waits), {1, report}, or {0, length} for a report dropped as too long.
 */
// allow-oom (Redis ≥ 7): a full Redis (maxmemory, noeviction) refuses LMOVE otherwise, and then
// the head could never drain the reports that fill it.
const TAKE = `#!lua flags=allow-oom
if ARGV[2] == '1' then redis.call('LPOP', KEYS[2]) end
local v = redis.call('LINDEX', KEYS[2], 0)
if not v then v = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT') end
if not v then return nil end
local n = string.len(v)
if n > tonumber(ARGV[1]) then
  redis.call('LPOP', KEYS[2])
  return {0, n}
end
return {1, v}
`

export type Taken = { readonly report: string } | { readonly droppedChars: number } | null

interface TakeCommand {
  ninLabTakeReport(reports: string, ingesting: string, max: number, done: string): Promise<unknown>
}

/**
 * The next report, or why it was dropped, or null when none waits. `previousDone`: the report
 * taken before has been stored (or refused for good) and leaves the ingesting list now.
 */
export async function takeReport(
  redis: Redis,
  maxChars: number,
  previousDone: boolean,
): Promise<Taken> {
  const r = redis as Redis & Partial<TakeCommand>
  if (!r.ninLabTakeReport) redis.defineCommand('ninLabTakeReport', { numberOfKeys: 2, lua: TAKE })
  const out = await (redis as Redis & TakeCommand).ninLabTakeReport(
    REPORTS_LIST,
    INGESTING_LIST,
    maxChars,
    previousDone ? '1' : '0',
  )
  if (!Array.isArray(out)) return null
  const [ok, value] = out as [number, string | number]
  return ok === 1 ? { report: String(value) } : { droppedChars: Number(value) }
}

/** Reports waiting, the one being ingested included. */
export async function reportsWaiting(redis: Redis): Promise<number> {
  const [waiting, ingesting] = await Promise.all([
    redis.llen(REPORTS_LIST),
    redis.llen(INGESTING_LIST),
  ])
  return waiting + ingesting
}

/** A worker's side: appends one signed report (in order: one list, one producer per run). */
export async function pushReport(redis: Redis, envelope: string): Promise<void> {
  await redis.rpush(REPORTS_LIST, envelope)
}

/**
 * Redis answered but refused a write: full (maxmemory with noeviction), unable to persist
 * (MISCONF), a read-only replica, or an ACL that forbids it. Not a lost connection (those wait
 * for the reconnect).
 */
export const isRefusedWrite = (err: unknown): boolean =>
  err instanceof Error && /^(OOM|MISCONF|READONLY|NOPERM)\b/.test(err.message)

/** What to do about a refused write, for the halt's message. */
export function refusedWriteAdvice(err: unknown): string {
  const message = err instanceof Error ? err.message : ''
  if (message.startsWith('READONLY'))
    return 'it is a read-only replica: point --redis at the primary'
  if (message.startsWith('NOPERM'))
    return "its user may not write NiN Lab's keys: check its ACL (docs/scale-out.md)"
  if (message.startsWith('MISCONF'))
    return 'it cannot save to its disk: fix its disk or its persistence settings'
  return 'it is full. Raise its maxmemory (or free memory on it)'
}
