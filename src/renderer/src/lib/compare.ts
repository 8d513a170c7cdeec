/**
 * The compare view's curves: per run (per-step series smoothed over the faded raw line, per-epoch
 * series as they are) or per group of runs sharing a config value (mean ± std across the group,
 * e.g. over seeds), on the chosen x axis, each with its final value.
 */
import type { MetricSample, Run } from '@shared/api/types'
import type { MetricName } from '@shared/metrics'
import { METRICS } from '@shared/metrics'
import {
  alignSamples,
  ema,
  emaWeighted,
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
  /** EMA weight, applied only to a per-step metric (`perStep`). */
  readonly smoothing: number
  readonly perStep: boolean
  /** Flat config path to group by, or '' for one curve per run. */
  readonly groupBy: string
  readonly colors: ReadonlyMap<string, string>
  /** Each run's name for a person (with its experiment where names repeat); default: its name. */
  readonly names?: ReadonlyMap<string, string>
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

/**
 * A run's series smoothed with an EMA. A downsampled series (points carrying `n` and `mean`)
 * is smoothed over the means, each weighed by the points it stands for, so the line follows the
 * data's mean rather than the envelope of extremes that min/max downsampling keeps.
 */
export function smoothedSeries(
  run: Run,
  metrics: RunMetrics,
  metric: MetricName,
  xMode: XAxisMode,
  weight: number,
): Series {
  const samples = metrics[run.id]?.[metric] ?? []
  const align = { startTime: run.startedAt, stepsPerEpoch: runStepsPerEpoch(run, metrics) }
  const sampled = samples.some((p) => p.n !== undefined)
  if (!sampled) {
    const s = alignSamples(samples, xMode, align)
    return { x: s.x, y: ema(s.y, weight) }
  }
  // Same x as runSeries (alignSamples sorts by x, which follows the step order).
  const means = alignSamples(
    samples.map((p) => ({ ...p, value: p.mean ?? p.value })),
    xMode,
    align,
  )
  const counts = [...samples].map((p) => p.n ?? 1)
  return { x: means.x, y: emaWeighted(means.y, counts, weight) }
}

/** The last finite point of a series: a run's final value. */
export function finalPoint(s: Series): { x: number; y: number } | undefined {
  for (let i = s.y.length - 1; i >= 0; i--) {
    const y = s.y[i] as number
    if (Number.isFinite(y)) return { x: s.x[i] as number, y }
  }
  return undefined
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

/** The colour of each run's group (its first run by id), for every chart and table alike. */
export function groupColors(
  runs: readonly Run[],
  path: string,
  colors: ReadonlyMap<string, string>,
): Map<string, string> {
  const out = new Map<string, string>()
  if (!path) return out
  for (const members of groupRuns(runs, path).values()) {
    const first = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))[0]
    const color = colors.get(first?.id ?? '') ?? '#888888'
    for (const m of members) out.set(m.id, color)
  }
  return out
}

/** A group's label: `microConvs=2 (n=3)`. */
export const groupLabel = (path: string, key: string, n: number): string =>
  `${path.replace(/^(model|data|train)\./, '')}=${key} (n=${n})`

/**
 * The curves of one metric: per run, or per group of runs sharing a config value (mean ± std
 * across the group). Only per-step series are smoothed (`smoothing` > 0): the faded raw line
 * stays behind the smoothed one; per-epoch series (a few points each) are drawn as they are, so
 * a line never ends anywhere but at the run's real final value.
 */
export function buildCurves(
  runs: readonly Run[],
  metrics: RunMetrics,
  metric: MetricName,
  options: CurveOptions,
): Curve[] {
  const colorOf = (id: string): string => options.colors.get(id) ?? '#888888'
  const weight = options.perStep ? options.smoothing : 0
  const raw = new Map(runs.map((r) => [r.id, runSeries(r, metrics, metric, options.xMode)]))
  const smooth = (run: Run): Series =>
    weight > 0
      ? smoothedSeries(run, metrics, metric, options.xMode, weight)
      : (raw.get(run.id) as Series)

  if (!options.groupBy) {
    return runs.map((run) => {
      const series = raw.get(run.id) as Series
      return {
        id: run.id,
        name: options.names?.get(run.id) ?? run.name,
        color: colorOf(run.id),
        line: smooth(run),
        raw: weight > 0 ? series : undefined,
        final: finalPoint(series),
      }
    })
  }

  const curves: Curve[] = []
  for (const [key, members] of groupRuns(runs, options.groupBy)) {
    const stats = meanStd(members.map(smooth))
    const first = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))[0]
    const spread = stats.std.some((s) => s > 0)
    const finals = members
      .map((m) => finalPoint(raw.get(m.id) as Series))
      .filter((p): p is { x: number; y: number } => p !== undefined)
    curves.push({
      id: `group:${key}`,
      name: groupLabel(options.groupBy, key, members.length),
      color: colorOf(first?.id ?? ''),
      line: { x: stats.x, y: stats.mean },
      band: spread
        ? {
            x: stats.x,
            lower: stats.mean.map((m, i) => m - (stats.std[i] ?? 0)),
            upper: stats.mean.map((m, i) => m + (stats.std[i] ?? 0)),
          }
        : undefined,
      // The group's final value: the mean of its runs' final values, at the latest of them.
      final:
        finals.length > 0
          ? {
              x: Math.max(...finals.map((p) => p.x)),
              y: finals.reduce((a, p) => a + p.y, 0) / finals.length,
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

/**
 * The steps a window of the x axis covers in some runs' series (the union): what a zoomed chart
 * asks the core for. Null when no run has points there.
 */
export function stepWindow(
  runs: readonly Run[],
  metrics: RunMetrics,
  metric: MetricName,
  xMode: XAxisMode,
  window: { readonly start: number; readonly end: number },
): { fromStep: number; toStep: number } | null {
  let from = Infinity
  let to = -Infinity
  for (const run of runs) {
    const samples = metrics[run.id]?.[metric] ?? []
    const s = alignSamples(samples, xMode, {
      startTime: run.startedAt,
      stepsPerEpoch: runStepsPerEpoch(run, metrics),
    })
    const steps = [...samples].map((p) => p.step).sort((a, b) => a - b)
    for (let i = 0; i < s.x.length; i++) {
      const x = s.x[i] as number
      // The points just outside the window too: the line enters and leaves the chart.
      const inside =
        (x >= window.start && x <= window.end) ||
        ((s.x[i + 1] ?? -Infinity) >= window.start && x < window.start) ||
        ((s.x[i - 1] ?? Infinity) <= window.end && x > window.end)
      if (!inside) continue
      const step = steps[i] as number
      from = Math.min(from, step)
      to = Math.max(to, step)
    }
  }
  return Number.isFinite(from) && Number.isFinite(to) ? { fromStep: from, toStep: to } : null
}
