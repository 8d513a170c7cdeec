// Compare's derived tables as pure functions (lib/compare-tables.ts), over the statistics of
// src/shared/comparison.ts: nothing here renders, so no screenshot.
import { describe, expect, it } from 'vitest'
import { compareRuns } from '@shared/comparison'
import { differingFields } from '@shared/config-diff'
import {
  bestOf,
  metricsRows,
  metricsRowValue,
  parallelData,
  scatterPoints,
  summaryRows,
  summaryRowValue,
  variantLabeller,
} from '@renderer/lib/compare-tables'
import { config, makeRun } from './helpers'

const run = (head: 'gap' | 'fc', seed: number, acc: number | null) =>
  makeRun({
    config: config({ name: `${head}-s${seed}`, model: { head }, train: { seed } }),
    name: `${head}-s${seed}`,
    finalTestAcc: acc,
    bestTestAcc: acc === null ? null : acc + 0.01,
  })

describe('compare tables', () => {
  const runs = [run('gap', 0, 0.8), run('gap', 1, 0.82), run('fc', 0, 0.7), run('fc', 1, null)]
  const colorOf = (id: string): string => `#${id.slice(-6)}`

  it('takes a group’s final accuracy from the shared statistics, and adds what they lack', () => {
    const stats = compareRuns(runs.map((r) => ({ ...r, health: null })))
    const diffs = differingFields(runs.map((r) => r.config))
    const factors = diffs.map((d) => d.path).filter((p) => p !== 'name' && p !== 'train.seed')
    const rows = summaryRows({
      stats,
      runs,
      groupBy: '',
      variantLabel: variantLabeller(diffs, factors),
      colorOf,
      epochSeconds: { [runs[0]!.id]: 2, [runs[1]!.id]: 4 },
    })
    expect(rows).toHaveLength(2)
    for (const [i, row] of rows.entries()) {
      const group = stats.groups[i]!
      expect(row.final).toEqual({
        mean: group.finalTestAcc.mean,
        std: group.finalTestAcc.std,
        n: group.n,
      })
      expect(row.isBaseline).toBe(i === stats.baselineIndex)
    }
    const gap = rows.find((r) => r.label.includes('gap'))!
    expect(gap.label).toBe('head=gap')
    expect(gap.epochSeconds.mean).toBe(3)
    expect(gap.best.mean).toBeCloseTo(0.82)
    const fc = rows.find((r) => r.label.includes('fc'))!
    // An unfinished run is counted among the group's runs, not averaged.
    expect(fc.runs).toHaveLength(2)
    expect(fc.final.n).toBe(1)
    expect(summaryRowValue(fc, 'n')).toBe(2)
    expect(summaryRowValue(gap, 'final')).toBeCloseTo(0.81)
  })

  it('sorts metrics rows by config values and results, and marks a best only among several', () => {
    const rows = metricsRows(runs, {})
    expect(metricsRowValue(rows[0]!, 'config:model.head')).toBe('gap')
    expect(metricsRowValue(rows[2]!, 'final')).toBe(0.7)
    expect(metricsRowValue(rows[3]!, 'final')).toBeNull()
    expect(bestOf([0.7, null, 0.8])).toBe(0.8)
    expect(bestOf([0.7, null])).toBeNull()
  })

  it('leaves hidden runs and runs without a result out of the scatter', () => {
    const rows = metricsRows(runs, {})
    const points = scatterPoints(rows, [runs[0]!.id], colorOf)
    expect(points.map((p) => p.id)).toEqual([runs[1]!.id, runs[2]!.id])
    expect(points[0]!.color).toBe(colorOf(runs[1]!.id))
  })

  it('draws text fields as category axes, then params and the accuracies', () => {
    const { axes, lines } = parallelData(['model.head'], runs, colorOf)
    expect(axes.map((a) => a.name)).toEqual(['head', 'params', 'final acc', 'best acc'])
    expect(axes[0]!.categories).toEqual(['fc', 'gap'])
    expect(lines[0]!.values).toEqual(['gap', runs[0]!.params, 0.8, 0.81])
  })
})
