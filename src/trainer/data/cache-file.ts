/**
 * The dataset as one cache file on disk, for readers outside this process (the PyTorch engine
 * reads the same file: one data pipeline, two readers). The embedded Fashion-MNIST already lives
 * in such a file; an IDX folder is converted once, keyed by its path.
 */
import { createHash } from 'node:crypto'
import { join, resolve } from 'node:path'
import { encodeCache, readCache, writeFileAtomic } from './cache'
import { loadEmbeddedFashionMnist } from './embedded'
import { loadIdxFolder } from './idx'
import type { DatasetName } from './types'

export async function datasetCacheFile(opts: {
  dataset: DatasetName
  path: string | null
  dataDir: string
  log?: (message: string) => void
}): Promise<{ file: string; classNames: string[] }> {
  if (opts.path === null) {
    const loaded = await loadEmbeddedFashionMnist(opts.dataDir, opts.log)
    return { file: loaded.cacheFile, classNames: loaded.train.classNames }
  }
  const folder = resolve(opts.path)
  const key = createHash('sha256').update(`${opts.dataset}\0${folder}`).digest('hex').slice(0, 16)
  const file = join(opts.dataDir, 'datasets', `idx-${opts.dataset}-${key}.v1.bin`)
  const { train, test } = await loadIdxFolder(folder, opts.dataset)
  const cached = await readCache(file)
  // Rewritten whenever the folder's data differs from the cached copy (files replaced).
  const same =
    cached.ok &&
    cached.contents.train.count === train.count &&
    cached.contents.test.count === test.count &&
    Buffer.compare(Buffer.from(cached.contents.train.labels), Buffer.from(train.labels)) === 0 &&
    Buffer.compare(Buffer.from(cached.contents.train.images), Buffer.from(train.images)) === 0
  if (!same) {
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
  }
  return { file, classNames: train.classNames }
}
