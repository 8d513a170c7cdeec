/**
 * How long will a config take here? Two answers: `estimateEpoch` scales earlier runs on this
 * machine by training FLOPs (instant), `measureEpoch` times a few real steps in a fresh trainer
 * process (seconds to a minute). `benchmark` is that measurement itself (`nin-lab bench`).
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ApiError, type EpochEstimate } from '@shared/api/contract'
import type { Run } from '@shared/api/types'
import { layerTable } from '@shared/architecture'
import {
  ConfigError,
  datasetSize,
  parseExperimentConfig,
  type ExperimentConfig,
} from '@shared/config/experiment'
import { costTotals } from '@shared/cost'
import { BenchOutputError, parseBenchOutput, type BenchResult } from '@shared/protocol/bench'
import type { MeasuredMemory } from '@shared/exercise-answer'
import { trainerEntry } from './queue/trainer-process'
import { Turns } from './turns'
import type { RunStore } from './store'

const execFileAsync = promisify(execFile)

/** Fashion-MNIST's training set, when the config takes no subset. */
const FULL_TRAIN_SET = 60_000
/** Earlier runs an estimate averages over. */
const HISTORY_SAMPLES = 5
/** Measurements at once: each is a trainer process using every core (and up to GBs). */
const MAX_CONCURRENT_MEASUREMENTS = 1
/** Measurements waiting for their turn before further requests are refused. */
const MAX_WAITING_MEASUREMENTS = 4
/** Batch size cap of `measureEpoch`, bounding its time and memory. */
const MEASURE_BATCH_CAP = 64
const BENCH_TIMEOUT_MS = 600_000

const parseConfig = (input: unknown): ExperimentConfig => {
  const parsed = parseExperimentConfig(input)
  if (!parsed.ok) throw new ConfigError(parsed.issues)
  return parsed.value
}

/** The engine and backend a config forces (null: the machine decides, `auto`). */
function forcedTarget(config: ExperimentConfig): { engine: string | null; backend: string | null } {
  const engine = config.engine === 'auto' ? null : config.engine
  // train.backend picks a TensorFlow.js backend; the torch engine does not use it.
  const backend =
    config.engine === 'torch' || config.train.backend === 'auto' ? null : config.train.backend
  return { engine: backend !== null && engine === null ? 'tfjs' : engine, backend }
}

const trainFlopsOf = (config: ExperimentConfig): number =>
  costTotals(layerTable(config.model), config.train).trainFlopsPerImage

export class Estimates {
  private readonly turns = new Turns(
    'measurements',
    MAX_CONCURRENT_MEASUREMENTS,
    MAX_WAITING_MEASUREMENTS,
  )

  constructor(private readonly store: RunStore) {}

  /**
   * Expected seconds per epoch, from finished runs on this machine: their measured training
   * throughput, converted to this config's cost (training FLOPs per image) — throughput in FLOP/s
   * carries over between NiN variants far better than images/s does.
   */
  estimateEpoch(input: unknown): EpochEstimate {
    const config = parseConfig(input)
    const flopsPerImage = trainFlopsOf(config)
    const images =
      config.data.trainLimit ?? datasetSize(config.data.dataset)?.train ?? FULL_TRAIN_SET
    // Only runs on the engine and backend this config asks for: wasm and PyTorch on the same
    // machine differ ten-fold, so a forced engine is never priced from another's history.
    const wanted = forcedTarget(config)
    const history = this.store
      .listRuns({ status: ['completed', 'running', 'cancelled', 'interrupted'] })
      .filter((r) => r.epochsDone > 0 || r.status === 'running')
      .filter(
        (r) =>
          (wanted.engine === null || r.engine === wanted.engine) &&
          (wanted.backend === null || r.backend === wanted.backend),
      )
    // Prefer runs of similar cost (same input size and batch) and of the same engine choice.
    const score = (r: Run): number =>
      (r.config.model.inputSize === config.model.inputSize ? 2 : 0) +
      (r.config.train.batchSize === config.train.batchSize ? 1 : 0) +
      (r.config.engine === config.engine ? 1 : 0)
    const samples = history
      .map((r) => ({ run: r, rate: this.measuredRate(r) }))
      .filter((s): s is { run: Run; rate: number } => s.rate !== null)
      .sort((a, b) => score(b.run) - score(a.run) || b.run.createdAt - a.run.createdAt)
      .slice(0, HISTORY_SAMPLES)
    if (samples.length === 0) {
      return {
        secondsPerEpoch: null,
        imagesPerSecond: null,
        basis: 'none',
        backend: null,
        detail:
          wanted.engine !== null || wanted.backend !== null
            ? `no runs on ${[wanted.engine, wanted.backend].filter(Boolean).join(' · ')} here yet: measure a few steps, or the first run will tell`
            : 'no runs on this machine yet: measure a few steps, or the first run will tell',
      }
    }
    const flopsPerSecond =
      samples.reduce((sum, s) => sum + s.rate * trainFlopsOf(s.run.config), 0) / samples.length
    const imagesPerSecond = flopsPerSecond / flopsPerImage
    return {
      secondsPerEpoch: images / imagesPerSecond,
      imagesPerSecond,
      basis: 'history',
      backend: samples[0]?.run.backend ?? null,
      detail: `from ${samples.length} earlier run${samples.length === 1 ? '' : 's'}${wanted.engine ? ` on ${samples[0]?.run.engine ?? wanted.engine}` : ''} on this machine, scaled by training FLOPs`,
    }
  }

  /**
   * Times a few real training steps of the config in a fresh trainer process (the same code path
   * as `nin-lab bench`), at the config's batch size capped at MEASURE_BATCH_CAP.
   */
  async measureEpoch(input: unknown): Promise<EpochEstimate> {
    const config = parseConfig(input)
    const batchSize = Math.min(config.train.batchSize, MEASURE_BATCH_CAP)
    const result = await this.benchmark(
      { ...config, train: { ...config.train, batchSize } },
      { steps: 3, warmup: 1 },
    )
    const images =
      config.data.trainLimit ?? datasetSize(config.data.dataset)?.train ?? FULL_TRAIN_SET
    const busy = this.store.listRuns({ status: ['running'] }).length > 0
    return {
      secondsPerEpoch: images / result.imgPerS,
      imagesPerSecond: result.imgPerS,
      basis: 'measured',
      backend: result.backend,
      detail:
        `3 training steps at batch ${batchSize} just timed on ${result.backend}${result.threads ? ` ×${result.threads}` : ''}` +
        (busy ? ' (while another run was training: expect it faster alone)' : ''),
    }
  }

  /**
   * Training throughput of a config on the engine and backend a run of it would get: the median
   * of `steps` timed steps on random images after `warmup` steps, in a fresh trainer process.
   * One at a time (each uses every core), a few more waiting, the rest refused.
   */
  async benchmark(
    input: unknown,
    opts: { readonly steps?: number; readonly warmup?: number } = {},
  ): Promise<BenchResult> {
    const config = parseConfig(input)
    return this.turns.run(() => this.measure(config, opts))
  }

  /**
   * Peak memory of one prediction and one training step of the config at its own batch size, in
   * the engine a run of it would get (d2l exercise 4), beside what the cost model counts.
   */
  async measureMemory(input: unknown): Promise<Omit<MeasuredMemory, 'counted'>> {
    const config = parseConfig(input)
    const result = await this.turns.run(() =>
      this.measure(config, { steps: 1, warmup: 0, memory: true }),
    )
    if (!result.memory) {
      throw new ApiError('unavailable', `the ${result.engine} engine did not report its memory`)
    }
    return {
      engine: result.engine,
      backend: result.backend,
      source: result.memory.source,
      batchSize: result.batch,
      inputSize: result.inputSize,
      trainPeakBytes: result.memory.trainPeakBytes,
      predictPeakBytes: result.memory.predictPeakBytes,
    }
  }

  private async measure(
    config: ExperimentConfig,
    opts: { readonly steps?: number; readonly warmup?: number; readonly memory?: boolean },
  ): Promise<BenchResult> {
    const dir = mkdtempSync(join(tmpdir(), 'nin-lab-bench-'))
    try {
      const file = join(dir, 'config.json')
      writeFileSync(file, JSON.stringify(config))
      const { stdout } = await execFileAsync(
        process.execPath,
        [
          trainerEntry(),
          '--bench',
          file,
          '--steps',
          String(opts.steps ?? 5),
          '--warmup',
          String(opts.warmup ?? 2),
          ...(opts.memory ? ['--memory'] : []),
        ],
        { timeout: BENCH_TIMEOUT_MS, maxBuffer: 1 << 20 },
      )
      return parseBenchOutput(stdout)
    } catch (err) {
      if (err instanceof ApiError) throw err
      const message =
        err instanceof BenchOutputError
          ? err.message
          : ((err as { stderr?: string }).stderr?.trim().split('\n').at(-1) ??
            (err instanceof Error ? err.message : String(err)))
      throw new ApiError('unavailable', `could not measure this config: ${message}`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }

  /** A run's measured training images/s (its latest epoch), or null. */
  private measuredRate(run: Run): number | null {
    const epoch = this.store.latestEvent(run.id, 'epoch')?.message
    return epoch && epoch.examplesPerSec > 0 ? epoch.examplesPerSec : null
  }
}
