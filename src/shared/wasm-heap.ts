/**
 * Will a training step fit in the wasm heap? TensorFlow.js' wasm heap is capped at 4 GiB and
 * never shrinks (docs/engines.md, "The 4 GiB wasm heap"); a step that needs more aborts deep
 * inside the backend with a message nobody can act on. This predicts the need from the cost
 * model, so the run can refuse up front and say which setting to lower.
 *
 * The cost model counts each tensor kept for backward once; TensorFlow.js holds several more per
 * layer during a step (pre-activation outputs, gradient buffers, the transposes of the gradient
 * kernels). The factor was measured here: peak RSS 1.50 GB for the d2l NiN at 224 px, batch 32
 * (cost-model activations 212 MiB), and 0.99 GB at 96 px, batch 128 (155 MiB), both ≈ 6× the
 * activations over a ≈ 0.3 GB baseline.
 */
import type { Layer } from './architecture'
import type { TrainSpec } from './config/experiment'
import { costTotals } from './cost'

export const WASM_HEAP_BYTES = 4 * 1024 ** 3
const ACTIVATION_FACTOR = 6
const BASELINE_BYTES = 0.3 * 1024 ** 3

export interface HeapCheck {
  readonly predictedBytes: number
  readonly fits: boolean
  /** The largest batch size predicted to fit (0 if not even one image does). */
  readonly maxBatchSize: number
}

export function checkWasmHeap(layers: readonly Layer[], train: TrainSpec): HeapCheck {
  const t = costTotals(layers, train).memory.training
  const fixed = BASELINE_BYTES + t.weights + t.gradients + t.optimizerState
  const perImage = (t.activations / t.batchSize) * ACTIVATION_FACTOR
  const predictedBytes = fixed + perImage * t.batchSize
  return {
    predictedBytes,
    fits: predictedBytes <= WASM_HEAP_BYTES,
    maxBatchSize: Math.max(0, Math.floor((WASM_HEAP_BYTES - fixed) / perImage)),
  }
}

const gib = (b: number): string => `${(b / 1024 ** 3).toFixed(1)} GiB`

/** The error text for a step that will not fit, naming the fields to change. */
export function heapErrorMessage(check: HeapCheck, train: TrainSpec, inputSize: number): string {
  return (
    `train.batchSize ${train.batchSize} at model.inputSize ${inputSize} needs about ${gib(check.predictedBytes)} ` +
    `on the wasm backend, whose heap is capped at ${gib(WASM_HEAP_BYTES)}: lower train.batchSize to at most ` +
    `${check.maxBatchSize} (or model.inputSize), or train with the torch engine`
  )
}
