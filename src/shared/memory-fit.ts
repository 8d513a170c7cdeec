/**
 * Will a training step fit in the memory it would run in? One rule for every engine: the cost
 * model's training memory (src/shared/cost.ts: weights, gradients, optimizer state, and the
 * activations kept for the backward pass, fp32) scaled by what each engine was measured to hold
 * on top, against the machine's limits. A run that will not fit is refused before it starts,
 * with the largest batch size that fits — rather than ending, minutes later, in an abort deep
 * inside a backend or the kernel's OOM killer. Pure: the caller measures the limits (the trainer
 * before a run; the New experiment form, from what the page knows, before queueing: memoryFit).
 *
 * predicted = baseline + weights + gradients + optimizer state + factor × activations(batch)
 */
import { layerTable, type Layer } from './architecture'
import type { ExperimentConfig, TrainSpec } from './config/experiment'
import { costTotals, type CostSettings } from './cost'
import { bytes } from './format'
import { WASM_HEAP_BYTES, WASM_HEAP_LIMIT } from './wasm-heap'

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

/** Left for the rest of the machine (or the GPU): 5% of its memory, and at least 512 MiB. */
export const MEMORY_MARGIN_FRACTION = 0.05
export const MEMORY_MARGIN_MIN_BYTES = 512 * 1024 ** 2

// Before queueing. The New experiment form asks the same question as the trainer, with what it
// can know from the page: the wasm heap when a config forces the wasm backend, or a GPU whose
// size an earlier run's placement recorded (its total, less the trainer's margin: the trainer
// checks the memory free when the run starts, which the page cannot see). The machine's RAM is
// the trainer's to measure, so the form never refuses on it.

/** Where the form expects a run to train. */
export type FitTarget =
  | { readonly kind: 'wasm' }
  | { readonly kind: 'gpu'; readonly name: string; readonly memoryMB: number }

export interface FitResult extends MemoryFit {
  readonly target: FitTarget
  readonly model: EngineMemoryModel
}

/** The limit a target sets, in the trainer's words where the trainer checks the same one. */
export function targetLimit(target: FitTarget): MemoryLimit {
  if (target.kind === 'wasm') return WASM_HEAP_LIMIT
  const total = target.memoryMB * 1024 ** 2
  const margin = Math.max(MEMORY_MARGIN_MIN_BYTES, MEMORY_MARGIN_FRACTION * total)
  const usable = Math.max(0, total - margin)
  return {
    bytes: usable,
    what: `the ${bytes(usable)} of ${target.name} (${bytes(total)} less a ${bytes(margin)} margin)`,
  }
}

/** The fit of one config on a target, or null when its network does not build (the form says why). */
export function memoryFit(config: ExperimentConfig, target: FitTarget): FitResult | null {
  let layers: Layer[]
  try {
    layers = layerTable(config.model)
  } catch {
    return null
  }
  // A GPU is the torch engine's here: tfjs-node-gpu's memory is not checked (trainer/engines/memory.ts).
  const model = target.kind === 'wasm' ? ENGINE_MEMORY_MODELS.wasm : ENGINE_MEMORY_MODELS.torchCuda
  return { ...checkMemoryFit(layers, config.train, model, [targetLimit(target)]), target, model }
}

/** "the wasm heap (4.0 GiB)", "NVIDIA H200 (139.8 GiB)". */
export function targetText(target: FitTarget): string {
  return target.kind === 'wasm'
    ? `the wasm heap (${bytes(WASM_HEAP_BYTES)})`
    : `${target.name} (${bytes(target.memoryMB * 1024 ** 2)})`
}

/** One line about a fit: what it needs of what; when it does not fit, the trainer's refusal. */
export function fitText(fit: FitResult, config: ExperimentConfig): string {
  if (!fit.fits) return memoryFitError(fit, config.train, config.model.inputSize, fit.model)
  return `fits: needs about ${bytes(fit.predictedBytes)} of ${fit.limit.what}`
}
