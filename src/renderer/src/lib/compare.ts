/**
 * The compare view's curves: per run (smoothed over the faded raw line) or per group of runs
 * sharing a config value (mean ± std across the group, e.g. over seeds), on the chosen x axis.
 */
import type { MetricSample, Run } from '@shared/api/types'
import type { MetricName } from '@shared/metrics'
import { METRICS } from '@shared/metrics'
import {
  alignSamples,
  ema,
  meanStd,
  stepsPerEpochOf,
  type Series,
  type XAxisMode,
} from '@shared/smoothing'
import type { Curve } from './charts'
import { flattenConfig } from '@shared/config-diff'
import { valueText } from '@shared/format'
import { datasetSize } from '@shared/config/experiment'

export type RunMetrics = Readonly<
  Record<string, Partial<Record<MetricName, readonly MetricSample[]>>>
>

export interface CurveOptions {
  readonly xMode: XAxisMode
  readonly smoothing: number
  /** Flat config path to group by, or '' for one curve per run. */
  readonly groupBy: string
  readonly colors: ReadonlyMap<string, string>
}

/** Steps per epoch of a run: read off its epoch metrics, else from its config. */
export function runStepsPerEpoch(run: Run, metrics: RunMetrics): number {
  const fromMetrics = stepsPerEpochOf(metrics[run.id]?.[METRICS.testAcc] ?? [])
  if (fromMetrics) return fromMetrics
  const images = run.config.data.trainLimit ?? datasetSize(run.config.data.dataset)?.train ?? 60_000
  return Math.ceil(images / run.config.train.batchSize)
}

/** A run's series of one metric on the x axis (raw, unsmoothed). */
export function runSeries(
  run: Run,
  metrics: RunMetrics,
  metric: MetricName,
  xMode: XAxisMode,
): Series {
  const samples = metrics[run.id]?.[metric] ?? []
  return alignSamples(samples, xMode, {
    startTime: run.startedAt,
    stepsPerEpoch: runStepsPerEpoch(run, metrics),
  })
}

/** Runs grouped by the text of a config value, groups in first-seen order. */
export function groupRuns(runs: readonly Run[], path: string): Map<string, Run[]> {
  const groups = new Map<string, Run[]>()
  for (const run of runs) {
    const key = valueText(flattenConfig(run.config).get(path))
    const list = groups.get(key)
    if (list) list.push(run)
    else groups.set(key, [run])
  }
  return groups
}

export function buildCurves(
  runs: readonly Run[],
  metrics: RunMetrics,
  metric: MetricName,
  options: CurveOptions,
): Curve[] {
  const colorOf = (id: string): string => options.colors.get(id) ?? '#888888'
  const raw = new Map(runs.map((r) => [r.id, runSeries(r, metrics, metric, options.xMode)]))
  const smooth = (s: Series): Series => ({ x: s.x, y: ema(s.y, options.smoothing) })

  if (!options.groupBy) {
    return runs.map((run) => {
      const series = raw.get(run.id) as Series
      return {
        id: run.id,
        name: run.name,
        color: colorOf(run.id),
        line: smooth(series),
        raw: options.smoothing > 0 ? series : undefined,
      }
    })
  }

  const curves: Curve[] = []
  for (const [key, members] of groupRuns(runs, options.groupBy)) {
    const stats = meanStd(members.map((r) => smooth(raw.get(r.id) as Series)))
    const first = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))[0]
    const spread = stats.std.some((s) => s > 0)
    curves.push({
      id: `group:${key}`,
      name: `${options.groupBy.replace(/^(model|data|train)\./, '')}=${key} (n=${members.length})`,
      color: colorOf(first?.id ?? ''),
      line: { x: stats.x, y: stats.mean },
      band: spread
        ? {
            x: stats.x,
            lower: stats.mean.map((m, i) => m - (stats.std[i] ?? 0)),
            upper: stats.mean.map((m, i) => m + (stats.std[i] ?? 0)),
          }
        : undefined,
    })
  }
  return curves
}

export const X_AXIS_NAMES: Record<XAxisMode, string> = {
  step: 'step',
  epoch: 'epoch',
  time: 'wall time (s)',
}
