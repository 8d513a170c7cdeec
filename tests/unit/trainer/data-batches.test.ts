import { describe, expect, it } from 'vitest'
import {
  BatchIterator,
  augmentDraws,
  epochOrder,
  resizeImageInto,
  stratifiedSubset,
} from '@trainer/data'
import type { Dataset } from '@trainer/data'
import { classQuotas } from '@trainer/data/subset'
import { SeededRandom } from '@shared/random'

function resize(src: number[] | Uint8Array, h: number, w: number, s: number): Float32Array {
  const out = new Float32Array(s * s)
  resizeImageInto(Uint8Array.from(src), 0, h, w, out, 0, s)
  return out
}

/**
 * An independent, slow reference: for each output pixel, find the source point by the
 * half-pixel rule and blend its four neighbours directly (the way torch's
 * upsample_bilinear2d(align_corners=False) kernel is written), no separable passes.
 */
function referenceResize(src: Uint8Array, h: number, w: number, s: number): Float64Array {
  const out = new Float64Array(s * s)
  const coord = (o: number, inSize: number): [number, number, number] => {
    const x = Math.max(0, ((o + 0.5) * inSize) / s - 0.5)
    const x0 = Math.min(Math.floor(x), inSize - 1)
    return [x0, Math.min(x0 + 1, inSize - 1), x - x0]
  }
  for (let oy = 0; oy < s; oy++) {
    const [y0, y1, fy] = coord(oy, h)
    for (let ox = 0; ox < s; ox++) {
      const [x0, x1, fx] = coord(ox, w)
      const p = (y: number, x: number): number => src[y * w + x] as number
      out[oy * s + ox] =
        ((1 - fy) * ((1 - fx) * p(y0, x0) + fx * p(y0, x1)) +
          fy * ((1 - fx) * p(y1, x0) + fx * p(y1, x1))) /
        255
    }
  }
  return out
}

function randomImage(rng: SeededRandom, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => rng.int(256))
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)))
  return m
}

describe('bilinear resize (half-pixel centers, align_corners=false)', () => {
  it('matches the hand-computed 2×2 → 4×4 case', () => {
    // Per axis, outputs 0..3 sample source x = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped
    // to the last pixel), so the weights of pixel 1 are 0, 0.25, 0.75, 1. For [[10, 20], [30, 40]]:
    // this is torch's well-known [[1, 1.25, 1.75, 2], [1.5, 1.75, 2.25, 2.5], ...] times 10.
    const expected = [
      [10, 12.5, 17.5, 20],
      [15, 17.5, 22.5, 25],
      [25, 27.5, 32.5, 35],
      [30, 32.5, 37.5, 40],
    ]
      .flat()
      .map((v) => v / 255)
    const got = resize([10, 20, 30, 40], 2, 2, 4)
    expect(maxAbsDiff(got, expected)).toBeLessThan(1e-7)
  })

  it('matches the hand-computed 4 → 2 downsample (averages pixel pairs, no antialias needed)', () => {
    // Scale 2: output o samples x = 2o + 0.5, halfway between pixels 2o and 2o+1.
    const got = resize(
      [0, 100, 200, 250, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120],
      4,
      4,
      2,
    )
    const expected = [
      (0 + 100 + 10 + 20) / 4,
      (200 + 250 + 30 + 40) / 4,
      (50 + 60 + 90 + 100) / 4,
      (70 + 80 + 110 + 120) / 4,
    ]
    expect(
      maxAbsDiff(
        got,
        expected.map((v) => v / 255),
      ),
    ).toBeLessThan(1e-7)
  })

  it('is the identity (scaled to [0, 1]) when S equals the source size', () => {
    const img = randomImage(new SeededRandom(1), 28 * 28)
    const got = resize(img, 28, 28, 28)
    expect(
      maxAbsDiff(
        got,
        Array.from(img, (v) => v / 255),
      ),
    ).toBeLessThan(1e-7)
    expect(got[0]).toBeGreaterThanOrEqual(0)
  })

  it('agrees with the direct four-neighbour formula for up-, down- and odd scalings', () => {
    const rng = new SeededRandom(2)
    for (const [h, w, s] of [
      [28, 28, 96],
      [28, 28, 224],
      [28, 28, 67],
      [28, 28, 14],
      [28, 28, 5],
      [3, 5, 7],
      [1, 1, 4],
    ] as const) {
      const img = randomImage(rng, h * w)
      expect(maxAbsDiff(resize(img, h, w, s), referenceResize(img, h, w, s))).toBeLessThan(1e-6)
    }
  })

  it('keeps constant images constant and stays within [0, 1]', () => {
    const got = resize(new Uint8Array(28 * 28).fill(255), 28, 28, 224)
    expect(Math.min(...got)).toBeCloseTo(1, 6)
    expect(Math.max(...got)).toBeCloseTo(1, 6)
  })
})

/** A small synthetic dataset: image i is filled with the value i % 256, label i % classes. */
function synthetic(
  count: number,
  side = 4,
  classes = 10,
  labelOf = (i: number) => i % classes,
): Dataset {
  const px = side * side
  const images = new Uint8Array(count * px)
  const labels = new Uint8Array(count)
  for (let i = 0; i < count; i++) {
    images.fill(i % 256, i * px, (i + 1) * px)
    labels[i] = labelOf(i)
  }
  return {
    name: 'synthetic',
    images,
    labels,
    count,
    channels: 1,
    height: side,
    width: side,
    numClasses: classes,
    classNames: Array.from({ length: classes }, (_, c) => `c${c}`),
  }
}

/** Which dataset images a batch holds, read back from the constant pixel values. */
function ids(b: { x: Float32Array; size: number }, s: number): number[] {
  return Array.from({ length: b.size }, (_, k) => Math.round((b.x[k * s * s] as number) * 255))
}

describe('BatchIterator', () => {
  it('yields NHWC float batches, keeping the last partial batch', () => {
    const ds = synthetic(250)
    const it = new BatchIterator(ds, { batchSize: 64, inputSize: 8, shuffle: false })
    const batches = [...it]
    expect(it.numBatches).toBe(4)
    expect(batches.map((b) => b.size)).toEqual([64, 64, 64, 58])
    expect(batches.map((b) => b.index)).toEqual([0, 1, 2, 3])
    const last = batches[3]!
    expect(last.x.length).toBe(58 * 8 * 8 * 1)
    expect(last.y.length).toBe(58)
    expect(ids(last, 8)).toEqual(Array.from({ length: 58 }, (_, k) => 192 + k))
    expect(Array.from(last.y.subarray(0, 3))).toEqual([2, 3, 4])
  })

  it('shuffles deterministically per (seed, epoch) and differently across epochs and seeds', () => {
    const a = epochOrder(1_000, 3, 0)
    expect(Array.from(epochOrder(1_000, 3, 0))).toEqual(Array.from(a))
    expect(Array.from(epochOrder(1_000, 3, 1))).not.toEqual(Array.from(a))
    expect(Array.from(epochOrder(1_000, 4, 0))).not.toEqual(Array.from(a))
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 1_000 }, (_, i) => i))
  })

  it('covers every image exactly once per shuffled epoch, labels matching images', () => {
    const ds = synthetic(200)
    const seen: number[] = []
    for (const b of new BatchIterator(ds, {
      batchSize: 32,
      inputSize: 4,
      shuffle: true,
      seed: 5,
      epoch: 2,
    })) {
      const got = ids(b, 4)
      got.forEach((id, k) => expect(b.y[k]).toBe(id % 10))
      seen.push(...got)
    }
    expect(seen).not.toEqual(Array.from({ length: 200 }, (_, i) => i))
    expect([...seen].sort((x, y) => x - y)).toEqual(Array.from({ length: 200 }, (_, i) => i))
  })

  it('resumes at batch k of an epoch with exactly the batches a full pass would give', () => {
    const ds = synthetic(200)
    const opts = { batchSize: 30, inputSize: 6, shuffle: true, seed: 9, epoch: 4 }
    const full = [...new BatchIterator(ds, opts)]
    const resumed = [...new BatchIterator(ds, { ...opts, startBatch: 3 })]
    expect(resumed.map((b) => b.index)).toEqual([3, 4, 5, 6])
    resumed.forEach((b, k) => {
      expect(Array.from(b.x)).toEqual(Array.from(full[k + 3]!.x))
      expect(Array.from(b.y)).toEqual(Array.from(full[k + 3]!.y))
    })
    expect(Array.from(new BatchIterator(ds, opts).batch(5).y)).toEqual(Array.from(full[5]!.y))
    expect(() => new BatchIterator(ds, opts).batch(7)).toThrow(RangeError)
  })

  it('rejects bad sizes', () => {
    const ds = synthetic(10)
    expect(() => new BatchIterator(ds, { batchSize: 0, inputSize: 4, shuffle: false })).toThrow(
      RangeError,
    )
    expect(() => new BatchIterator(ds, { batchSize: 2, inputSize: 1.5, shuffle: false })).toThrow(
      RangeError,
    )
  })
})

describe('stratifiedSubset', () => {
  const counts = (ds: Dataset): number[] => {
    const c = new Array<number>(ds.numClasses).fill(0)
    for (const l of ds.labels) c[l] = (c[l] as number) + 1
    return c
  }

  it('takes equal counts per class, remainder to the lowest labels', () => {
    const ds = synthetic(1_000)
    expect(counts(stratifiedSubset(ds, 100, 0))).toEqual(new Array(10).fill(10))
    expect(counts(stratifiedSubset(ds, 23, 0))).toEqual([3, 3, 3, 2, 2, 2, 2, 2, 2, 2])
    expect(stratifiedSubset(ds, 5, 0).count).toBe(5)
  })

  it('shares out what a small class cannot give', () => {
    expect(classQuotas([100, 2, 100], 30)).toEqual([14, 2, 14])
    expect(classQuotas([5, 5, 5], 15)).toEqual([5, 5, 5])
    expect(classQuotas([0, 10], 4)).toEqual([0, 4])
  })

  it('is deterministic per seed, nested across limits, and keeps images with their labels', () => {
    // 250 images, so the pixel value (i % 256) identifies the image.
    const ds = synthetic(250)
    const idsOf = (s: Dataset): number[] =>
      Array.from({ length: s.count }, (_, k) => s.images[k * 16] as number)
    const a = stratifiedSubset(ds, 50, 11)
    expect(idsOf(stratifiedSubset(ds, 50, 11))).toEqual(idsOf(a))
    expect(idsOf(stratifiedSubset(ds, 50, 12))).not.toEqual(idsOf(a))
    const big = new Set(idsOf(stratifiedSubset(ds, 200, 11)))
    for (const id of idsOf(a)) expect(big.has(id)).toBe(true)
    a.labels.forEach((label, k) => expect(label).toBe((idsOf(a)[k] as number) % 10))
    // Original relative order is kept.
    expect(idsOf(a)).toEqual([...idsOf(a)].sort((x, y) => x - y))
  })

  it('returns the set itself for null or a limit at least its size, and rejects bad limits', () => {
    const ds = synthetic(30)
    expect(stratifiedSubset(ds, null, 1)).toBe(ds)
    expect(stratifiedSubset(ds, 30, 1)).toBe(ds)
    expect(() => stratifiedSubset(ds, 0, 1)).toThrow(/positive whole number/)
    expect(() => stratifiedSubset(ds, 2.5, 1)).toThrow(/positive whole number/)
  })
})

describe('colour batches: normalisation and augmentation', () => {
  // Two 3-channel 4×4 images with distinct values per channel, row and column.
  const side = 4
  const rgb: Dataset = {
    name: 'rgb',
    images: Uint8Array.from({ length: 2 * 3 * side * side }, (_, i) => (i * 7) % 256),
    labels: Uint8Array.from([0, 1]),
    count: 2,
    channels: 3,
    height: side,
    width: side,
    numClasses: 2,
    classNames: ['a', 'b'],
  }
  const pixel = (img: number, c: number, y: number, x: number): number =>
    (rgb.images[((img * 3 + c) * side + y) * side + x] as number) / 255

  it('lays channels out NHWC from the planar cache, standardised per channel', () => {
    const stats = { mean: [0.1, 0.5, 0.9], std: [0.5, 0.25, 2] }
    const batch = new BatchIterator(rgb, {
      batchSize: 2,
      inputSize: side,
      shuffle: false,
      normalize: stats,
    }).batch(0)
    expect(batch.x).toHaveLength(2 * side * side * 3)
    for (let b = 0; b < 2; b++)
      for (let c = 0; c < 3; c++)
        for (let y = 0; y < side; y++)
          for (let x = 0; x < side; x++)
            expect(batch.x[((b * side + y) * side + x) * 3 + c]).toBeCloseTo(
              (pixel(b, c, y, x) - (stats.mean[c] as number)) / (stats.std[c] as number),
              5,
            )
  })

  it('crops from the zero-padded image and mirrors, as drawn for (seed, epoch, batch)', () => {
    const augment = { cropPadding: 2, hflip: true }
    const opts = { batchSize: 2, inputSize: side, shuffle: false, seed: 5, epoch: 3, augment }
    const batch = new BatchIterator(rgb, opts).batch(0)
    const d = augmentDraws(5, 3, 0, 2, augment)
    for (let b = 0; b < 2; b++)
      for (let c = 0; c < 3; c++)
        for (let y = 0; y < side; y++)
          for (let x = 0; x < side; x++) {
            const sy = y + (d.oy[b] as number) - 2
            const sx = (d.flip[b] ? side - 1 - x : x) + (d.ox[b] as number) - 2
            const want = sy < 0 || sy >= side || sx < 0 || sx >= side ? 0 : pixel(b, c, sy, sx)
            expect(batch.x[((b * side + y) * side + x) * 3 + c]).toBeCloseTo(want, 6)
          }
    // The same batch again: the same draws (a resumed run sees the same crops).
    expect(new BatchIterator(rgb, opts).batch(0).x).toEqual(batch.x)
    // No augmentation asked: the images themselves.
    const plain = new BatchIterator(rgb, { ...opts, augment: { cropPadding: 0, hflip: false } })
    expect(plain.batch(0).x[3]).toBeCloseTo(pixel(0, 0, 0, 1), 6)
  })
})
