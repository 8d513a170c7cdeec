import { describe, expect, it } from 'vitest'
import type { MetricSample } from '@shared/api/types'
import { downsample } from '@shared/downsample'
import { ema, emaWeighted } from '@shared/smoothing'

const series = (n: number, value: (step: number) => number): MetricSample[] =>
  Array.from({ length: n }, (_, i) => ({ step: i + 1, epoch: 1, time: i, value: value(i + 1) }))

describe('downsample (min/max per bucket)', () => {
  const noisy = series(10_000, (s) => 2 * Math.exp(-s / 2000) + 0.1 * Math.sin(s * 1.7))
  // A spike and a dip that an every-nth-point sampling would almost surely miss.
  const withSpikes = noisy.map((p) =>
    p.step === 4321 ? { ...p, value: 9 } : p.step === 7777 ? { ...p, value: -3 } : p,
  )
  const out = downsample(withSpikes, 500)

  it('returns at most about maxPoints points, in step order', () => {
    expect(out.length).toBeLessThanOrEqual(500)
    expect(out.length).toBeGreaterThan(400)
    expect(out.map((p) => p.step)).toEqual([...out.map((p) => p.step)].sort((a, b) => a - b))
  })

  it('keeps every extreme, and the first and last point exactly', () => {
    expect(out.find((p) => p.step === 4321)?.value).toBe(9)
    expect(out.find((p) => p.step === 7777)?.value).toBe(-3)
    expect(out[0]).toMatchObject({ step: 1, value: withSpikes[0]?.value })
    expect(out.at(-1)).toMatchObject({ step: 10_000, value: withSpikes.at(-1)?.value })
  })

  it('says how many raw points each point stands for, adding up to all of them', () => {
    expect(out.reduce((n, p) => n + (p.n ?? 0), 0)).toBe(10_000)
  })

  it('leaves a short series as it is', () => {
    const short = series(20, (s) => s)
    expect(downsample(short, 500)).toEqual(short)
  })

  it('smooths a downsampled series like the raw one (weighted EMA of bucket means)', () => {
    const raw = ema(
      noisy.map((p) => p.value),
      0.99,
    )
    const sampled = downsample(noisy, 500)
    const smooth = emaWeighted(
      sampled.map((p) => p.mean ?? p.value),
      sampled.map((p) => p.n ?? 1),
      0.99,
    )
    // Past the first few hundred steps (where the raw EMA has not averaged the noise yet), the
    // smoothed value at each kept point is the raw EMA there, within a fraction of the noise
    // (±0.1) — a plain EMA over the min/max points would follow their envelope instead.
    const gaps = sampled
      .map((p, i) => ({
        step: p.step,
        gap: Math.abs((smooth[i] as number) - (raw[p.step - 1] as number)),
      }))
      .filter((g) => g.step > 500)
    expect(Math.max(...gaps.map((g) => g.gap))).toBeLessThan(0.02)
    const plain = ema(
      sampled.map((p) => p.value),
      0.99,
    )
    const plainGap = Math.max(
      ...sampled.map((p, i) =>
        p.step > 500 ? Math.abs((plain[i] as number) - (raw[p.step - 1] as number)) : 0,
      ),
    )
    expect(plainGap).toBeGreaterThan(0.05)
  })

  it('weighted EMA with counts of 1 is the EMA', () => {
    const v = [3, 1, 4, 1, 5, 9, 2, 6]
    expect(
      emaWeighted(
        v,
        v.map(() => 1),
        0.6,
      ),
    ).toEqual(ema(v, 0.6))
  })
})
