/**
 * Redis connection settings from a URL (`redis://[user:password@]host[:port][/db]`, or
 * `rediss://…` for TLS), for ioredis and BullMQ. Checked here so that a typo is an error that
 * names the URL's problem, not a connection that retries forever. The password is never logged:
 * `describeRedisUrl` masks it.
 */
import { createRequire } from 'node:module'
import type * as BullMQ from 'bullmq'
import type * as IORedis from 'ioredis'
import type { RedisOptions } from 'ioredis'

/**
 * bullmq and ioredis, loaded on first use rather than at every start: most processes of this
 * program never talk to Redis (every command but `queue start --redis`, `worker` and `queue
 * workers`), and importing the two was half of a command's start-up: `nin-lab ls` took 0.38–0.48
 * CPU-s with them, 0.19–0.25 without (5 runs each). Synchronous (require), so a Fleet is still
 * made in one call.
 */
const load = createRequire(import.meta.url)
export const ioredis = (): typeof IORedis => load('ioredis') as typeof IORedis
export const bullmq = (): typeof BullMQ => load('bullmq') as typeof BullMQ

export class RedisUrlError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'RedisUrlError'
  }
}

export function redisOptions(url: string): RedisOptions {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new RedisUrlError(
      `${describeRedisUrl(url)} is not a Redis URL: write redis://HOST:6379 (or rediss:// for TLS, redis://:PASSWORD@HOST:6379/0 with a password)`,
    )
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new RedisUrlError(
      `${describeRedisUrl(url)}: the URL must start with redis:// or rediss:// (TLS)`,
    )
  }
  if (!parsed.hostname) throw new RedisUrlError(`${describeRedisUrl(url)} names no host`)
  const db = parsed.pathname.replace(/^\//, '')
  if (db !== '' && !/^\d{1,2}$/.test(db)) {
    throw new RedisUrlError(`${describeRedisUrl(url)}: the database after / must be a number`)
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1')
  return {
    host,
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    db: db === '' ? 0 : Number(db),
    ...(parsed.protocol === 'rediss:' ? { tls: { servername: host } } : {}),
    // BullMQ's workers block on Redis: they need commands to wait for a reconnect, not fail.
    maxRetriesPerRequest: null,
    // Reconnect forever, backing off to 2 s: a restarted Redis must be picked up by itself.
    retryStrategy: (times: number) => Math.min(times * 200, 2000),
  }
}

/** The URL with its password masked, for messages and the app. */
export function describeRedisUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '****'
    return parsed.toString().replace(/\/$/, '')
  } catch {
    return url.replace(/\/\/([^@/]*)@/, '//****@')
  }
}
