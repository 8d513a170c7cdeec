// The statistics against hand-worked cases and against scipy.stats. The scipy answers come from
// tests/fixtures/stats_reference.py, run here with the project's Python (`.venv/bin/python`, or
// $NIN_LAB_TEST_PYTHON). A Python without scipy fails the suite under CI=true and otherwise skips
// the scipy part, saying loudly how to install it.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import {
  ONE_SEED,
  VERDICT_TEXT,
  holm,
  incompleteBeta,
  pairedDifference,
  studentTCdf,
  studentTQuantile,
  studentTTail,
  summarize,
  verdict,
  welchDifference,
} from '@shared/statistics'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const SCRIPT = fileURLToPath(new URL('../../fixtures/stats_reference.py', import.meta.url))
const PYTHON =
  process.env.NIN_LAB_TEST_PYTHON ??
  (existsSync(`${ROOT}.venv/bin/python`) ? `${ROOT}.venv/bin/python` : 'python3')
const INSTALL =
  'npm run python-env (installs the pins of src/torch-engine/pyproject.toml, scipy among them)'

interface TestRow {
  a: number[]
  b: number[]
  t: number
  p: number
  df: number
  ci95: [number, number]
}
interface Reference {
  scipy: string
  cdf: { t: number; df: number; cdf: number; sf: number }[]
  ppf: { p: number; df: number; q: number }[]
  summaries: { xs: number[]; mean: number; std: number; ci95: [number, number] }[]
  paired: TestRow[]
  welch: TestRow[]
  holm: { p: number[]; adjusted: number[] }[]
}

function loadReference(): { ref: Reference | null; why: string | null } {
  const r = spawnSync(PYTHON, [SCRIPT], { encoding: 'utf8', timeout: 120_000 })
  if (r.error) return { ref: null, why: `${PYTHON} cannot run: ${r.error.message}` }
  if (r.status !== 0) {
    const last = r.stderr.trim().split('\n').at(-1) ?? ''
    return { ref: null, why: `${PYTHON} ${SCRIPT} failed: ${last}` }
  }
  return { ref: JSON.parse(r.stdout) as Reference, why: null }
}

const { ref, why } = loadReference()
if (why) {
  if (process.env.CI === 'true') {
    throw new Error(`the scipy reference is required under CI: ${why}. Install it: ${INSTALL}`)
  }
  console.warn(`\n*** SKIPPED statistics against scipy.stats: ${why}. Install it: ${INSTALL} ***\n`)
}

/** |actual − expected| within 1e-8, relative for large values. */
function close(actual: number | null | undefined, expected: number, tol = 1e-8): void {
  expect(actual).not.toBeNull()
  expect(actual).not.toBeUndefined()
  const scale = Math.max(1, Math.abs(expected))
  expect(Math.abs((actual as number) - expected) / scale).toBeLessThanOrEqual(tol)
}

describe('hand-worked cases', () => {
  it('knows the t distribution in closed form (df 1: Cauchy; df 2)', () => {
    // df 1: F(t) = 1/2 + atan(t)/π, so F(1) = 3/4 and the 97.5% point is tan(0.475π) = 12.7062…
    close(studentTCdf(1, 1), 0.75, 1e-12)
    close(studentTQuantile(0.975, 1), 12.706204736174705, 1e-12)
    // df 2: F(t) = 1/2 + t / (2√(2 + t²)): F(2) = 1/2 + 2/(2√6)
    close(studentTCdf(2, 2), 0.5 + 1 / Math.sqrt(6), 1e-12)
    close(studentTQuantile(0.975, 2), 4.302652729749464, 1e-12)
    // The textbook table: t(0.975, 10) = 2.228, t(0.975, 30) = 2.042
    expect(studentTQuantile(0.975, 10)).toBeCloseTo(2.2281, 4)
    expect(studentTQuantile(0.975, 30)).toBeCloseTo(2.0423, 4)
    expect(studentTQuantile(0.5, 7)).toBe(0)
    expect(studentTQuantile(0.025, 5)).toBeCloseTo(-studentTQuantile(0.975, 5), 12)
  })

  it('has I_x(a, b) = x for a = b = 1 and the symmetry I_x(a,b) = 1 − I_(1−x)(b,a)', () => {
    close(incompleteBeta(0.3, 1, 1), 0.3, 1e-14)
    close(incompleteBeta(0.2, 2.5, 4) + incompleteBeta(0.8, 4, 2.5), 1, 1e-14)
    // I_x(a, 1) = x^a
    close(incompleteBeta(0.6, 3, 1), 0.6 ** 3, 1e-14)
  })

  it('summarizes: mean, sample std, 95% t interval; nothing to estimate from one value', () => {
    // xs = 1, 3: mean 2, std √2, se 1, interval 2 ± 12.7062
    const s = summarize([1, 3])
    expect(s.n).toBe(2)
    expect(s.mean).toBe(2)
    close(s.std, Math.SQRT2, 1e-14)
    close(s.ci95?.[0], 2 - 12.706204736174705, 1e-12)
    close(s.ci95?.[1], 2 + 12.706204736174705, 1e-12)
    expect(summarize([0.5])).toEqual({ n: 1, mean: 0.5, std: null, ci95: null })
    expect(summarize([])).toEqual({ n: 0, mean: null, std: null, ci95: null })
    expect(() => summarize([1, NaN])).toThrow(/finite/)
  })

  it('pairs by position: a paired difference of 1, 3 has mean 2, se 1, t 2, df 1, p 0.5', () => {
    const d = pairedDifference([2, 5], [1, 2])
    expect(d.method).toBe('paired')
    expect(d.diff).toBe(2)
    close(d.se, 1, 1e-14)
    close(d.t, 2, 1e-14)
    expect(d.df).toBe(1)
    // p = 2 P(T1 > 2) = 1 − 2 atan(2)/π
    close(d.p, 1 - (2 * Math.atan(2)) / Math.PI, 1e-12)
  })

  it('has no estimate of the noise from one seed, and says so', () => {
    const d = pairedDifference([0.8], [0.7])
    expect(d.diff).toBeCloseTo(0.1, 12)
    expect(d.ci95).toBeNull()
    expect(d.p).toBeNull()
    expect(d.note).toBe(ONE_SEED)
    const w = welchDifference([0.8, 0.82], [0.7])
    expect(w.diff).toBeCloseTo(0.11, 12)
    expect(w.p).toBeNull()
    expect(w.note).toBe(ONE_SEED)
    expect(welchDifference([], [0.7]).diff).toBeNull()
    expect(() => pairedDifference([1, 2], [1])).toThrow(/equal lengths/)
  })

  it('takes the limit when nothing varies (three runs stuck at chance)', () => {
    const d = welchDifference([0.1, 0.1, 0.1], [0.1, 0.1])
    expect(d.diff).toBe(0)
    expect(d.p).toBe(1)
    expect(d.ci95).toEqual([0, 0])
    expect(d.note).toMatch(/no spread/)
  })

  it('Welch: hand-worked df', () => {
    // a = 1, 3 (var 2), b = 2, 6, 10 (var 16): se² = 1 + 16/3; df = se⁴ / (1/1 + (16/3)²/2)
    const w = welchDifference([1, 3], [2, 6, 10])
    const se2 = 1 + 16 / 3
    close(w.se, Math.sqrt(se2), 1e-14)
    close(w.df, se2 ** 2 / (1 + (16 / 3) ** 2 / 2), 1e-14)
    expect(w.diff).toBe(-4)
  })

  it('Holm: steps down, stays monotone, caps at 1 and passes nulls through', () => {
    // sorted 0.005, 0.01, 0.03, 0.04 → ×4, ×3, ×2, ×1 = 0.02, 0.03, 0.06, 0.04 → monotone 0.06
    const adjusted = holm([0.01, null, 0.04, 0.03, 0.005])
    expect(adjusted[0]).toBeCloseTo(0.03, 15)
    expect(adjusted[1]).toBeNull()
    expect(adjusted[2]).toBeCloseTo(0.06, 15)
    expect(adjusted[3]).toBeCloseTo(0.06, 15)
    expect(adjusted[4]).toBeCloseTo(0.02, 15)
    expect(holm([0.6, 0.7])).toEqual([1, 1])
    expect(holm([])).toEqual([])
    expect(() => holm([1.5])).toThrow(/\[0, 1\]/)
  })

  it('gives the verdict from the adjusted p', () => {
    expect(verdict(0.049)).toBe('larger-than-noise')
    expect(verdict(0.05)).toBe('within-noise')
    expect(verdict(null)).toBe('no-estimate')
    expect(VERDICT_TEXT['no-estimate']).toBe('one seed: no estimate of noise, add seeds')
  })
})

describe.skipIf(ref === null)(`against scipy.stats ${ref?.scipy ?? ''}`, () => {
  const r = ref as Reference
  it('t CDF and tail, df 1 … 1000', () => {
    expect(r.cdf.length).toBeGreaterThan(100)
    for (const c of r.cdf) {
      close(studentTCdf(c.t, c.df), c.cdf)
      // The tail relative to its own size: p-values as small as 1e-40 keep their digits.
      const tail = c.t >= 0 ? studentTTail(c.t, c.df) : 1 - studentTTail(c.t, c.df)
      expect(Math.abs(tail - c.sf)).toBeLessThanOrEqual(1e-8 * Math.max(c.sf, 1e-300) + 1e-15)
    }
  })

  it('t quantiles', () => {
    for (const c of r.ppf) close(studentTQuantile(c.p, c.df), c.q)
  })

  it('summaries and their 95% intervals', () => {
    for (const c of r.summaries) {
      const s = summarize(c.xs)
      close(s.mean, c.mean)
      close(s.std, c.std)
      if (c.std === 0) expect(s.ci95).toEqual([c.mean, c.mean])
      else {
        close(s.ci95?.[0], c.ci95[0])
        close(s.ci95?.[1], c.ci95[1])
      }
    }
  })

  it.each([
    ['ttest_rel', 'paired'],
    ['ttest_ind(equal_var=False)', 'welch'],
  ] as const)('%s', (_name, kind) => {
    for (const c of r[kind]) {
      const d = kind === 'paired' ? pairedDifference(c.a, c.b) : welchDifference(c.a, c.b)
      close(d.t, c.t)
      close(d.p, c.p)
      close(d.df, c.df)
      close(d.ci95?.[0], c.ci95[0])
      close(d.ci95?.[1], c.ci95[1])
    }
  })

  it("Holm as statsmodels' multipletests defines it", () => {
    for (const c of r.holm) {
      const adjusted = holm(c.p)
      c.adjusted.forEach((want, i) => close(adjusted[i], want, 1e-12))
    }
  })
})
