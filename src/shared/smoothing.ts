/**
 * Curve maths for the charts: EMA smoothing, x alignment (step, epoch or wall time) and the
 * mean ± std band over a group of runs (e.g. the seeds of one configuration). Pure functions over
 * plain arrays, so the dashboard, reports and tests all draw the same curves.
 */
import type { MetricSample } from './api/types'

/** A curve: parallel arrays of x and y, x ascending. */
export interface Series {
  readonly x: readonly number[]
  readonly y: readonly number[]
}

/**
 * Exponential moving average with TensorBoard's debiasing: the running average starts at 0 and
 * is divided by (1 − w^n) after n finite points, so the first points are not dragged towards 0.
 * Non-finite values (a diverging loss) are passed through unchanged and do not disturb the
 * average. `weight` 0 returns the values unchanged; it is clamped to [0, 0.999].
 */
export function ema(values: readonly number[], weight: number): number[] {
  const w = Math.min(Math.max(Number.isFinite(weight) ? weight : 0, 0), 0.999)
  if (w === 0) return [...values]
  let last = 0
  let count = 0
  return values.map((v) => {
    if (!Number.isFinite(v)) return v
    last = last * w + (1 - w) * v
    count++
    return last / (1 - w ** count)
  })
}

/**
 * The same EMA over points that each stand for `counts[i]` raw points with mean `values[i]` (a
 * downsampled series): a point of n raw points decays the average n times, as those points
 * would. With every count 1 it is `ema`. A point standing for none (n 0: an end point kept
 * exactly) leaves the average as it is and shows it, or its own value before any other.
 */
export function emaWeighted(
  values: readonly number[],
  counts: readonly number[],
  weight: number,
): number[] {
  const w = Math.min(Math.max(Number.isFinite(weight) ? weight : 0, 0), 0.999)
  if (w === 0) return [...values]
  let last = 0
  let seen = 0
  return values.map((v, i) => {
    if (!Number.isFinite(v)) return v
    const n = Math.max(0, counts[i] ?? 1)
    if (n === 0) return seen === 0 ? v : last / (1 - w ** seen)
    const decay = w ** n
    last = last * decay + (1 - decay) * v
    seen += n
    return last / (1 - w ** seen)
  })
}

export type XAxisMode = 'step' | 'epoch' | 'time'

export interface AlignOptions {
  /**
   * Unix ms the run started; the time axis counts seconds from it. Defaults to the first
   * sample's time.
   */
  readonly startTime?: number | null
  /**
   * Steps per epoch; with it, per-step samples get a fractional epoch (step 50 of 100 → 0.5).
   * Without it a sample's x is its (integer) epoch.
   */
  readonly stepsPerEpoch?: number | null
}

/** The x of one sample under an axis mode. */
export function sampleX(sample: MetricSample, mode: XAxisMode, options: AlignOptions = {}): number {
  switch (mode) {
    case 'step':
      return sample.step
    case 'epoch': {
      const spe = options.stepsPerEpoch
      return spe !== undefined && spe !== null && spe > 0 ? sample.step / spe : sample.epoch
    }
    case 'time':
      return (sample.time - (options.startTime ?? sample.time)) / 1000
  }
}

/**
 * Samples → a series on the chosen x axis, sorted by x. On the time axis, with no start time
 * given, x counts from the first sample.
 */
export function alignSamples(
  samples: readonly MetricSample[],
  mode: XAxisMode,
  options: AlignOptions = {},
): Series {
  const startTime =
    options.startTime ?? (samples.length > 0 ? Math.min(...samples.map((s) => s.time)) : 0)
  const points = samples
    .map((s) => ({ x: sampleX(s, mode, { ...options, startTime }), y: s.value }))
    .sort((a, b) => a.x - b.x)
  return { x: points.map((p) => p.x), y: points.map((p) => p.y) }
}

/**
 * Steps per epoch of a run, read off its per-epoch samples (an epoch sample is logged at the
 * epoch's last step). Null when there is nothing to read it from.
 */
export function stepsPerEpochOf(epochSamples: readonly MetricSample[]): number | null {
  for (const s of epochSamples) {
    if (s.epoch > 0 && s.step > 0) return s.step / s.epoch
  }
  return null
}

/** Linear interpolation of a series at x; undefined outside its range. */
export function interpolate(s: Series, x: number): number | undefined {
  const n = s.x.length
  if (n === 0) return undefined
  const first = s.x[0] as number
  const last = s.x[n - 1] as number
  if (x < first || x > last) return undefined
  let lo = 0
  let hi = n - 1
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1
    if ((s.x[mid] as number) <= x) lo = mid
    else hi = mid
  }
  const x0 = s.x[lo] as number
  const x1 = s.x[hi] as number
  const y0 = s.y[lo] as number
  const y1 = s.y[hi] as number
  if (x === x0 || x1 === x0) return y0
  if (x === x1) return y1
  return y0 + ((y1 - y0) * (x - x0)) / (x1 - x0)
}

export interface MeanStd {
  readonly x: number[]
  readonly mean: number[]
  /** Sample standard deviation (n − 1); 0 where only one series has a value. */
  readonly std: number[]
  /** How many series contributed at each x. */
  readonly n: number[]
}

const sameX = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i])

/**
 * Mean ± std across series on a common x grid. Series that share their x values (runs aligned by
 * step or epoch) are combined point by point, each x using the series that reach it. Otherwise
 * (wall time) every series is interpolated onto `points` evenly spaced x over the range all of
 * them cover, so a band never mixes a run's start with another's end.
 */
export function meanStd(series: readonly Series[], points = 200): MeanStd {
  const usable = series
    .map((s) => {
      const keep = s.x.map((_, i) => i).filter((i) => Number.isFinite(s.y[i] as number))
      return { x: keep.map((i) => s.x[i] as number), y: keep.map((i) => s.y[i] as number) }
    })
    .filter((s) => s.x.length > 0)
  if (usable.length === 0) return { x: [], mean: [], std: [], n: [] }

  let grid: number[]
  /** The y of series `k` at grid point `i` (x), or undefined where it has none. */
  let valuesAt: (x: number, k: number, i: number) => number | undefined
  const first = usable[0] as Series
  if (usable.every((s) => sameX(s.x, first.x))) {
    grid = [...first.x]
    valuesAt = (_x, k, i) => usable[k]?.y[i]
  } else if (usable.every((s) => s.x.every((x) => Number.isInteger(x)))) {
    // Step or epoch x that differ only in length (a run still going): the union of x values.
    grid = [...new Set(usable.flatMap((s) => s.x))].sort((a, b) => a - b)
    const byX = usable.map((s) => new Map(s.x.map((x, i) => [x, s.y[i] as number])))
    valuesAt = (x, k) => byX[k]?.get(x)
  } else {
    const lo = Math.max(...usable.map((s) => s.x[0] as number))
    const hi = Math.min(...usable.map((s) => s.x[s.x.length - 1] as number))
    if (!(hi >= lo)) return { x: [], mean: [], std: [], n: [] }
    const count = hi === lo ? 1 : Math.max(2, Math.floor(points))
    grid = Array.from({ length: count }, (_, i) =>
      count === 1 ? lo : lo + ((hi - lo) * i) / (count - 1),
    )
    valuesAt = (x, k) => {
      const s = usable[k]
      return s === undefined ? undefined : interpolate(s, x)
    }
  }

  const out: MeanStd = { x: [], mean: [], std: [], n: [] }
  grid.forEach((x, i) => {
    const ys = usable
      .map((_, k) => valuesAt(x, k, i))
      .filter((y): y is number => y !== undefined && Number.isFinite(y))
    if (ys.length === 0) return
    const mean = ys.reduce((a, b) => a + b, 0) / ys.length
    const variance =
      ys.length > 1 ? ys.reduce((a, y) => a + (y - mean) ** 2, 0) / (ys.length - 1) : 0
    out.x.push(x)
    out.mean.push(mean)
    out.std.push(Math.sqrt(variance))
    out.n.push(ys.length)
  })
  return out
}
