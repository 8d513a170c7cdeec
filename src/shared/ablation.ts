/**
 * The ablation table of a report, built on the one comparison of runs (src/shared/comparison.ts):
 * one row per group of runs that share every varying config field (unless averaged on purpose,
 * and then the row says what it mixes), its cost, its final test accuracy with n, std and 95%
 * interval, and its difference from the baseline with interval, test, Holm-adjusted p and verdict.
 *
 * Wall-clock time per epoch is shown for what it is — the time these runs took, in whatever
 * sittings and beside whatever else the machine ran — so it gets no Δ and decides nothing.
 */
import { layerTable } from './architecture'
import { compareRuns, type CompareOptions, type ComparableRun, type Comparison } from './comparison'
import {
  PRECISIONS,
  plannedPrecision,
  type ExperimentConfig,
  type Precision,
} from './config/experiment'
import { costTotals } from './cost'
import type { HealthStatus } from './health'

/** What an ablation table needs to know of one run. */
export interface RunFacts {
  readonly id: string
  readonly name: string
  readonly experiment: string
  readonly config: ExperimentConfig
  /** The precision the run computed in (its started message's), when known. */
  readonly precision?: string | null
  /** Mean wall-clock seconds per epoch; null before the first epoch. */
  readonly secondsPerEpoch: number | null
  readonly finalTestAcc: number | null
  readonly bestTestAcc: number | null
  readonly health: HealthStatus | null
}

export interface Stat {
  readonly mean: number | null
  readonly std: number | null
  readonly n: number
}

/** The smallest and largest value in a group (equal unless the group mixes configs). */
export interface Range {
  readonly min: number | null
  readonly max: number | null
}

export interface GroupCost {
  readonly params: Range
  readonly macs: Range
  readonly trainMemory: Range
  /** Wall-clock, from different sittings: described, never compared. */
  readonly wallClockSecondsPerEpoch: Stat
}

export interface Ablation {
  readonly comparison: Comparison
  /** One per group of `comparison.groups`, in the same order. */
  readonly costs: readonly GroupCost[]
}

/** Mean and sample std (n − 1; 0 for one value) of the finite values. */
export function stat(values: readonly (number | null)[]): Stat {
  const xs = values.filter((v): v is number => v !== null && Number.isFinite(v))
  if (xs.length === 0) return { mean: null, std: null, n: 0 }
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length
  const std =
    xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0
  return { mean, std, n: xs.length }
}

const range = (values: readonly (number | null)[]): Range => {
  const xs = values.filter((v): v is number => v !== null)
  return xs.length === 0 ? { min: null, max: null } : { min: Math.min(...xs), max: Math.max(...xs) }
}

const knownPrecision = (p: string | null | undefined): Precision | null =>
  PRECISIONS.find((known) => known === p) ?? null

function costOf(run: RunFacts): ReturnType<typeof costTotals> | null {
  try {
    // The memory figures in the precision the run computed in (else the one its config plans).
    return costTotals(layerTable(run.config.model), {
      ...run.config.train,
      precision: knownPrecision(run.precision) ?? plannedPrecision(run.config),
    })
  } catch {
    return null // a config that no longer builds (e.g. from an older version) has no cost
  }
}

export function ablation(runs: readonly RunFacts[], options: CompareOptions = {}): Ablation {
  const comparable: ComparableRun[] = runs.map((r) => ({
    id: r.id,
    name: r.name,
    experiment: r.experiment,
    config: r.config,
    finalTestAcc: r.finalTestAcc,
    health: r.health,
  }))
  const comparison = compareRuns(comparable, options)
  const byId = new Map(runs.map((r) => [r.id, { run: r, cost: costOf(r) }]))
  const costs = comparison.groups.map((g) => {
    const members = g.runIds.flatMap((id) => byId.get(id) ?? [])
    return {
      params: range(members.map((m) => m.cost?.params ?? null)),
      macs: range(members.map((m) => m.cost?.macs ?? null)),
      trainMemory: range(members.map((m) => m.cost?.memory.training.total ?? null)),
      wallClockSecondsPerEpoch: stat(members.map((m) => m.run.secondsPerEpoch)),
    }
  })
  return { comparison, costs }
}
