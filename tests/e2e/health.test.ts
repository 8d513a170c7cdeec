// End to end: run health and reuse as a user sees them. Two tiny runs trained for real by
// `nin-lab run` (tfjs, Fashion-MNIST subsets) — one on the ln 10 plateau, one that learns — the
// learning one linked into a second experiment by `nin-lab queue add --link`, then `nin-lab serve`
// in Debian's Chromium: Queue lists the chance run under Needs attention with its badge and
// reason, Runs shows the badges, Run detail says why and marks the linked run. Screenshots in
// test-results/e2e-health-*.png.
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromiumPath, openApp, RESULTS_DIR } from '../helpers/browser'
import { assertBuilt, runCli, type ServeProcess } from '../helpers/cli'
import { seededTempDir } from '../helpers/datasets'

/** small-28 narrowed to seconds per epoch (as tests/integration/health.test.ts). */
const TINY = [
  '--preset',
  'small-28',
  '--set',
  'engine=tfjs',
  '--set',
  'model.blocks=[{"channels":8,"kernel":5,"stride":1,"padding":2},{"channels":16,"kernel":3,"stride":1,"padding":1},{"channels":32,"kernel":3,"stride":1,"padding":1}]',
  '--set',
  'data.testLimit=200',
  '--set',
  'train.batchSize=32',
]
const CHANCE = [...TINY, '--set', 'data.trainLimit=640', '--set', 'train.optimizer=sgd']
const LEARNS = [...TINY, '--set', 'data.trainLimit=1280', '--set', 'train.lr=0.005']

describe.skipIf(!chromiumPath)('run health and reuse in the app', () => {
  let dataDir = ''
  let serve: ServeProcess
  let browser: Browser
  let page: Page
  const problems: string[] = []
  const ids: Record<string, string> = {}
  const shot = (name: string): Promise<Buffer> =>
    page.screenshot({ path: join(RESULTS_DIR, `e2e-health-${name}.png`), fullPage: true })

  beforeAll(async () => {
    assertBuilt()
    mkdirSync(RESULTS_DIR, { recursive: true })
    dataDir = await seededTempDir('nin-lab-e2e-health-')
    const train = (name: string, args: string[]): string => {
      const r = runCli([
        'run',
        '--data-dir',
        dataDir,
        '--experiment',
        'exercise 1',
        '--set',
        `name=${name}`,
        '--set',
        'train.epochs=2',
        '--json',
        ...args,
      ])
      const id = /"id":"(r\w+)"/.exec(r.stdout)?.[1]
      if (!id) throw new Error(`no run (exit ${r.status}):\n${r.stdout}\n${r.stderr}`)
      return id
    }
    ids['chance'] = train('sgd-0.05', CHANCE)
    ids['learns'] = train('adam-0.005', LEARNS)
    const link = runCli([
      'queue',
      'add',
      '--data-dir',
      dataDir,
      '--experiment',
      'exercise 2',
      '--set',
      'name=adam-0.005',
      '--set',
      'train.epochs=2',
      '--link',
      '--json',
      ...LEARNS,
    ])
    expect(link.status, link.stderr).toBe(0)
    const linked = (JSON.parse(link.stdout) as { linked: { id: string }[] }).linked
    ids['linked'] = linked[0]?.id ?? ''
    ;({ serve, browser, page } = await openApp(dataDir, {
      viewport: { width: 1360, height: 800 },
      problems,
    }))
  }, 300_000)
  afterAll(async () => {
    await browser?.close()
    await serve?.stop()
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  })

  it('Queue lists the completed chance run under Needs attention, saying why', async () => {
    await page.getByTestId('nav-queue').click()
    const row = page.locator(`[data-testid="attention-row"][data-run-id="${ids['chance']}"]`)
    await row.waitFor()
    expect(await row.getByTestId('status-badge').textContent()).toBe('completed')
    expect(await row.getByTestId('health-badge').textContent()).toBe('at chance')
    expect(await row.textContent()).toContain('≈ ln 10')
    // The learning run needs no attention.
    expect(await page.locator(`[data-run-id="${ids['learns']}"]`).count()).toBe(0)
    await shot('queue')
  })

  it('Runs shows the badge beside the status', async () => {
    await page.getByTestId('nav-runs').click()
    const row = page.locator(`[data-testid="run-row"][data-run-id="${ids['chance']}"]`)
    await row.waitFor()
    expect(await row.getByTestId('health-badge').textContent()).toBe('at chance')
    await shot('runs')
  })

  it('Run detail says why and what to do; a linked run says where it was trained', async () => {
    await page.goto(`${serve.origin}/#/runs/${ids['chance'] ?? ''}`)
    await page.getByTestId('run-health').waitFor()
    expect(await page.getByTestId('run-health').textContent()).toContain('lower train.lr')
    await shot('run-detail-chance')
    await page.goto(`${serve.origin}/#/runs/${ids['linked'] ?? ''}`)
    await page.getByTestId('run-linked').waitFor()
    const mark = (await page.getByTestId('run-linked').textContent()) ?? ''
    expect(mark).toContain(`linked from experiment exercise 1 (run ${ids['learns'] ?? ''})`)
    await shot('run-detail-linked')
    expect(problems).toEqual([])
  })
})
