/**
 * What the compare view shows, without its presentation: the selected runs the store knows
 * (listed by name, so seeds and variants read in order) and the ones it no longer does, the
 * config filter over them, one colour per run (by id order, so colours do not change with the
 * listing) or per group, their live metric series (downsampled; the zoomed window fetched again
 * at full detail), the config fields that differ, the curves of each chart, a sortable metrics
 * row per run, a grouped mean ± std summary, the scatter and the parallel coordinates.
 */
import { computed, nextTick, readonly, shallowRef, watch, watchEffect } from 'vue'
import type { ComputedRef, Ref, ShallowRef } from 'vue'
import type { Run } from '@shared/api/types'
import { stat, type Stat } from '@shared/ablation'
import {
  compareRuns,
  displayNames,
  healthOf,
  type Comparison as GroupStats,
  type ComparisonGroup,
  type GroupComparison,
} from '@shared/comparison'
import { runColors } from '@shared/colors'
import { differingFields, type FieldDiff } from '@shared/config-diff'
import { canonicalJson } from '@shared/grid'
import { pctTick, siTick, valueText } from '@shared/format'
import { METRICS, type MetricName } from '@shared/metrics'
import { api, errorMessage } from '../api'
import type { Curve, ParallelAxis, ParallelLine, ScatterPoint } from '../lib/charts'
import { rankFactors } from '../lib/factors'
import {
  buildCurves,
  groupColors,
  groupLabel,
  groupRuns,
  stepWindow,
  type RunMetrics,
} from '../lib/compare'
import {
  configPaths,
  flatConfigOf,
  matchesFilters,
  parseQuery,
  type ParsedQuery,
} from '../lib/config-filter'
import { METRIC_INFO } from '../lib/metric-info'
import { runCost } from '../lib/run-cost'
import { useCompareStore } from '../stores/compare'
import { useRunsStore } from '../stores/runs'
import { useSort, type Sort, type SortValue } from './useSort'
import { useLiveMetrics, type LiveMetrics } from './useLiveMetrics'

/** Points per series Compare asks for: about two per pixel of a chart's width. */
export const COMPARE_MAX_POINTS = 500

/** Fields that say nothing about a variant: what the ± spans (seed) and the run's name. */
const NOT_A_FACTOR = ['name', 'train.seed']

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

export interface Comparison {
  readonly selected: ComputedRef<Run[]>
  /** Selected ids the runs store does not have (deleted runs), once it has loaded. */
  readonly missing: ComputedRef<string[]>
  /** The filter query, parsed (config filters, unknown field names). */
  readonly query: ComputedRef<ParsedQuery>
  /** The selected runs that pass the filter: what the tables show. */
  readonly shown: ComputedRef<Run[]>
  /** Those not hidden in the legend: what the charts draw. */
  readonly charted: ComputedRef<Run[]>
  colorOf(id: string): string
  /** A run's name for a person: with its experiment where two selected runs share a name. */
  nameOf(run: Run): string
  readonly live: LiveMetrics
  readonly diffs: ComputedRef<FieldDiff[]>
  /** The config fields that differ, without the name: the group-by and column choices. */
  readonly groupChoices: ComputedRef<string[]>
  /** The toolbar's group-by field while it still differs, else '' (one line per run). */
  readonly groupBy: ComputedRef<string>
  curves(metric: MetricName): Curve[]
  /** The zoomed window's own fetch is on its way. */
  readonly zoomLoading: ShallowRef<boolean>
  readonly rows: ComputedRef<MetricsRow[]>
  readonly rowSort: Sort<MetricsSortKey>
  /** The best final and best "best" test accuracy, when more than one run has one. */
  readonly bestFinal: ComputedRef<number | null>
  readonly bestBest: ComputedRef<number | null>
  readonly summaryBy: ComputedRef<string>
  /** The groups' statistics: noise, baseline, comparisons (Holm within the summary). */
  readonly groupStats: ComputedRef<GroupStats>
  /** The group key the user picked as the baseline (null: the default, d2l's setting). */
  readonly baselineKey: ShallowRef<Readonly<Record<string, unknown>> | null>
  readonly summary: ComputedRef<SummaryRow[]>
  readonly summarySort: Sort<SummarySortKey>
  readonly scatter: ComputedRef<ScatterPoint[]>
  readonly parallel: ComputedRef<{ axes: ParallelAxis[]; lines: ParallelLine[] }>
  /**
   * The charts have painted the first metrics (or there were none to wait for, or they failed):
   * from then on the view renders what lies below the charts (see CompareView).
   */
  readonly chartsDrawn: Readonly<Ref<boolean>>
}

/**
 * Metrics arrived: then, once the charts have painted, `painted` is called. ECharts paints on the
 * animation frame after its option changes, hence two frames after the DOM update. Both moments
 * are performance marks too, read by bench/compare-ui.bench.ts.
 */
function markDrawn(painted?: () => void): void {
  performance.mark('nin-lab:compare-metrics')
  void nextTick(() =>
    requestAnimationFrame(() =>
      requestAnimationFrame(() => {
        performance.mark('nin-lab:compare-drawn')
        painted?.()
      }),
    ),
  )
}

const bestOf = (values: (number | null)[]): number | null => {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v))
  return finite.length > 1 ? Math.max(...finite) : null
}

const shortPath = (path: string): string => path.replace(/^(model|data|train)\./, '')

export function useComparison(): Comparison {
  const compare = useCompareStore()
  const runs = useRunsStore()
  if (!runs.loaded) void runs.load()

  const selected = computed<Run[]>(() =>
    compare.ids
      .map((id) => runs.byId.get(id))
      .filter((r): r is Run => r !== undefined)
      .sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true })),
  )
  const missing = computed(() =>
    runs.loaded ? compare.ids.filter((id) => !runs.byId.has(id)) : [],
  )

  const query = computed(() => parseQuery(compare.query, configPaths(selected.value)))
  const shown = computed(() => selected.value.filter((r) => matchesFilters(r, query.value.filters)))
  const charted = computed(() => shown.value.filter((r) => !compare.hidden.includes(r.id)))

  const diffs = computed(() => differingFields(shown.value.map((r) => r.config)))
  const groupChoices = computed(() => diffs.value.map((d) => d.path))
  const groupBy = computed(() =>
    groupChoices.value.includes(compare.groupBy) ? compare.groupBy : '',
  )

  const runNames = computed(() => displayNames(selected.value))
  const nameOf = (run: Run): string => runNames.value.get(run.id) ?? run.name
  const colors = computed(() => runColors(compare.ids))
  const byGroup = computed(() => groupColors(shown.value, groupBy.value, colors.value))
  /** A run's colour: its group's when grouped, so every chart and table agree. */
  const colorOf = (id: string): string => byGroup.value.get(id) ?? colors.value.get(id) ?? '#888888'

  // The charts' metrics, and test accuracy (steps per epoch are read off it).
  const names = computed<MetricName[]>(() => [...new Set([...compare.charts, METRICS.testAcc])])
  const shownIds = computed(() => shown.value.map((r) => r.id))
  // The first metrics' drawing comes before anything else the view has to render: with 100 runs
  // the tables below the charts took ~250 ms to render, on the same main thread, before the
  // curves could be drawn (bench/compare-ui.bench.ts). Sticky: later reloads redraw in place.
  const chartsDrawn = shallowRef(false)
  /** The first metrics have landed and their paint is awaited. */
  let drawPending = false
  const live = useLiveMetrics(shownIds, names, {
    onLoaded: () => {
      if (chartsDrawn.value || drawPending) return markDrawn()
      drawPending = true
      markDrawn(() => (chartsDrawn.value = true))
    },
    maxPoints: COMPARE_MAX_POINTS,
  })
  // Nothing to wait for (no runs, no metrics, or the fetch failed): the rest renders now.
  watchEffect(() => {
    if (!chartsDrawn.value && !drawPending && runs.loaded && !live.loading.value) {
      chartsDrawn.value = true
    }
  })
  watch(
    () => shownIds.value.join(','),
    () => void runs.loadEpochSeconds(shown.value),
    { immediate: true },
  )

  // --- zoom: the window's points again, at full detail ---------------------------------------

  const zoomed = shallowRef<RunMetrics | null>(null)
  const zoomLoading = shallowRef(false)
  let zoomSeq = 0
  let zoomTimer: ReturnType<typeof setTimeout> | null = null
  /** Per-step metrics only: a per-epoch series is never downsampled (a few points). */
  const stepMetrics = computed(() => compare.charts.filter((m) => METRIC_INFO[m].perStep))

  async function fetchZoomed(): Promise<void> {
    const window = compare.zoom
    const metric = stepMetrics.value[0]
    const seq = ++zoomSeq
    if (!window || !metric || charted.value.length === 0) {
      zoomed.value = null
      return
    }
    const steps = stepWindow(charted.value, live.metrics.value, metric, compare.xMode, window)
    if (!steps) return
    zoomLoading.value = true
    try {
      const got = await api.getMetrics({
        ids: charted.value.map((r) => r.id),
        names: [...stepMetrics.value],
        maxPoints: COMPARE_MAX_POINTS,
        ...steps,
      })
      if (seq === zoomSeq) zoomed.value = got
    } catch (err) {
      // The whole series stays drawn (downsampled): the window is only less detailed.
      if (seq === zoomSeq) console.error(`zoomed metrics: ${errorMessage(err)}`)
    } finally {
      if (seq === zoomSeq) zoomLoading.value = false
    }
  }
  watch(
    () => [compare.zoom, stepMetrics.value.join(','), charted.value.map((r) => r.id).join(',')],
    () => {
      if (zoomTimer) clearTimeout(zoomTimer)
      if (!compare.zoom) {
        zoomSeq++
        zoomed.value = null
        zoomLoading.value = false
        return
      }
      // Wheel and drag give a burst of windows: fetch for the one the user stops at.
      zoomTimer = setTimeout(() => void fetchZoomed(), 150)
    },
  )

  /** The series a chart draws: the zoomed window's where it has them, else the whole. */
  const seriesFor = (metric: MetricName): RunMetrics => {
    const z = zoomed.value
    if (!z || !compare.zoom || !METRIC_INFO[metric].perStep) return live.metrics.value
    const out: Record<string, RunMetrics[string]> = {}
    for (const [id, series] of Object.entries(live.metrics.value)) {
      const window = z[id]?.[metric]
      // The zoomed points, and test accuracy from the whole series (steps per epoch).
      out[id] = window ? { ...series, [metric]: window } : series
    }
    return out
  }

  const curves = (metric: MetricName): Curve[] =>
    buildCurves(charted.value, seriesFor(metric), metric, {
      xMode: compare.xMode,
      smoothing: compare.smoothing,
      perStep: METRIC_INFO[metric].perStep,
      groupBy: groupBy.value,
      colors: groupBy.value ? byGroup.value : colors.value,
      names: runNames.value,
    })

  // --- the metrics table ----------------------------------------------------------------------

  const rows = computed<MetricsRow[]>(() =>
    shown.value.map((run) => {
      const cost = runCost(run)
      return {
        run,
        params: run.params ?? cost?.params ?? null,
        macs: cost?.macs ?? null,
        memory: cost?.trainingMemory ?? null,
        epochSeconds: runs.epochSeconds[run.id] ?? null,
      }
    }),
  )
  const rowSort = useSort<MetricsSortKey>('name', 1, ['name', 'status'])
  const rowValue = (r: MetricsRow, key: MetricsSortKey): SortValue => {
    if (key.startsWith('config:')) {
      const v = flatConfigOf(r.run).get(key.slice('config:'.length))
      return typeof v === 'number' || typeof v === 'string'
        ? v
        : v === undefined
          ? null
          : valueText(v)
    }
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
  const sortedRows = computed(() => rowSort.sorted(rows.value, rowValue))

  const bestFinal = computed(() => bestOf(shown.value.map((r) => r.finalTestAcc)))
  const bestBest = computed(() => bestOf(shown.value.map((r) => r.bestTestAcc)))

  // --- the grouped summary ----------------------------------------------------------------------

  /** Grouped by the toolbar's field, else by variant: every varied field but the seed. */
  const factors = computed(() =>
    rankFactors(diffs.value.filter((d) => !NOT_A_FACTOR.includes(d.path))),
  )
  const summaryBy = computed(() => groupBy.value || (factors.value.length > 0 ? 'variant' : ''))
  /**
   * A variant named by its values of the fields that tell the runs apart: the fields most runs
   * vary in, and the ones where this variant is the odd one out; at most four, `+N` for the rest.
   */
  const majority = computed(() => {
    const out = new Map<string, { value: string; others: number }>()
    for (const d of diffs.value) {
      const counts = new Map<string, number>()
      for (const v of d.values)
        counts.set(canonicalJson(v ?? null), (counts.get(canonicalJson(v ?? null)) ?? 0) + 1)
      const [value, n] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0] ?? ['', 0]
      out.set(d.path, { value, others: d.values.length - n })
    }
    return out
  })
  function variantLabel(flat: Map<string, unknown>): string {
    const parts = factors.value.filter((p) => {
      const m = majority.value.get(p)
      return !m || m.others > 1 || canonicalJson(flat.get(p) ?? null) !== m.value
    })
    const text = parts.slice(0, 4).map((p) => `${shortPath(p)}=${valueText(flat.get(p))}`)
    return parts.length > 4 ? `${text.join(' · ')} · +${parts.length - 4} more` : text.join(' · ')
  }

  const baselineKey = shallowRef<Readonly<Record<string, unknown>> | null>(null)
  const groupStats = computed(() =>
    compareRuns(
      shown.value.map((r) => ({ ...r, health: healthOf(r)?.status ?? null })),
      {
        by: groupBy.value ? [groupBy.value] : undefined,
        baselineGroup: baselineKey.value,
      },
    ),
  )
  const summaryRows = computed<SummaryRow[]>(() => {
    const stats = groupStats.value
    const byId = new Map(shown.value.map((r) => [r.id, r]))
    const vs = new Map(stats.comparisons.map((c) => [c.otherIndex, c]))
    return stats.groups.map((group, i) => {
      const members = group.runIds.flatMap((id) => byId.get(id) ?? [])
      const first = members[0]
      const flat = first ? flatConfigOf(first) : new Map<string, unknown>()
      const comparison = vs.get(i) ?? null
      return {
        key: JSON.stringify(group.key),
        label: groupBy.value
          ? `${shortPath(groupBy.value)} = ${valueText(flat.get(groupBy.value))}`
          : variantLabel(flat) || 'all runs',
        color: colorOf(first?.id ?? ''),
        runs: members,
        group,
        comparison,
        isBaseline: i === stats.baselineIndex,
        final: stat(members.map((r) => r.finalTestAcc)),
        best: stat(members.map((r) => r.bestTestAcc)),
        deltaPp: comparison?.diff == null ? null : comparison.diff * 100,
        params: stat(members.map((r) => r.params ?? runCost(r)?.params ?? null)),
        epochSeconds: stat(members.map((r) => runs.epochSeconds[r.id] ?? null)),
      }
    })
  })
  const summarySort = useSort<SummarySortKey>('label', 1, ['label'])
  const summary = computed(() =>
    summarySort.key.value === 'label'
      ? summarySort.dir.value === 1
        ? summaryRows.value
        : [...summaryRows.value].reverse()
      : summarySort.sorted(summaryRows.value, (g, key) => {
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
        }),
  )

  // --- scatter and parallel coordinates -------------------------------------------------------

  const scatter = computed<ScatterPoint[]>(() =>
    rows.value.flatMap((r) =>
      r.params !== null && r.run.bestTestAcc !== null && !compare.hidden.includes(r.run.id)
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
    ),
  )

  const parallel = computed(() => {
    const fields = factors.value.slice(0, 8)
    const list = charted.value
    const axes: ParallelAxis[] = fields.map((path) => {
      const values = list.map((r) => flatConfigOf(r).get(path))
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
    const lines: ParallelLine[] = list.map((run) => {
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
          run.params ?? runCost(run)?.params ?? null,
          run.finalTestAcc,
          run.bestTestAcc,
        ],
      }
    })
    return { axes, lines }
  })

  return {
    selected,
    missing,
    query,
    shown,
    charted,
    colorOf,
    nameOf,
    live,
    diffs,
    groupChoices,
    groupBy,
    curves,
    zoomLoading,
    rows: sortedRows,
    rowSort,
    bestFinal,
    bestBest,
    summaryBy,
    groupStats,
    baselineKey,
    summary,
    summarySort,
    scatter,
    parallel,
    chartsDrawn: readonly(chartsDrawn),
  }
}

export { groupLabel, groupRuns }
