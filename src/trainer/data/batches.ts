import { SeededRandom } from '@shared/random'
import { resizeImageInto } from './resize'
import type { Dataset } from './types'

/** One minibatch, ready for a model with 1-channel NHWC input. */
export interface Batch {
  /** size × S × S × 1 floats in [0, 1] (NHWC; with one channel also valid as NCHW). */
  x: Float32Array
  /** size class labels. */
  y: Int32Array
  size: number
  /** Batch index within the epoch, from 0. */
  index: number
}

export interface BatchOptions {
  batchSize: number
  /** Side S of the square model input; images are resized to S × S. */
  inputSize: number
  /** Shuffle (training) or keep the dataset order (evaluation). */
  shuffle: boolean
  /** Run seed; with `epoch`, fixes the shuffle. Ignored when shuffle is false. */
  seed?: number
  epoch?: number
  /** First batch the iterator yields (0 = the whole epoch). */
  startBatch?: number
}

/**
 * The order of one epoch: a Fisher–Yates shuffle seeded from (seed, epoch) alone, so a run
 * resumed at epoch e sees exactly the order it would have seen without the interruption,
 * whatever happened in earlier epochs.
 */
export function epochOrder(count: number, seed: number, epoch: number): Uint32Array {
  const order = new Uint32Array(count)
  for (let i = 0; i < count; i++) order[i] = i
  return new SeededRandom(seed * 1000003 + epoch).shuffle(order)
}

export function batchCount(count: number, batchSize: number): number {
  return Math.ceil(count / batchSize)
}

/**
 * One epoch of batches over a Dataset. The last batch keeps the remainder (it may be smaller
 * than batchSize). Batches are built on demand, each in fresh arrays the caller may keep:
 * at 224 px a batch of 128 is 25 MB, so building the whole epoch up front is not an option.
 */
export class BatchIterator implements Iterable<Batch> {
  readonly order: Uint32Array
  readonly numBatches: number
  readonly batchSize: number
  readonly inputSize: number
  private readonly startBatch: number

  constructor(
    private readonly ds: Dataset,
    opts: BatchOptions,
  ) {
    const { batchSize, inputSize } = opts
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`)
    if (!Number.isInteger(inputSize) || inputSize < 1)
      throw new RangeError(`inputSize must be a positive integer, got ${inputSize}`)
    this.batchSize = batchSize
    this.inputSize = inputSize
    this.numBatches = batchCount(ds.count, batchSize)
    this.startBatch = opts.startBatch ?? 0
    if (!Number.isInteger(this.startBatch) || this.startBatch < 0)
      throw new RangeError(`startBatch must be a non-negative integer, got ${this.startBatch}`)
    if (opts.shuffle) {
      this.order = epochOrder(ds.count, opts.seed ?? 0, opts.epoch ?? 0)
    } else {
      this.order = new Uint32Array(ds.count)
      for (let i = 0; i < ds.count; i++) this.order[i] = i
    }
  }

  /** Batch k of this epoch (0 ≤ k < numBatches), independent of any other batch. */
  batch(k: number): Batch {
    if (!Number.isInteger(k) || k < 0 || k >= this.numBatches)
      throw new RangeError(`batch index ${k} is outside 0…${this.numBatches - 1}`)
    const { ds, inputSize: s } = this
    const start = k * this.batchSize
    const size = Math.min(this.batchSize, ds.count - start)
    const inPx = ds.height * ds.width
    const outPx = s * s
    const x = new Float32Array(size * outPx)
    const y = new Int32Array(size)
    for (let b = 0; b < size; b++) {
      const i = this.order[start + b] as number
      resizeImageInto(ds.images, i * inPx, ds.height, ds.width, x, b * outPx, s)
      y[b] = ds.labels[i] as number
    }
    return { x, y, size, index: k }
  }

  *[Symbol.iterator](): Iterator<Batch> {
    for (let k = this.startBatch; k < this.numBatches; k++) yield this.batch(k)
  }
}
