// The same-sitting interleaved speed comparison: the A B A B order, medians over every timed
// step, per-round ratios against the baseline (median, smallest, largest), the load, progress.
import { describe, expect, it } from 'vitest'
import type { BenchResult } from '@shared/protocol/bench'
import {
  interleavedOrder,
  median,
  runInterleaved,
  summarizeInterleaved,
  type InterleavedMeasurement,
} from '@shared/speed'

const bench = (steps: number[], load = 1): BenchResult => ({
  engine: 'tfjs',
  backend: 'wasm',
  threads: 2,
  inputSize: 28,
  batch: 32,
  params: 1,
  stepTimesS: steps,
  medianStepS: median(steps),
  imgPerS: 32 / median(steps),
  peakRssMB: 1,
  load: { loadAvg1: load, cpus: 2 },
})

describe('interleaved order', () => {
  it('measures every config once per round, A B A B …', () => {
    expect(
      interleavedOrder(2, 3)
        .map((s) => 'AB'[s.config])
        .join(''),
    ).toBe('ABABAB')
    expect(interleavedOrder(3, 2).map((s) => `${s.config}${s.round}`)).toEqual([
      '00',
      '10',
      '20',
      '01',
      '11',
      '21',
    ])
  })
})

describe('interleaved summary', () => {
  it('gives medians over every step and the per-round ratios against the baseline', () => {
    // Round 2 is twice as slow for both (the machine got busy): the per-round ratio stays 1.5.
    const m: InterleavedMeasurement[] = [
      { config: 0, round: 0, result: bench([0.1, 0.1, 0.12], 1) },
      { config: 1, round: 0, result: bench([0.15, 0.15, 0.16], 1.5) },
      { config: 0, round: 1, result: bench([0.2, 0.2, 0.2], 3) },
      { config: 1, round: 1, result: bench([0.3, 0.3, 0.31], 3.2) },
    ]
    const s = summarizeInterleaved(['A', 'B'], m)
    expect(s.rounds).toBe(2)
    expect(s.rows[0]?.ratio).toBeNull()
    expect(s.rows[0]?.steps).toBe(6)
    expect(s.rows[0]?.medianStepS).toBeCloseTo(0.16, 10) // median of 0.1 0.1 0.12 0.2 0.2 0.2
    expect(s.rows[0]?.roundMedians).toEqual([0.1, 0.2])
    expect(s.rows[1]?.ratio?.median).toBeCloseTo(1.5, 10)
    expect(s.rows[1]?.ratio?.min).toBeCloseTo(1.5, 10)
    expect(s.rows[1]?.ratio?.max).toBeCloseTo(1.5, 10)
    expect(s.rows[1]?.imgPerS).toBeCloseTo(32 / median([0.15, 0.15, 0.16, 0.3, 0.3, 0.31]), 10)
    expect(s.load).toEqual({ min: 1, max: 3.2, cpus: 2 })
    expect(s.backends).toEqual(['tfjs · wasm'])
  })

  it('takes another baseline, and a partial sitting gives ratios only for complete rounds', () => {
    const m: InterleavedMeasurement[] = [
      { config: 0, round: 0, result: bench([0.2]) },
      { config: 1, round: 0, result: bench([0.1]) },
      { config: 0, round: 1, result: bench([0.3]) },
    ]
    const s = summarizeInterleaved(['A', 'B'], m, 1)
    expect(s.rows[1]?.ratio).toBeNull()
    expect(s.rows[0]?.ratio).toEqual({ median: 2, min: 2, max: 2 })
  })
})

describe('running it', () => {
  it('measures in order, reports progress with an ETA, and stops when aborted', async () => {
    const seen: number[] = []
    let t = 0
    const progress: (number | null)[] = []
    const s = await runInterleaved(
      ['A', 'B'],
      2,
      async (config) => {
        seen.push(config)
        t += 10_000
        return bench(config === 0 ? [0.1] : [0.2])
      },
      { now: () => t, onProgress: (p) => progress.push(p.etaSeconds) },
    )
    expect(seen).toEqual([0, 1, 0, 1])
    expect(progress).toEqual([30, 20, 10, 0])
    expect(s.rows[1]?.ratio?.median).toBeCloseTo(2, 10)

    const stop = new AbortController()
    const few: number[] = []
    await runInterleaved(
      ['A', 'B'],
      3,
      async (config) => {
        few.push(config)
        if (few.length === 2) stop.abort()
        return bench([0.1])
      },
      { signal: stop.signal },
    )
    expect(few).toEqual([0, 1])
  })
})
