/**
 * Does a config's training step fit the memory it will train in? One question for every engine,
 * asked before a run is queued (the New experiment form) as well as by the trainer itself:
 *
 * - the TensorFlow.js wasm heap (4 GiB, never grows past it): the fitted model of wasm-heap.ts;
 * - a GPU of known size: the cost model's training memory with a margin for the framework
 *   (cuDNN workspace, the allocator's cache) plus the CUDA context. A rough bound, meant to catch
 *   what cannot fit, not to promise what will.
 *
 * Each answer says how much it needs, how much there is, and the largest batch size that fits.
 */
import { layerTable } from './architecture'
import type { ExperimentConfig } from './config/experiment'
import { costTotals } from './cost'
import { checkWasmHeap, WASM_HEAP_BYTES } from './wasm-heap'

export type FitTarget =
  | { readonly kind: 'wasm' }
  | { readonly kind: 'gpu'; readonly name: string; readonly memoryMB: number }

export interface FitResult {
  readonly target: FitTarget
  readonly fits: boolean
  readonly predictedBytes: number
  readonly capacityBytes: number
  /** The largest batch size predicted to fit (0 if not even one image does). */
  readonly maxBatchSize: number
}

/** What PyTorch holds beyond the cost model's tensors (workspace, allocator cache): × this. */
const GPU_FACTOR = 1.5
/** The CUDA context and cuDNN's handles. */
const GPU_CONTEXT_BYTES = 0.5 * 1024 ** 3

const gib = (b: number): string => `${(b / 1024 ** 3).toFixed(1)} GiB`

/** The fit of one config, or null when its network does not build (the form says why). */
export function memoryFit(config: ExperimentConfig, target: FitTarget): FitResult | null {
  let layers
  try {
    layers = layerTable(config.model)
  } catch {
    return null
  }
  if (target.kind === 'wasm') {
    const heap = checkWasmHeap(layers, config.train)
    return {
      target,
      fits: heap.fits,
      predictedBytes: heap.predictedBytes,
      capacityBytes: WASM_HEAP_BYTES,
      maxBatchSize: heap.maxBatchSize,
    }
  }
  const t = costTotals(layers, config.train).memory.training
  const fixed = GPU_CONTEXT_BYTES + GPU_FACTOR * (t.weights + t.gradients + t.optimizerState)
  const perImage = (GPU_FACTOR * t.activations) / Math.max(1, t.batchSize)
  const predictedBytes = fixed + perImage * t.batchSize
  const capacityBytes = target.memoryMB * 1024 ** 2
  return {
    target,
    fits: predictedBytes <= capacityBytes,
    predictedBytes,
    capacityBytes,
    maxBatchSize: Math.max(0, Math.floor((capacityBytes - fixed) / perImage)),
  }
}

/** "the wasm heap (4.0 GiB)", "NVIDIA H200 (139.8 GiB)". */
export function targetText(target: FitTarget): string {
  return target.kind === 'wasm'
    ? `the wasm heap (${gib(WASM_HEAP_BYTES)})`
    : `${target.name} (${gib(target.memoryMB * 1024 ** 2)})`
}

/** One line about a fit: what it needs of what, and what to change when it does not fit. */
export function fitText(fit: FitResult, config: ExperimentConfig): string {
  const need = `needs about ${gib(fit.predictedBytes)} of ${targetText(fit.target)}`
  if (fit.fits) return `fits: ${need}`
  const other =
    fit.target.kind === 'wasm' ? ', or train with the torch engine' : ', or use a larger GPU'
  return (
    `train.batchSize ${config.train.batchSize} at model.inputSize ${config.model.inputSize} ${need}: ` +
    `lower train.batchSize to at most ${fit.maxBatchSize} (or model.inputSize)${other}`
  )
}
