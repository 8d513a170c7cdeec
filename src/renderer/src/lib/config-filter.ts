/**
 * Filtering runs by config values, as typed: `head=gap microConvs=1,2 lr>0.01`. A field is named
 * by its path or any tail of it (`head` → `model.head`, `blocks[0].channels`); values compare as
 * the app shows them, in any case (`head=GAP`); numbers also take `<`, `<=`, `>`, `>=`, and `!=`
 * excludes. Words without an operator are left for the caller's text search. The Runs table and
 * Compare share it, and a saved view stores the filters it parsed.
 */
import type { Run } from '@shared/api/types'
import { flattenConfig } from '@shared/config-diff'
import { valueText } from '@shared/format'

export const FILTER_OPS = ['=', '!=', '<', '<=', '>', '>='] as const
export type FilterOp = (typeof FILTER_OPS)[number]

export interface ConfigFilter {
  /** A full config path (`model.head`), once resolved; as typed before. */
  readonly path: string
  readonly op: FilterOp
  /** `=` and `!=` take a list (any of them); the comparisons one number. */
  readonly values: readonly string[]
}

export interface ParsedQuery {
  readonly filters: readonly ConfigFilter[]
  /** Field names that match no config path (shown as a problem next to the box). */
  readonly unknown: readonly string[]
  /** The words that are not filters: free text for the caller's search. */
  readonly text: string
}

const TERM = /^([\w.[\]]+?)\s*(!=|<=|>=|=|<|>)\s*(.*)$/

/** The config path a typed field name means, among `paths`, or undefined (none or ambiguous). */
export function resolvePath(name: string, paths: readonly string[]): string | undefined {
  const want = name.toLowerCase()
  if (paths.includes(name)) return name
  const tail = paths.filter((p) => {
    const lower = p.toLowerCase()
    return lower === want || lower.endsWith(`.${want}`)
  })
  return tail.length === 1 ? tail[0] : undefined
}

/**
 * Splits a query into config filters and free text. `paths`: the config paths the runs have
 * (the fields a filter may name).
 */
export function parseQuery(query: string, paths: readonly string[]): ParsedQuery {
  const filters: ConfigFilter[] = []
  const unknown: string[] = []
  const text: string[] = []
  for (const word of query.trim().split(/\s+/).filter(Boolean)) {
    const m = TERM.exec(word)
    if (!m || !m[1] || !m[3]) {
      text.push(word)
      continue
    }
    const path = resolvePath(m[1], paths)
    if (path === undefined) {
      unknown.push(m[1])
      continue
    }
    const op = m[2] as FilterOp
    const values = op === '=' || op === '!=' ? m[3].split(',').filter(Boolean) : [m[3]]
    filters.push({ path, op, values })
  }
  return { filters, unknown, text: text.join(' ') }
}

/** A filter as the query text that gives it back (`model.head=gap,fc` → `head=gap,fc`). */
export function filterText(f: ConfigFilter): string {
  const name = f.path.replace(/^(model|data|train)\./, '')
  return `${name}${f.op}${f.values.join(',')}`
}

const same = (value: unknown, wanted: string): boolean => {
  const shown = valueText(value).toLowerCase()
  const w = wanted.toLowerCase()
  if (shown === w) return true
  const n = Number(wanted)
  return typeof value === 'number' && wanted.trim() !== '' && Number.isFinite(n) && value === n
}

/** Whether one config value passes one filter. */
export function passes(value: unknown, f: ConfigFilter): boolean {
  switch (f.op) {
    case '=':
      return f.values.some((v) => same(value, v))
    case '!=':
      return !f.values.some((v) => same(value, v))
    default: {
      const limit = Number(f.values[0])
      if (typeof value !== 'number' || !Number.isFinite(limit)) return false
      return f.op === '<'
        ? value < limit
        : f.op === '<='
          ? value <= limit
          : f.op === '>'
            ? value > limit
            : value >= limit
    }
  }
}

const flatCache = new WeakMap<object, Map<string, unknown>>()

/** A run's flattened config, computed once per config object. */
export function flatConfigOf(run: Pick<Run, 'config'>): Map<string, unknown> {
  let flat = flatCache.get(run.config)
  if (!flat) {
    flat = flattenConfig(run.config)
    flatCache.set(run.config, flat)
  }
  return flat
}

/** Whether a run passes every filter. */
export function matchesFilters(
  run: Pick<Run, 'config'>,
  filters: readonly ConfigFilter[],
): boolean {
  if (filters.length === 0) return true
  const flat = flatConfigOf(run)
  return filters.every((f) => passes(flat.get(f.path), f))
}

/** Every config path of some runs, in first-seen order (the fields a filter or column may name). */
export function configPaths(runs: readonly Pick<Run, 'config'>[]): string[] {
  const seen = new Set<string>()
  // Runs of one preset share their paths: a few distinct shapes cover thousands of runs.
  const shapes = new Set<string>()
  for (const run of runs) {
    const flat = flatConfigOf(run)
    const shape = [...flat.keys()].join('\n')
    if (shapes.has(shape)) continue
    shapes.add(shape)
    for (const p of flat.keys()) seen.add(p)
  }
  return [...seen]
}
