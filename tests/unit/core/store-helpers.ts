/** Shared fixtures for the RunStore tests: temp data folders, configs, trainer messages. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { validateExperimentConfig, type ExperimentConfig } from '@shared/config/experiment'
import type { TrainerMessage } from '@shared/protocol/trainer'
import { RunStore, type RunStoreOptions } from '@core/store'

const made: string[] = []

/** A fresh temp folder, removed by `cleanUp`. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nin-lab-store-'))
  made.push(dir)
  return dir
}

export function cleanUp(stores: RunStore[] = []): void {
  for (const s of stores) s.close()
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true })
}

/** A store in a fresh folder, on a clock that ticks 1 ms per reading (stable ordering). */
export function openTempStore(options: RunStoreOptions = {}): RunStore {
  let t = 1_700_000_000_000
  return RunStore.open(join(tempDir(), 'data'), { now: () => t++, ...options })
}

export const config = (name: string, model: Record<string, unknown> = {}): ExperimentConfig =>
  validateExperimentConfig({ name, model })

/** The trainer messages of a short run: `epochs` epochs of `steps` steps, checkpoints listed. */
export class Messages {
  private t = 1_700_000_100_000
  constructor(readonly runId: string) {}

  private time(): number {
    return (this.t += 10)
  }

  started(startEpoch = 0, epochs = 3): TrainerMessage {
    return {
      type: 'started',
      runId: this.runId,
      time: this.time(),
      engine: 'tfjs',
      backend: 'cpu',
      skipped: [{ backend: 'tfjs-node', reason: 'not installed' }],
      threads: 2,
      versions: { 'tfjs-core': '4.22.0' },
      params: 1234,
      trainCount: 100,
      testCount: 50,
      stepsPerEpoch: 4,
      epochs,
      startEpoch,
      pid: 4242,
    }
  }

  step(epoch: number, step: number, loss = 1 / step): TrainerMessage {
    return {
      type: 'step',
      runId: this.runId,
      time: this.time(),
      epoch,
      step,
      stepInEpoch: ((step - 1) % 4) + 1,
      loss,
      acc: 0.5,
      examplesPerSec: 100,
    }
  }

  epoch(epoch: number, testAcc: number): TrainerMessage {
    return {
      type: 'epoch',
      runId: this.runId,
      time: this.time(),
      epoch,
      step: epoch * 4,
      trainLoss: 1 / epoch,
      trainAcc: 0.5,
      testLoss: 1 / epoch,
      testAcc,
      seconds: 1,
      examplesPerSec: 100,
      memory: { rssBytes: 1e8, tensorBytes: 1e6, tensors: 10 },
    }
  }

  checkpoint(epoch: number): TrainerMessage {
    return {
      type: 'checkpoint',
      runId: this.runId,
      time: this.time(),
      epoch,
      step: epoch * 4,
      path: `checkpoints/epoch-${epoch}`,
    }
  }

  log(message: string): TrainerMessage {
    return { type: 'log', runId: this.runId, time: this.time(), level: 'warn', message }
  }

  finished(testAcc: number, epochs = 3): TrainerMessage {
    return {
      type: 'finished',
      runId: this.runId,
      time: this.time(),
      epochs,
      testAcc,
      classNames: ['a', 'b'],
      perClassAccuracy: [testAcc, testAcc],
      confusion: [
        [1, 0],
        [0, 1],
      ],
      modelPath: 'model/model.json',
    }
  }

  failed(error: string): TrainerMessage {
    return { type: 'failed', runId: this.runId, time: this.time(), error }
  }

  diverged(epoch: number, step: number): TrainerMessage {
    return { type: 'diverged', runId: this.runId, time: this.time(), epoch, step, loss: 'NaN' }
  }

  /** Epochs `from`..`to`: 4 steps each, then the epoch summary, then a checkpoint if listed. */
  epochs(from: number, to: number, checkpoints: readonly number[] = []): TrainerMessage[] {
    const out: TrainerMessage[] = []
    for (let e = from; e <= to; e++) {
      for (let s = 1; s <= 4; s++) out.push(this.step(e, (e - 1) * 4 + s))
      out.push(this.epoch(e, e / 10))
      if (checkpoints.includes(e)) out.push(this.checkpoint(e))
    }
    return out
  }
}

/** Rows of a table for one run (to check that nothing is duplicated or left behind). */
export const countRows = (store: RunStore, table: string, runId?: string): number =>
  store.connection
    .prepare<unknown[], number>(
      `SELECT COUNT(*) FROM ${table}${runId === undefined ? '' : ' WHERE run_id = ?'}`,
    )
    .pluck()
    .get(...(runId === undefined ? [] : [runId])) ?? 0
