/**
 * What the compare view shows, without its presentation: the selected runs the store knows
 * (listed by name, so seeds and variants read in order) and the ones it no longer does, one
 * colour per run (by id order, so colours do not change with the listing), their live metric
 * series, the config fields that differ, the curves for the chart toolbar's settings, and a
 * metrics row per run.
 */
import { computed, nextTick, watch } from 'vue'
import type { ComputedRef } from 'vue'
import type { Run } from '@shared/api/types'
import { runColors } from '@shared/colors'
import { differingFields, type FieldDiff } from '@shared/config-diff'
import { METRICS, type MetricName } from '@shared/metrics'
import type { Curve, ScatterPoint } from '../lib/charts'
import { buildCurves } from '../lib/compare'
import { runCost } from '../lib/run-cost'
import { useCompareStore } from '../stores/compare'
import { useRunsStore } from '../stores/runs'
import { useLiveMetrics, type LiveMetrics } from './useLiveMetrics'

/** The series the compare view draws. */
export const COMPARE_METRICS: readonly MetricName[] = [
  METRICS.stepLoss,
  METRICS.trainLoss,
  METRICS.testLoss,
  METRICS.testAcc,
]

export interface MetricsRow {
  readonly run: Run
  readonly params: number | null
  readonly macs: number | null
  readonly memory: number | null
  readonly epochSeconds: number | null
}

export interface Comparison {
  readonly selected: ComputedRef<Run[]>
  /** Selected ids the runs store does not have (deleted runs), once it has loaded. */
  readonly missing: ComputedRef<string[]>
  colorOf(id: string): string
  readonly live: LiveMetrics
  readonly diffs: ComputedRef<FieldDiff[]>
  /** Group-by choices: the fields that differ (grouping by a field that does not is pointless). */
  readonly groupChoices: ComputedRef<string[]>
  /** The toolbar's group-by field while it still differs, else '' (one line per run). */
  readonly groupBy: ComputedRef<string>
  curves(metric: MetricName): Curve[]
  readonly rows: ComputedRef<MetricsRow[]>
  /** The best final and best "best" test accuracy, when more than one run has one. */
  readonly bestFinal: ComputedRef<number | null>
  readonly bestBest: ComputedRef<number | null>
  readonly scatter: ComputedRef<ScatterPoint[]>
}

/**
 * Performance marks for bench/compare-ui.bench.ts: metrics arrived, then charts painted (ECharts
 * paints on the animation frame after its option changes, hence two frames after the DOM update).
 */
function markDrawn(): void {
  performance.mark('nin-lab:compare-metrics')
  void nextTick(() =>
    requestAnimationFrame(() =>
      requestAnimationFrame(() => performance.mark('nin-lab:compare-drawn')),
    ),
  )
}

const bestOf = (values: (number | null)[]): number | null => {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v))
  return finite.length > 1 ? Math.max(...finite) : null
}

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
  const colors = computed(() => runColors(compare.ids))
  const colorOf = (id: string): string => colors.value.get(id) ?? '#888888'

  const selectedIds = computed(() => selected.value.map((r) => r.id))
  const live = useLiveMetrics(selectedIds, COMPARE_METRICS, { onLoaded: markDrawn })
  watch(
    () => selectedIds.value.join(','),
    () => void runs.loadEpochSeconds(selected.value),
    { immediate: true },
  )

  const diffs = computed(() => differingFields(selected.value.map((r) => r.config)))
  const groupChoices = computed(() => diffs.value.map((d) => d.path))
  const groupBy = computed(() =>
    groupChoices.value.includes(compare.groupBy) ? compare.groupBy : '',
  )
  const curves = (metric: MetricName): Curve[] =>
    buildCurves(selected.value, live.metrics.value, metric, {
      xMode: compare.xMode,
      smoothing: compare.smoothing,
      groupBy: groupBy.value,
      colors: colors.value,
    })

  const rows = computed<MetricsRow[]>(() =>
    selected.value.map((run) => {
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
  const bestFinal = computed(() => bestOf(selected.value.map((r) => r.finalTestAcc)))
  const bestBest = computed(() => bestOf(selected.value.map((r) => r.bestTestAcc)))
  const scatter = computed<ScatterPoint[]>(() =>
    rows.value.flatMap((r) =>
      r.params !== null && r.run.bestTestAcc !== null
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

  return {
    selected,
    missing,
    colorOf,
    live,
    diffs,
    groupChoices,
    groupBy,
    curves,
    rows,
    bestFinal,
    bestBest,
    scatter,
  }
}
