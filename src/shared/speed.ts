/**
 * Same-sitting interleaved speed comparison: the only honest way to say one variant trains
 * faster than another on a shared machine. Wall-clock epoch times come from different sittings,
 * each under whatever else ran then; here every config is measured in turn, A B A B …, in the
 * same few minutes, so a change in load hits all of them alike, and each round's ratio compares
 * measurements taken seconds apart.
 *
 * A measurement is the existing benchmark (`benchmark` in the API: a fresh trainer process, a few
 * training steps on random images after warm-up, the engine a run would get). This module plans
 * the order, runs it through any `measure` function (the app's API client, the core's own), and
 * summarizes: per config the median step time over every timed step and images/s; per config
 * against the baseline the median of the per-round ratios of median step times, with their
 * smallest and largest (the spread the rounds show), and the machine's load during the sitting.
 */
import type { BenchResult } from './protocol/bench'

export interface InterleavedSlot {
  /** Index of the config measured. */
  readonly config: number
  readonly round: number
}

/** Round-robin order: every config once per round, in the same order each round (A B A B …). */
export function interleavedOrder(configs: number, rounds: number): InterleavedSlot[] {
  const out: InterleavedSlot[] = []
  for (let round = 0; round < rounds; round++) {
    for (let config = 0; config < configs; config++) out.push({ config, round })
  }
  return out
}

export interface InterleavedMeasurement extends InterleavedSlot {
  readonly result: BenchResult
}

export interface SpeedRow {
  readonly config: number
  readonly label: string
  /** Timed steps over all rounds. */
  readonly steps: number
  readonly batch: number
  /** Median of every timed step of every round, seconds. */
  readonly medianStepS: number
  /** batch / medianStepS. */
  readonly imgPerS: number
  /** Each round's median step time, seconds, in round order. */
  readonly roundMedians: readonly number[]
  /** Against the baseline: the median, smallest and largest of the per-round ratios of median
   * step times (> 1: slower than the baseline); null for the baseline itself. */
  readonly ratio: { readonly median: number; readonly min: number; readonly max: number } | null
}

export interface SpeedComparison {
  readonly baseline: number
  readonly rounds: number
  readonly rows: readonly SpeedRow[]
  /** What measured it (every measurement's engine · backend, deduplicated). */
  readonly backends: readonly string[]
  /** The 1-minute load average over the measurements, where the engine reported it. */
  readonly load: { readonly min: number; readonly max: number; readonly cpus: number } | null
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

const stepTimes = (r: BenchResult): readonly number[] =>
  r.stepTimesS.length > 0 ? r.stepTimesS : [r.medianStepS]

/** Medians and ratios of a finished (or partial) interleaved measurement. */
export function summarizeInterleaved(
  labels: readonly string[],
  measured: readonly InterleavedMeasurement[],
  baseline = 0,
): SpeedComparison {
  const rounds = Math.max(0, ...measured.map((m) => m.round + 1))
  const perRound = (config: number): (number | null)[] =>
    Array.from({ length: rounds }, (_, round) => {
      const m = measured.find((x) => x.config === config && x.round === round)
      return m ? median(stepTimes(m.result)) : null
    })
  const baseRounds = perRound(baseline)
  const rows = labels.map((label, config): SpeedRow => {
    const mine = measured.filter((m) => m.config === config)
    const all = mine.flatMap((m) => stepTimes(m.result))
    const rm = perRound(config)
    const ratios = rm.flatMap((t, round) => {
      const b = baseRounds[round]
      return t !== null && b !== null && b !== undefined && b > 0 ? [t / b] : []
    })
    const med = median(all)
    const batch = mine[0]?.result.batch ?? 0
    return {
      config,
      label,
      steps: all.length,
      batch,
      medianStepS: med,
      imgPerS: batch / med,
      roundMedians: rm.filter((t): t is number => t !== null),
      ratio:
        config === baseline || ratios.length === 0
          ? null
          : { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) },
    }
  })
  const loads = measured.flatMap((m) => (m.result.load ? [m.result.load] : []))
  return {
    baseline,
    rounds,
    rows,
    backends: [...new Set(measured.map((m) => `${m.result.engine} · ${m.result.backend}`))],
    load:
      loads.length === 0
        ? null
        : {
            min: Math.min(...loads.map((l) => l.loadAvg1)),
            max: Math.max(...loads.map((l) => l.loadAvg1)),
            cpus: loads[0]?.cpus ?? 0,
          },
  }
}

export interface InterleavedProgress {
  readonly done: number
  readonly total: number
  /** Seconds left at the pace so far; null before the first measurement ends. */
  readonly etaSeconds: number | null
  readonly partial: SpeedComparison
}

/**
 * Measures each config in interleaved order through `measure` (one at a time: each uses every
 * core), reporting progress with an ETA after each measurement. `signal` stops between
 * measurements.
 */
export async function runInterleaved(
  labels: readonly string[],
  rounds: number,
  measure: (config: number) => Promise<BenchResult>,
  opts: {
    readonly baseline?: number
    readonly onProgress?: (p: InterleavedProgress) => void
    readonly signal?: AbortSignal
    readonly now?: () => number
  } = {},
): Promise<SpeedComparison> {
  const now = opts.now ?? (() => Date.now())
  const order = interleavedOrder(labels.length, rounds)
  const measured: InterleavedMeasurement[] = []
  const start = now()
  for (const slot of order) {
    if (opts.signal?.aborted) break
    measured.push({ ...slot, result: await measure(slot.config) })
    const elapsed = (now() - start) / 1000
    opts.onProgress?.({
      done: measured.length,
      total: order.length,
      etaSeconds: (elapsed / measured.length) * (order.length - measured.length),
      partial: summarizeInterleaved(labels, measured, opts.baseline),
    })
  }
  return summarizeInterleaved(labels, measured, opts.baseline)
}
