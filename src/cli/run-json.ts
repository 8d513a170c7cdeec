/**
 * The JSON shape of one run on the command line (`run --json`, `show --json`):
 * {"id","name","status","engine","backend","params","epochs":[{"epoch","trainLoss","trainAcc",
 * "testLoss","testAcc","seconds","examplesPerSec"}]}, epochs numbered from 1.
 */
import type { Run } from '@shared/api/types'
import type { EpochSummary } from '@shared/protocol/trainer'
import type { RunStore } from '@core/store'

export interface RunJson {
  readonly id: string
  readonly name: string
  readonly status: Run['status']
  readonly engine: string | null
  readonly backend: string | null
  readonly params: number | null
  readonly epochs: EpochSummary[]
  readonly error?: string
}

export function runJson(store: RunStore, run: Run): RunJson {
  return {
    id: run.id,
    name: run.name,
    status: run.status,
    engine: run.engine,
    backend: run.backend,
    params: run.params,
    epochs: store.epochRows(run.id),
    ...(run.error ? { error: run.error } : {}),
  }
}
