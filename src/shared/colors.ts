/**
 * One colour per run, the same in every chart and table of a view: runs are ordered by id and
 * take palette colours in that order, so a colour never depends on sort order or filters.
 */

/** Tableau 10, readable on light and dark backgrounds. */
export const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
] as const

/** The colour of the i-th run: the palette, then golden-angle hues past it. */
export function colorAt(i: number): string {
  if (i < PALETTE.length) return PALETTE[i] as string
  const hue = Math.round((i * 137.508) % 360)
  return `hsl(${hue}, 55%, 55%)`
}

/** id → colour for a set of run ids, assigned in id order. */
export function runColors(ids: readonly string[]): Map<string, string> {
  const sorted = [...new Set(ids)].sort()
  return new Map(sorted.map((id, i) => [id, colorAt(i)]))
}
