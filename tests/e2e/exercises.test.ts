// End to end, as a student answering d2l §8.3 exercise 1: open Exercises, read the card (the
// question, the variants, the study and its time at each scale, what small-28 changes, d2l-scale
// costs), queue it at small scale with 2 seeds (tiny overrides so it trains in minutes), and
// watch the answer card fill in with its table, verdicts, conclusions and curves. `nin-lab
// serve` on a temp data folder trains the runs for real; Debian's Chromium drives the built UI.
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromiumPath, openApp, RESULTS_DIR } from '../helpers/browser'
import { assertBuilt, type ServeProcess } from '../helpers/cli'
import { seededTempDir } from '../helpers/datasets'

describe.skipIf(!chromiumPath)('an exercise in the app', () => {
  let serve: ServeProcess
  let dataDir: string
  let browser: Browser
  let page: Page
  const problems: string[] = []
  const shot = (name: string): Promise<Buffer> =>
    page.screenshot({ path: join(RESULTS_DIR, `e2e-${name}.png`), fullPage: true })

  beforeAll(async () => {
    assertBuilt()
    dataDir = await seededTempDir('nin-lab-e2e-exercise-')
    ;({ serve, browser, page } = await openApp(dataDir, {
      viewport: { width: 1360, height: 900 },
      problems,
    }))
  })
  afterAll(async () => {
    await browser?.close()
    await serve?.stop()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('shows exercise 1’s card: question, variants, study per scale, scale notes, d2l costs', async () => {
    await page.getByTestId('nav-exercises').click()
    await page.getByTestId('exercise-1').click()
    const card = page.getByTestId('exercise-card')
    await expect.poll(() => card.textContent()).toContain('How many 1×1 convolutions per block?')
    expect(await page.getByTestId('exercise-variants').textContent()).toContain('0 micro convs')
    await expect
      .poll(() => page.getByTestId('exercise-scales').textContent())
      .toMatch(/small-28.*8\s*exercise 1 \(small-28\)/)
    expect(await page.getByTestId('exercise-scale-notes').textContent()).toContain(
      'the last pooled feature map is 128×2×2, not 384×5×5',
    )
    expect(await page.getByTestId('exercise-d2l-costs').textContent()).toContain('1,992,166')
    expect(await page.getByTestId('answer-empty').textContent()).toContain('No runs in')
    await shot('exercises')
  })

  it('queues the study from the keyboard and opens its answer card as runs finish', async () => {
    await page.locator('details.overrides summary').click()
    await page
      .getByTestId('exercise-overrides')
      .fill('data.trainLimit=128\ndata.testLimit=64\ntrain.epochs=2\ntrain.batchSize=32')
    await page.getByTestId('exercise-overrides').blur()
    await page.getByTestId('exercise-seeds').fill('2')
    // Keyboard: focus the queue button and press Enter.
    await page.getByTestId('exercise-queue').focus()
    await page.keyboard.press('Enter')
    await expect
      .poll(() => page.getByTestId('exercise-queued').textContent())
      .toContain('Queued 8 runs into “exercise 1 (small-28)”')

    const card = page.getByTestId('answer-card')
    await card.waitFor({ timeout: 60_000 })
    // Every run finished: 2 per variant in the table, and a verdict for each comparison.
    await expect
      .poll(() => card.textContent(), { timeout: 600_000, interval: 2000 })
      .toMatch(/8 of 8 runs finished/)
    const rows = page.getByTestId('answer-groups').locator('tbody tr')
    expect(await rows.count()).toBe(4)
    for (let i = 0; i < 4; i++) {
      expect(await rows.nth(i).locator('td').first().textContent()).toBe('2')
    }
    const comparisons = await page.getByTestId('answer-comparisons').textContent()
    expect(comparisons).toMatch(/paired by seed/)
    expect(comparisons).toMatch(/larger than seed noise|within seed noise/)
    const conclusions = await page.getByTestId('answer-conclusions').textContent()
    expect(conclusions).toMatch(/Highest mean final test accuracy: .*, \d+\.\d% over 2 runs/)
    expect(conclusions).toMatch(/2 micro convs/)
    // The curves: a chart starts once it is near the viewport.
    const chart = page.getByTestId('chart-exercise-test-acc')
    await chart.scrollIntoViewIfNeeded()
    await chart.locator('canvas').first().waitFor({ timeout: 60_000 })
    await page.waitForTimeout(800)
    await card.screenshot({ path: join(RESULTS_DIR, 'e2e-exercise-answer.png') })
    await shot('exercises-answered')
    // Dark theme: the same card stays readable.
    await page.getByTestId('theme-toggle').click()
    const theme = await page.evaluate(() => document.documentElement.dataset['theme'])
    if (theme !== 'dark') await page.getByTestId('theme-toggle').click()
    await page.waitForTimeout(300)
    await card.screenshot({ path: join(RESULTS_DIR, 'e2e-exercise-answer-dark.png') })
    await page.getByTestId('theme-toggle').click()
    expect(problems).toEqual([])
  }, 900_000)

  it('measures the study’s speed in one sitting from the answer card', async () => {
    const speed = page.getByTestId('speed-benchmark')
    await speed.scrollIntoViewIfNeeded()
    await speed.locator('input[type=number]').fill('1')
    await speed.getByTestId('speed-measure').click()
    await expect
      .poll(() => speed.getByTestId('speed-progress').textContent())
      .toMatch(/of 4 measurements|starting/)
    // Done: the progress line goes away once all 4 measurements (4 configs × 1 round) are in.
    await expect
      .poll(() => speed.getByTestId('speed-progress').count(), { timeout: 600_000, interval: 2000 })
      .toBe(0)
    expect(await speed.getByTestId('speed-note').textContent()).toMatch(
      /Same sitting, interleaved, on \w+ · \w+; machine load [\d.]+–[\d.]+ on \d+ CPUs/,
    )
    const rows = speed.getByTestId('speed-table').locator('tbody tr')
    expect(await rows.count()).toBe(4)
    expect(await rows.nth(0).textContent()).toContain('model.microConvs=0')
    expect(await rows.nth(0).textContent()).toContain('baseline')
    expect(await rows.nth(1).textContent()).toMatch(/×\d+\.\d\d \(.* over 1 rounds\)/)
    await speed.screenshot({ path: join(RESULTS_DIR, 'e2e-exercise-speed.png') })
    expect(problems).toEqual([])
  }, 700_000)
})
