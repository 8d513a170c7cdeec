/**
 * A real redis-server for a test (Debian's package; `.ci/run` installs it): on a free loopback
 * port, in a temp dir, with an append-only file so that a restart keeps the queues, stopped by
 * its pid. Only loopback, bounded waits.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) =>
  existsSync(p),
)

export interface RedisServer {
  readonly url: string
  readonly port: number
  readonly dir: string
  /** SIGTERM, and wait for it to exit (it writes its append-only file first). */
  stop(): Promise<void>
  /** Starts it again on the same port and data. */
  start(): Promise<void>
  /** FLUSHALL: an empty server again, for the next scenario that shares it. */
  flushAll(): void
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

function ping(port: number): boolean {
  const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'ping'], {
    encoding: 'utf8',
    timeout: 2000,
  })
  return r.stdout.trim() === 'PONG'
}

export async function startRedis(): Promise<RedisServer> {
  if (!REDIS_SERVER)
    throw new Error('redis-server is not installed: apt-get install -y redis-server')
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'nin-lab-redis-'))
  let child: ChildProcess | null = null
  const start = async (): Promise<void> => {
    child = spawn(
      REDIS_SERVER,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
        '--protected-mode',
        'yes',
      ],
      { stdio: 'ignore' },
    )
    for (let i = 0; i < 100 && !ping(port); i++) await new Promise((r) => setTimeout(r, 100))
    if (!ping(port)) throw new Error(`redis-server did not start on port ${port}`)
  }
  await start()
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    start,
    flushAll: () => {
      const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'flushall'], {
        encoding: 'utf8',
        timeout: 10_000,
      })
      if (r.stdout.trim() !== 'OK') throw new Error(`redis-cli flushall: ${r.stdout}${r.stderr}`)
    },
    stop: async () => {
      const c = child as ChildProcess | null
      if (!c || c.exitCode !== null) return
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve())
        c.kill('SIGTERM')
      })
    },
  }
}
