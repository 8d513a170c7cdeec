import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request as httpRequest } from 'node:http'
import WebSocket from 'ws'
import { validateReport } from '@shared/report'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, startServe, type ServeProcess } from '../helpers/cli'

let serve: ServeProcess

beforeAll(async () => {
  assertBuilt()
  serve = await startServe(mkdtempSync(join(tmpdir(), 'nin-lab-serve-')))
})
afterAll(async () => {
  await serve?.stop()
})

describe('nin-lab serve', () => {
  it('listens on 127.0.0.1 and prints a URL with a token', () => {
    expect(serve.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(serve.token.length).toBeGreaterThanOrEqual(32)
  })

  it('serves the built app with a strict CSP', async () => {
    const res = await fetch(`${serve.origin}/`)
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('<div id="app">')
    const csp = res.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("default-src 'self'")
    expect(csp).toContain("script-src 'self'")
    expect(csp).not.toMatch(/https?:/)
  })

  it('refuses the API without the token or with a wrong one', async () => {
    expect((await fetch(`${serve.origin}/api/health`)).status).toBe(401)
    const wrong = await fetch(`${serve.origin}/api/health`, {
      headers: { authorization: 'Bearer nope' },
    })
    expect(wrong.status).toBe(401)
    const wrongQuery = await fetch(`${serve.origin}/api/health?token=${serve.token.slice(1)}`)
    expect(wrongQuery.status).toBe(401)
    // Refused before routing: an unknown endpoint without a token is 401, not 404.
    expect((await fetch(`${serve.origin}/api/no-such-thing`)).status).toBe(401)
  })

  it('answers the API with the token', async () => {
    const res = await fetch(`${serve.origin}/api/health`, {
      headers: { authorization: `Bearer ${serve.token}` },
    })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true, app: 'nin-lab' })
  })

  const call = (method: string, params: unknown, token = serve.token): Promise<Response> =>
    fetch(`${serve.origin}/api/call/${method}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(params),
    })

  it('refuses API calls without the token before looking at them', async () => {
    expect((await call('queueState', {}, 'wrong')).status).toBe(401)
    expect((await call('noSuchMethod', {}, 'wrong')).status).toBe(401)
  })

  it('validates parameters and names the field and the fix', async () => {
    const unknown = await call('queueState', { sneaky: 1 })
    expect(unknown.status).toBe(400)
    expect(await unknown.json()).toMatchObject({
      code: 'invalid-params',
      message: expect.stringMatching(/queueState takes no parameter "sneaky"/),
    })
    const badId = await call('getRun', { id: '../../etc/passwd' })
    expect(badId.status).toBe(400)
    expect(await badId.json()).toMatchObject({
      message: expect.stringMatching(/^id must be a run id/),
    })
    const badConfig = await call('addRuns', {
      experiment: 'x',
      base: { model: { microConvs: 5 } },
      axes: [],
      seeds: 1,
    })
    expect(badConfig.status).toBe(422)
    expect(await badConfig.json()).toMatchObject({
      code: 'invalid-config',
      issues: [
        {
          path: 'model.microConvs',
          message: 'model.microConvs must be an integer from 0 to 3 (got 5)',
        },
      ],
    })
    expect((await call('nope', {})).status).toBe(404)
    const notJson = await fetch(`${serve.origin}/api/call/queueState`, {
      method: 'POST',
      headers: { authorization: `Bearer ${serve.token}`, 'content-type': 'application/json' },
      body: '{oops',
    })
    expect(notJson.status).toBe(400)
  })

  it('refuses an event socket without the token', async () => {
    const ws = new WebSocket(`${serve.origin.replace('http', 'ws')}/api/events`)
    const status = await new Promise<number | undefined>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode))
      ws.on('open', () => resolve(200))
      ws.on('error', () => resolve(undefined))
    })
    expect(status).toBe(401)
  })

  it('queues runs and pushes the event to sockets with the token', async () => {
    const ws = new WebSocket(
      `${serve.origin.replace('http', 'ws')}/api/events?token=${serve.token}`,
    )
    await new Promise((resolve, reject) => {
      ws.on('open', resolve)
      ws.on('error', reject)
    })
    const frames: { event: string }[] = []
    ws.on('message', (data: Buffer) =>
      frames.push(JSON.parse(data.toString()) as { event: string }),
    )
    // Paused first, so this server's scheduler does not start training them.
    expect((await call('pauseQueue', {})).status).toBe(200)
    const res = await call('addRuns', {
      experiment: 'api test',
      base: {
        name: 'tiny',
        model: { inputSize: 28, blocks: [{ channels: 8, kernel: 3, stride: 1, padding: 1 }] },
      },
      axes: [{ path: 'model.microConvs', values: [1, 2] }],
      seeds: 1,
    })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { added: { name: string }[]; skipped: number }
    expect(body.added.map((r) => r.name)).toEqual(['tiny-m1', 'tiny-m2'])
    await new Promise((r) => setTimeout(r, 200))
    expect(frames.map((f) => f.event)).toContain('runQueued')
    const state = (await (await call('queueState', {})).json()) as {
      paused: boolean
      runs: unknown[]
    }
    expect(state.paused).toBe(true)
    expect(state.runs).toHaveLength(2)
    ws.close()
  })

  it('estimates the time per epoch: none without history, then by timing a few steps', async () => {
    const config = {
      engine: 'tfjs',
      model: { inputSize: 28, blocks: [{ channels: 8, kernel: 3, stride: 1, padding: 1 }] },
      data: { trainLimit: 1000 },
      train: { batchSize: 16 },
    }
    const none = (await (await call('estimateEpoch', { config })).json()) as {
      basis: string
      secondsPerEpoch: number | null
    }
    expect(none).toMatchObject({ basis: 'none', secondsPerEpoch: null })
    const measured = (await (await call('measureEpoch', { config })).json()) as {
      basis: string
      secondsPerEpoch: number
      imagesPerSecond: number
      backend: string
    }
    expect(measured).toMatchObject({ basis: 'measured', backend: 'wasm' })
    expect(measured.imagesPerSecond).toBeGreaterThan(0)
    expect(measured.secondsPerEpoch).toBeCloseTo(1000 / measured.imagesPerSecond, 6)
    const bad = await call('measureEpoch', { config: { model: { inputSize: 8 } } })
    expect(bad.status).toBe(422)
  })

  it('exports a report of queued runs for download', async () => {
    const state = (await (await call('queueState', {})).json()) as { runs: { id: string }[] }
    const ids = state.runs.map((r) => r.id)
    const res = await call('exportReport', { ids, format: 'json' })
    expect(res.status).toBe(200)
    const { files } = (await res.json()) as {
      files: { name: string; mimeType: string; base64: string }[]
    }
    expect(files).toHaveLength(1)
    expect(files[0]).toMatchObject({
      // Named after the runs' experiment ("x", "api test"), not nin-lab-report-<date>.
      name: expect.stringMatching(/^(x|api-test)(-and-1-more)?-report-\d{4}-\d{2}-\d{2}\.json$/),
      mimeType: 'application/json',
    })
    const report = JSON.parse(Buffer.from(files[0]!.base64, 'base64').toString('utf8')) as unknown
    expect(validateReport(report)).toEqual([])
    const csv = (await (await call('exportReport', { ids, format: 'csv' })).json()) as {
      files: { name: string }[]
    }
    expect(csv.files.map((f) => f.name)).toEqual([
      expect.stringMatching(/\.csv$/),
      expect.stringMatching(/-metrics\.csv$/),
      expect.stringMatching(/-groups\.csv$/),
    ])
    expect((await call('exportReport', { ids, format: 'docx' })).status).toBe(400)
  })

  it('never serves files outside the app folder', async () => {
    // Sent as raw request lines: fetch would normalise the dots away before they reach us.
    const raw = (path: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = httpRequest(`${serve.origin}/`, { path }, (res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
        })
        req.on('error', reject)
        req.end()
      })
    // Plain and %2e dots are resolved by URL parsing inside the app folder: not found there.
    expect(await raw('/../package.json')).toBe(404)
    expect(await raw('/%2e%2e/package.json')).toBe(404)
    // Encoded slashes survive URL parsing and decode to ../../package.json: refused.
    expect(await raw('/..%2f..%2fpackage.json')).toBe(403)
    expect(await raw('/assets/..%2f..%2f..%2fpackage.json')).toBe(403)
  })
})
