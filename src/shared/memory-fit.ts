/**
 * Will a training step fit in the memory it would run in? One rule for every engine: the cost
 * model's training memory (src/shared/cost.ts: weights, gradients, optimizer state, and the
 * activations kept for the backward pass, fp32) scaled by what each engine was measured to hold
 * on top, against the machine's limits. A run that will not fit is refused before it starts,
 * with the largest batch size that fits — rather than ending, minutes later, in an abort deep
 * inside a backend or the kernel's OOM killer. Pure: the caller measures the limits (the trainer
 * before a run; the core could before queueing).
 *
 * predicted = baseline + weights + gradients + optimizer state + factor × activations(batch)
 */
import type { Layer } from './architecture'
import type { TrainSpec } from './config/experiment'
import { costTotals, type CostSettings } from './cost'
import { bytes } from './format'

/** How much an engine holds during a training step, relative to the cost model. */
export interface EngineMemoryModel {
  /** The engine in words, after "on": "the wasm backend", "the torch engine (CPU)". */
  readonly engine: string
  /** Held before any of the model's tensors: the runtime, the framework, the dataset. */
  readonly baselineBytes: number
  /** Peak step memory per image ÷ the cost model's training activations per image. */
  readonly activationFactor: number
  /** Appended to the refusal: another way out than a smaller batch. */
  readonly alternative?: string
}

const GiB = 1024 ** 3

/**
 * The engines' models. Factors are peak RSS measured on this project's 2-core CPU machine (a
 * step's peak: RSS minus the baseline, over the cost model's activations):
 *
 * - TensorFlow.js (wasm): d2l at 224 px batch 32 peaks at 1.50 GB (activations 212 MiB), d2l at
 *   96 px batch 128 at 0.99 GB (155 MiB): ≈ 6× the activations over ≈ 0.3 GB. It holds several
 *   tensors per layer (pre-activation outputs, gradient buffers, transposed gradient kernels).
 * - PyTorch 1.13 on the CPU (oneDNN, channels-last, one thread), peak RSS of the Python trainer
 *   (`/usr/bin/time`, one epoch of real training; in brackets `trainer.py --bench` on random
 *   data, which holds no dataset): small-28 batch 32 / 128 / 512: 328 / 399 / 686 MiB
 *   (271 / 354 / 661), activations 16 / 64 / 257 MiB; d2l at 96 px batch 32 / 128: 384 / 511 MiB
 *   (321 / 440; batch 512: 963), activations 32 / 126 (505) MiB; d2l at 224 px batch 32: 610 MiB
 *   (550; batch 64: 812), activations 208 (417) MiB. That is 1.3–1.6× the activations over
 *   ≈ 245 MiB (Python with torch imported) plus ≈ 60 MiB of dataset. The model takes 1.75× over
 *   0.35 GiB: 12–21% above every training run measured, room for allocator slack.
 * - Not measured here (no GPU, no libtensorflow on this machine): tfjs-node takes the wasm
 *   model; PyTorch on CUDA takes the CPU factor over a smaller host-side baseline.
 */
export const ENGINE_MEMORY_MODELS = {
  wasm: {
    engine: 'the wasm backend',
    baselineBytes: 0.3 * GiB,
    activationFactor: 6,
    alternative: 'or train with the torch engine',
  },
  tfjs: { engine: 'TensorFlow.js', baselineBytes: 0.3 * GiB, activationFactor: 6 },
  torchCpu: {
    engine: 'the torch engine (CPU)',
    baselineBytes: 0.35 * GiB,
    activationFactor: 1.75,
  },
  torchCuda: {
    engine: 'the torch engine (CUDA)',
    baselineBytes: 0.25 * GiB,
    activationFactor: 1.75,
  },
} as const satisfies Record<string, EngineMemoryModel>

/** One limit a run's memory must stay under. */
export interface MemoryLimit {
  readonly bytes: number
  /** The limit in words, after "more than": "the 4.0 GiB wasm heap (TensorFlow.js' cap)". */
  readonly what: string
}

export interface MemoryFit {
  readonly predictedBytes: number
  /** Baseline + weights + gradients + optimizer state: what a batch of one adds to. */
  readonly fixedBytes: number
  readonly perImageBytes: number
  readonly fits: boolean
  /** The tightest of the limits checked. */
  readonly limit: MemoryLimit
  /** The largest batch size predicted to fit the tightest limit (0: not even one image). */
  readonly maxBatchSize: number
}

/** Checks a run's predicted peak against every limit; the tightest one decides. */
export function checkMemoryFit(
  layers: readonly Layer[],
  /** precision: the one the run will compute in (resolved by the engine), fp32 when absent. */
  train: CostSettings,
  model: EngineMemoryModel,
  limits: readonly MemoryLimit[],
): MemoryFit {
  if (limits.length === 0) throw new Error('checkMemoryFit needs at least one limit')
  const t = costTotals(layers, train).memory.training
  const fixedBytes =
    model.baselineBytes + t.weights + t.castWeights + t.gradients + t.optimizerState
  const perImageBytes = (t.activations / t.batchSize) * model.activationFactor
  const predictedBytes = fixedBytes + perImageBytes * t.batchSize
  const limit = limits.reduce((a, b) => (b.bytes < a.bytes ? b : a))
  return {
    predictedBytes,
    fixedBytes,
    perImageBytes,
    fits: predictedBytes <= limit.bytes,
    limit,
    maxBatchSize: Math.max(0, Math.floor((limit.bytes - fixedBytes) / perImageBytes)),
  }
}

/** The refusal for a run that will not fit, naming the fields to change and by how much. */
export function memoryFitError(
  fit: MemoryFit,
  train: Pick<TrainSpec, 'batchSize'>,
  inputSize: number,
  model: EngineMemoryModel,
): string {
  const fix =
    fit.maxBatchSize > 0
      ? `lower train.batchSize to at most ${fit.maxBatchSize} (or model.inputSize)`
      : 'not even a batch of one fits: lower model.inputSize or narrow the network'
  return (
    `train.batchSize ${train.batchSize} at model.inputSize ${inputSize} needs about ` +
    `${bytes(fit.predictedBytes)} on ${model.engine}, more than ${fit.limit.what}: ${fix}` +
    (model.alternative ? `, ${model.alternative}` : '')
  )
}
