// The ablation section of every report format, from a study with a run stuck at chance, two
// experiments whose runs share names, and a hostile name: statistics beside each group, the
// noise stated, wall-clock time without a Δ, caveats next to the numbers they affect, and no
// literal ⟨U+000A⟩ (the marker once applied to a line break the report inserted itself). The
// HTML is rendered in Chromium and the PDF through pdftoppm; both pictures go to test-results/.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Window } from 'happy-dom'
import { describe, expect, it } from 'vitest'
import { ablation } from '@shared/ablation'
import { layerSummary, layerTable } from '@shared/architecture'
import { validateExperimentConfig } from '@shared/config/experiment'
import { costTotals } from '@shared/cost'
import type { RunHealth } from '@shared/health'
import { REPORT_SCHEMA_VERSION, validateReport, type Report, type ReportRun } from '@shared/report'
import { groupsCsv, runsCsv } from '@core/reports/csv'
import { exportReport } from '@core/reports/export'
import { renderHtml } from '@core/reports/html'
import { renderMarkdown } from '@core/reports/markdown'
import { findChromium } from '@core/reports/pdf'
import { RESULTS_DIR, launchChromium } from '../helpers/browser'

const HOSTILE = 'm1 <b>bold</b>\u202e'
const ok: RunHealth = { status: 'ok', reason: 'learning', moreEpochs: null }
const chance: RunHealth = {
  status: 'chance',
  reason: 'test accuracy 10.0% = chance (1/10); train loss 2.3026 ≈ ln 10',
  moreEpochs: null,
}

function reportRun(
  id: string,
  name: string,
  experiment: string,
  model: Record<string, unknown>,
  seed: number,
  acc: number,
  health: RunHealth,
  seconds: number,
): ReportRun {
  const config = validateExperimentConfig({ name, model, train: { seed, epochs: 2 } })
  const layers = layerTable(config.model)
  const cost = costTotals(layers, config.train)
  return {
    id,
    name,
    experiment,
    status: 'completed',
    notes: '',
    tags: [],
    config,
    engine: 'torch',
    backend: 'cpu',
    precision: 'fp32',
    host: 'here',
    versions: null,
    params: cost.params,
    macs: cost.macs,
    trainMemoryBytes: cost.memory.training.total,
    predictionMemoryBytes: cost.memory.prediction.batch,
    secondsPerEpoch: seconds,
    finalTestAcc: acc,
    bestTestAcc: acc,
    health,
    epochs: [1, 2].map((epoch) => ({
      epoch,
      trainLoss: health.status === 'chance' ? 2.3026 : 1 / epoch,
      trainAcc: health.status === 'chance' ? 0.1 : acc - 0.05,
      testLoss: health.status === 'chance' ? 2.3026 : 1 / epoch,
      testAcc: health.status === 'chance' ? 0.1 : acc - (2 - epoch) * 0.05,
      seconds,
      examplesPerSec: 100,
    })),
    classNames: null,
    perClassAccuracy: null,
    layers: layers.map(layerSummary),
    metrics: {},
  }
}

function study(): Report {
  const runs = [
    reportRun('ra', 'nin-s0', 'ex1', { microConvs: 2 }, 0, 0.81, ok, 12),
    reportRun('rb', 'nin-s1', 'ex1', { microConvs: 2 }, 1, 0.79, ok, 29),
    reportRun('rc', HOSTILE, 'ex1', { microConvs: 1 }, 0, 0.71, ok, 7),
    reportRun('rd', 'nin-s1', 'ex3', { microConvs: 1 }, 1, 0.1, chance, 4),
    reportRun('re', 'nin-s0', 'ex3', { microConvs: 0 }, 0, 0.62, ok, 5),
  ]
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    title: 'Exercise 1: micro convs',
    createdAt: '2026-12-07T21:00:00.000Z',
    generator: 'NiN Lab test',
    environment: { engines: ['torch'], backends: ['cpu'], hosts: ['here'], versions: {} },
    runs,
    configDiff: [],
    ablation: ablation(runs.map((r) => ({ ...r, health: r.health?.status ?? null }))),
  }
}

describe('the ablation in every report format', () => {
  const report = study()

  it("is valid JSON of this schema version, with the issue's comparison shape", () => {
    const doc = JSON.parse(JSON.stringify(report)) as Report
    expect(validateReport(doc)).toEqual([])
    const c = doc.ablation.comparison
    expect(c.by).toEqual(['model.microConvs'])
    expect(c.groups.map((g) => g.label)).toEqual(['microConvs 0', 'microConvs 1', 'microConvs 2'])
    expect(c.groups[c.baselineIndex ?? -1]?.label).toBe('microConvs 2')
    expect(c.groups[1]?.health).toEqual({ chance: 1, notConverged: 0 })
    expect(c.comparisons.map((x) => x.verdict)).toEqual(['no-estimate', 'within-noise'])
  })

  it('HTML: statistics, noise, caveats and wall-clock without Δ; no ⟨U+000A⟩; user text escaped', async () => {
    const html = renderHtml(report, [])
    expect(html).not.toContain('U+000A')
    const doc = new Window().document
    doc.write(html)
    const table = doc.querySelector('table[data-table="ablation"]')!
    const text = table.textContent
    expect(text).toContain('Δ\u00a0−39.50 pp') // microConvs 1 (0.71, 0.10) − 2 (0.81, 0.79)
    expect(text).toContain('within seed noise')
    expect(text).toContain('1 of 2 at chance')
    expect(text).toContain('one seed: no estimate of noise, add seeds')
    expect(text).toMatch(/95% CI \[−\d+\.\d\d, \+\d+\.\d\d\] pp/)
    expect(text).toContain('paired by seed, Holm p')
    // Wall-clock time per epoch is shown but never compared.
    const header = [...table.querySelectorAll('th')].map((th) => th.textContent)
    const wall = header.indexOf('wall-clock / epoch¹')
    expect(wall).toBeGreaterThan(0)
    for (const row of table.querySelectorAll('tbody tr'))
      expect(row.querySelectorAll('td')[wall]?.textContent).toMatch(/^\d+\.\d s$/)
    expect(doc.body.textContent).toMatch(/Seed-to-seed noise: .* varies by \d+\.\d\d pp/)
    expect(doc.body.textContent).toContain('from different sittings')
    // The run table: the chance run's accuracy carries its caveat; repeated names their experiment.
    expect(doc.querySelector('table[data-table="runs"]')!.textContent).toContain('10.00%at chance')
    expect(html).toContain('m1 &lt;b&gt;bold&lt;/b&gt;⟨U+202E⟩')
    expect(doc.querySelectorAll('b')).toHaveLength(0)

    if (!findChromium()) return
    mkdirSync(RESULTS_DIR, { recursive: true })
    const browser = await launchChromium()
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } })
      await page.setContent(html)
      const section = page.locator('table[data-table="ablation"]')
      await section.screenshot({ path: join(RESULTS_DIR, 'report-ablation-html.png') })
    } finally {
      await browser.close()
    }
  })

  it('Markdown: the same cells on one line each, no ⟨U+000A⟩', () => {
    const md = renderMarkdown(report, [])
    expect(md).not.toContain('U+000A')
    expect(md).toMatch(/## Ablation\n/)
    const row = md.split('\n').find((l) => l.startsWith('| 1 |'))
    expect(row).toContain('Δ\u00a0−39.50 pp 95% CI \\[−')
    expect(row).toContain('within seed noise 1 of 2 at chance')
    expect(md).toContain('Seed-to-seed noise:')
  })

  it('CSV: one row per group with its statistics, health beside each run', () => {
    const groups = groupsCsv(report).trim().split('\r\n')
    expect(groups[0]).toBe(
      'model.microConvs,runs,n,mixes,at_chance,not_converged,final_test_acc_mean,final_test_acc_std,final_test_acc_ci95_low,final_test_acc_ci95_high,baseline,diff,diff_ci95_low,diff_ci95_high,paired,p,p_holm,verdict,wall_clock_seconds_per_epoch',
    )
    expect(groups[2]).toMatch(/^1,2,2,,1,0,0\.40(5|49999)/)
    expect(groups[2]).toMatch(/,true,[\d.e-]+,[\d.e-]+,within-noise,5\.5$/)
    expect(groups[3]).toMatch(/^2,2,2,,0,0,0\.8.*,true,,,,,,,,20\.5$/)
    const runs = runsCsv(report).split('\r\n')
    expect(runs[0]).toContain('final_test_acc,health,health_reason')
    expect(runs[4]).toContain('0.1,chance,test accuracy 10.0% = chance')
  })

  it.skipIf(!findChromium())('PDF: rendered by Chromium; the ablation page to PNG', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nin-lab-ablation-pdf-'))
    const [file] = exportReport(report, 'pdf', join(dir, 'ablation.pdf'))
    mkdirSync(RESULTS_DIR, { recursive: true })
    const r = spawnSync('pdftoppm', [
      '-png',
      '-r',
      '90',
      '-f',
      '1',
      '-l',
      '1',
      file!,
      join(RESULTS_DIR, 'report-ablation-pdf'),
    ])
    expect(r.status, r.stderr?.toString()).toBe(0)
    const text = spawnSync('pdftotext', ['-layout', file!, '-'], { encoding: 'utf8' })
    expect(text.stdout).not.toContain('U+000A')
    // A narrow column wraps its words onto lines of their own.
    expect(text.stdout).toMatch(/within\s+seed\s+noise/)
    expect(text.stdout).toMatch(/1 of 2 at\s+chance/)
  })
})
