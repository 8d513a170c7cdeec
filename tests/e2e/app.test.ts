// End to end: the built app served by `nin-lab serve`, in Debian's Chromium.
import { mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromiumPath, openApp, RESULTS_DIR } from '../helpers/browser'
import { assertBuilt, type ServeProcess } from '../helpers/cli'

describe.skipIf(!chromiumPath)('the app in Chromium (web mode)', () => {
  let serve: ServeProcess
  let browser: Browser
  let page: Page
  const consoleErrors: string[] = []

  beforeAll(async () => {
    assertBuilt()
    ;({ serve, browser, page } = await openApp(mkdtempSync(join(tmpdir(), 'nin-lab-serve-')), {
      viewport: { width: 1100, height: 900 },
      problems: consoleErrors,
    }))
  })
  afterAll(async () => {
    await browser?.close()
    await serve?.stop()
  })

  it('shows the d2l layer table and totals', async () => {
    await page.getByTestId('layer-table').waitFor()
    expect(await page.getByTestId('totals').textContent()).toContain('1,992,166 parameters')
    expect(await page.locator('[data-testid=layer-table] tbody tr').count()).toBe(17)
    await page.screenshot({ path: join(RESULTS_DIR, 'e2e-summary-d2l.png'), fullPage: true })
  })

  it('updates when another preset is picked', async () => {
    await page.getByTestId('preset').selectOption('small-28')
    expect(await page.getByTestId('totals').textContent()).toContain('148,390 parameters')
  })

  it('runs without console errors or CSP violations', () => {
    expect(consoleErrors).toEqual([])
  })
})
