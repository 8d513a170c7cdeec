/**
 * A run's analytic cost (params, MACs, training memory) from its config, cached by config hash:
 * the Runs table and the compare view show it for hundreds of runs.
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

export function runCost(run: Pick<Run, 'config' | 'configHash'>): RunCost | null {
  const key = run.configHash
  if (cache.has(key)) return cache.get(key) ?? null
  let cost: RunCost | null
  try {
    const layers = layerTable(run.config.model)
    const totals = costTotals(layers, run.config.train)
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
