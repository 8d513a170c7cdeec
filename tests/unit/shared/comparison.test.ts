// Grouping and comparing runs: every varying field groups, fields that do not apply never do,
// a group that averages says what it mixes, pairing by seed, Holm within one table, the d2l
// baseline by default, and the words every view prints.
import { describe, expect, it } from 'vitest'
import {
  CompareError,
  compareRuns,
  comparisonWords,
  displayNames,
  healthWords,
  mixesWords,
  noiseWords,
  type ComparableRun,
} from '@shared/comparison'
import { fieldApplies } from '@shared/config/applicability'
import { validateExperimentConfig, type ExperimentConfig } from '@shared/config/experiment'
import type { HealthStatus } from '@shared/health'
import { pairedDifference, welchDifference } from '@shared/statistics'

let counter = 0
function run(
  model: Record<string, unknown>,
  seed: number,
  acc: number | null,
  extra: { health?: HealthStatus; experiment?: string; name?: string; train?: object } = {},
): ComparableRun {
  counter += 1
  const config: ExperimentConfig = validateExperimentConfig({
    name: extra.name ?? `run${counter}`,
    model,
    train: { seed, ...extra.train },
  })
  return {
    id: `r${counter}`,
    name: config.name,
    experiment: extra.experiment ?? 'study',
    config,
    finalTestAcc: acc,
    health: extra.health ?? 'ok',
  }
}

describe('field applicability', () => {
  it('knows fcFrom and fcHidden mean nothing under GAP, momentum nothing under Adam', () => {
    const gap = validateExperimentConfig({ model: { head: 'gap' } })
    const fc = validateExperimentConfig({ model: { head: 'fc' } })
    expect(fieldApplies(gap, 'model.fcFrom')).toBe(false)
    expect(fieldApplies(gap, 'model.fcHidden')).toBe(false)
    expect(fieldApplies(fc, 'model.fcFrom')).toBe(true)
    const features = validateExperimentConfig({ model: { head: 'fc', fcFrom: 'features' } })
    expect(fieldApplies(features, 'model.classBlock')).toBe(false)
    const adam = validateExperimentConfig({ train: { optimizer: 'adam' } })
    expect(fieldApplies(adam, 'train.momentum')).toBe(false)
    const noMicro = validateExperimentConfig({ model: { microConvs: 0 } })
    expect(fieldApplies(noMicro, 'model.microKernel')).toBe(false)
    expect(fieldApplies(gap, 'model.microKernel')).toBe(true)
  })
})

describe('compareRuns: grouping', () => {
  it('groups by every varying field; never splits GAP runs by fcFrom', () => {
    const runs = [
      run({ head: 'gap', fcFrom: 'features' }, 0, 0.8),
      run({ head: 'gap' }, 1, 0.82),
      run({ head: 'fc', fcFrom: 'classmaps' }, 0, 0.6),
      run({ head: 'fc', fcFrom: 'classmaps' }, 1, 0.62),
      run({ head: 'fc', fcFrom: 'features' }, 0, 0.7),
      run({ head: 'fc', fcFrom: 'features' }, 1, 0.72),
    ]
    const c = compareRuns(runs)
    expect(c.by).toEqual(['model.head', 'model.fcFrom'])
    expect(c.groups.map((g) => g.label)).toEqual([
      'head fc · fcFrom classmaps',
      'head fc · fcFrom features',
      'head gap',
    ])
    // The GAP group has no fcFrom in its key though one of its runs set it: it does not apply.
    expect(c.groups[2]?.key).toEqual({ 'model.head': 'gap' })
    expect(c.groups.every((g) => g.mixes.length === 0)).toBe(true)
    expect(c.averagedOver).toEqual(['train.seed'])
  })

  it('names what a group averages over when grouped by fewer fields than vary', () => {
    const runs = [
      run({ head: 'gap' }, 0, 0.8),
      run({ head: 'fc', fcFrom: 'classmaps' }, 0, 0.6),
      run({ head: 'fc', fcFrom: 'features' }, 0, 0.7),
    ]
    const c = compareRuns(runs, { by: ['model.head'] })
    const fc = c.groups.find((g) => g.label === 'head fc')
    expect(fc?.mixes).toEqual(['model.fcFrom'])
    expect(mixesWords(fc ?? { mixes: [] })).toBe('averages over fcFrom')
    expect(c.groups.find((g) => g.label === 'head gap')?.mixes).toEqual([])
    expect(c.averagedOver).toEqual(['model.fcFrom'])
    // On purpose, too:
    const averaged = compareRuns(runs, { averageOver: ['model.fcFrom'] })
    expect(averaged.by).toEqual(['model.head'])
    expect(averaged.groups.find((g) => g.label === 'head fc')?.mixes).toEqual(['model.fcFrom'])
  })

  it('refuses an unknown field or the seed, naming the fix', () => {
    const runs = [run({}, 0, 0.8), run({ microConvs: 1 }, 0, 0.7)]
    expect(() => compareRuns(runs, { by: ['model.hed'] })).toThrow(CompareError)
    expect(() => compareRuns(runs, { by: ['model.hed'] })).toThrow(
      /model\.hed is not a config field/,
    )
    expect(() => compareRuns(runs, { by: ['train.seed'] })).toThrow(/cannot group/)
  })

  it('counts runs at chance and still improving, and keeps them in the mean', () => {
    const runs = [
      run({}, 0, 0.8),
      run({}, 1, 0.1, { health: 'chance' }),
      run({ microConvs: 1 }, 0, 0.7, { health: 'not-converged' }),
      run({ microConvs: 1 }, 1, null, { health: 'pending' }),
    ]
    const c = compareRuns(runs)
    const d2l = c.groups.find((g) => g.label === 'microConvs 2')
    expect(d2l?.health).toEqual({ chance: 1, notConverged: 0 })
    expect(d2l?.finalTestAcc.mean).toBeCloseTo(0.45, 12)
    expect(healthWords(d2l ?? { health: { chance: 0, notConverged: 0 }, runIds: [] })).toBe(
      '1 of 2 at chance',
    )
    const m1 = c.groups.find((g) => g.label === 'microConvs 1')
    expect(m1?.n).toBe(1)
    expect(m1?.runIds).toHaveLength(2)
    expect(m1?.finalTestAcc.std).toBeNull()
  })

  it('names runs with their experiment where names repeat', () => {
    const a = run({}, 0, 0.8, { name: 'small-28-s0', experiment: 'ex1' })
    const b = run({}, 0, 0.8, { name: 'small-28-s0', experiment: 'ex3' })
    const c = run({}, 1, 0.8, { name: 'other' })
    const names = displayNames([a, b, c])
    expect(names.get(a.id)).toBe('ex1 / small-28-s0')
    expect(names.get(b.id)).toBe('ex3 / small-28-s0')
    expect(names.get(c.id)).toBe('other')
  })
})

describe('compareRuns: comparisons', () => {
  const grid = (): ComparableRun[] => [
    run({ microConvs: 0 }, 0, 0.75),
    run({ microConvs: 0 }, 1, 0.77),
    run({ microConvs: 0 }, 2, 0.76),
    run({ microConvs: 1 }, 0, 0.62),
    run({ microConvs: 1 }, 1, 0.7),
    run({ microConvs: 1 }, 2, 0.55),
    run({ microConvs: 2 }, 0, 0.48),
    run({ microConvs: 2 }, 1, 0.47),
    run({ microConvs: 2 }, 2, 0.5),
  ]

  it('defaults the baseline to the d2l setting, pairs by seed, and adjusts with Holm', () => {
    const c = compareRuns(grid())
    expect(c.baselineIndex).toBe(2)
    expect(c.groups[2]?.label).toBe('microConvs 2')
    expect(c.comparisons.map((x) => x.other)).toEqual(['microConvs 0', 'microConvs 1'])
    const [m0, m1] = c.comparisons
    expect(m0?.paired).toBe(true)
    // Paired on seeds 0, 1, 2 in order: microConvs 0 − microConvs 2.
    const d0 = pairedDifference([0.75, 0.77, 0.76], [0.48, 0.47, 0.5])
    const d1 = pairedDifference([0.62, 0.7, 0.55], [0.48, 0.47, 0.5])
    expect(m0?.diff).toBeCloseTo(d0.diff ?? NaN, 12)
    expect(m0?.ci95?.[0]).toBeCloseTo(d0.ci95?.[0] ?? NaN, 12)
    // Holm with m = 2: the smaller p doubled, the larger kept (but not below the first).
    const [small, large] = [d0.p ?? 1, d1.p ?? 1].sort((a, b) => a - b) as [number, number]
    const adjusted = [Math.min(1, 2 * small), Math.max(Math.min(1, 2 * small), large)]
    expect([m0?.pAdjusted, m1?.pAdjusted].sort()).toEqual(adjusted.sort())
    expect(m0?.verdict).toBe('larger-than-noise')
    expect(c.noise?.n).toBe(9)
    expect(c.noise?.df).toBe(6)
    expect(noiseWords(c)).toMatch(/^Seed-to-seed noise: .* varies by \d+\.\d\d pp \(pooled/)
  })

  it('takes the baseline the user picks, and refuses one no group has', () => {
    const c = compareRuns(grid(), { baseline: { field: 'model.microConvs', value: 0 } })
    expect(c.baselineIndex).toBe(0)
    expect(c.comparisons.every((x) => x.baseline === 'microConvs 0')).toBe(true)
    // The CLI hands values over as text.
    const fromText = compareRuns(grid(), { baseline: { field: 'model.microConvs', value: '1' } })
    expect(fromText.baselineIndex).toBe(1)
    expect(() =>
      compareRuns(grid(), { baseline: { field: 'model.microConvs', value: 3 } }),
    ).toThrow(/no group has model\.microConvs=3; its values here: 0, 1, 2/)
  })

  it('falls back to the first group without the d2l setting', () => {
    const runs = [
      run({ microConvs: 1, head: 'fc' }, 0, 0.6),
      run({ microConvs: 3, head: 'fc' }, 0, 0.5),
    ]
    expect(compareRuns(runs).baselineIndex).toBe(0)
  })

  it('uses Welch where seeds differ, and says "add seeds" for one seed', () => {
    const runs = [
      run({ microConvs: 2 }, 0, 0.8),
      run({ microConvs: 2 }, 1, 0.82),
      run({ microConvs: 1 }, 5, 0.6),
      run({ microConvs: 1 }, 6, 0.7),
      run({ microConvs: 0 }, 0, 0.5),
    ]
    const c = compareRuns(runs)
    const m1 = c.comparisons.find((x) => x.other === 'microConvs 1')
    expect(m1?.paired).toBe(false)
    const w = welchDifference([0.6, 0.7], [0.8, 0.82])
    expect(m1?.df).toBeCloseTo(w.df ?? NaN, 12)
    // Holm over the one comparison with a p-value: unchanged.
    expect(m1?.pAdjusted).toBeCloseTo(w.p ?? NaN, 12)
    const m0 = c.comparisons.find((x) => x.other === 'microConvs 0')
    expect(m0?.verdict).toBe('no-estimate')
    expect(m0 && comparisonWords(m0)).toBe('−31.00 pp: one seed: no estimate of noise, add seeds')
  })

  it('pairs only runs that differ in nothing but the grouping field', () => {
    const runs = [
      run({ microConvs: 2 }, 0, 0.8),
      run({ microConvs: 2 }, 1, 0.82),
      run({ microConvs: 1 }, 0, 0.6, { train: { lr: 0.1 } }),
      run({ microConvs: 1 }, 1, 0.7),
    ]
    // lr varies, so it groups too: no pair shares all else.
    const c = compareRuns(runs, { by: ['model.microConvs'] })
    expect(c.comparisons[0]?.paired).toBe(false)
    expect(c.groups.find((g) => g.label === 'microConvs 1')?.mixes).toEqual(['train.lr'])
    // Groups that mix are left out of the noise estimate (their spread is not only seeds).
    expect(c.noise?.groups).toBe(1)
  })

  it('says "within seed noise" for the issue\'s exercise 2 (Δ +8.15 pp, std 16 pp, n = 2)', () => {
    const runs = [
      run({ microKernel: 1 }, 0, 0.7635),
      run({ microKernel: 1 }, 1, 0.533),
      run({ microKernel: 3 }, 0, 0.8065),
      run({ microKernel: 3 }, 1, 0.653),
    ]
    const c = compareRuns(runs)
    expect(c.groups[c.baselineIndex ?? -1]?.label).toBe('microKernel 1')
    const cmp = c.comparisons[0]
    expect(cmp?.diff).toBeCloseTo(0.0815, 10)
    expect(cmp?.verdict).toBe('within-noise')
    expect(cmp && comparisonWords(cmp)).toMatch(
      /^\+8\.15 pp, 95% CI \[−\d+\.\d\d, \+\d+\.\d\d\] pp \(paired by seed, Holm-adjusted p 0\.\d{3}\): within seed noise$/,
    )
  })
})
