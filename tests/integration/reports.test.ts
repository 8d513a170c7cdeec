// Reports from real runs: two tiny trained runs (one with a hostile name), exported in every
// format through the CLI, then read back: HTML parsed, CSV compared with the store, JSON checked
// against its schema version, the PDF rendered to PNG with pdftoppm.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { Window } from 'happy-dom'
import { beforeAll, describe, expect, it } from 'vitest'
import { REPORT_SCHEMA_VERSION, validateReport, type Report } from '@shared/report'
import { findChromium } from '@core/reports/pdf'
import { RESULTS_DIR } from '../helpers/browser'
import { assertBuilt, runCli } from '../helpers/cli'
import { seededTempDir } from '../helpers/datasets'

const HOSTILE = '<img src=x onerror=alert(1)>'
/** Whether `engine: auto` trains on PyTorch here (Debian's python3-torch, as CI installs it). */
const TORCH = spawnSync('/usr/bin/python3', ['-c', 'import torch']).status === 0
let dataDir: string
let out: string
let ids: string[]

const exportAs = (format: string, file: string): string[] => {
  const r = runCli([
    'export',
    ...ids,
    '--format',
    format,
    '--out',
    join(out, file),
    '--data-dir',
    dataDir,
  ])
  expect(r.status, r.stderr).toBe(0)
  return r.stdout.trim().split('\n')
}

/** Minimal RFC 4180 reader (quoted cells, doubled quotes, CRLF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let cell = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"'
        i++
      } else if (c === '"') quoted = false
      else cell += c
    } else if (c === '"') quoted = true
    else if (c === ',') {
      row.push(cell)
      cell = ''
    } else if (c === '\n') {
      row.push(cell)
      rows.push(row)
      row = []
      cell = ''
    } else if (c !== '\r') cell += c
  }
  return rows
}

beforeAll(async () => {
  assertBuilt()
  dataDir = await seededTempDir('nin-lab-reports-')
  out = mkdtempSync(join(tmpdir(), 'nin-lab-report-out-'))
  const add = runCli([
    'queue',
    'add',
    '--preset',
    'small-28',
    '--data-dir',
    dataDir,
    '--json',
    '--set',
    `name=${HOSTILE}`,
    '--set',
    'data.trainLimit=320',
    '--set',
    'data.testLimit=100',
    '--set',
    'train.batchSize=32',
    '--set',
    'train.epochs=2',
    '--grid',
    'model.microConvs=1,2',
  ])
  expect(add.status, add.stderr).toBe(0)
  ids = (JSON.parse(add.stdout) as { added: { id: string }[] }).added.map((r) => r.id)
  // One more run of the same variant on the other engine: a comparison across engines.
  const tfjs = runCli([
    'queue',
    'add',
    '--preset',
    'small-28',
    '--data-dir',
    dataDir,
    '--json',
    '--set',
    'engine=tfjs',
    '--set',
    'name=tfjs twin',
    '--set',
    'data.trainLimit=320',
    '--set',
    'data.testLimit=100',
    '--set',
    'train.batchSize=32',
    '--set',
    'train.epochs=2',
    '--set',
    'model.microConvs=2',
  ])
  expect(tfjs.status, tfjs.stderr).toBe(0)
  ids.push(...(JSON.parse(tfjs.stdout) as { added: { id: string }[] }).added.map((r) => r.id))
  const start = runCli(['queue', 'start', '--data-dir', dataDir])
  expect(start.status, start.stderr).toBe(0)
}, 300_000)

describe('nin-lab export', () => {
  it('html: one self-contained file with the tables and one SVG per chart', () => {
    const [file] = exportAs('html', 'report.html')
    const html = readFileSync(file!, 'utf8')
    const doc = new Window().document
    doc.write(html)
    const tables = [...doc.querySelectorAll('table')].map((t) => t.getAttribute('data-table'))
    expect(tables).toEqual(expect.arrayContaining(['runs', 'ablation', 'ablation-cost', 'diff']))
    expect(tables.filter((t) => t?.startsWith('layers:'))).toHaveLength(3)
    expect(tables.filter((t) => t?.startsWith('per-class:'))).toHaveLength(3)
    const figures = [...doc.querySelectorAll('figure[data-chart]')]
    expect(figures.map((f) => f.getAttribute('data-chart'))).toEqual([
      'train-loss',
      'test-acc',
      'test-loss',
      'params-acc',
    ])
    for (const f of figures) expect(f.querySelectorAll('svg')).toHaveLength(1)
    // Nothing outside the file: no script, no remote reference in any src or href.
    expect(doc.querySelectorAll('script')).toHaveLength(0)
    for (const el of doc.querySelectorAll('[src], [href], [xlink\\:href]')) {
      for (const attr of ['src', 'href', 'xlink:href'])
        expect(el.getAttribute(attr) ?? '').not.toMatch(/^\s*https?:/i)
    }
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?\s*https?:/i)
    // The groups: engine (auto, and the tfjs twin) × microConvs, never one averaged over the
    // other; the baseline is the d2l setting (2 micro convs, 1×1, GAP) on the default engine.
    const ablation = doc.querySelector('table[data-table="ablation"]')!
    const rows = [...ablation.querySelectorAll('tbody tr')].map((tr) =>
      [...tr.querySelectorAll('td')].map((td) => td.textContent),
    )
    expect(rows.map((r) => r.slice(0, 2))).toEqual([
      ['auto', '1'],
      ['auto', '2'],
      ['tfjs', '2'],
    ])
    expect(rows[1]?.[4]).toBe('baseline')
    // One seed per group: a difference, but no estimate of the noise, and the table says so.
    expect(rows[0]?.[4]).toMatch(/^Δ\u00a0[+−±]\d+\.\d{2} pp$/)
    // Its first line is the verdict; a line after it may only be the group's health caveat
    // (these tiny runs can sit at chance, and the table then says so beside the numbers).
    const verdictLines = ablation
      .querySelector('tbody tr td:nth-child(6)')!
      .innerHTML.split(/<br\s*\/?>/)
    expect(verdictLines[0]).toBe('one seed: no estimate of noise, add seeds')
    for (const line of verdictLines.slice(1))
      expect(line).toMatch(/^\d+ of \d+ (at chance|not converged)/)
    // Cost: 1 micro conv fewer than small-28's 2 is 21,838 parameters (−14.7%), held together by
    // no-break spaces; and no ⟨U+000A⟩ where a cell has a second line.
    const cost = doc.querySelector('table[data-table="ablation-cost"]')!
    expect(cost.textContent).toContain('(Δ\u00a0−21,838,\u00a0−14.7%)')
    expect(html).not.toContain('U+000A')
  })

  it('escapes user text in HTML: a hostile run name is text, not markup', () => {
    const html = readFileSync(join(out, 'report.html'), 'utf8')
    const doc = new Window().document
    doc.write(html)
    expect(doc.querySelectorAll('img')).toHaveLength(0)
    expect(doc.querySelectorAll('[onerror]')).toHaveLength(0)
    expect(doc.body.textContent).toContain(`${HOSTILE}-m1`)
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;-m1')
  })

  it('md: the same tables, charts as PNG files beside it, user text escaped', () => {
    const files = exportAs('md', 'report.md')
    const md = readFileSync(files[0]!, 'utf8')
    const pngs = files.filter((f) => f.endsWith('.png'))
    expect(pngs).toHaveLength(4)
    for (const png of pngs) {
      expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG')
      expect(md).toContain(`](${png.split('/').at(-1)})`)
    }
    expect(md).toMatch(/## Ablation\n[\s\S]*### Cost of each group/)
    expect(md).not.toContain('U+000A')
    expect(md).not.toContain(HOSTILE)
    expect(md).toContain('&lt;img src=x onerror=alert(1)&gt;-m1')
  })

  it('csv: summary and long-format metrics equal the store', () => {
    const [runsFile, metricsFile, groupsFile] = exportAs('csv', 'report.csv')
    expect(readFileSync(groupsFile!, 'utf8')).toMatch(/^engine,model\.microConvs,runs,n,/)
    const runs = parseCsv(readFileSync(runsFile!, 'utf8'))
    const header = runs[0]!
    const col = (name: string): number => header.indexOf(name)
    const db = new Database(join(dataDir, 'nin-lab.db'), { readonly: true })
    try {
      for (const row of runs.slice(1)) {
        const stored = db
          .prepare('SELECT name, params, final_test_acc FROM runs WHERE id = ?')
          .get(row[col('run_id')]) as {
          name: string
          params: number
          final_test_acc: number
        }
        expect(row[col('name')]).toBe(stored.name)
        expect(Number(row[col('params')])).toBe(stored.params)
        expect(Number(row[col('final_test_acc')])).toBe(stored.final_test_acc)
      }
      const metrics = parseCsv(readFileSync(metricsFile!, 'utf8'))
      expect(metrics[0]).toEqual(['run_id', 'name', 'metric', 'step', 'epoch', 'time', 'value'])
      const points = db
        .prepare(
          `SELECT run_id, name, step, epoch, time, value FROM metric_points WHERE run_id IN (${ids.map(() => '?').join(',')})`,
        )
        .all(...ids) as {
        run_id: string
        name: string
        step: number
        epoch: number
        time: number
        value: number
      }[]
      expect(metrics.length - 1).toBe(points.length)
      const key = (r: (string | number)[]): string => r.join('|')
      const fromCsv = new Set(
        metrics
          .slice(1)
          .map((r) =>
            key([r[0]!, r[2]!, Number(r[3]), Number(r[4]), Date.parse(r[5]!), Number(r[6])]),
          ),
      )
      for (const p of points)
        expect(fromCsv.has(key([p.run_id, p.name, p.step, p.epoch, p.time, p.value]))).toBe(true)
    } finally {
      db.close()
    }
  })

  it('json: everything, valid against its schema version', () => {
    const [file] = exportAs('json', 'report.json')
    const report = JSON.parse(readFileSync(file!, 'utf8')) as Report
    expect(report.schemaVersion).toBe(REPORT_SCHEMA_VERSION)
    expect(validateReport(report)).toEqual([])
    expect(report.runs.map((r) => r.id)).toEqual(ids)
    expect(report.runs[0]!.epochs).toHaveLength(2)
    // Runs of both engines in one report (PyTorch where this machine has it).
    expect(report.runs.at(-1)).toMatchObject({ engine: 'tfjs', params: report.runs[1]!.params })
    expect(report.environment.engines).toEqual(TORCH ? ['tfjs', 'torch'] : ['tfjs'])
    expect(validateReport({ ...report, schemaVersion: 99 })).toEqual([
      `schemaVersion must be ${REPORT_SCHEMA_VERSION} (got 99)`,
    ])
    expect(validateReport({ ...report, runs: [{ ...report.runs[0], params: 'many' }] })).toContain(
      'report.runs[0].params must be number (got string)',
    )
  })

  it('--experiment NAME takes every run of that experiment; the format comes from --out', () => {
    const [file] = exportAs('json', 'by-id.json')
    const report = JSON.parse(readFileSync(file!, 'utf8')) as Report
    const experiments = [...new Set(report.runs.map((r) => r.experiment))]
    expect(experiments.length).toBeGreaterThan(0)
    const name = experiments[0]!
    const wanted = report.runs.filter((r) => r.experiment === name).map((r) => r.id)
    // No --format: report.json is JSON.
    const r = runCli([
      'export',
      '--experiment',
      name,
      '--out',
      join(out, 'by-experiment.json'),
      '--data-dir',
      dataDir,
    ])
    expect(r.status, r.stderr).toBe(0)
    const byExperiment = JSON.parse(readFileSync(join(out, 'by-experiment.json'), 'utf8')) as Report
    expect(validateReport(byExperiment)).toEqual([])
    expect(byExperiment.runs.map((run) => run.id).sort()).toEqual([...wanted].sort())
    const missing = runCli([
      'export',
      '--experiment',
      'no such study',
      '--out',
      join(out, 'none.html'),
      '--data-dir',
      dataDir,
    ])
    expect(missing.status).not.toBe(0)
    expect(missing.stderr).toContain('no runs in experiment "no such study"; experiments: ')
    expect(existsSync(join(out, 'none.html'))).toBe(false)
  })

  it.skipIf(!findChromium())(
    'pdf: through Chromium, first page rendered to PNG in test-results/',
    () => {
      const [file] = exportAs('pdf', 'report.pdf')
      expect(readFileSync(file!).subarray(0, 5).toString()).toBe('%PDF-')
      mkdirSync(RESULTS_DIR, { recursive: true })
      const r = spawnSync('pdftoppm', [
        '-png',
        '-r',
        '80',
        '-f',
        '1',
        '-l',
        '1',
        file!,
        join(RESULTS_DIR, 'report-page'),
      ])
      expect(r.status, r.stderr?.toString()).toBe(0)
      expect(readdirSync(RESULTS_DIR).some((f) => /^report-page-0*1\.png$/.test(f))).toBe(true)
      // A4 (595 × 842 pt), not Letter: reports are read and printed in A4 here.
      const info = spawnSync('pdfinfo', [file!], { encoding: 'utf8' })
      // pdfinfo names the paper: "Page size: 594.96 x 841.92 pts (A4)".
      if (info.status === 0) expect(info.stdout).toMatch(/^Page size:.*\(A4\)$/m)
    },
  )

  it('bad requests are clear errors and write nothing', () => {
    const before = readdirSync(out)
    expect(
      runCli([
        'export',
        'rnope',
        '--format',
        'html',
        '--out',
        join(out, 'x.html'),
        '--data-dir',
        dataDir,
      ]).stderr,
    ).toMatch(/rnope/)
    expect(
      runCli([
        'export',
        ...ids,
        '--format',
        'docx',
        '--out',
        join(out, 'x.docx'),
        '--data-dir',
        dataDir,
      ]).stderr,
    ).toMatch(/--format must be one of html, md, csv, json, pdf/)
    expect(readdirSync(out)).toEqual(before)
    expect(existsSync(join(out, 'x.html'))).toBe(false)
  })
})
