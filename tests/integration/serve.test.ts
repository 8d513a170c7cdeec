import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, startServe, type ServeProcess } from '../helpers/cli'

let serve: ServeProcess

beforeAll(async () => {
  assertBuilt()
  serve = await startServe()
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

  it('never serves files outside the app folder', async () => {
    for (const path of [
      '/../package.json',
      '/%2e%2e/package.json',
      '/assets/%2e%2e/%2e%2e/package.json',
    ]) {
      const res = await fetch(`${serve.origin}${path}`)
      expect([403, 404]).toContain(res.status)
    }
  })
})
