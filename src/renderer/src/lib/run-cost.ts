/**
 * A run's analytic cost (params, MACs, training memory) from its config, in the precision it
 * trained in (else the one its config asks), cached by config hash and precision: the Runs table
 * and the compare view show it for hundreds of runs.
 */
import type { Run } from '@shared/api/types'
import { layerTable } from '@shared/architecture'
import { costTotals } from '@shared/cost'

export interface RunCost {
  readonly params: number
  readonly macs: number
  readonly trainingMemory: number
}

const cache = new Map<string, RunCost | null>()

export function runCost(
  run: Pick<Run, 'config' | 'configHash'> & Partial<Pick<Run, 'precision'>>,
): RunCost | null {
  const precision = run.precision ?? run.config.train.precision
  const key = `${run.configHash}:${precision}`
  if (cache.has(key)) return cache.get(key) ?? null
  let cost: RunCost | null
  try {
    const layers = layerTable(run.config.model)
    const totals = costTotals(layers, { ...run.config.train, precision })
    cost = {
      params: totals.params,
      macs: totals.macs,
      trainingMemory: totals.memory.training.total,
    }
  } catch {
    cost = null
  }
  cache.set(key, cost)
  return cost
}
