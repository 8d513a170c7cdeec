/**
 * Which varied config fields matter most when telling runs apart: Compare orders its config diff
 * and picks its group-by candidates with it, the Runs table its factor columns.
 */
import type { FieldDiff } from '@shared/config-diff'
import { canonicalJson } from '@shared/grid'

/**
 * Varied fields, the ones that tell most runs apart first: a grid's axes (each value shared by
 * several runs) before a field in which one odd run differs from all the others.
 */
export function rankFactors(diffs: readonly FieldDiff[]): string[] {
  const spread = (d: FieldDiff): number => {
    const counts = new Map<string, number>()
    for (const v of d.values)
      counts.set(canonicalJson(v ?? null), (counts.get(canonicalJson(v ?? null)) ?? 0) + 1)
    return d.values.length - Math.max(...counts.values())
  }
  return [...diffs]
    .map((d, i) => ({ path: d.path, spread: spread(d), i }))
    .sort((a, b) => b.spread - a.spread || a.i - b.i)
    .map((d) => d.path)
}
