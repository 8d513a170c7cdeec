import { describe, expect, it } from 'vitest'
import type { MetricSample } from '@shared/api/types'
import {
  alignSamples,
  ema,
  interpolate,
  meanStd,
  sampleX,
  stepsPerEpochOf,
} from '@shared/smoothing'

const sample = (step: number, epoch: number, time: number, value: number): MetricSample => ({
  step,
  epoch,
  time,
  value,
})

describe('ema', () => {
  it('returns the values unchanged at weight 0', () => {
    expect(ema([3, 1, 2], 0)).toEqual([3, 1, 2])
  })

  it('is debiased: the first point equals the first value, a constant stays constant', () => {
    expect(ema([5], 0.9)[0]).toBeCloseTo(5, 12)
    for (const y of ema([2, 2, 2, 2, 2], 0.9)) expect(y).toBeCloseTo(2, 12)
  })

  it('matches the TensorBoard formula by hand', () => {
    // w = 0.5: last = 0.5*0 + 0.5*4 = 2 → 2 / (1 - 0.5) = 4
    //          last = 0.5*2 + 0.5*0 = 1 → 1 / (1 - 0.25) = 4/3
    //          last = 0.5*1 + 0.5*2 = 1.5 → 1.5 / (1 - 0.125) = 12/7
    const [a, b, c] = ema([4, 0, 2], 0.5)
    expect(a).toBeCloseTo(4, 12)
    expect(b).toBeCloseTo(4 / 3, 12)
    expect(c).toBeCloseTo(12 / 7, 12)
  })

  it('passes non-finite values through without disturbing the average', () => {
    const out = ema([1, Number.NaN, 1], 0.9)
    expect(out[0]).toBeCloseTo(1, 12)
    expect(Number.isNaN(out[1])).toBe(true)
    expect(out[2]).toBeCloseTo(1, 12)
  })

  it('clamps the weight so 1 (or more) does not freeze the curve', () => {
    const out = ema([0, 10], 5)
    expect(Number.isFinite(out[1])).toBe(true)
  })
})

describe('x alignment', () => {
  const s = sample(150, 2, 10_000, 0.5)

  it('reads step, fractional epoch and seconds since the start', () => {
    expect(sampleX(s, 'step')).toBe(150)
    expect(sampleX(s, 'epoch')).toBe(2)
    expect(sampleX(s, 'epoch', { stepsPerEpoch: 100 })).toBe(1.5)
    expect(sampleX(s, 'time', { startTime: 4_000 })).toBe(6)
  })

  it('sorts by x and counts time from the first sample by default', () => {
    const series = alignSamples([sample(2, 1, 3_000, 0.2), sample(1, 1, 1_000, 0.1)], 'time')
    expect(series).toEqual({ x: [0, 2], y: [0.1, 0.2] })
  })

  it('reads steps per epoch off the epoch samples', () => {
    expect(stepsPerEpochOf([sample(469, 1, 0, 0.8), sample(938, 2, 0, 0.85)])).toBe(469)
    expect(stepsPerEpochOf([])).toBeNull()
  })

  it('interpolates linearly inside the range only', () => {
    const line = { x: [0, 10], y: [0, 1] }
    expect(interpolate(line, 5)).toBeCloseTo(0.5, 12)
    expect(interpolate(line, 11)).toBeUndefined()
  })
})

describe('meanStd', () => {
  it('combines series with the same x point by point (sample std, n − 1)', () => {
    const out = meanStd([
      { x: [1, 2], y: [1, 4] },
      { x: [1, 2], y: [3, 8] },
    ])
    expect(out.x).toEqual([1, 2])
    expect(out.mean).toEqual([2, 6])
    expect(out.std[0]).toBeCloseTo(Math.SQRT2, 12)
    expect(out.std[1]).toBeCloseTo(2 * Math.SQRT2, 12)
    expect(out.n).toEqual([2, 2])
  })

  it('uses the union of integer x when one run is shorter, with std 0 where one series is left', () => {
    const out = meanStd([
      { x: [1, 2, 3], y: [1, 2, 3] },
      { x: [1, 2], y: [3, 4] },
    ])
    expect(out.x).toEqual([1, 2, 3])
    expect(out.mean).toEqual([2, 3, 3])
    expect(out.std[2]).toBe(0)
    expect(out.n).toEqual([2, 2, 1])
  })

  it('interpolates series with different real x onto the range they share', () => {
    const out = meanStd(
      [
        { x: [0, 10], y: [0, 10] },
        { x: [2.5, 12.5], y: [0, 10] },
      ],
      3,
    )
    expect(out.x).toEqual([2.5, 6.25, 10])
    // Series 1 at 2.5, 6.25, 10 → 2.5, 6.25, 10; series 2 → 0, 3.75, 7.5.
    expect(out.mean[0]).toBeCloseTo(1.25, 12)
    expect(out.mean[2]).toBeCloseTo(8.75, 12)
  })

  it('skips non-finite values and empty input', () => {
    expect(meanStd([]).x).toEqual([])
    const out = meanStd([
      { x: [1, 2], y: [1, Number.NaN] },
      { x: [1, 2], y: [3, 5] },
    ])
    expect(out.mean).toEqual([2, 5])
  })
})
