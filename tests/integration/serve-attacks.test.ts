// A real `nin-lab serve` training a real (tiny, tfjs) run while bad clients attack it over raw
// sockets and the `ws` client: oversized and malformed WebSocket frames, resets mid-handshake and
// mid-body, bodies over the limit, JSON nested 100,000 deep, a client that sends its headers too
// slowly. After each attack the server must still answer an ordinary authenticated call, and at
// the end the run it was training must have completed: a bad client never reaches the scheduler.
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mergeInput } from '@shared/config/overrides'
import { presetInput } from '@shared/config/presets'
import { assertBuilt, startServe, waitFor, type ServeProcess } from '../helpers/cli'

let serve: ServeProcess
let dataDir: string
let runId: string
let port: number
let stepsBefore: number | undefined

const call = (method: string, params: unknown): Promise<Response> =>
  fetch(`${serve.origin}/api/call/${method}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${serve.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(params),
  })

interface RunView {
  run: { status: string; error: string | null }
  progress: { epoch: number; stepInEpoch: number; stepsPerEpoch: number } | null
}
const runView = async (): Promise<RunView> =>
  (await (await call('getRun', { id: runId })).json()) as RunView

/** Training steps the run has taken so far (0 before its first). */
async function stepsTaken(): Promise<number> {
  const { progress: p } = await runView()
  return p === null ? 0 : (p.epoch - 1) * p.stepsPerEpoch + p.stepInEpoch
}

/** The server is up, answers an authenticated call, and its run is still alive. */
async function stillServing(): Promise<void> {
  expect(serve.exited(), serve.output()).toBeUndefined()
  const res = await call('queueState', {})
  expect(res.status).toBe(200)
  const state = (await res.json()) as { schedulerRunning: boolean }
  expect(state.schedulerRunning).toBe(true)
  expect((await runView()).run.status).toBe('running')
}

/** Polls an async check until it gives a value; undefined when `timeoutMs` passes first. */
async function poll<T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T | undefined> {
  for (const started = Date.now(); Date.now() - started < timeoutMs;) {
    const value = await check()
    if (value !== undefined) return value
    await new Promise((r) => setTimeout(r, 250))
  }
  return undefined
}

/** Opens a raw TCP connection to the server. */
function raw(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket))
    socket.on('error', reject)
  })
}

/** Sends `data` on a raw connection and collects what comes back until the server closes it. */
async function exchange(data: string | Buffer): Promise<string> {
  const socket = await raw()
  socket.removeAllListeners('error')
  return new Promise((resolve) => {
    let text = ''
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')))
    socket.on('error', () => resolve(text))
    socket.on('close', () => resolve(text))
    socket.write(data)
  })
}

const upgradeRequest = (token: string | null): string =>
  'GET /api/events' +
  (token === null ? '' : `?token=${token}`) +
  ' HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'

/** A masked client frame (RFC 6455 §5.2) with any opcode and payload. */
function frame(opcode: number, payload: Buffer): Buffer {
  const mask = Buffer.from([1, 2, 3, 4])
  const length =
    payload.length < 126
      ? Buffer.from([0x80 | payload.length])
      : Buffer.from([0x80 | 126, payload.length >> 8, payload.length & 0xff])
  const masked = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] as number)))
  return Buffer.concat([Buffer.from([0x80 | opcode]), length, mask, masked])
}

beforeAll(async () => {
  assertBuilt()
  dataDir = mkdtempSync(join(tmpdir(), 'nin-lab-serve-attacks-'))
  serve = await startServe(dataDir)
  port = Number(new URL(serve.origin).port)
  // Small-28 on all of Fashion-MNIST for five epochs: still training long after the attacks,
  // on any machine; the last test checks that it went on taking steps through them.
  const res = await call('addRuns', {
    experiment: 'under attack',
    base: mergeInput(presetInput('small-28'), {
      name: 'steady',
      engine: 'tfjs',
      train: { epochs: 5 },
    }),
    axes: [],
    seeds: 1,
  })
  expect(res.status).toBe(200)
  runId = ((await res.json()) as { added: { id: string }[] }).added[0]!.id
  // "running" is not enough: the trainer must be through its start-up and taking steps.
  stepsBefore = await poll(async () => {
    const steps = await stepsTaken()
    return steps > 0 ? steps : undefined
  }, 120_000)
  expect(stepsBefore, serve.output()).toBeGreaterThan(0)
}, 180_000)

afterAll(async () => {
  await serve?.stop()
  if (dataDir) rmSync(dataDir, { recursive: true, force: true })
})

describe('nin-lab serve under attack keeps serving and training', () => {
  it('a WebSocket message over 4 KiB closes that socket (1009), nothing else', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/events?token=${serve.token}`)
    await new Promise((resolve, reject) => {
      ws.on('open', resolve)
      ws.on('error', reject)
    })
    const code = await new Promise<number>((resolve) => {
      ws.on('close', (c) => resolve(c))
      ws.on('error', () => undefined)
      ws.send('x'.repeat(5000))
    })
    expect(code).toBe(1009)
    await stillServing()
  })

  it('a malformed frame (reserved opcode) and an unmasked frame close only that socket', async () => {
    for (const bad of [
      frame(0x3, Buffer.from('hi')),
      Buffer.from([0x81, 0x02, 0x68, 0x69]), // text frame without the mask clients must set
    ]) {
      const reply = await exchange(Buffer.concat([Buffer.from(upgradeRequest(serve.token)), bad]))
      expect(reply).toMatch(/^HTTP\/1\.1 101 /)
      await stillServing()
    }
  })

  it('resets during and right after the WebSocket handshake, with and without the token', async () => {
    for (const token of [serve.token, null]) {
      const socket = await raw()
      socket.on('error', () => undefined)
      socket.write(upgradeRequest(token))
      socket.resetAndDestroy()
      const half = await raw()
      half.on('error', () => undefined)
      half.write(upgradeRequest(token).slice(0, 40))
      half.resetAndDestroy()
    }
    await new Promise((r) => setTimeout(r, 300))
    await stillServing()
  })

  it('a body over 1 MiB gets a 413 with a JSON error, declared or chunked', async () => {
    const big = await fetch(`${serve.origin}/api/call/queueState`, {
      method: 'POST',
      headers: { authorization: `Bearer ${serve.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ padding: 'x'.repeat(2 << 20) }),
    })
    expect(big.status).toBe(413)
    expect(await big.json()).toEqual({
      code: 'invalid-params',
      message:
        'the request body is larger than the limit of 1.0 MiB (1,048,576 bytes); API calls are small: send less',
    })
    const chunk = 'y'.repeat(64 << 10)
    const chunks = Array.from({ length: 20 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`)
    const reply = await exchange(
      `POST /api/call/queueState HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${serve.token}\r\n` +
        'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' +
        chunks.join('') +
        '0\r\n\r\n',
    )
    expect(reply).toMatch(/^HTTP\/1\.1 413 /)
    expect(reply).toContain('"message":"the request body is larger than the limit of 1.0 MiB')
    await stillServing()
  })

  it('JSON nested 100,000 deep is a 400 that names the limit, not a stack overflow', async () => {
    const res = await fetch(`${serve.origin}/api/call/addRuns`, {
      method: 'POST',
      headers: { authorization: `Bearer ${serve.token}`, 'content-type': 'application/json' },
      body:
        '{"experiment":"x","axes":[],"seeds":1,"base":' +
        '['.repeat(100_000) +
        ']'.repeat(100_000) +
        '}',
    })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({
      code: 'invalid-params',
      message: 'the request body nests arrays and objects deeper than the limit of 64 levels',
    })
    await stillServing()
  })

  it('a client that goes away mid-body is dropped quietly', async () => {
    const socket = await raw()
    socket.on('error', () => undefined)
    socket.write(
      `POST /api/call/queueState HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${serve.token}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":',
    )
    await new Promise((r) => setTimeout(r, 100))
    socket.resetAndDestroy()
    await new Promise((r) => setTimeout(r, 300))
    await stillServing()
  })

  it('a client that never finishes its headers is cut off (the headers timeout)', async () => {
    const socket = await raw()
    socket.on('error', () => undefined)
    socket.write('GET /api/health HTTP/1.1\r\nHost: x\r\n')
    let reply = ''
    let closed = false
    socket.on('data', (d: Buffer) => (reply += d.toString('latin1')))
    socket.on('close', () => (closed = true))
    // Ordinary calls go on meanwhile.
    await stillServing()
    await waitFor(() => (closed ? true : undefined), 60_000, 'the server to drop the slow client')
    expect(reply).toMatch(/^HTTP\/1\.1 408 /)
    await stillServing()
  }, 90_000)

  it('the run it was training goes on taking steps after all of this', async () => {
    const before = stepsBefore ?? 0
    const after = await poll(async () => {
      const steps = await stepsTaken()
      return steps > before ? steps : undefined
    }, 120_000)
    expect(after, serve.output()).toBeGreaterThan(before)
    expect((await runView()).run).toMatchObject({ status: 'running', error: null })
    expect(serve.exited()).toBeUndefined()
  }, 150_000)
})
