/**
 * Ablation tables: for each config field that varies across a set of runs, the runs grouped by
 * that field's value, with each group's mean ± std (over its runs — seeds and the other varied
 * fields) of cost and result, and the change from the first group (the baseline). This is the
 * "main effect" of the field, the way ablation studies report it.
 */
import { layerTable } from './architecture'
import {
  PRECISIONS,
  plannedPrecision,
  type ExperimentConfig,
  type Precision,
} from './config/experiment'
import { differingFields, valueAtPath } from './config-diff'
import { canonicalJson } from './grid'
import { costTotals } from './cost'

/** What an ablation table needs to know of one run. */
export interface RunFacts {
  readonly id: string
  readonly name: string
  readonly config: ExperimentConfig
  /** The precision the run computed in (its started message's), when known. */
  readonly precision?: string | null
  /** Mean seconds of training steps per epoch; null before the first epoch. */
  readonly secondsPerEpoch: number | null
  readonly finalTestAcc: number | null
  readonly bestTestAcc: number | null
}

export interface Stat {
  readonly mean: number | null
  readonly std: number | null
  readonly n: number
}

export const QUANTITIES = [
  'params',
  'macs',
  'trainMemory',
  'secondsPerEpoch',
  'finalTestAcc',
] as const
export type Quantity = (typeof QUANTITIES)[number]

export interface AblationRow {
  /** The field's value for this group, as canonical JSON text (e.g. `2`, `"fc"`, `[512]`). */
  readonly value: string
  readonly runIds: readonly string[]
  readonly stats: Readonly<Record<Quantity, Stat>>
  /** Mean minus the baseline group's mean (null for the baseline or where a mean is missing). */
  readonly delta: Readonly<Record<Quantity, number | null>>
}

export interface AblationTable {
  readonly field: string
  readonly rows: readonly AblationRow[]
}

export function stat(values: readonly (number | null)[]): Stat {
  const xs = values.filter((v): v is number => v !== null && Number.isFinite(v))
  if (xs.length === 0) return { mean: null, std: null, n: 0 }
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length
  // Sample standard deviation (n − 1): the spread one would expect across further seeds.
  const std =
    xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0
  return { mean, std, n: xs.length }
}

const knownPrecision = (p: string | null | undefined): Precision | null =>
  PRECISIONS.find((known) => known === p) ?? null

function quantities(run: RunFacts): Record<Quantity, number | null> {
  let cost: ReturnType<typeof costTotals> | null
  try {
    // The memory figures in the precision the run computed in (else the one its config plans).
    cost = costTotals(layerTable(run.config.model), {
      ...run.config.train,
      precision: knownPrecision(run.precision) ?? plannedPrecision(run.config),
    })
  } catch {
    cost = null // a config that no longer builds (e.g. from an older version) has no cost
  }
  return {
    params: cost?.params ?? null,
    macs: cost?.macs ?? null,
    trainMemory: cost?.memory.training.total ?? null,
    secondsPerEpoch: run.secondsPerEpoch,
    finalTestAcc: run.finalTestAcc,
  }
}

/**
 * One table per varied field, in config order. The seed is not a field of interest (it is what
 * the ± spans), and neither is the run name.
 */
export function ablationTables(runs: readonly RunFacts[]): AblationTable[] {
  const fields = differingFields(
    runs.map((r) => r.config),
    ['name', 'train.seed'],
  ).map((d) => d.path)
  const facts = runs.map((r) => ({ run: r, q: quantities(r) }))
  return fields.map((field) => {
    const groups = new Map<string, typeof facts>()
    for (const f of facts) {
      const key = canonicalJson(valueAtPath(f.run.config, field) ?? null)
      groups.set(key, [...(groups.get(key) ?? []), f])
    }
    const ordered = [...groups.entries()].sort(([a], [b]) => compareValues(a, b))
    let baseline: Record<Quantity, Stat> | null = null
    const rows = ordered.map(([value, members]) => {
      const stats = Object.fromEntries(
        QUANTITIES.map((q) => [q, stat(members.map((m) => m.q[q]))]),
      ) as Record<Quantity, Stat>
      baseline ??= stats
      const base = baseline
      const delta = Object.fromEntries(
        QUANTITIES.map((q) => {
          const a = stats[q].mean
          const b = base[q].mean
          return [q, stats === base || a === null || b === null ? null : a - b]
        }),
      ) as Record<Quantity, number | null>
      return { value, runIds: members.map((m) => m.run.id), stats, delta }
    })
    return { field, rows }
  })
}

/** Numbers in numeric order, everything else in text order. */
function compareValues(a: string, b: string): number {
  const x = Number(a)
  const y = Number(b)
  if (Number.isFinite(x) && Number.isFinite(y)) return x - y
  return a.localeCompare(b)
}
