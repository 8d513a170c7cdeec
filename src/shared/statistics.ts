/**
 * The statistics behind every comparison of runs: Student t, summaries with 95% confidence
 * intervals, paired and Welch differences, Holm's adjustment and the verdict in words. Pure
 * math, no dependencies; checked against scipy.stats (tests/fixtures/stats_reference.py) and
 * hand-worked cases. Why Student t and why Holm: docs/statistics.md.
 *
 * A study has few seeds per group (2–5), so the t distribution, not the normal, sets the width
 * of every interval: with n = 2 the 95% interval is ±12.7 standard errors, not ±1.96.
 */

// ---------------------------------------------------------------------------------------------
// Special functions

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
  -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7,
]

/** ln Γ(x) for x > 0 (Lanczos, g = 7; relative error ~1e-15). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x)
  const z = x - 1
  let sum = LANCZOS[0] ?? 1
  for (let i = 1; i < LANCZOS.length; i++) sum += (LANCZOS[i] ?? 0) / (z + i)
  const t = z + 7.5
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum)
}

const TINY = 1e-300
const EPS = 1e-16

/** The continued fraction of I_x(a, b) (modified Lentz), valid for x < (a + 1) / (a + b + 2). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  let c = 1
  let d = 1 - ((a + b) * x) / (a + 1)
  if (Math.abs(d) < TINY) d = TINY
  d = 1 / d
  let h = d
  for (let m = 1; m <= 100000; m++) {
    const m2 = 2 * m
    const even = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2))
    d = 1 + even * d
    c = 1 + even / c
    d = 1 / (Math.abs(d) < TINY ? TINY : d)
    c = Math.abs(c) < TINY ? TINY : c
    h *= d * c
    const odd = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1))
    d = 1 + odd * d
    c = 1 + odd / c
    d = 1 / (Math.abs(d) < TINY ? TINY : d)
    c = Math.abs(c) < TINY ? TINY : c
    const step = d * c
    h *= step
    if (Math.abs(step - 1) < EPS) return h
  }
  return h // not reached for the a, b a t distribution asks for (df ≤ 1e8)
}

/** The regularized incomplete beta function I_x(a, b), for a, b > 0 and 0 ≤ x ≤ 1. */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0 && b > 0) || !(x >= 0 && x <= 1)) {
    throw new RangeError(`incompleteBeta needs a, b > 0 and 0 ≤ x ≤ 1 (got x=${x}, a=${a}, b=${b})`)
  }
  if (x === 0 || x === 1) return x
  const logFront =
    logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x)
  const front = Math.exp(logFront)
  // The continued fraction converges fast on one side of the mean; use the symmetry on the other.
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b
}

function checkDf(df: number): void {
  if (!(Number.isFinite(df) && df > 0)) {
    throw new RangeError(`degrees of freedom must be a finite number > 0 (got ${df})`)
  }
}

/**
 * P(T > |t|) for Student's t with `df` degrees of freedom, computed directly (not as 1 − CDF),
 * so tiny p-values keep their precision.
 */
export function studentTTail(t: number, df: number): number {
  checkDf(df)
  if (Number.isNaN(t)) return NaN
  if (!Number.isFinite(t)) return 0
  return 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5)
}

/** The CDF of Student's t: P(T ≤ t). */
export function studentTCdf(t: number, df: number): number {
  const tail = studentTTail(t, df)
  return t >= 0 ? 1 - tail : tail
}

/** The density of Student's t. */
export function studentTPdf(t: number, df: number): number {
  checkDf(df)
  const logPdf =
    logGamma((df + 1) / 2) -
    logGamma(df / 2) -
    0.5 * Math.log(df * Math.PI) -
    ((df + 1) / 2) * Math.log1p((t * t) / df)
  return Math.exp(logPdf)
}

/**
 * The quantile of Student's t: the t with P(T ≤ t) = p. Exact for df 1 and 2, else Newton steps
 * on the tail inside a bracket that bisection keeps (relative accuracy ~1e-12). Works on the
 * smaller tail, min(p, 1 − p), so p = 1e-9 keeps its digits.
 */
export function studentTQuantile(p: number, df: number): number {
  checkDf(df)
  if (!(p >= 0 && p <= 1)) throw new RangeError(`a probability must be in [0, 1] (got ${p})`)
  if (p === 0) return -Infinity
  if (p === 1) return Infinity
  if (p === 0.5) return 0
  return p < 0.5 ? -upperQuantile(p, df) : upperQuantile(1 - p, df)
}

/** The t > 0 with P(T > t) = q, for 0 < q < 1/2. */
function upperQuantile(q: number, df: number): number {
  if (df === 1) return 1 / Math.tan(Math.PI * q)
  if (df === 2) return (1 - 2 * q) / Math.sqrt(2 * q * (1 - q))
  let lo = 0
  let hi = 1
  while (studentTTail(hi, df) > q) {
    lo = hi
    hi *= 2
  }
  let t = (lo + hi) / 2
  for (let i = 0; i < 200; i++) {
    const f = studentTTail(t, df) - q // decreasing in t
    if (f > 0) lo = t
    else hi = t
    const newton = t + f / studentTPdf(t, df)
    const next = newton > lo && newton < hi ? newton : (lo + hi) / 2
    if (Math.abs(next - t) <= 1e-15 * Math.max(1, Math.abs(t))) return next
    t = next
  }
  return t
}

// ---------------------------------------------------------------------------------------------
// Summaries and differences

export type Interval = readonly [number, number]

export interface Summary {
  readonly n: number
  readonly mean: number | null
  /** Sample standard deviation (n − 1); null for n < 2. */
  readonly std: number | null
  /** The 95% confidence interval of the mean (Student t, df n − 1); null for n < 2. */
  readonly ci95: Interval | null
}

/** The mean, shifted by the first value so that equal values give exactly that value (and a
 * spread of exactly 0: three runs at 0.1 must not differ from two runs at 0.1 by rounding). */
function mean(xs: readonly number[]): number {
  const x0 = xs[0] ?? 0
  return x0 + xs.reduce((a, x) => a + (x - x0), 0) / xs.length
}

const variance = (xs: readonly number[], m: number): number =>
  xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1)

/** The two-sided 95% critical value of t. */
export const t975 = (df: number): number => studentTQuantile(0.975, df)

function finiteOnly(xs: readonly number[], what: string): readonly number[] {
  for (const x of xs) {
    if (!Number.isFinite(x)) throw new RangeError(`${what} must be finite numbers (got ${x})`)
  }
  return xs
}

export function summarize(values: readonly number[]): Summary {
  const xs = finiteOnly(values, 'summarize: values')
  const n = xs.length
  if (n === 0) return { n, mean: null, std: null, ci95: null }
  const m = mean(xs)
  if (n < 2) return { n, mean: m, std: null, ci95: null }
  const std = Math.sqrt(variance(xs, m))
  const half = (t975(n - 1) * std) / Math.sqrt(n)
  return { n, mean: m, std, ci95: [m - half, m + half] }
}

export interface Difference {
  readonly method: 'paired' | 'welch'
  /** mean(a) − mean(b) (paired: the mean of the differences); null where a side is empty. */
  readonly diff: number | null
  readonly ci95: Interval | null
  /** Two-sided p-value of "no difference"; null where there is no estimate of the noise. */
  readonly p: number | null
  readonly df: number | null
  /** The standard error of `diff`. */
  readonly se: number | null
  readonly t: number | null
  /** Observations used: pairs for a paired test, the two group sizes for Welch. */
  readonly n: readonly [number, number]
  /** Why ci95 and p are null, or a caveat about them, in a sentence the UI can show. */
  readonly note: string | null
}

/** The t test's result from a difference, its standard error and df (se 0: the limit). */
function tResult(
  method: Difference['method'],
  diff: number,
  se: number,
  df: number,
  n: readonly [number, number],
): Difference {
  if (se === 0) {
    // Every observation agrees exactly: the interval is a point and t is 0/0 or ±∞. Take the
    // limit (p 1 for no difference, 0 otherwise) and say so; scipy answers NaN here.
    const note = 'the observations have no spread at all (every value equal): p is the limit'
    return { method, diff, ci95: [diff, diff], p: diff === 0 ? 1 : 0, df, se, t: null, n, note }
  }
  const half = t975(df) * se
  const t = diff / se
  const p = Math.min(1, 2 * studentTTail(t, df))
  return { method, diff, ci95: [diff - half, diff + half], p, df, se, t, n, note: null }
}

/**
 * The paired t test of a − b, pairs given in the same order (a[i] and b[i] share a seed).
 * Needs at least two pairs for an estimate of the noise.
 */
export function pairedDifference(a: readonly number[], b: readonly number[]): Difference {
  if (a.length !== b.length) {
    throw new RangeError(`pairedDifference needs equal lengths (got ${a.length} and ${b.length})`)
  }
  const xb = finiteOnly(b, 'pairedDifference: b')
  const ds = finiteOnly(a, 'pairedDifference: a').map((x, i) => x - (xb[i] ?? NaN))
  const n = ds.length
  const pairs: readonly [number, number] = [n, n]
  if (n === 0) return noEstimate('paired', null, pairs, 'no pairs to compare')
  const d = mean(ds)
  if (n < 2) return noEstimate('paired', d, pairs, ONE_SEED)
  return tResult('paired', d, Math.sqrt(variance(ds, d) / n), n - 1, pairs)
}

/**
 * Welch's t test of a − b (unequal variances; Welch–Satterthwaite df). Needs at least two runs
 * on each side: a single run has no variance to weigh.
 */
export function welchDifference(a: readonly number[], b: readonly number[]): Difference {
  const xa = finiteOnly(a, 'welchDifference: a')
  const xb = finiteOnly(b, 'welchDifference: b')
  const n: readonly [number, number] = [xa.length, xb.length]
  if (xa.length === 0 || xb.length === 0) {
    return noEstimate('welch', null, n, 'a group has no finished runs')
  }
  const ma = mean(xa)
  const mb = mean(xb)
  if (xa.length < 2 || xb.length < 2) return noEstimate('welch', ma - mb, n, ONE_SEED)
  const va = variance(xa, ma) / xa.length
  const vb = variance(xb, mb) / xb.length
  const se2 = va + vb
  const df =
    se2 === 0
      ? xa.length + xb.length - 2
      : se2 ** 2 / (va ** 2 / (xa.length - 1) + vb ** 2 / (xb.length - 1))
  return tResult('welch', ma - mb, Math.sqrt(se2), df, n)
}

export const ONE_SEED = 'one seed: no estimate of noise, add seeds'

function noEstimate(
  method: Difference['method'],
  diff: number | null,
  n: readonly [number, number],
  note: string,
): Difference {
  return { method, diff, ci95: null, p: null, df: null, se: null, t: null, n, note }
}

// ---------------------------------------------------------------------------------------------
// Many comparisons, and the verdict

/**
 * Holm–Bonferroni step-down adjustment: the k-th smallest of m p-values is multiplied by
 * m − k + 1, made monotone (never below the one before it) and capped at 1. Controls the chance
 * of any false "larger than noise" in one table at 5% without assuming the tests independent.
 * Nulls (no estimate) are passed through and do not count in m.
 */
export function holm(pValues: readonly (number | null)[]): (number | null)[] {
  const present = pValues
    .map((p, i) => ({ p, i }))
    .filter((e): e is { p: number; i: number } => e.p !== null)
  for (const e of present) {
    if (!(e.p >= 0 && e.p <= 1)) throw new RangeError(`a p-value must be in [0, 1] (got ${e.p})`)
  }
  present.sort((x, y) => x.p - y.p || x.i - y.i)
  const m = present.length
  const out: (number | null)[] = pValues.map(() => null)
  let running = 0
  present.forEach((e, k) => {
    running = Math.max(running, Math.min(1, (m - k) * e.p))
    out[e.i] = running
  })
  return out
}

export const VERDICTS = ['larger-than-noise', 'within-noise', 'no-estimate'] as const
export type Verdict = (typeof VERDICTS)[number]

/** The verdict in words, as every view, report and the CLI print it. */
export const VERDICT_TEXT: Readonly<Record<Verdict, string>> = {
  'larger-than-noise': 'larger than seed noise',
  'within-noise': 'within seed noise',
  'no-estimate': 'one seed: no estimate of noise, add seeds',
}

/** The significance level every verdict uses (two-sided, after Holm's adjustment). */
export const ALPHA = 0.05

/**
 * The verdict of one comparison from its Holm-adjusted p-value: below ALPHA the difference is
 * larger than the seed-to-seed noise; no p-value (a group of one seed) means no estimate.
 */
export function verdict(pAdjusted: number | null): Verdict {
  if (pAdjusted === null || Number.isNaN(pAdjusted)) return 'no-estimate'
  return pAdjusted < ALPHA ? 'larger-than-noise' : 'within-noise'
}
