/**
 * The web server's limits on slow, half-open and greedy clients, on real sockets against the
 * real server and a real Core (on a temporary data folder, without a scheduler). The limits are
 * shortened here so that each case takes a moment; `nin-lab serve` uses DEFAULT_LIMITS and
 * EVENT_SOCKET_LIMITS (tests/integration/serve-attacks.test.ts attacks that one).
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ApiEvents } from '@shared/api/contract'
import { Core } from '@core/core'
import { apiHandler, eventSockets } from '@core/server/api-handler'
import { startWebServer, type RunningWebServer } from '@core/server/http-server'

const TOKEN = 'test-token-0123456789abcdef0123456789'
let dir: string
let core: Core
let sockets: ReturnType<typeof eventSockets>
let server: RunningWebServer
let port: number

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nin-lab-server-limits-'))
  mkdirSync(join(dir, 'renderer'))
  writeFileSync(join(dir, 'renderer', 'index.html'), '<div id="app"></div>')
  core = new Core({ dataDir: join(dir, 'data'), scheduler: false })
  sockets = eventSockets(core, { maxClients: 3, maxBufferedBytes: 1 << 20, pingIntervalMs: 150 })
  server = await startWebServer({
    rendererDir: join(dir, 'renderer'),
    host: '127.0.0.1',
    port: 0,
    token: TOKEN,
    api: apiHandler(core),
    upgrade: sockets.upgrade,
    limits: {
      headersTimeoutMs: 400,
      requestTimeoutMs: 800,
      checkIntervalMs: 100,
      maxConnections: 6,
    },
  })
  port = Number(new URL(server.url).port)
})

afterAll(async () => {
  sockets?.close()
  await server?.close()
  await core?.close()
  rmSync(dir, { recursive: true, force: true })
})

interface RawClient {
  readonly socket: Socket
  /** Everything received so far, as latin1 text. */
  received(): string
  bytes(): number
  closed: Promise<void>
}

function rawClient(): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let text = ''
    let bytes = 0
    const closed = new Promise<void>((done) => socket.on('close', () => done()))
    socket.on('data', (d: Buffer) => {
      bytes += d.length
      if (text.length < 4096) text += d.toString('latin1')
    })
    socket.once('connect', () =>
      resolve({ socket, received: () => text, bytes: () => bytes, closed }),
    )
    socket.once('error', reject)
  })
}

const upgrade =
  `GET /api/events?token=${TOKEN} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n` +
  'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'

const health = async (): Promise<number> =>
  (
    await fetch(`http://127.0.0.1:${port}/api/health`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    })
  ).status

describe('slow and half-open HTTP clients are cut off', () => {
  it('headers that never end: 408, connection closed', async () => {
    const client = await rawClient()
    client.socket.write('GET /api/health HTTP/1.1\r\nHost: x\r\n')
    await client.closed
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /)
    expect(await health()).toBe(200)
  })

  it('a body that never ends: 408, connection closed', async () => {
    const client = await rawClient()
    client.socket.write(
      `POST /api/call/queueState HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":',
    )
    await client.closed
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /)
    expect(await health()).toBe(200)
  })

  it('connections past the cap are closed at once; the server serves again when they go', async () => {
    const idle = await Promise.all(Array.from({ length: 9 }, rawClient))
    // The three over the cap are closed without a word; those within it, once they time out,
    // hear a 408 first.
    await new Promise<void>((resolve) => {
      let silent = 0
      for (const c of idle) {
        void c.closed.then(() => {
          if (c.bytes() === 0 && ++silent === 3) resolve()
        })
      }
    })
    for (const c of idle) c.socket.destroy()
    await Promise.all(idle.map((c) => c.closed))
    expect(await health()).toBe(200)
  })
})

describe('event sockets', () => {
  it('a client that does not answer pings (half-open) is dropped', async () => {
    const client = await rawClient()
    client.socket.write(upgrade)
    // It reads (so it sees the pings) but never sends the pong a live client answers with.
    await client.closed
    expect(client.received()).toMatch(/^HTTP\/1\.1 101 /)
  })

  it('a client that stops reading is cut off; one that reads gets every event', async () => {
    const healthy = new WebSocket(`ws://127.0.0.1:${port}/api/events?token=${TOKEN}`)
    await new Promise((resolve, reject) => {
      healthy.on('open', resolve)
      healthy.on('error', reject)
    })
    let received = 0
    let healthyClosed = false
    healthy.on('message', () => received++)
    healthy.on('close', () => (healthyClosed = true))
    /** Until the reading client has read `n` events (it reads when this process's loop turns). */
    const readUpTo = async (n: number): Promise<void> => {
      for (let waited = 0; received < n; waited += 5) {
        if (healthyClosed) throw new Error(`the reading client was closed after ${received} events`)
        if (waited > 30_000) throw new Error(`the reading client read ${received} of ${n} events`)
        await new Promise((r) => setTimeout(r, 5))
      }
    }
    const stalled = await rawClient()
    stalled.socket.write(upgrade)
    await new Promise((r) => setTimeout(r, 100))
    stalled.socket.pause()
    // 400 events of 64 KiB: 25 MiB, far more than the kernel buffers and the 1 MiB allowed.
    const payload = { run: { note: 'x'.repeat(64 << 10) } } as unknown as ApiEvents['runChanged']
    // A client that reads keeps up: after every 8 events (512 KiB) the reading one is let catch
    // up, so it never falls 1 MiB behind, however slowly this machine turns (yielding a fixed
    // number of loop turns let a loaded machine cut it off too).
    for (let i = 1; i <= 400; i++) {
      core.emit('runChanged', payload)
      if (i % 8 === 0) await readUpTo(i)
    }
    stalled.socket.resume()
    await stalled.closed
    expect(stalled.bytes()).toBeLessThan(400 * (64 << 10))
    await readUpTo(400)
    expect(received).toBe(400)
    expect(healthy.readyState).toBe(WebSocket.OPEN)
    healthy.close()
  })

  it('past the cap on event sockets, the next is refused with 503', async () => {
    const open: WebSocket[] = []
    for (let i = 0; i < 3; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/api/events?token=${TOKEN}`)
      await new Promise((resolve, reject) => {
        ws.on('open', resolve)
        ws.on('error', reject)
      })
      open.push(ws)
    }
    const extra = await rawClient()
    extra.socket.write(upgrade)
    await extra.closed
    expect(extra.received()).toMatch(/^HTTP\/1\.1 503 /)
    for (const ws of open) ws.close()
  })
})
