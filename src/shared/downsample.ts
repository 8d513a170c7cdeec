/**
 * Downsampling a metric series for a chart without hiding what matters: the step range is cut into
 * equal buckets and each bucket keeps its smallest and its largest point (min/max per bucket), so
 * a loss spike or a dip survives however far the chart is zoomed out; the first and the last point
 * are always kept exactly (the final value is what a comparison reads).
 *
 * Each kept point says how many raw points it stands for (`n`) and their mean (`mean`), so that a
 * smoothing of the downsampled series can weigh it as those points (see `emaWeighted` in
 * smoothing.ts): the smoothed line then follows the mean of the data, not the envelope of
 * extremes. Points the series has only once (first, last, or a bucket of one) are exact.
 *
 * The core downsamples from pre-aggregated buckets (the store keeps min/max/count/sum per fixed
 * step range, see src/core/store/metric-buckets.ts) with `mergeBuckets`; `downsample` does the
 * same from raw samples. Both give the same shape of answer.
 */
import type { MetricSample } from './api/types'

/** Points of a series summarised over a range of steps. */
export interface Bucket {
  /** First and last step the bucket covers (its points lie within). */
  readonly start: number
  readonly end: number
  /** Finite values in it, and their sum. */
  readonly n: number
  readonly total: number
  /** The points with the smallest and the largest finite value (undefined when n is 0). */
  readonly min: MetricSample | undefined
  readonly max: MetricSample | undefined
}

/** A bucket of raw samples (NaN values are not counted). */
export function bucketOf(samples: readonly MetricSample[]): Bucket {
  let n = 0
  let total = 0
  let min: MetricSample | undefined
  let max: MetricSample | undefined
  for (const s of samples) {
    if (!Number.isFinite(s.value)) continue
    n++
    total += s.value
    if (min === undefined || s.value < min.value) min = s
    if (max === undefined || s.value > max.value) max = s
  }
  return {
    start: samples[0]?.step ?? 0,
    end: samples[samples.length - 1]?.step ?? 0,
    n,
    total,
    min,
    max,
  }
}

/** A bucket's min and max point in step order, each standing for half of its points. */
function pushPointsOf(
  out: MetricSample[],
  n: number,
  total: number,
  min: MetricSample | undefined,
  max: MetricSample | undefined,
): void {
  if (!min || !max || n === 0) return
  const mean = total / n
  const point = (s: MetricSample, count: number): MetricSample => ({
    step: s.step,
    epoch: s.epoch,
    time: s.time,
    value: s.value,
    n: count,
    mean,
  })
  if (min.step === max.step) {
    out.push(point(min, n))
    return
  }
  const [first, second] = min.step < max.step ? [min, max] : [max, min]
  const half = Math.ceil(n / 2)
  out.push(point(first, half), point(second, n - half))
}

/**
 * Buckets (in step order) regrouped into at most `groups` equal step ranges over [lo, hi], each
 * emitted as its min and max point; `first` and `last` (the window's end points) are added as they
 * are, standing for no extra points (`n: 0`), so the final value is exact and never counted twice.
 *
 * One pass without intermediate buckets: Compare merges 100 runs × ~160 buckets per chart, and
 * building a merged bucket and spread copies per group took ~6 µs a bucket (bench/compare-ui).
 */
export function mergeBuckets(
  buckets: readonly Bucket[],
  groups: number,
  ends: { readonly first?: MetricSample; readonly last?: MetricSample } = {},
): MetricSample[] {
  const count = Math.max(1, Math.floor(groups))
  const lo = ends.first?.step ?? buckets[0]?.start ?? 0
  const hi = ends.last?.step ?? buckets.at(-1)?.end ?? lo
  const width = Math.max(1, (hi - lo + 1) / count)
  const groupOf = (b: Bucket): number =>
    Math.min(count - 1, Math.max(0, Math.floor((b.start - lo) / width)))
  const out: MetricSample[] = []
  for (let i = 0; i < buckets.length;) {
    const g = groupOf(buckets[i] as Bucket)
    let n = 0
    let total = 0
    let min: MetricSample | undefined
    let max: MetricSample | undefined
    for (; i < buckets.length && groupOf(buckets[i] as Bucket) === g; i++) {
      const b = buckets[i] as Bucket
      n += b.n
      total += b.total
      if (b.min && (min === undefined || b.min.value < min.value)) min = b.min
      if (b.max && (max === undefined || b.max.value > max.value)) max = b.max
    }
    pushPointsOf(out, n, total, min, max)
  }
  const exact = (s: MetricSample | undefined): void => {
    if (s === undefined) return
    const at = out.findIndex((p) => p.step === s.step)
    if (at >= 0) out[at] = { ...s, n: out[at]?.n ?? 0, mean: out[at]?.mean ?? s.value }
    else out.push({ ...s, n: 0, mean: s.value })
  }
  exact(ends.first)
  exact(ends.last)
  return out.sort((a, b) => a.step - b.step)
}

/**
 * Raw samples (in step order) reduced to about `maxPoints` points, min and max per bucket, first
 * and last kept. A series that already has at most `maxPoints` points comes back unchanged.
 */
export function downsample(samples: readonly MetricSample[], maxPoints: number): MetricSample[] {
  if (samples.length <= maxPoints) return [...samples]
  const groups = Math.max(1, Math.floor((maxPoints - 2) / 2))
  const first = samples[0] as MetricSample
  const last = samples[samples.length - 1] as MetricSample
  const width = Math.max(1, (last.step - first.step + 1) / groups)
  const buckets: Bucket[] = []
  const group = (s: MetricSample): number => Math.floor((s.step - first.step) / width)
  let start = 0
  for (let i = 1; i <= samples.length; i++) {
    const here = samples[i]
    if (here === undefined || group(here) !== group(samples[start] as MetricSample)) {
      // Non-finite values (a diverged stretch) are not counted; the last point is kept as it is.
      const b = bucketOf(samples.slice(start, i))
      if (b.n > 0) buckets.push(b)
      start = i
    }
  }
  return mergeBuckets(buckets, groups, { first, last })
}
