// `nin-lab compare` on real runs: a 2 × 2 grid (microConvs 1, 2 × seeds 0, 1) of tiny small-28
// runs trained by the real queue, compared as JSON (the shape, checked against the
// statistics computed here from the stored accuracies) and as text; bad options are clear errors.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import type { Comparison } from '@shared/comparison'
import { pairedDifference } from '@shared/statistics'
import { assertBuilt, runCli } from '../helpers/cli'

let dataDir: string

beforeAll(() => {
  assertBuilt()
  dataDir = mkdtempSync(join(tmpdir(), 'nin-lab-compare-'))
  const add = runCli([
    'queue',
    'add',
    '--preset',
    'small-28',
    '--data-dir',
    dataDir,
    '--experiment',
    'ex1',
    '--set',
    'data.trainLimit=320',
    '--set',
    'data.testLimit=100',
    '--set',
    'train.batchSize=32',
    '--set',
    'train.epochs=1',
    '--grid',
    'model.microConvs=1,2',
    '--seeds',
    '2',
  ])
  expect(add.status, add.stderr).toBe(0)
  const start = runCli(['queue', 'start', '--data-dir', dataDir])
  expect(start.status, start.stderr).toBe(0)
}, 400_000)

interface LsRun {
  id: string
  finalTestAcc: number
  health: { status: string; reason: string } | null
  placement: { host: string; worker: string | null } | null
  config: { microConvs: number; seed: number }
}

function storedRuns(): LsRun[] {
  const ls = runCli(['ls', '--json', '--data-dir', dataDir])
  expect(ls.status, ls.stderr).toBe(0)
  return JSON.parse(ls.stdout) as LsRun[]
}

describe('nin-lab compare', () => {
  it('--json: groups, the d2l baseline, a paired difference, Holm and a verdict', () => {
    const r = runCli(['compare', '--experiment', 'ex1', '--json', '--data-dir', dataDir])
    expect(r.status, r.stderr).toBe(0)
    const c = JSON.parse(r.stdout) as Comparison
    expect(c.by).toEqual(['model.microConvs'])
    expect(c.averagedOver).toEqual(['train.seed'])
    expect(c.groups.map((g) => [g.key, g.n, g.mixes])).toEqual([
      [{ 'model.microConvs': 1 }, 2, []],
      [{ 'model.microConvs': 2 }, 2, []],
    ])
    for (const g of c.groups) {
      expect(g.health).toEqual({ chance: expect.any(Number), notConverged: expect.any(Number) })
      expect(g.finalTestAcc.ci95).toHaveLength(2)
    }
    // small-28 has 1×1 micro convs and GAP: 2 micro convs is the d2l setting, so the baseline.
    expect(c.groups[c.baselineIndex ?? -1]?.key).toEqual({ 'model.microConvs': 2 })
    const [cmp] = c.comparisons
    expect(c.comparisons).toHaveLength(1)
    expect(cmp).toMatchObject({ metric: 'finalTestAcc', paired: true })
    // The same numbers from the stored accuracies, paired by seed.
    const runs = storedRuns()
    const acc = (m: number, seed: number): number =>
      runs.find((x) => x.config.microConvs === m && x.config.seed === seed)!.finalTestAcc
    const d = pairedDifference([acc(1, 0), acc(1, 1)], [acc(2, 0), acc(2, 1)])
    expect(cmp!.diff).toBeCloseTo(d.diff!, 12)
    if (d.p === null) expect(cmp!.verdict).toBe('no-estimate')
    else {
      expect(cmp!.pAdjusted).toBeCloseTo(d.p, 12) // one comparison: Holm leaves it as it is
      expect(cmp!.verdict).toBe(d.p < 0.05 ? 'larger-than-noise' : 'within-noise')
    }
  })

  it('ls --json and show --json carry the placement and the health', () => {
    const [first] = storedRuns()
    // Trained on this machine's own slot: no worker. Health is null until the store computes it.
    expect(first?.placement).toMatchObject({ worker: null, host: expect.any(String) })
    expect(first).toHaveProperty('health')
    const show = runCli(['show', first!.id, '--json', '--data-dir', dataDir])
    expect(show.status, show.stderr).toBe(0)
    const detail = JSON.parse(show.stdout) as LsRun
    expect(detail.placement).toEqual(first?.placement)
    expect(detail.health).toEqual(first?.health)
  })

  it('text: a table a person reads, the noise stated, the verdict in words', () => {
    const r = runCli(['compare', '--experiment', 'ex1', '--data-dir', dataDir])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^Grouped by microConvs, averaged over seed; baseline: microConvs 2\./)
    expect(r.stdout).toMatch(/^microConvs\s+n\s+final test acc\s+std\s+95% CI/m)
    expect(r.stdout).toMatch(/^Seed-to-seed noise: /m)
    expect(r.stdout).toMatch(/^microConvs 1 vs microConvs 2: [+−±]\d+\.\d\d pp/m)
  })

  it('--baseline picks the group; a bad field or value is a clear error', () => {
    const ids = storedRuns().map((x) => x.id)
    const r = runCli([
      'compare',
      ...ids,
      '--baseline',
      'model.microConvs=1',
      '--json',
      '--data-dir',
      dataDir,
    ])
    expect(r.status, r.stderr).toBe(0)
    const c = JSON.parse(r.stdout) as Comparison
    expect(c.groups[c.baselineIndex ?? -1]?.key).toEqual({ 'model.microConvs': 1 })
    const bad = runCli([
      'compare',
      ...ids,
      '--baseline',
      'model.microConvs=3',
      '--data-dir',
      dataDir,
    ])
    expect(bad.status).not.toBe(0)
    expect(bad.stderr).toContain('no group has model.microConvs=3; its values here: 1, 2')
    const field = runCli(['compare', ...ids, '--by', 'model.hed', '--data-dir', dataDir])
    expect(field.status).not.toBe(0)
    expect(field.stderr).toContain('model.hed is not a config field')
  })
})
