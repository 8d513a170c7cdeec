/**
 * The trainer's data layer: datasets (embedded Fashion-MNIST or IDX files), class-balanced
 * subsets and resized, shuffled minibatches. Plain parameters only; the experiment config is
 * mapped onto them by the caller.
 */
import { loadEmbeddedFashionMnist } from './embedded'
import { loadIdxFolder } from './idx'
import { DataError } from './types'
import type { Dataset, DatasetName } from './types'

export { BatchIterator, batchCount, epochOrder } from './batches'
export type { Batch, BatchOptions } from './batches'
export { SPLIT_DESCRIPTION, fashionMnistCachePath, loadEmbeddedFashionMnist } from './embedded'
export type { EmbeddedLoad } from './embedded'
export { IDX_FILES, loadIdxFolder } from './idx'
export { axisTable, resizeImageInto } from './resize'
export { stratifiedSubset } from './subset'
export { DataError, FASHION_MNIST_CLASS_NAMES, MNIST_CLASS_NAMES, classNamesFor } from './types'
export type { Dataset, DatasetName } from './types'

export interface LoadDatasetsOptions {
  dataset: DatasetName
  /** Folder of official IDX files, or null for the embedded Fashion-MNIST. */
  path: string | null
  /** The app's data directory; the embedded set is cached under `<dataDir>/datasets/`. */
  dataDir: string
  /** Progress lines worth showing (e.g. "building the cache, once"). */
  log?: (message: string) => void
  /** Aborts the load between chunks and files (the trainer's SIGTERM). */
  signal?: AbortSignal
}

/**
 * Load the train and test sets. `source` says where they came from, for the run's record.
 * Throws DataError with a message fit for the user when the data is missing or unusable.
 */
export async function loadDatasets(
  opts: LoadDatasetsOptions,
): Promise<{ train: Dataset; test: Dataset; source: string }> {
  if (opts.path !== null) return loadIdxFolder(opts.path, opts.dataset, { signal: opts.signal })
  if (opts.dataset !== 'fashion-mnist')
    throw new DataError(
      `data.dataset: '${opts.dataset}' has no embedded copy (only Fashion-MNIST does); set ` +
        'data.path to a folder with its official IDX files (train-images-idx3-ubyte.gz, …)',
    )
  const { train, test, source } = await loadEmbeddedFashionMnist(
    opts.dataDir,
    opts.log,
    undefined,
    opts.signal,
  )
  return { train, test, source }
}
