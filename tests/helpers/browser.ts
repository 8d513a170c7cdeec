/**
 * Headless Chromium for end-to-end tests: Debian's /usr/bin/chromium driven by playwright-core
 * (never a downloaded browser). When none is installed the e2e suites skip, and `npm test`
 * says so loudly.
 */
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { CHROMIUM_FLAGS, findChromium } from '@core/reports/pdf'

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
