/**
 * The trainer's data layer: datasets (embedded Fashion-MNIST, IDX files, CIFAR binary files or
 * an image folder, each through the binary dataset cache), class-balanced subsets and resized,
 * normalised, augmented, shuffled minibatches. Plain parameters only; the experiment config is
 * mapped onto them by `dataOptionsFor`.
 */
import { DATASET_FILES, type ExperimentConfig } from '@shared/config/experiment'
import type { ChannelStats } from './cache'
import { loadEmbeddedFashionMnist } from './embedded'
import { loadFromSource } from './source'
import { DataError } from './types'
import type { Dataset, DatasetName } from './types'

export { BatchIterator, augmentDraws, batchCount, epochOrder } from './batches'
export type { AugmentOptions, Batch, BatchOptions } from './batches'
export type { ChannelStats } from './cache'
export { SPLIT_DESCRIPTION, fashionMnistCachePath, loadEmbeddedFashionMnist } from './embedded'
export type { EmbeddedLoad } from './embedded'
export { IDX_FILES, loadIdxFolder } from './idx'
export { axisTable, resizeImageInto } from './resize'
export { sourceCachePath } from './source'
export { stratifiedSubset } from './subset'
export {
  CIFAR10_CLASS_NAMES,
  CIFAR100_COARSE_CLASS_NAMES,
  CIFAR100_FINE_CLASS_NAMES,
  DataError,
  FASHION_MNIST_CLASS_NAMES,
  MNIST_CLASS_NAMES,
  classNamesFor,
} from './types'
export type { Dataset, DatasetName } from './types'

export interface LoadDatasetsOptions {
  dataset: DatasetName
  /** The dataset's folder (or CIFAR archive), or null for the embedded Fashion-MNIST. */
  path: string | null
  /** CIFAR-100: fine (100) or coarse (20) labels. */
  labels?: 'fine' | 'coarse'
  /** Image folder: RGB or grayscale. */
  color?: 'rgb' | 'grayscale'
  /** Image folder: the side images are resized to, once, in the cache (default 32). */
  imageSize?: number
  /** The app's data directory; caches live under `<dataDir>/datasets/`. */
  dataDir: string
  /** Progress lines worth showing (e.g. "building the cache, once"). */
  log?: (message: string) => void
  /** Aborts the load between chunks and files (the trainer's SIGTERM). */
  signal?: AbortSignal
}

export interface LoadedDatasets {
  train: Dataset
  test: Dataset
  source: string
  /** Per-channel mean and std of the training pixels (from the cache). */
  stats: ChannelStats
  cacheFile: string
  /** Why the cache could not be written, or null (the data is served all the same). */
  cacheWriteError: Error | null
}

/**
 * Refuses a dataset the model was not built for, naming the fix (an image folder's class
 * count is known only from its files; a fixed dataset's shape the config already follows).
 */
export function checkDatasetFits(
  data: { channels: number; numClasses: number; classNames: readonly string[] },
  model: { inputChannels: number; numClasses: number },
  where: string,
): void {
  if (data.numClasses !== model.numClasses)
    throw new DataError(
      `${where} has ${data.numClasses} classes (${data.classNames.slice(0, 5).join(', ')}${data.numClasses > 5 ? ', …' : ''}) ` +
        `but model.numClasses is ${model.numClasses}: set model.numClasses to ${data.numClasses}`,
    )
  if (data.channels !== model.inputChannels)
    throw new DataError(
      `${where} has ${data.channels}-channel images but model.inputChannels is ${model.inputChannels}: ` +
        `set model.inputChannels to ${data.channels}`,
    )
}

/** The data layer's options for a config (dataDir and the callbacks aside). */
export function dataOptionsFor(
  config: ExperimentConfig,
): Pick<LoadDatasetsOptions, 'dataset' | 'path' | 'labels' | 'color' | 'imageSize'> {
  const { data, model } = config
  return {
    dataset: data.dataset,
    path: data.path,
    labels: data.labels,
    color: data.color,
    imageSize: data.imageSize ?? model.inputSize,
  }
}

/**
 * Load the train and test sets. `source` says where they came from, for the run's record.
 * Throws DataError with a message fit for the user when the data is missing or unusable.
 */
export async function loadDatasets(opts: LoadDatasetsOptions): Promise<LoadedDatasets> {
  if (opts.path !== null)
    return loadFromSource({
      dataset: opts.dataset,
      path: opts.path,
      labels: opts.labels ?? 'fine',
      color: opts.color ?? 'rgb',
      imageSize: opts.imageSize ?? 32,
      dataDir: opts.dataDir,
      log: opts.log,
      signal: opts.signal,
    })
  if (opts.dataset !== 'fashion-mnist')
    throw new DataError(
      `data.path must name a folder with ${DATASET_FILES[opts.dataset]}: data.dataset ` +
        `'${opts.dataset}' has no embedded copy (only Fashion-MNIST does)`,
    )
  const loaded = await loadEmbeddedFashionMnist(opts.dataDir, opts.log, undefined, opts.signal)
  return {
    train: loaded.train,
    test: loaded.test,
    source: loaded.source,
    stats: loaded.stats,
    cacheFile: loaded.cacheFile,
    cacheWriteError: loaded.cacheWriteError,
  }
}
