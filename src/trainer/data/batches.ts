import { SeededRandom } from '@shared/random'
import type { ChannelStats } from './cache'
import { resizeImageInto } from './resize'
import type { Dataset } from './types'

/** One minibatch, ready for a model with NHWC input. */
export interface Batch {
  /**
   * size × S × S × C floats (NHWC; with one channel also valid as NCHW): in [0, 1], or
   * standardised per channel when the batches normalise.
   */
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
  /** Standardise each channel, (x − mean) / std, with these statistics (null: keep [0, 1]). */
  normalize?: ChannelStats | null
  /** Random crop and flip (training only), drawn from (seed, epoch, batch index). */
  augment?: AugmentOptions | null
}

/** The NiN paper's CIFAR augmentation: a random crop after zero padding, a horizontal flip. */
export interface AugmentOptions {
  /** Zero padding P on every side; the crop's offset is uniform in 0…2P on each axis. */
  cropPadding: number
  hflip: boolean
}

/** Per-image draws of one batch's augmentation. */
export interface AugmentDraws {
  /** Crop offsets into the padded image, 0…2P (P when there is no crop: the image itself). */
  oy: Int32Array
  ox: Int32Array
  /** 1: mirrored left to right. */
  flip: Uint8Array
}

/**
 * The seed of batch k's augmentation in epoch `epoch`: 32-bit mixing only (Math.imul, xor), so
 * src/torch-engine/nin_torch/rng.py computes the same number, and batches are
 * independent of each other (a run resumed mid-epoch draws the same crops).
 */
export function augmentSeed(seed: number, epoch: number, batch: number): number {
  return (
    (Math.imul(seed >>> 0, 0x27d4eb2f) ^
      Math.imul(epoch >>> 0, 0x165667b1) ^
      Math.imul((batch + 1) >>> 0, 0x85ebca77)) >>>
    0
  )
}

/**
 * The draws of batch k: for each image in batch order, the crop offsets (y, then x; only when
 * cropPadding > 0) and the flip (next() < 0.5; only when hflip), in that order.
 */
export function augmentDraws(
  seed: number,
  epoch: number,
  batch: number,
  size: number,
  opts: AugmentOptions,
): AugmentDraws {
  const rng = new SeededRandom(augmentSeed(seed, epoch, batch))
  const p = opts.cropPadding
  const oy = new Int32Array(size).fill(p)
  const ox = new Int32Array(size).fill(p)
  const flip = new Uint8Array(size)
  for (let b = 0; b < size; b++) {
    if (p > 0) {
      oy[b] = rng.int(2 * p + 1)
      ox[b] = rng.int(2 * p + 1)
    }
    if (opts.hflip) flip[b] = rng.next() < 0.5 ? 1 : 0
  }
  return { oy, ox, flip }
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
  private readonly seed: number
  private readonly epoch: number
  private readonly normalize: ChannelStats | null
  private readonly augment: AugmentOptions | null
  private plane = new Float32Array(0)

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
    this.seed = opts.seed ?? 0
    this.epoch = opts.epoch ?? 0
    this.normalize = opts.normalize ?? null
    const aug = opts.augment ?? null
    this.augment = aug && (aug.cropPadding > 0 || aug.hflip) ? aug : null
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
    const channels = ds.channels
    const inPx = ds.height * ds.width
    const outPx = s * s
    const x = new Float32Array(size * outPx * channels)
    const y = new Int32Array(size)
    const aug = this.augment
    const norm = this.normalize
    if (channels === 1 && aug === null && norm === null) {
      for (let b = 0; b < size; b++) {
        const i = this.order[start + b] as number
        resizeImageInto(ds.images, i * inPx, ds.height, ds.width, x, b * outPx, s)
        y[b] = ds.labels[i] as number
      }
      return { x, y, size, index: k }
    }
    const draws = aug ? augmentDraws(this.seed, this.epoch, k, size, aug) : null
    const pad = aug?.cropPadding ?? 0
    if (this.plane.length < outPx) this.plane = new Float32Array(outPx)
    const plane = this.plane
    for (let b = 0; b < size; b++) {
      const i = this.order[start + b] as number
      y[b] = ds.labels[i] as number
      const dy = draws ? (draws.oy[b] as number) - pad : 0
      const dx = draws ? (draws.ox[b] as number) - pad : 0
      const flip = draws ? draws.flip[b] === 1 : false
      for (let c = 0; c < channels; c++) {
        // Resize (in [0, 1]), then crop from the zero-padded image and flip, then standardise:
        // the order of the torch engine's prepare_images.
        resizeImageInto(ds.images, (i * channels + c) * inPx, ds.height, ds.width, plane, 0, s)
        const mean = norm ? (norm.mean[c] ?? 0) : 0
        const sd = norm ? (norm.std[c] ?? 0) : 0
        const scale = norm ? Math.fround(1 / (sd > 0 ? sd : 1)) : 1
        const base = b * outPx * channels + c
        for (let oy = 0; oy < s; oy++) {
          const sy = oy + dy
          for (let ox = 0; ox < s; ox++) {
            const sx = (flip ? s - 1 - ox : ox) + dx
            const v = sy >= 0 && sy < s && sx >= 0 && sx < s ? (plane[sy * s + sx] as number) : 0
            x[base + (oy * s + ox) * channels] = norm ? Math.fround(v - mean) * scale : v
          }
        }
      }
    }
    return { x, y, size, index: k }
  }

  *[Symbol.iterator](): Iterator<Batch> {
    for (let k = this.startBatch; k < this.numBatches; k++) yield this.batch(k)
  }
}
