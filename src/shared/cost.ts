/**
 * The analytic cost model of a NiN variant (d2l §8.3 exercise 4): parameters, compute, and
 * memory for prediction and for training, all summed over `layerTable`.
 *
 * Conventions (estimates of what the tensors themselves need, before any framework workspace,
 * allocator slack or fragmentation; fp32 is 4 bytes a value, see `train.precision` below):
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
 * - precision: with `train.precision` bf16 or fp16 (autocast, fp32 master weights) activations
 *             take 2 bytes a value and the weights gain a 2-byte copy (autocast's cast of each
 *             weight, held for the step); weights, gradients and optimizer state stay fp32.
 *             `auto` is figured as fp32, the most it can need: only the engine knows what it
 *             resolves to (the torch engine's memory check uses what it resolves to there).
 */
import { countParams, type Layer } from './architecture'
import type { Precision, TrainSpec } from './config/experiment'

/** Bytes of an fp32 value: weights, gradients and optimizer state in every precision. */
export const BYTES_PER_VALUE = 4

/** Bytes of an activation value (and of autocast's weight copy) in a precision; auto as fp32. */
export const computeBytes = (precision: Precision | undefined): number =>
  precision === 'bf16' || precision === 'fp16' ? 2 : BYTES_PER_VALUE

/** What the cost model needs of the training settings (precision: fp32 when absent). */
export type CostSettings = Pick<TrainSpec, 'optimizer' | 'momentum' | 'batchSize'> & {
  readonly precision?: Precision
}

export interface MemoryEstimate {
  /** The precision the figures are for (`auto` is figured as fp32). */
  readonly precision: Precision
  /** Bytes of an activation value: 4 in fp32, 2 in bf16 and fp16. */
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
    /** Autocast's low-precision copy of the weights (0 in fp32). */
    readonly castWeights: number
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

export function costTotals(layers: readonly Layer[], train: CostSettings): CostTotals {
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
  const precision = train.precision ?? 'fp32'
  const value = computeBytes(precision)
  const weights = params * BYTES_PER_VALUE
  const castWeights = value < BYTES_PER_VALUE ? params * value : 0
  const gradients = weights
  const optimizerState = optimizerSlots(train) * weights
  const activations = B * kept * value
  return {
    params,
    macs,
    flops: 2 * macs,
    trainFlopsPerImage: 6 * macs,
    memory: {
      precision,
      bytesPerValue: value,
      prediction: {
        perImage: weights + castWeights + peak * value,
        batch: weights + castWeights + B * peak * value,
        batchSize: B,
        weights: weights + castWeights,
        activationsPerImage: peak * value,
      },
      training: {
        batchSize: B,
        weights,
        castWeights,
        gradients,
        optimizerState,
        activations,
        total: weights + castWeights + gradients + optimizerState + activations,
      },
    },
  }
}
