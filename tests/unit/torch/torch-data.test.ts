// One data pipeline, two readers: the torch engine's Python port of the seeded RNG, the
// stratified subset, the epoch shuffle, the dataset cache reader and the device resize must give
// what the TypeScript data layer gives — the same numbers, indices, labels and pixels.
import { createHash } from 'node:crypto'
import {
  copyFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SeededRandom } from '@shared/random'
import {
  BatchIterator,
  epochOrder,
  loadEmbeddedFashionMnist,
  stratifiedSubset,
  type Dataset,
} from '@trainer/data'
import { classQuotas } from '@trainer/data/subset'
import { augmentDraws } from '@trainer/data/batches'
import { loadFromSource } from '@trainer/data/source'
import { cifar10Files, writeFiles } from '../../helpers/cifar'
import { dataProbe, probeTorch, warnSkipped } from '../../fixtures/torch/torch-python'

const { skipReason } = probeTorch()
if (skipReason) warnSkipped('torch data pipeline', skipReason)

// Seeds at the edges of the schema's range (0 … 2^31 − 1) and a few ordinary ones.
const SEEDS = [0, 1, 42, 123_456_789, 2_147_483_647]

interface SubsetAnswer {
  count: number
  labels: number[]
  sha256: string
}
interface BatchAnswer {
  labels: number[]
  /** base64 of float32 pixels */
  x: string
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

describe.skipIf(skipReason !== null)(
  `torch data pipeline${skipReason ? ` (SKIPPED: ${skipReason})` : ''}`,
  () => {
    let dir: string
    let cacheFile: string
    let train: Dataset
    let test: Dataset

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'nin-torch-data-'))
      const loaded = await loadEmbeddedFashionMnist(dir)
      cacheFile = loaded.cacheFile
      train = loaded.train
      test = loaded.test
    })
    afterAll(() => rmSync(dir, { recursive: true, force: true }))

    it('mulberry32: the same doubles and integers for every seed', () => {
      const requests = SEEDS.flatMap((seed) => [
        { op: 'random', seed, n: 2000 },
        { op: 'ints', seed, n: 2000, bound: 60_001 },
      ])
      const answers = dataProbe<number[][]>(requests)
      SEEDS.forEach((seed, i) => {
        const a = new SeededRandom(seed)
        const b = new SeededRandom(seed)
        expect(answers[2 * i]).toEqual(Array.from({ length: 2000 }, () => a.next()))
        expect(answers[2 * i + 1]).toEqual(Array.from({ length: 2000 }, () => b.int(60_001)))
      })
    })

    it('epoch order: the same permutation for (count, seed, epoch)', () => {
      const cases = [
        { count: 60_000, seed: 0, epoch: 1 },
        { count: 640, seed: 7, epoch: 3 },
        { count: 1, seed: 5, epoch: 1 },
        { count: 1000, seed: 2_147_483_647, epoch: 1000 },
      ]
      const answers = dataProbe<number[][]>(cases.map((c) => ({ op: 'epochOrder', ...c })))
      cases.forEach((c, i) =>
        expect(answers[i]).toEqual(Array.from(epochOrder(c.count, c.seed, c.epoch))),
      )
    })

    it('class quotas: the same water-filling', () => {
      const cases = [
        { available: new Array<number>(10).fill(6000), limit: 645 },
        { available: [3, 100, 5, 100, 0], limit: 150 },
        { available: [2, 2, 2], limit: 5 },
      ]
      const answers = dataProbe<number[][]>(cases.map((c) => ({ op: 'quotas', ...c })))
      cases.forEach((c, i) => expect(answers[i]).toEqual(classQuotas(c.available, c.limit)))
    })

    it('stratified subset: the same images, in the same order', () => {
      const cases = [
        { split: 'train', limit: 640, seed: 0 },
        { split: 'train', limit: 645, seed: 2_147_483_647 },
        { split: 'test', limit: 200, seed: 42 },
        { split: 'test', limit: null, seed: 1 },
      ] as const
      const answers = dataProbe<SubsetAnswer[]>(
        cases.map((c) => ({ op: 'subset', cache: cacheFile, ...c })),
      )
      cases.forEach((c, i) => {
        const ours = stratifiedSubset(c.split === 'train' ? train : test, c.limit, c.seed)
        expect(answers[i]).toEqual({
          count: ours.count,
          labels: Array.from(ours.labels),
          sha256: sha256(ours.images),
        })
      })
    })

    it('cache reader: labels and pixels at sampled indices', () => {
      const trainIx = [0, 1, 9, 12_345, 59_999]
      const testIx = [0, 4_321, 9_999]
      const [a, b] = dataProbe<{ labels: number[]; pixels: number[][] }[]>([
        { op: 'read', cache: cacheFile, split: 'train', indices: trainIx },
        { op: 'read', cache: cacheFile, split: 'test', indices: testIx },
      ])
      const expectRead = (
        ds: Dataset,
        ix: number[],
        got: { labels: number[]; pixels: number[][] } | undefined,
      ): void => {
        const px = ds.height * ds.width
        expect(got).toEqual({
          labels: ix.map((i) => ds.labels[i]),
          pixels: ix.map((i) => Array.from(ds.images.subarray(i * px, (i + 1) * px))),
        })
      }
      expectRead(train, trainIx, a)
      expectRead(test, testIx, b)
    })

    it('training batches: same labels, same resized pixels (28 → 28, 96, 224)', () => {
      const cases = [
        { limit: 640, seed: 3, epoch: 2, batchSize: 64, inputSize: 28, k: 9 },
        { limit: 640, seed: 3, epoch: 2, batchSize: 64, inputSize: 96, k: 4 },
        { limit: 100, seed: 9, epoch: 1, batchSize: 7, inputSize: 224, k: 14 },
      ]
      const answers = dataProbe<BatchAnswer[]>(
        cases.map((c) => ({ op: 'batch', cache: cacheFile, ...c })),
      )
      cases.forEach((c, i) => {
        const subset = stratifiedSubset(train, c.limit, c.seed)
        const batch = new BatchIterator(subset, {
          batchSize: c.batchSize,
          inputSize: c.inputSize,
          shuffle: true,
          seed: c.seed,
          epoch: c.epoch,
        }).batch(c.k)
        const got = answers[i]!
        expect(got.labels).toEqual(Array.from(batch.y))
        const bytes = Buffer.from(got.x, 'base64')
        const x = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4)
        expect(x).toHaveLength(batch.x.length)
        // float32 arithmetic in torch against float64 rounded once to float32 in TypeScript:
        // rounding only (a grey level is 1/255 ≈ 0.004).
        let maxDiff = 0
        x.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - batch.x[j]!))))
        expect(maxDiff).toBeLessThan(1e-5)
      })
    })

    it('a damaged cache is a clear error (checksum, truncation)', () => {
      const corrupt = join(dir, 'corrupt.bin')
      copyFileSync(cacheFile, corrupt)
      const bytes = readFileSync(corrupt)
      bytes[1000] = (bytes[1000]! + 1) % 256 // a label byte: the header and size still pass
      writeFileSync(corrupt, bytes)
      const short = join(dir, 'short.bin')
      copyFileSync(cacheFile, short)
      truncateSync(short, 5000)
      const answers = dataProbe<{ error?: string }[]>([
        { op: 'read', cache: corrupt, split: 'train', indices: [0] },
        { op: 'read', cache: short, split: 'train', indices: [0] },
        { op: 'read', cache: join(dir, 'missing.bin'), split: 'train', indices: [0] },
      ])
      expect(answers[0]?.error).toMatch(
        /DataError: dataset cache .*corrupt\.bin is invalid: checksum mismatch \(corrupt\); delete it/,
      )
      expect(answers[1]?.error).toMatch(/short\.bin is invalid: truncated: 5000 bytes, expected/)
      expect(answers[2]?.error).toMatch(/missing\.bin is missing/)
    })

    it('augmentation draws: the same crops and flips for (seed, epoch, batch)', () => {
      const cases = [
        { seed: 0, epoch: 1, batch: 0, size: 128, cropPadding: 4, hflip: true },
        { seed: 2_147_483_647, epoch: 1000, batch: 390, size: 80, cropPadding: 4, hflip: true },
        { seed: 42, epoch: 3, batch: 7, size: 64, cropPadding: 0, hflip: true },
        { seed: 42, epoch: 3, batch: 7, size: 64, cropPadding: 2, hflip: false },
      ]
      const answers = dataProbe<{ oy: number[]; ox: number[]; flip: number[] }[]>(
        cases.map((c) => ({ op: 'augmentDraws', ...c })),
      )
      cases.forEach((c, i) => {
        const d = augmentDraws(c.seed, c.epoch, c.batch, c.size, c)
        expect(answers[i]).toEqual({
          oy: Array.from(d.oy),
          ox: Array.from(d.ox),
          flip: Array.from(d.flip),
        })
      })
      // Draws differ between batches and epochs (not one crop for the whole run).
      const a = augmentDraws(0, 1, 0, 128, { cropPadding: 4, hflip: true })
      const b = augmentDraws(0, 1, 1, 128, { cropPadding: 4, hflip: true })
      const e = augmentDraws(0, 2, 0, 128, { cropPadding: 4, hflip: true })
      expect(Array.from(a.ox)).not.toEqual(Array.from(b.ox))
      expect(Array.from(a.ox)).not.toEqual(Array.from(e.ox))
    })

    it('RGB batches (CIFAR): the same pixels, normalised and augmented alike, for the same seed', async () => {
      const folder = writeFiles(join(dir, 'cifar'), cifar10Files(40, 30))
      const loaded = await loadFromSource({
        dataset: 'cifar10',
        path: folder,
        labels: 'fine',
        color: 'rgb',
        imageSize: 32,
        dataDir: dir,
      })
      const cases = [
        { normalize: false, cropPadding: 0, hflip: false, inputSize: 32 },
        { normalize: true, cropPadding: 0, hflip: false, inputSize: 32 },
        { normalize: true, cropPadding: 4, hflip: true, inputSize: 32 },
        { normalize: false, cropPadding: 3, hflip: true, inputSize: 40 },
      ]
      const common = { limit: 150, seed: 11, epoch: 2, batchSize: 32, k: 3 }
      const answers = dataProbe<BatchAnswer[]>(
        cases.map((c) => ({ op: 'batch', cache: loaded.cacheFile, ...common, ...c })),
      )
      cases.forEach((c, i) => {
        const subset = stratifiedSubset(loaded.train, common.limit, common.seed)
        const batch = new BatchIterator(subset, {
          batchSize: common.batchSize,
          inputSize: c.inputSize,
          shuffle: true,
          seed: common.seed,
          epoch: common.epoch,
          normalize: c.normalize ? loaded.stats : null,
          augment: { cropPadding: c.cropPadding, hflip: c.hflip },
        }).batch(common.k)
        const got = answers[i]!
        expect(got.labels).toEqual(Array.from(batch.y))
        const bytes = Buffer.from(got.x, 'base64')
        const x = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4)
        expect(x).toHaveLength(batch.x.length)
        // torch answers NCHW, the tfjs batch is NHWC.
        const s = c.inputSize
        let maxDiff = 0
        for (let b = 0; b < batch.size; b++)
          for (let ch = 0; ch < 3; ch++)
            for (let p = 0; p < s * s; p++) {
              const t = x[(b * 3 + ch) * s * s + p]!
              const n = batch.x[(b * s * s + p) * 3 + ch]!
              maxDiff = Math.max(maxDiff, Math.abs(t - n))
            }
        expect(maxDiff).toBeLessThan(c.normalize ? 1e-4 : 1e-5)
        if (c.hflip) {
          const d = augmentDraws(common.seed, common.epoch, common.k, batch.size, c)
          const flipped = Array.from(d.flip).filter(Boolean).length
          expect(flipped).toBeGreaterThan(0)
          expect(flipped).toBeLessThan(batch.size)
        }
      })
    })
  },
)
