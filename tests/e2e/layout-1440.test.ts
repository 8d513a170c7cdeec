// The New experiment page at 1440 px (issue 23's rough edges): the blocks table's "×" buttons
// are not covered by the sticky Layers panel, with nin-c the layer table's MACs column is not
// clipped, and the Layers and cost panel stays in view while the training fields are edited.
// The built app under `nin-lab serve`, in Debian's Chromium; screenshots in test-results/.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { layerTable } from '@shared/architecture'
import { validateExperimentConfig } from '@shared/config/experiment'
import { presetInput } from '@shared/config/presets'
import { costTotals } from '@shared/cost'
import { int } from '@shared/format'
import { chromiumPath, openApp, RESULTS_DIR } from '../helpers/browser'
import { assertBuilt, type ServeProcess } from '../helpers/cli'

interface Box {
  x: number
  y: number
  width: number
  height: number
}
const overlaps = (a: Box, b: Box): boolean =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height

describe.skipIf(!chromiumPath)('New experiment at 1440 px', () => {
  let serve: ServeProcess
  let browser: Browser
  let page: Page

  beforeAll(async () => {
    assertBuilt()
    ;({ serve, browser, page } = await openApp(mkdtempSync(join(tmpdir(), 'nin-lab-1440-')), {
      viewport: { width: 1440, height: 900 },
    }))
    await page.getByTestId('preset').selectOption('nin-c')
    await page.getByTestId('layer-table').waitFor()
  })
  afterAll(async () => {
    await browser?.close()
    await serve?.stop()
  })

  it('keeps every "×" of the blocks table clear of the Layers panel', async () => {
    const panel = (await page.locator('.summary-col .panel').boundingBox()) as Box
    // The form ends where the panel begins: nothing of it runs on underneath.
    const formRight = await page.evaluate(() =>
      Math.max(
        ...[...document.querySelectorAll('form.config-form *')].map(
          (el) => el.getBoundingClientRect().right,
        ),
      ),
    )
    expect(formRight).toBeLessThanOrEqual(panel.x)
    const removes = page.locator('[data-testid^="field-model.blocks-remove-"]')
    expect(await removes.count()).toBe(5)
    for (const button of await removes.all()) {
      await button.scrollIntoViewIfNeeded()
      const box = (await button.boundingBox()) as Box
      const now = (await page.locator('.summary-col .panel').boundingBox()) as Box
      expect(overlaps(box, now), `× at x=${box.x} under the panel at x=${panel.x}`).toBe(false)
      // And it is the element a click there reaches.
      const hit = await page.evaluate(
        ([x, y]) =>
          document.elementFromPoint(x as number, y as number)?.getAttribute('data-testid'),
        [box.x + box.width / 2, box.y + box.height / 2],
      )
      expect(hit).toMatch(/^field-model\.blocks-remove-/)
    }
    // Whole, not scrolled sideways: the "#" and channels columns stay in view too.
    const table = page.locator('[data-testid="field-model.blocks"] .control')
    expect(await table.evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true)
    await page.screenshot({ path: join(RESULTS_DIR, 'e2e-1440-nin-c-blocks.png') })
  })

  it('shows the whole MACs column of nin-c without scrolling sideways', async () => {
    await page.evaluate(() => window.scrollTo(0, 0))
    const fits = await page
      .locator('.table-scroll')
      .evaluate((el) => el.scrollWidth <= el.clientWidth)
    expect(fits).toBe(true)
    const total = await page.locator('[data-testid=layer-table] tfoot td').last().textContent()
    // The whole total, as the cost model counts nin-c (one source: the preset may change).
    const ninC = validateExperimentConfig(presetInput('nin-c'))
    expect(total?.trim()).toBe(int(costTotals(layerTable(ninC.model), ninC.train).macs))
    await page.screenshot({ path: join(RESULTS_DIR, 'e2e-1440-nin-c-layers.png') })
  })

  it('shows a malformed permalink as "not a valid link", not a blank page', async () => {
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    // The key is in localStorage since the first visit: the bare origin opens the app.
    await page.goto(`${serve.origin}/#/runs/%`)
    await page.getByTestId('invalid-link').waitFor()
    expect(await page.getByTestId('invalid-link-hash').textContent()).toBe('#/runs/%')
    await page.screenshot({ path: join(RESULTS_DIR, 'e2e-invalid-link.png') })
    await page.getByTestId('invalid-link-runs').click()
    await page.getByRole('heading', { name: 'Runs' }).waitFor()
    expect(errors).toEqual([])
    await page.goto(`${serve.origin}/#/new`)
    await page.getByTestId('preset').selectOption('nin-c')
  })

  it('keeps the Layers and cost panel in view while editing the training fields', async () => {
    const epochs = page.getByTestId('field-train.epochs')
    await epochs.scrollIntoViewIfNeeded()
    await epochs.fill('12')
    const totals = (await page.getByTestId('totals').boundingBox()) as Box
    const viewport = page.viewportSize() as { width: number; height: number }
    expect(totals.y).toBeGreaterThanOrEqual(0)
    expect(totals.y + totals.height).toBeLessThanOrEqual(viewport.height)
    await page.screenshot({ path: join(RESULTS_DIR, 'e2e-1440-training-fields.png') })
  })
})
