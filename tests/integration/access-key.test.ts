// The web mode's access key survives restarts (kept per data folder, 0600), is rotatable with a
// command while serving, and a key file others could read is replaced (issue 13, item 2). Real
// `nin-lab serve` and `nin-lab key` processes.
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { assertBuilt, runCli, startServe } from '../helpers/cli'

const health = async (origin: string, token: string): Promise<number> =>
  (await fetch(`${origin}/api/health`, { headers: { authorization: `Bearer ${token}` } })).status

const keyFile = (dataDir: string): string => join(dataDir, 'access-key')

beforeAll(() => assertBuilt())

describe('the access key of a data folder', () => {
  it('is kept in <data-dir>/access-key (0600) and is the same after a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'nin-lab-key-'))
    const first = await startServe(dataDir)
    let token: string
    try {
      token = first.token
      expect(readFileSync(keyFile(dataDir), 'utf8').trim()).toBe(token)
      if (process.platform !== 'win32') expect(statSync(keyFile(dataDir)).mode & 0o777).toBe(0o600)
      expect(await health(first.origin, token)).toBe(200)
    } finally {
      await first.stop()
    }
    const second = await startServe(dataDir)
    try {
      // A bookmark or an open tab holding the old address keeps working.
      expect(second.token).toBe(token)
      expect(await health(second.origin, token)).toBe(200)
    } finally {
      await second.stop()
    }
  })

  it('`key show` prints the address; `key rotate` replaces the key of a running server at once', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'nin-lab-key-'))
    const serve = await startServe(dataDir)
    try {
      const shown = runCli(['key', 'show', '--port', '7400', '--data-dir', dataDir])
      expect(shown.status).toBe(0)
      expect(shown.stdout.trim()).toBe(`http://127.0.0.1:7400/#token=${serve.token}`)

      const rotated = runCli(['key', 'rotate', '--data-dir', dataDir])
      expect(rotated.status).toBe(0)
      const fresh = /#token=([\w-]+)/.exec(rotated.stdout)?.[1]
      expect(fresh).toBeDefined()
      expect(fresh).not.toBe(serve.token)
      expect(rotated.stdout).toMatch(/the old one no longer opens the app/)
      // No restart: the server reads the rotated file at its next request.
      expect(await health(serve.origin, serve.token)).toBe(401)
      expect(await health(serve.origin, fresh!)).toBe(200)
    } finally {
      await serve.stop()
    }
  })

  it('`key rotate` closes event sockets opened with the old key; the new key opens them', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'nin-lab-key-'))
    const serve = await startServe(dataDir)
    const wsUrl = (token: string): string =>
      `${serve.origin.replace(/^http/, 'ws')}/api/events?token=${token}`
    const open = (token: string): Promise<WebSocket> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(wsUrl(token))
        ws.once('open', () => resolve(ws))
        ws.once('error', reject)
      })
    try {
      const old = await open(serve.token)
      const oldFrames: string[] = []
      old.on('message', (data: Buffer) => oldFrames.push(data.toString()))
      const closed = new Promise<{ code: number; reason: string }>((resolve) => {
        old.once('close', (code: number, reason: Buffer) =>
          resolve({ code, reason: reason.toString() }),
        )
        setTimeout(() => resolve({ code: 0, reason: 'still open after 10 s' }), 10_000).unref()
      })
      const rotated = runCli(['key', 'rotate', '--data-dir', dataDir])
      expect(rotated.status).toBe(0)
      const fresh = /#token=([\w-]+)/.exec(rotated.stdout)?.[1] as string
      // Closed without any request arriving (the server checks open sockets every second).
      const { code, reason } = await closed
      expect(code).toBe(4401)
      expect(reason).toMatch(/access key rotated/)

      const current = await open(fresh)
      const frame = new Promise<string>((resolve) =>
        current.once('message', (data: Buffer) => resolve(data.toString())),
      )
      const res = await fetch(`${serve.origin}/api/call/pauseQueue`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${fresh}` },
        body: '{}',
      })
      expect(res.status).toBe(200)
      expect(JSON.parse(await frame)).toMatchObject({ event: 'queueChanged' })
      expect(oldFrames).toEqual([])
      current.close()
    } finally {
      await serve.stop()
    }
  })

  it('refuses a bad subcommand and names the choices', () => {
    const r = runCli(['key', 'print', '--data-dir', mkdtempSync(join(tmpdir(), 'nin-lab-key-'))])
    expect(r.status).not.toBe(0)
    expect(r.stderr).toMatch(/key needs show or rotate \(got print\)/)
  })

  it('replaces a key file other users could read, and says why', async () => {
    if (process.platform === 'win32') return
    const dataDir = mkdtempSync(join(tmpdir(), 'nin-lab-key-'))
    const leaked = 'leakedleakedleakedleakedleaked'
    writeFileSync(keyFile(dataDir), `${leaked}\n`)
    chmodSync(keyFile(dataDir), 0o644)
    const serve = await startServe(dataDir)
    try {
      expect(serve.token).not.toBe(leaked)
      expect(serve.output()).toMatch(/readable by other users, so a new key replaced it/)
      expect(statSync(keyFile(dataDir)).mode & 0o777).toBe(0o600)
      expect(await health(serve.origin, leaked)).toBe(401)
    } finally {
      await serve.stop()
    }
  })
})
