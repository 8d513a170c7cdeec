/**
 * Folds a run's trainer messages into its record: status, backend, parameters and one row per
 * epoch. Used wherever a run is rebuilt from its message log (the run folder's messages.jsonl).
 *
 * A resumed run restarts from its last checkpoint, so a `started` message with startEpoch K
 * discards any epochs after K recorded before it: they are replaced, never duplicated.
 */
import type { RunStatus, SkippedBackend, TrainerMessage } from './protocol/trainer'
import { statusAfter, isTerminal } from './protocol/trainer'

export interface EpochRow {
  readonly epoch: number
  readonly trainLoss: number
  readonly trainAcc: number
  readonly testLoss: number
  readonly testAcc: number
  readonly seconds: number
  readonly examplesPerSec: number
}

export interface RunRecord {
  status: RunStatus
  engine: string | null
  backend: string | null
  skipped: readonly SkippedBackend[]
  params: number | null
  epochs: EpochRow[]
  lastCheckpointEpoch: number
  error: string | null
  perClassAccuracy: readonly number[] | null
  confusion: readonly (readonly number[])[] | null
  classNames: readonly string[] | null
}

export function emptyRunRecord(): RunRecord {
  return {
    status: 'queued',
    engine: null,
    backend: null,
    skipped: [],
    params: null,
    epochs: [],
    lastCheckpointEpoch: 0,
    error: null,
    perClassAccuracy: null,
    confusion: null,
    classNames: null,
  }
}

export function applyMessage(record: RunRecord, m: TrainerMessage): RunRecord {
  switch (m.type) {
    case 'started':
      record.status = 'running'
      record.engine = m.engine
      record.backend = m.backend
      record.skipped = m.skipped
      record.params = m.params
      record.error = null
      record.epochs = record.epochs.filter((e) => e.epoch <= m.startEpoch)
      break
    case 'epoch':
      record.epochs = record.epochs.filter((e) => e.epoch !== m.epoch)
      record.epochs.push({
        epoch: m.epoch,
        trainLoss: m.trainLoss,
        trainAcc: m.trainAcc,
        testLoss: m.testLoss,
        testAcc: m.testAcc,
        seconds: m.seconds,
        examplesPerSec: m.examplesPerSec,
      })
      break
    case 'checkpoint':
      record.lastCheckpointEpoch = m.epoch
      break
    case 'finished':
      record.perClassAccuracy = m.perClassAccuracy
      record.confusion = m.confusion
      record.classNames = m.classNames
      break
    case 'failed':
      record.error = m.error
      break
    case 'diverged':
      record.error = `loss became ${m.loss} at epoch ${m.epoch}, step ${m.step}: lower train.lr`
      break
    default:
      break
  }
  if (isTerminal(m)) record.status = statusAfter(m)
  return record
}

export const foldMessages = (messages: readonly TrainerMessage[]): RunRecord =>
  messages.reduce(applyMessage, emptyRunRecord())
