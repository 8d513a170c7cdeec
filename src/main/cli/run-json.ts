/**
 * The JSON shape of one run on the command line (`run --json`, `show --json`):
 * {"id","name","status","engine","backend","params","epochs":[{"epoch","trainLoss","trainAcc",
 * "testLoss","testAcc","seconds","examplesPerSec"}]}, epochs numbered from 1.
 */
import type { Run } from '@shared/api/types'
import type { RunStore } from '../core/store'

export interface EpochRow {
  readonly epoch: number
  readonly trainLoss: number
  readonly trainAcc: number
  readonly testLoss: number
  readonly testAcc: number
  /** Seconds spent in training steps that epoch. */
  readonly seconds: number
  /** Training examples / seconds. */
  readonly examplesPerSec: number
}

export interface RunJson {
  readonly id: string
  readonly name: string
  readonly status: Run['status']
  readonly engine: string | null
  readonly backend: string | null
  readonly params: number | null
  readonly epochs: EpochRow[]
  readonly error?: string
}

/** One row per epoch, from the run's log (a resumed run's replaced epochs are already gone). */
export function epochRows(store: RunStore, runId: string): EpochRow[] {
  const rows = new Map<number, EpochRow>()
  for (const { message: m } of store.events(runId)) {
    if (m.type !== 'epoch') continue
    rows.set(m.epoch, {
      epoch: m.epoch,
      trainLoss: m.trainLoss,
      trainAcc: m.trainAcc,
      testLoss: m.testLoss,
      testAcc: m.testAcc,
      seconds: m.seconds,
      examplesPerSec: m.examplesPerSec,
    })
  }
  return [...rows.values()].sort((a, b) => a.epoch - b.epoch)
}

export function runJson(store: RunStore, run: Run): RunJson {
  return {
    id: run.id,
    name: run.name,
    status: run.status,
    engine: run.engine,
    backend: run.backend,
    params: run.params,
    epochs: epochRows(store, run.id),
    ...(run.error ? { error: run.error } : {}),
  }
}
