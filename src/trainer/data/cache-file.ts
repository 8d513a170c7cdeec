/**
 * The dataset as one cache file on disk, for readers outside this process (the PyTorch engine
 * reads the same file: one data pipeline, two readers). The embedded Fashion-MNIST already lives
 * in such a file; an IDX folder is converted once, keyed by its path. The file must exist when
 * this returns: a cache that cannot be written (a full disk) is an error here, not a note.
 */
import { createHash } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { diskFullMessage, isDiskFull, writeFileAtomic } from '../files'
import { encodeCache, readCache } from './cache'
import { loadEmbeddedFashionMnist } from './embedded'
import { loadIdxFolder } from './idx'
import { DataError, type DatasetName } from './types'

/** The error for a cache the engine needs but that could not be written. */
function unwritable(file: string, err: Error): DataError {
  if (isDiskFull(err)) return new DataError(diskFullMessage(dirname(file)))
  return new DataError(
    `cannot write the dataset cache ${file} (${err.message}), which the torch engine reads: ` +
      `make ${dirname(file)} writable, or set engine to "tfjs"`,
  )
}

export async function datasetCacheFile(opts: {
  dataset: DatasetName
  path: string | null
  dataDir: string
  log?: (message: string) => void
  signal?: AbortSignal
}): Promise<{ file: string; classNames: string[] }> {
  if (opts.path === null) {
    const loaded = await loadEmbeddedFashionMnist(opts.dataDir, opts.log, undefined, opts.signal)
    if (loaded.cacheWriteError) throw unwritable(loaded.cacheFile, loaded.cacheWriteError)
    return { file: loaded.cacheFile, classNames: loaded.train.classNames }
  }
  const folder = resolve(opts.path)
  const key = createHash('sha256').update(`${opts.dataset}\0${folder}`).digest('hex').slice(0, 16)
  const file = join(opts.dataDir, 'datasets', `idx-${opts.dataset}-${key}.v1.bin`)
  const { train, test } = await loadIdxFolder(folder, opts.dataset, { signal: opts.signal })
  const cached = await readCache(file, opts.signal)
  // Rewritten whenever the folder's data differs from the cached copy (files replaced).
  const same =
    cached.ok &&
    cached.contents.train.count === train.count &&
    cached.contents.test.count === test.count &&
    Buffer.compare(Buffer.from(cached.contents.train.labels), Buffer.from(train.labels)) === 0 &&
    Buffer.compare(Buffer.from(cached.contents.train.images), Buffer.from(train.images)) === 0
  if (!same) {
    try {
      await mkdir(dirname(file), { recursive: true })
      await writeFileAtomic(
        file,
        encodeCache({
          height: train.height,
          width: train.width,
          numClasses: train.numClasses,
          train: { images: train.images, labels: train.labels, count: train.count },
          test: { images: test.images, labels: test.labels, count: test.count },
        }),
      )
    } catch (err) {
      throw unwritable(file, err instanceof Error ? err : new Error(String(err)))
    }
  }
  return { file, classNames: train.classNames }
}
