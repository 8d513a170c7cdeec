// End to end: heartbeats the head ignores, as a user sees them. `nin-lab serve` on a data folder
// whose Redis (a real redis-server) holds one real-looking heartbeat nobody signed, a malformed one
// and one whose name is hostile text; the Queue view in Debian's Chromium lists all three under the
// fleet panel with the name each gives — hidden characters marked, markup shown as text — and why.
// Screenshot in test-results/e2e-fleet-ignored.png.
import { mkdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisOptions } from '@core/queue/redis'
import { workerKey } from '@shared/protocol/worker'
import { chromiumPath, launchChromium, RESULTS_DIR } from '../helpers/browser'
import { assertBuilt, startServe, type ServeProcess } from '../helpers/cli'
import { REDIS_SERVER, startRedis, type RedisServer } from '../helpers/redis'

describe.skipIf(!chromiumPath || !REDIS_SERVER)('ignored heartbeats in the app', () => {
  let redis: RedisServer
  let client: Redis
  let serve: ServeProcess
  let browser: Browser
  let page: Page
  const problems: string[] = []

  beforeAll(async () => {
    assertBuilt()
    mkdirSync(RESULTS_DIR, { recursive: true })
    redis = await startRedis()
    client = new Redis(redisOptions(redis.url))
    const beat = {
      name: 'gpu-box',
      host: 'gpu-box',
      pid: 1,
      slots: 1000,
      gpus: [],
      running: [],
      offers: 'torch cuda',
      version: '0.1.0',
      startedAt: 0,
      beatAt: 0,
      draining: false,
    }
    await client.set(workerKey('gpu-box'), JSON.stringify(beat))
    await client.set(workerKey('evil'), '{"name":"evil"}')
    await client.set(workerKey('<b>bold</b>\u202Eexe.txt'), `v1.${'0'.repeat(64)}.{}`)
    serve = await startServe(mkdtempSync(join(tmpdir(), 'nin-lab-e2e-fleet-')), [], {
      NIN_LAB_REDIS: redis.url,
    })
    browser = await launchChromium()
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text())
    })
    page.on('pageerror', (e) => problems.push(e.message))
    await page.goto(serve.url)
    await page.evaluate(() => (location.hash = '#/queue'))
  })

  afterAll(async () => {
    await browser?.close()
    await serve?.stop()
    client?.disconnect()
    await redis?.stop()
  })

  it('lists each with the name it gives and why, and no worker', async () => {
    const panel = page.getByTestId('ignored-beats')
    await panel.waitFor()
    await page.getByTestId('fleet').scrollIntoViewIfNeeded()
    await page.screenshot({ path: join(RESULTS_DIR, 'e2e-fleet-ignored.png'), fullPage: true })
    expect(await panel.locator('p').textContent()).toContain('3 heartbeats ignored')
    const items = (await page.getByTestId('ignored-beat').allTextContents()).map((t) =>
      t.replace(/\s+/g, ' ').trim(),
    )
    expect(items).toHaveLength(3)
    expect(items.join('\n')).toContain('<b>bold</b>⟨U+202E⟩exe.txt: ')
    expect(items.join('\n')).toMatch(/^evil: not a signed envelope/m)
    expect(items.join('\n')).toMatch(/^gpu-box: not a signed envelope/m)
    expect(await panel.locator('b').count()).toBe(0)
    expect(await page.getByTestId('worker-row').count()).toBe(0)
    expect(problems).toEqual([])
  })
})
