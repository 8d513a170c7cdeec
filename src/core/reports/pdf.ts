/**
 * PDF from the HTML report with headless Chromium (the CLI and web mode; the desktop app uses
 * Electron's printToPDF instead). Chromium is found at $CHROMIUM_PATH or the usual places; when
 * there is none the error says what to install.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
]

/**
 * Headless Chromium on a machine without network access or a display: no sandbox (containers
 * run as root), no GPU, and none of the background connections that would time out here.
 */
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
] as const

export function findChromium(env: NodeJS.ProcessEnv = process.env): string | null {
  const explicit = env['CHROMIUM_PATH']
  if (explicit) return existsSync(explicit) ? explicit : null
  return CANDIDATES.find((p) => existsSync(p)) ?? null
}

export class PdfUnavailableError extends Error {
  constructor() {
    super(
      'PDF export needs Chromium, and none was found (looked at $CHROMIUM_PATH, ' +
        `${CANDIDATES.join(', ')}). Install it (Debian/Ubuntu: apt-get install -y chromium) or set ` +
        'CHROMIUM_PATH; or export --format html and print that from any browser.',
    )
    this.name = 'PdfUnavailableError'
  }
}

export function htmlToPdf(html: string, out: string): void {
  const chromium = findChromium()
  if (!chromium) throw new PdfUnavailableError()
  const dir = mkdtempSync(join(tmpdir(), 'nin-lab-pdf-'))
  try {
    const page = join(dir, 'report.html')
    writeFileSync(page, html)
    const r = spawnSync(
      chromium,
      [
        '--headless',
        ...CHROMIUM_FLAGS,
        `--user-data-dir=${join(dir, 'profile')}`,
        '--no-pdf-header-footer',
        `--print-to-pdf=${out}`,
        pathToFileURL(page).href,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    )
    if (!existsSync(out) || statSync(out).size === 0) {
      throw new Error(
        `Chromium did not write the PDF (exit ${r.status}): ${(r.stderr ?? '').trim().split('\n').slice(-2).join(' ')}`,
      )
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
