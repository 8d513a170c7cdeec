/**
 * The analytic cost model of a NiN variant (d2l §8.3 exercise 4): parameters, compute, and
 * memory for prediction and for training, all summed over `layerTable`.
 *
 * Conventions (fp32, 4 bytes a value; estimates of what the tensors themselves need, before any
 * framework workspace, allocator slack or fragmentation):
 * - params  = Σ weights + biases.
 * - macs    = forward multiply-accumulates per image (conv: output elements × k² × C_in; dense:
 *             in × out). FLOPs = 2 × MACs. A training step costs about 3× the forward pass
 *             (forward, gradient w.r.t. inputs, gradient w.r.t. weights).
 * - prediction memory = weights + B × peak live activations, where the peak over the sequential
 *             network is max over layers of (layer input + layer output): a layer's input can be
 *             freed once its output exists. Reported for one image and for the batch.
 * - training memory   = weights + gradients (same size as weights) + optimizer state
 *             (SGD: 0; SGD with momentum: 1 × weights; Adam: 2 × weights)
 *             + B × (input + every layer's output, each kept for the backward pass,
 *                    + one mask per dropout layer, same size as its output).
 */
import { countParams, type Layer } from './architecture'
import type { TrainSpec } from './config/experiment'

export const BYTES_PER_VALUE = 4

export interface MemoryEstimate {
  readonly bytesPerValue: number
  readonly prediction: {
    /** Weights + the activation peak for one image. */
    readonly perImage: number
    /** Weights + the activation peak for `batchSize` images. */
    readonly batch: number
    readonly batchSize: number
    readonly weights: number
    readonly activationsPerImage: number
  }
  readonly training: {
    readonly batchSize: number
    readonly weights: number
    readonly gradients: number
    readonly optimizerState: number
    readonly activations: number
    readonly total: number
  }
}

export interface CostTotals {
  readonly params: number
  /** Forward MACs per image. */
  readonly macs: number
  /** Forward FLOPs per image (2 × MACs). */
  readonly flops: number
  /** FLOPs of one training step per image (≈ 3 × forward). */
  readonly trainFlopsPerImage: number
  readonly memory: MemoryEstimate
}

const elements = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1)

/** Optimizer state in values per parameter. */
export function optimizerSlots(train: Pick<TrainSpec, 'optimizer' | 'momentum'>): number {
  if (train.optimizer === 'adam') return 2
  return train.momentum > 0 ? 1 : 0
}

export function costTotals(
  layers: readonly Layer[],
  train: Pick<TrainSpec, 'optimizer' | 'momentum' | 'batchSize'>,
): CostTotals {
  const params = countParams(layers)
  const macs = layers.reduce((n, l) => n + l.macs, 0)
  const first = layers[0]
  const inputElements = first ? elements(first.inputShape) : 0

  let peak = inputElements
  let kept = inputElements
  for (const layer of layers) {
    const out = elements(layer.outputShape)
    peak = Math.max(peak, elements(layer.inputShape) + out)
    kept += layer.type === 'dropout' ? 2 * out : out
  }

  const B = train.batchSize
  const weights = params * BYTES_PER_VALUE
  const gradients = weights
  const optimizerState = optimizerSlots(train) * weights
  const activations = B * kept * BYTES_PER_VALUE
  return {
    params,
    macs,
    flops: 2 * macs,
    trainFlopsPerImage: 6 * macs,
    memory: {
      bytesPerValue: BYTES_PER_VALUE,
      prediction: {
        perImage: weights + peak * BYTES_PER_VALUE,
        batch: weights + B * peak * BYTES_PER_VALUE,
        batchSize: B,
        weights,
        activationsPerImage: peak * BYTES_PER_VALUE,
      },
      training: {
        batchSize: B,
        weights,
        gradients,
        optimizerState,
        activations,
        total: weights + gradients + optimizerState + activations,
      },
    },
  }
}
