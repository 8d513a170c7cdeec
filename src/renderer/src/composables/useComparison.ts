/**
 * What the compare view shows, without its presentation: the selected runs the store knows
 * (listed by name, so seeds and variants read in order) and the ones it no longer does, the
 * config filter over them, one colour per run (by id order, so colours do not change with the
 * listing) or per group, their live metric series (downsampled; the zoomed window fetched again
 * at full detail), the config fields that differ, the curves of each chart, and the sort order,
 * baseline and grouping of its tables. The tables' rows themselves (metrics, grouped summary,
 * scatter, parallel coordinates) are derived in lib/compare-tables.ts, from the statistics of
 * src/shared/comparison.ts.
 */
import { computed, nextTick, readonly, shallowRef, watch, watchEffect } from 'vue'
import type { ComputedRef, Ref, ShallowRef } from 'vue'
import type { Run } from '@shared/api/types'
import {
  compareRuns,
  displayNames,
  healthOf,
  type Comparison as GroupStats,
} from '@shared/comparison'
import { runColors } from '@shared/colors'
import { differingFields, type FieldDiff } from '@shared/config-diff'
import { METRICS, type MetricName } from '@shared/metrics'
import { api, errorMessage } from '../api'
import type { Curve, ParallelAxis, ParallelLine, ScatterPoint } from '../lib/charts'
import {
  bestOf,
  metricsRows,
  metricsRowValue,
  parallelData,
  scatterPoints,
  summaryRows,
  summaryRowValue,
  variantLabeller,
  type MetricsRow,
  type MetricsSortKey,
  type SummaryRow,
  type SummarySortKey,
} from '../lib/compare-tables'
import { rankFactors } from '../lib/factors'
import {
  buildCurves,
  groupColors,
  groupLabel,
  groupRuns,
  stepWindow,
  type RunMetrics,
} from '../lib/compare'
import { configPaths, matchesFilters, parseQuery, type ParsedQuery } from '../lib/config-filter'
import { METRIC_INFO } from '../lib/metric-info'
import { useCompareStore } from '../stores/compare'
import { useRunsStore } from '../stores/runs'
import { useSort, type Sort } from './useSort'
import { useLiveMetrics, type LiveMetrics } from './useLiveMetrics'

export type { MetricsRow, MetricsSortKey, SummaryRow, SummarySortKey }

/** Points per series Compare asks for: about two per pixel of a chart's width. */
export const COMPARE_MAX_POINTS = 500

/** Fields that say nothing about a variant: what the ± spans (seed) and the run's name. */
const NOT_A_FACTOR = ['name', 'train.seed']

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

type CompareStore = ReturnType<typeof useCompareStore>
type RunsStore = ReturnType<typeof useRunsStore>

/** The runs selected, filtered and charted; their names, colours and differing fields. */
function selection(compare: CompareStore, runs: RunsStore) {
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
  return {
    selected,
    missing,
    query,
    shown,
    charted,
    diffs,
    groupChoices,
    groupBy,
    runNames,
    nameOf,
    colors,
    byGroup,
    colorOf,
  }
}
type Selection = ReturnType<typeof selection>

/** The charts' live metrics, and whether their first paint is done (`chartsDrawn`). */
function chartMetrics(compare: CompareStore, runs: RunsStore, sel: Selection) {
  // The charts' metrics, and test accuracy (steps per epoch are read off it).
  const names = computed<MetricName[]>(() => [...new Set([...compare.charts, METRICS.testAcc])])
  const shownIds = computed(() => sel.shown.value.map((r) => r.id))
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
    () => void runs.loadEpochSeconds(sel.shown.value),
    { immediate: true },
  )
  return { live, chartsDrawn }
}

/** The zoomed window's points again, at full detail (per-step metrics only). */
function zoomedMetrics(compare: CompareStore, charted: ComputedRef<Run[]>, live: LiveMetrics) {
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
  return { zoomed, zoomLoading }
}

/** Each chart's curves: the zoomed window's points where it has them, else the whole series. */
function chartCurves(
  compare: CompareStore,
  sel: Selection,
  live: LiveMetrics,
  zoomed: ShallowRef<RunMetrics | null>,
): (metric: MetricName) => Curve[] {
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
  return (metric) =>
    buildCurves(sel.charted.value, seriesFor(metric), metric, {
      xMode: compare.xMode,
      smoothing: compare.smoothing,
      perStep: METRIC_INFO[metric].perStep,
      groupBy: sel.groupBy.value,
      colors: sel.groupBy.value ? sel.byGroup.value : sel.colors.value,
      names: sel.runNames.value,
    })
}

/** The tables' state (sort orders, baseline) and their rows, from lib/compare-tables. */
function tables(compare: CompareStore, runs: RunsStore, sel: Selection) {
  const { shown, groupBy, colorOf } = sel
  const rows = computed(() => metricsRows(shown.value, runs.epochSeconds))
  const rowSort = useSort<MetricsSortKey>('name', 1, ['name', 'status'])
  const sortedRows = computed(() => rowSort.sorted(rows.value, metricsRowValue))
  const bestFinal = computed(() => bestOf(shown.value.map((r) => r.finalTestAcc)))
  const bestBest = computed(() => bestOf(shown.value.map((r) => r.bestTestAcc)))

  /** Grouped by the toolbar's field, else by variant: every varied field but the seed. */
  const factors = computed(() =>
    rankFactors(sel.diffs.value.filter((d) => !NOT_A_FACTOR.includes(d.path))),
  )
  const summaryBy = computed(() => groupBy.value || (factors.value.length > 0 ? 'variant' : ''))
  const variantLabel = computed(() => variantLabeller(sel.diffs.value, factors.value))
  const baselineKey = shallowRef<Readonly<Record<string, unknown>> | null>(null)
  const groupStats = computed(() =>
    compareRuns(
      shown.value.map((r) => ({ ...r, health: healthOf(r)?.status ?? null })),
      { by: groupBy.value ? [groupBy.value] : undefined, baselineGroup: baselineKey.value },
    ),
  )
  const unsorted = computed(() =>
    summaryRows({
      stats: groupStats.value,
      runs: shown.value,
      groupBy: groupBy.value,
      variantLabel: variantLabel.value,
      colorOf,
      epochSeconds: runs.epochSeconds,
    }),
  )
  const summarySort = useSort<SummarySortKey>('label', 1, ['label'])
  // By label: the statistics' own group order (or its reverse), not the labels' text order.
  const summary = computed(() =>
    summarySort.key.value === 'label'
      ? summarySort.dir.value === 1
        ? unsorted.value
        : [...unsorted.value].reverse()
      : summarySort.sorted(unsorted.value, summaryRowValue),
  )
  const scatter = computed(() => scatterPoints(rows.value, compare.hidden, colorOf))
  const parallel = computed(() => parallelData(factors.value, sel.charted.value, colorOf))
  return {
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
  }
}

export function useComparison(): Comparison {
  const compare = useCompareStore()
  const runs = useRunsStore()
  if (!runs.loaded) void runs.load()
  const sel = selection(compare, runs)
  const { live, chartsDrawn } = chartMetrics(compare, runs, sel)
  const { zoomed, zoomLoading } = zoomedMetrics(compare, sel.charted, live)
  return {
    selected: sel.selected,
    missing: sel.missing,
    query: sel.query,
    shown: sel.shown,
    charted: sel.charted,
    colorOf: sel.colorOf,
    nameOf: sel.nameOf,
    live,
    diffs: sel.diffs,
    groupChoices: sel.groupChoices,
    groupBy: sel.groupBy,
    curves: chartCurves(compare, sel, live, zoomed),
    zoomLoading,
    ...tables(compare, runs, sel),
    chartsDrawn: readonly(chartsDrawn),
  }
}

export { groupLabel, groupRuns }
