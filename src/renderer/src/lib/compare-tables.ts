/**
 * What Compare derives from the runs it shows, as pure functions: the metrics table's rows and
 * their sort values, the summary's groups (the statistics are src/shared/comparison.ts's: this
 * adds the columns it does not compute — best accuracy, params, time per epoch — and names each
 * variant), the scatter of parameters against accuracy and the parallel coordinates. The state
 * they are drawn from (selection, filter, colours, baseline, sort) is useComparison's.
 */
import type { Run } from '@shared/api/types'
import { stat, type Stat } from '@shared/ablation'
import type { Comparison as GroupStats, ComparisonGroup, GroupComparison } from '@shared/comparison'
import type { FieldDiff } from '@shared/config-diff'
import { pctTick, siTick, valueText } from '@shared/format'
import { canonicalJson } from '@shared/grid'
import type { ParallelAxis, ParallelLine, ScatterPoint } from './charts'
import { flatConfigOf } from './config-filter'
import { runCost } from './run-cost'
import { shortPath } from './schema-form'

/** A value a table sorts by (useSort's SortValue). */
type Sortable = string | number | null

export interface MetricsRow {
  readonly run: Run
  readonly params: number | null
  readonly macs: number | null
  readonly memory: number | null
  readonly epochSeconds: number | null
}

export type MetricsSortKey =
  | 'name'
  | 'status'
  | 'final'
  | 'best'
  | 'params'
  | 'macs'
  | 'memory'
  | 'epochTime'
  | 'epochs'
  | `config:${string}`

/**
 * One group of the summary: runs sharing every varied field (or the toolbar's field, averaging
 * over the rest and saying so), with the statistics of src/shared/comparison.ts.
 */
export interface SummaryRow {
  readonly key: string
  readonly label: string
  readonly color: string
  readonly runs: readonly Run[]
  readonly group: ComparisonGroup
  /** Against the baseline; null for the baseline itself. */
  readonly comparison: GroupComparison | null
  readonly isBaseline: boolean
  /** The group's final test accuracy: its shared statistics (mean, std over `group.n` runs). */
  readonly final: Stat
  readonly best: Stat
  /** Mean final test accuracy minus the baseline's, in percentage points; null for it. */
  readonly deltaPp: number | null
  readonly params: Stat
  /** Wall-clock seconds per epoch, from whatever sittings the runs trained in: never compared. */
  readonly epochSeconds: Stat
}

export type SummarySortKey =
  'label' | 'n' | 'final' | 'best' | 'delta' | 'p' | 'verdict' | 'params' | 'epochTime'

/** Seconds per epoch by run id (the runs store's, loaded for the runs shown). */
export type EpochSeconds = Readonly<Record<string, number | null | undefined>>

/** The largest finite value, when more than one value has one (else nothing to mark). */
export function bestOf(values: readonly (number | null)[]): number | null {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v))
  return finite.length > 1 ? Math.max(...finite) : null
}

/** A run's params: recorded, else from its architecture. */
const paramsOf = (run: Run): number | null => run.params ?? runCost(run)?.params ?? null

export function metricsRows(runs: readonly Run[], epochSeconds: EpochSeconds): MetricsRow[] {
  return runs.map((run) => {
    const cost = runCost(run)
    return {
      run,
      params: run.params ?? cost?.params ?? null,
      macs: cost?.macs ?? null,
      memory: cost?.trainingMemory ?? null,
      epochSeconds: epochSeconds[run.id] ?? null,
    }
  })
}

/** A config value as a sort value: numbers and text as they are, anything else as its text. */
function configSortValue(run: Run, path: string): Sortable {
  const v = flatConfigOf(run).get(path)
  return typeof v === 'number' || typeof v === 'string' ? v : v === undefined ? null : valueText(v)
}

export function metricsRowValue(r: MetricsRow, key: MetricsSortKey): Sortable {
  if (key.startsWith('config:')) return configSortValue(r.run, key.slice('config:'.length))
  switch (key) {
    case 'name':
      return r.run.name
    case 'status':
      return r.run.status
    case 'final':
      return r.run.finalTestAcc
    case 'best':
      return r.run.bestTestAcc
    case 'params':
      return r.params
    case 'macs':
      return r.macs
    case 'memory':
      return r.memory
    case 'epochTime':
      return r.epochSeconds
    default:
      return r.run.epochsDone
  }
}

/**
 * Names a variant by its values of the fields that tell the runs apart: the fields most runs
 * vary in, and the ones where this variant is the odd one out; at most four, `+N` for the rest.
 */
export function variantLabeller(
  diffs: readonly FieldDiff[],
  factors: readonly string[],
): (flat: Map<string, unknown>) => string {
  const majority = new Map<string, { value: string; others: number }>()
  for (const d of diffs) {
    const counts = new Map<string, number>()
    for (const v of d.values)
      counts.set(canonicalJson(v ?? null), (counts.get(canonicalJson(v ?? null)) ?? 0) + 1)
    const [value, n] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0] ?? ['', 0]
    majority.set(d.path, { value, others: d.values.length - n })
  }
  return (flat) => {
    const parts = factors.filter((p) => {
      const m = majority.get(p)
      return !m || m.others > 1 || canonicalJson(flat.get(p) ?? null) !== m.value
    })
    const text = parts.slice(0, 4).map((p) => `${shortPath(p)}=${valueText(flat.get(p))}`)
    return parts.length > 4 ? `${text.join(' · ')} · +${parts.length - 4} more` : text.join(' · ')
  }
}

export interface SummaryInput {
  readonly stats: GroupStats
  readonly runs: readonly Run[]
  /** The toolbar's group-by field, or '' (by variant). */
  readonly groupBy: string
  readonly variantLabel: (flat: Map<string, unknown>) => string
  readonly colorOf: (id: string) => string
  readonly epochSeconds: EpochSeconds
}

/** A summary row per group of the shared statistics, in their order. */
export function summaryRows(input: SummaryInput): SummaryRow[] {
  const { stats, groupBy } = input
  const byId = new Map(input.runs.map((r) => [r.id, r]))
  const vs = new Map(stats.comparisons.map((c) => [c.otherIndex, c]))
  return stats.groups.map((group, i) => {
    const members = group.runIds.flatMap((id) => byId.get(id) ?? [])
    const first = members[0]
    const flat = first ? flatConfigOf(first) : new Map<string, unknown>()
    const comparison = vs.get(i) ?? null
    return {
      key: JSON.stringify(group.key),
      label: groupBy
        ? `${shortPath(groupBy)} = ${valueText(flat.get(groupBy))}`
        : input.variantLabel(flat) || 'all runs',
      color: input.colorOf(first?.id ?? ''),
      runs: members,
      group,
      comparison,
      isBaseline: i === stats.baselineIndex,
      final: { mean: group.finalTestAcc.mean, std: group.finalTestAcc.std, n: group.n },
      best: stat(members.map((r) => r.bestTestAcc)),
      deltaPp: comparison?.diff == null ? null : comparison.diff * 100,
      params: stat(members.map(paramsOf)),
      epochSeconds: stat(members.map((r) => input.epochSeconds[r.id] ?? null)),
    }
  })
}

export function summaryRowValue(g: SummaryRow, key: SummarySortKey): Sortable {
  switch (key) {
    case 'n':
      return g.runs.length
    case 'final':
      return g.final.mean
    case 'best':
      return g.best.mean
    case 'delta':
      return g.deltaPp
    case 'p':
      return g.comparison?.pAdjusted ?? null
    case 'verdict':
      return g.comparison?.verdict ?? null
    case 'params':
      return g.params.mean
    case 'epochTime':
      return g.epochSeconds.mean
    default:
      return g.label
  }
}

/** Parameters against best test accuracy: a point per row with both, not hidden. */
export function scatterPoints(
  rows: readonly MetricsRow[],
  hidden: readonly string[],
  colorOf: (id: string) => string,
): ScatterPoint[] {
  return rows.flatMap((r) =>
    r.params !== null && r.run.bestTestAcc !== null && !hidden.includes(r.run.id)
      ? [
          {
            id: r.run.id,
            name: r.run.name,
            x: r.params,
            y: r.run.bestTestAcc,
            color: colorOf(r.run.id),
          },
        ]
      : [],
  )
}

/** Parallel coordinates: the first eight factors (categories unless all numbers), then results. */
export function parallelData(
  factors: readonly string[],
  runs: readonly Run[],
  colorOf: (id: string) => string,
): { axes: ParallelAxis[]; lines: ParallelLine[] } {
  const fields = factors.slice(0, 8)
  const axes: ParallelAxis[] = fields.map((path) => {
    const values = runs.map((r) => flatConfigOf(r).get(path))
    const numeric = values.every((v) => typeof v === 'number')
    if (numeric) return { name: shortPath(path) }
    const categories = [...new Set(values.map((v) => valueText(v)))].sort((a, b) =>
      a.localeCompare(b, undefined, { numeric: true }),
    )
    return { name: shortPath(path), categories }
  })
  axes.push(
    { name: 'params', format: siTick },
    { name: 'final acc', format: pctTick },
    { name: 'best acc', format: pctTick },
  )
  const lines: ParallelLine[] = runs.map((run) => {
    const flat = flatConfigOf(run)
    return {
      id: run.id,
      name: run.name,
      color: colorOf(run.id),
      values: [
        ...fields.map((path, i) => {
          const v = flat.get(path)
          return axes[i]?.categories ? valueText(v) : typeof v === 'number' ? v : null
        }),
        paramsOf(run),
        run.finalTestAcc,
        run.bestTestAcc,
      ],
    }
  })
  return { axes, lines }
}
