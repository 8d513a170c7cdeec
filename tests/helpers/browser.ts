/**
 * Headless Chromium for end-to-end tests: Debian's /usr/bin/chromium driven by playwright-core
 * (never a downloaded browser). When none is installed the e2e suites skip, and `npm test`
 * says so loudly.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'

const CANDIDATES = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser']

export const chromiumPath: string | undefined = CANDIDATES.find(
  (p): p is string => !!p && existsSync(p),
)

export async function launchChromium(): Promise<Browser> {
  if (!chromiumPath) throw new Error('no Chromium: apt-get install -y chromium')
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // As root in a container Chromium needs --no-sandbox; the rest keep it off the network.
    // playwright-core gives every launch a fresh, empty profile directory of its own.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

export const RESULTS_DIR = join(import.meta.dirname, '../../test-results')
