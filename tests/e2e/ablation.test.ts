// End to end, as a user: queue a 2×2 ablation grid in the app, watch it finish in Queue, select
// the runs in Runs, compare them (metric picker, zoom, parallel coordinates), clone a run into the
// form, and restart the server: the same tab and a bookmark keep working with the same key, and a
// rotated key shows the access-key screen until the new address is pasted. `nin-lab serve` on a
// temp data folder trains the runs for real (tiny subsets of Fashion-MNIST); Debian's Chromium
// drives the built UI.
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromiumPath, launchChromium, openApp, RESULTS_DIR } from '../helpers/browser'
import { assertBuilt, runCli, startServe, type ServeProcess } from '../helpers/cli'
import { seededTempDir } from '../helpers/datasets'

describe.skipIf(!chromiumPath)('an ablation in the app', () => {
  let serve: ServeProcess
  let dataDir: string
  let browser: Browser
  let page: Page
  const problems: string[] = []
  const shot = (name: string): Promise<Buffer> =>
    page.screenshot({ path: join(RESULTS_DIR, `e2e-${name}.png`), fullPage: true })

  beforeAll(async () => {
    assertBuilt()
    dataDir = await seededTempDir('nin-lab-e2e-')
    ;({ serve, browser, page } = await openApp(dataDir, {
      viewport: { width: 1360, height: 900 },
      problems,
    }))
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
    // Training: a running row with live progress (epoch, step, loss, img/s). The bounds are for
    // hangs, not speed: PyTorch 2 takes ~10 s to import on a loaded 2-core machine, twice (the
    // engine probe, then the trainer) before a first step.
    await expect
      .poll(() => page.getByTestId('queue-row').first().textContent(), {
        timeout: 180_000,
        interval: 200,
      })
      .toMatch(/running[\s\S]*img\/s/)
    await shot('queue')
    // All four train for real; the queue empties as they finish.
    await expect
      .poll(() => page.getByTestId('queue-row').count(), { timeout: 600_000, interval: 500 })
      .toBe(0)
  }, 900_000)

  it('lists the runs and compares them', async () => {
    await page.getByTestId('nav-runs').click()
    await expect.poll(() => page.getByTestId('run-row').count(), { timeout: 10_000 }).toBe(4)
    await expect
      .poll(() => page.getByTestId('engine-indicator').textContent(), { timeout: 60_000 })
      .toMatch(/trains on (torch · cpu|tfjs · wasm)/)
    await expect
      .poll(async () => (await page.getByTestId('run-row').allTextContents()).join('\n'))
      .toMatch(/completed/)
    for (const box of await page.getByTestId('run-select').all()) await box.check()
    await shot('runs')
    await page.getByTestId('compare-button').click()

    // The default charts: step loss, test accuracy, test loss, train accuracy (metric-info.ts).
    for (const chart of ['chart-0-train-step_loss', 'chart-1-test-acc']) {
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

  it('picks another metric for a chart, zooms all charts together, draws parallel coordinates', async () => {
    await page.getByTestId('chart-metric-0').selectOption('train/step_acc')
    const picked = page.getByTestId('chart-0-train-step_acc')
    await picked.waitFor()
    await expect.poll(() => picked.locator('canvas').count()).toBeGreaterThan(0)

    // The wheel over a chart zooms its x axis (ECharts dataZoom, inside); every chart follows.
    expect(await page.getByTestId('zoom-reset').count()).toBe(0)
    const box = (await picked.locator('canvas').first().boundingBox())!
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2)
    for (let i = 0; i < 5; i++) await page.mouse.wheel(0, -240)
    await page.getByTestId('zoom-reset').waitFor({ timeout: 10_000 })
    await shot('compare-zoomed')
    await page.getByTestId('zoom-reset').click()
    await expect.poll(() => page.getByTestId('zoom-reset').count()).toBe(0)

    const parallel = page.getByTestId('chart-parallel')
    await parallel.scrollIntoViewIfNeeded()
    await expect.poll(() => parallel.locator('canvas').count()).toBeGreaterThan(0)
    await shot('compare-parallel')
  })

  it('downloads a finished run’s model as safetensors (Run detail → Download model)', async () => {
    await page.getByTestId('nav-runs').click()
    await page.getByTestId('run-link').first().click()
    await page.getByTestId('model-format').selectOption('safetensors')
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByTestId('model-download-button').click(),
    ])
    expect(download.suggestedFilename()).toMatch(/-model\.safetensors$/)
    const bytes = readFileSync((await download.path())!)
    // safetensors: an 8-byte header length, then a JSON header carrying NiN Lab's metadata.
    const header = bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8')
    expect(JSON.parse(header).__metadata__.format).toBe('nin-lab-safetensors')
    await expect
      .poll(() => page.getByTestId('model-download-message').textContent())
      .toMatch(/^Saved .*-model\.safetensors$/)
    await shot('run-detail-download-model')
  })

  it('clones a finished run into the New experiment form', async () => {
    await page.getByTestId('nav-runs').click()
    const link = page.getByTestId('run-link').first()
    const name = ((await link.textContent()) ?? '').trim()
    await link.click()
    await page.getByTestId('run-clone').click()
    await expect
      .poll(() => page.getByTestId('draft-origin').textContent())
      .toContain(`Cloned from run ${name}`)
    // The study's name does not carry over into the new experiment.
    expect(await page.getByTestId('experiment-name').inputValue()).toBe('')
    expect(await page.getByTestId('field-data.trainLimit').inputValue()).toBe('256')
    await shot('clone')
  })

  it('ran without console errors or CSP violations (up to the restart)', () => {
    expect(problems).toEqual([])
  })

  it('keeps working after a restart with the same key; a rotated key asks for the new address', async () => {
    const port = new URL(serve.origin).port
    const before = problems.length
    await serve.stop()
    // Same data folder, same port: the same origin, so the tab keeps its stored key.
    serve = await startServe(dataDir, ['--port', port])
    expect(serve.origin).toBe(`http://127.0.0.1:${port}`)
    await page.goto(`${serve.origin}/#/runs`) // a bookmark: no #token=
    await expect.poll(() => page.getByTestId('run-row').count(), { timeout: 15_000 }).toBe(4)
    expect(await page.getByTestId('access-key-screen').count()).toBe(0)

    const rotated = runCli(['key', 'rotate', '--data-dir', dataDir, '--port', port])
    expect(rotated.status, rotated.stderr).toBe(0)
    const address = rotated.stdout.trim().split('\n').at(-1)!
    await page.reload()
    await page.getByTestId('access-key-screen').waitFor({ timeout: 15_000 })
    await shot('access-key-screen')
    await page.getByTestId('access-key-input').fill(address)
    await page.getByTestId('access-key-submit').click()
    await expect
      .poll(() => page.getByTestId('access-key-screen').count(), { timeout: 15_000 })
      .toBe(0)
    await page.getByTestId('nav-runs').click()
    await expect.poll(() => page.getByTestId('run-row').count(), { timeout: 15_000 }).toBe(4)
    // The only errors: the server away while it restarts, and the rotated key refused once.
    expect(
      problems
        .slice(before)
        .filter((p) => !/ERR_CONNECTION_REFUSED|HTTP Authentication failed|\b401\b/.test(p)),
    ).toEqual([])
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
