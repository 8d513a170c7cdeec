/**
 * Every dataset but the embedded Fashion-MNIST, through one cache: the user's files (IDX, CIFAR
 * binary or an image folder) are read once into a cache file in `<dataDir>/datasets/`, named by
 * what was asked for (dataset, path, options) and stamped with a fingerprint of what was found
 * (each file's name, size, times and inode). A later run whose files are unchanged reads the
 * cache alone; changed files, another format version or a damaged cache rebuild it. Both engines
 * read the same file, so they see the same bytes and the same per-channel statistics.
 */
import { createHash } from 'node:crypto'
import { mkdir, stat } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { writeFileAtomic } from '../files'
import {
  CACHE_VERSION,
  FINGERPRINT_BYTES,
  decodeCache,
  encodeCache,
  readCache,
  removeStaleTempFiles,
  type CacheContents,
  type ChannelStats,
  type DecodedCache,
} from './cache'
import { locateCifar, readCifar, type CifarSource } from './cifar'
import { decodeImageFolder, scanImageFolder } from './folder'
import { loadIdxFolder, locateIdxFiles } from './idx'
import { classNamesFor, type Dataset, type DatasetName } from './types'

export interface SourceOptions {
  dataset: DatasetName
  /** The folder (or CIFAR archive) the user named. */
  path: string
  /** CIFAR-100's label set. */
  labels: 'fine' | 'coarse'
  /** Image folder: decode as RGB or grayscale. */
  color: 'rgb' | 'grayscale'
  /** Image folder: the side images are resized to in the cache. */
  imageSize: number
  dataDir: string
  log?: (message: string) => void
  signal?: AbortSignal
}

export interface SourceLoad {
  train: Dataset
  test: Dataset
  source: string
  stats: ChannelStats
  cacheFile: string
  /** Why the cache could not be written (a full disk, a read-only data folder), or null. */
  cacheWriteError: Error | null
  /** True when this call read the user's files (the cache was missing or stale). */
  built: boolean
}

/** What the files are and how to read them, found without reading any of them. */
interface Located {
  describe: string
  classNames: string[]
  fingerprint: Uint8Array
  read: () => Promise<Omit<CacheContents, 'fingerprint'>>
}

async function fileStamp(path: string): Promise<string> {
  const s = await stat(path)
  return `${path}\0${s.size}\0${s.mtimeMs}\0${s.ctimeMs}\0${s.ino}\n`
}

const digest = (text: string): Uint8Array =>
  createHash('sha256').update(text).digest().subarray(0, FINGERPRINT_BYTES)

async function locate(opts: SourceOptions): Promise<Located> {
  const { dataset, signal } = opts
  const path = resolve(opts.path)
  if (dataset === 'mnist' || dataset === 'fashion-mnist') {
    const files = await locateIdxFiles(path)
    const stamps = await Promise.all(files.map(fileStamp))
    return {
      describe: `${dataset} IDX files in ${path}`,
      classNames: classNamesFor(dataset),
      fingerprint: digest(`idx\0${stamps.join('')}`),
      read: async () => {
        const { train, test } = await loadIdxFolder(path, dataset, { signal })
        return {
          channels: 1,
          height: train.height,
          width: train.width,
          numClasses: train.numClasses,
          train: { images: train.images, labels: train.labels, count: train.count },
          test: { images: test.images, labels: test.labels, count: test.count },
        }
      },
    }
  }
  if (dataset === 'cifar10' || dataset === 'cifar100') {
    const source: CifarSource = await locateCifar(path, dataset)
    const stamps =
      source.kind === 'files'
        ? (await Promise.all(source.files.map((f) => fileStamp(f.path)))).join('')
        : await fileStamp(source.path)
    const classNames = classNamesFor(dataset, opts.labels)
    return {
      describe:
        source.kind === 'files'
          ? `${dataset} binary files in ${source.folder}`
          : `${dataset} archive ${source.path}`,
      classNames,
      fingerprint: digest(`cifar\0${opts.labels}\0${stamps}`),
      read: async () => {
        const r = await readCifar(source, dataset, opts.labels, signal)
        return { ...r, numClasses: classNames.length }
      },
    }
  }
  const options = { color: opts.color, size: opts.imageSize }
  const scan = await scanImageFolder(path, options, signal)
  return {
    describe: `image folder ${scan.folder} (${opts.color}, ${opts.imageSize}×${opts.imageSize})`,
    classNames: scan.classNames,
    fingerprint: scan.fingerprint,
    read: async () => {
      const r = await decodeImageFolder(scan, options, opts.log, signal)
      return {
        ...r,
        height: opts.imageSize,
        width: opts.imageSize,
        numClasses: scan.classNames.length,
      }
    },
  }
}

/** The cache file for a request: one per (dataset, folder, options). */
export function sourceCachePath(opts: Omit<SourceOptions, 'log' | 'signal'>): string {
  const folder = resolve(opts.path)
  const options =
    opts.dataset === 'cifar100'
      ? opts.labels
      : opts.dataset === 'folder'
        ? `${opts.color}-${opts.imageSize}`
        : ''
  const key = createHash('sha256')
    .update(`${opts.dataset}\0${folder}\0${options}`)
    .digest('hex')
    .slice(0, 16)
  const prefix = opts.dataset === 'mnist' || opts.dataset === 'fashion-mnist' ? 'idx-' : ''
  return join(opts.dataDir, 'datasets', `${prefix}${opts.dataset}-${key}.v${CACHE_VERSION}.bin`)
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i])

function toDatasets(
  c: DecodedCache,
  dataset: DatasetName,
  classNames: string[],
): { train: Dataset; test: Dataset } {
  const ds = (part: CacheContents['train']): Dataset => ({
    name: dataset,
    images: part.images,
    labels: part.labels,
    count: part.count,
    channels: c.channels,
    height: c.height,
    width: c.width,
    numClasses: c.numClasses,
    classNames: [...classNames],
  })
  return { train: ds(c.train), test: ds(c.test) }
}

/** Loads a dataset from the user's files, through its cache (see the file comment). */
export async function loadFromSource(opts: SourceOptions): Promise<SourceLoad> {
  const located = await locate(opts)
  const cacheFile = sourceCachePath(opts)
  const cached = await readCache(cacheFile, opts.signal)
  if (
    cached.ok &&
    sameBytes(cached.contents.fingerprint, located.fingerprint) &&
    cached.contents.numClasses === located.classNames.length
  ) {
    return {
      ...toDatasets(cached.contents, opts.dataset, located.classNames),
      source: `${located.describe}, cache ${cacheFile}`,
      stats: cached.contents.stats,
      cacheFile,
      cacheWriteError: null,
      built: false,
    }
  }
  if (cached.ok || !cached.missing)
    opts.log?.(
      `The dataset cache ${cacheFile} is ${cached.ok ? 'out of date (the files changed)' : cached.reason}: rebuilding it…`,
    )
  const contents = await located.read()
  const file = encodeCache({ ...contents, fingerprint: located.fingerprint })
  let cacheWriteError: Error | null = null
  try {
    await mkdir(dirname(cacheFile), { recursive: true })
    await removeStaleTempFiles(cacheFile)
    await writeFileAtomic(cacheFile, file)
  } catch (err) {
    cacheWriteError = err instanceof Error ? err : new Error(String(err))
    opts.log?.(
      `Could not write ${cacheFile} (${cacheWriteError.message}); continuing without a cache`,
    )
  }
  const decoded = decodeCache(file)
  if (!decoded.ok)
    throw new Error(`internal: fresh dataset cache fails its check: ${decoded.reason}`)
  return {
    ...toDatasets(decoded.contents, opts.dataset, located.classNames),
    source: `${located.describe}, cache ${cacheFile}`,
    stats: decoded.contents.stats,
    cacheFile,
    cacheWriteError,
    built: true,
  }
}
