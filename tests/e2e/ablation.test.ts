// End to end, as a user: queue a 2×2 ablation grid in the app, watch it finish in Queue, select
// the runs in Runs, compare them. `nin-lab serve` on a temp data folder trains the runs for real
// (tiny subsets of Fashion-MNIST); Debian's Chromium drives the built UI.
import { mkdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromiumPath, launchChromium, RESULTS_DIR } from '../helpers/browser'
import { assertBuilt, startServe, type ServeProcess } from '../helpers/cli'

describe.skipIf(!chromiumPath)('an ablation in the app', () => {
  let serve: ServeProcess
  let browser: Browser
  let page: Page
  const problems: string[] = []
  const shot = (name: string): Promise<Buffer> =>
    page.screenshot({ path: join(RESULTS_DIR, `e2e-${name}.png`), fullPage: true })

  beforeAll(async () => {
    assertBuilt()
    mkdirSync(RESULTS_DIR, { recursive: true })
    serve = await startServe(mkdtempSync(join(tmpdir(), 'nin-lab-e2e-')))
    browser = await launchChromium()
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } })
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text())
    })
    page.on('pageerror', (e) => problems.push(e.message))
    await page.goto(serve.url)
  })
  afterAll(async () => {
    await browser?.close()
    await serve?.stop()
  })

  it('configures small-28 on a tiny subset with a microConvs × head grid', async () => {
    await page.getByTestId('nav-new').click()
    await page.getByTestId('preset').selectOption('small-28')
    const setNumber = async (path: string, value: number): Promise<void> => {
      const none = page.getByTestId(`field-${path}-none`)
      if ((await none.count()) > 0 && (await none.isChecked())) await none.uncheck()
      await page.getByTestId(`field-${path}`).fill(String(value))
    }
    await setNumber('data.trainLimit', 256)
    await setNumber('data.testLimit', 100)
    await setNumber('train.epochs', 2)
    await setNumber('train.batchSize', 32)
    await expect
      .poll(() => page.getByTestId('totals').textContent())
      .toContain('148,390 parameters')

    await page.getByTestId('axis-add').click()
    await page.getByTestId('axis-path-0').selectOption('model.microConvs')
    for (const v of ['0', '1', '2', '3']) {
      const box = page.getByTestId(`axis-value-0-${v}`)
      if ((await box.count()) > 0) await box.setChecked(v === '1' || v === '2')
    }
    await page.getByTestId('axis-add').click()
    await page.getByTestId('axis-path-1').selectOption('model.head')
    await page.getByTestId('axis-value-1-gap').setChecked(true)
    await page.getByTestId('axis-value-1-fc').setChecked(true)
    await expect.poll(() => page.getByTestId('axis-summary').textContent()).toMatch(/4 runs/)
    await page.getByTestId('experiment-name').fill('e2e ablation')
    await shot('new-experiment')
    await page.getByTestId('queue-submit').click()
    await expect.poll(() => page.getByTestId('queue-result').textContent()).toMatch(/4/)
  })

  it('shows the queue training and then empty', async () => {
    await page.getByTestId('nav-queue').click()
    await page.getByTestId('queue-row').first().waitFor({ timeout: 30_000 })
    // Training: a running row with live progress (epoch, step, loss, img/s).
    await expect
      .poll(() => page.getByTestId('queue-row').first().textContent(), {
        timeout: 60_000,
        interval: 200,
      })
      .toMatch(/running[\s\S]*img\/s/)
    await shot('queue')
    // All four train for real; the queue empties as they finish.
    await expect
      .poll(() => page.getByTestId('queue-row').count(), { timeout: 120_000, interval: 500 })
      .toBe(0)
  })

  it('lists the runs and compares them', async () => {
    await page.getByTestId('nav-runs').click()
    await expect.poll(() => page.getByTestId('run-row').count(), { timeout: 10_000 }).toBe(4)
    await expect
      .poll(() => page.getByTestId('engine-indicator').textContent())
      .toMatch(/trains on (torch · cpu|tfjs · wasm)/)
    await expect
      .poll(async () => (await page.getByTestId('run-row').allTextContents()).join('\n'))
      .toMatch(/completed/)
    for (const box of await page.getByTestId('run-select').all()) await box.check()
    await shot('runs')
    await page.getByTestId('compare-button').click()

    for (const chart of ['chart-train-loss', 'chart-test-acc']) {
      const el = page.getByTestId(chart)
      await el.waitFor()
      // ECharts draws into a canvas inside the chart container.
      await expect.poll(() => el.locator('canvas').count()).toBeGreaterThan(0)
    }
    const diff = page.getByTestId('diff-table')
    await diff.waitFor()
    const diffText = (await diff.textContent()) ?? ''
    expect(diffText).toContain('model.microConvs')
    expect(diffText).toContain('model.head')
    expect(diffText).not.toContain('model.inputSize') // shared by all four: not shown
    expect(await page.getByTestId('metrics-table').locator('tbody tr').count()).toBe(4)
    await shot('compare')
  })

  it('ran without console errors or CSP violations', () => {
    expect(problems).toEqual([])
  })
})

describe.skipIf(!chromiumPath)('the app without its token', () => {
  it('is refused by the API and says so', async () => {
    const serve = await startServe(mkdtempSync(join(tmpdir(), 'nin-lab-e2e-')))
    const browser = await launchChromium()
    try {
      const page = await browser.newPage()
      await page.goto(serve.origin + '/') // no #token=…
      const status = await page.evaluate(
        async () =>
          (
            await fetch('/api/call/queueState', {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: '{}',
            })
          ).status,
      )
      expect(status).toBe(401)
      await expect
        .poll(() => page.locator('body').textContent())
        .toMatch(/not authori[sz]ed|token/i)
      await page.screenshot({ path: join(RESULTS_DIR, 'e2e-no-token.png') })
    } finally {
      await browser.close()
      await serve.stop()
    }
  })
})
