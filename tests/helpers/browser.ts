/**
 * Headless Chromium for end-to-end tests: Debian's /usr/bin/chromium driven by playwright-core
 * (never a downloaded browser). When none is installed the e2e suites skip, and `npm test`
 * says so loudly.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { CHROMIUM_FLAGS, findChromium } from '@core/reports/pdf'
import { startServe, type ServeProcess } from './cli'

/** The same Chromium the PDF export uses ($CHROMIUM_PATH or the usual places). */
export const chromiumPath: string | undefined = findChromium() ?? undefined

export async function launchChromium(): Promise<Browser> {
  if (!chromiumPath) throw new Error('no Chromium: apt-get install -y chromium')
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // As root in a container Chromium needs --no-sandbox; the rest keep it off the network.
    // playwright-core gives every launch a fresh, empty profile directory of its own.
    args: [...CHROMIUM_FLAGS],
  })
}

export const RESULTS_DIR = join(import.meta.dirname, '../../test-results')

export interface OpenedApp {
  readonly serve: ServeProcess
  readonly browser: Browser
  readonly page: Page
}

/**
 * The end-to-end tests' one set-up: `nin-lab serve` on `dataDir`, Debian's Chromium, one page
 * of `viewport` opened at the app's address (with its key), and test-results/ there for the
 * screenshots. `problems` collects the page's uncaught exceptions and, unless `consoleErrors` is
 * false, its console errors. Nothing is left running when a step fails.
 */
export async function openApp(
  dataDir: string,
  opts: {
    viewport: { width: number; height: number }
    problems?: string[]
    consoleErrors?: boolean
  },
): Promise<OpenedApp> {
  mkdirSync(RESULTS_DIR, { recursive: true })
  const serve = await startServe(dataDir)
  let browser: Browser | undefined
  try {
    browser = await launchChromium()
    const page = await browser.newPage({ viewport: opts.viewport })
    const problems = opts.problems
    if (problems) {
      if (opts.consoleErrors !== false) {
        page.on('console', (m) => {
          if (m.type() === 'error') problems.push(m.text())
        })
      }
      page.on('pageerror', (e) => problems.push(e.message))
    }
    await page.goto(serve.url)
    return { serve, browser, page }
  } catch (err) {
    await browser?.close()
    await serve.stop()
    throw err
  }
}
