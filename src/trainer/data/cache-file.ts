/**
 * The dataset as one cache file on disk, for readers outside this process (the PyTorch engine
 * reads the same file: one data pipeline, two readers). Every dataset already lives in such a
 * file (./embedded.ts, ./source.ts); this only insists that it was written: a cache that cannot
 * be written (a full disk) is an error here, not a note.
 */
import { dirname } from 'node:path'
import { diskFullMessage, isDiskFull } from '../files'
import type { ChannelStats } from './cache'
import { loadDatasets, type LoadDatasetsOptions } from './index'
import { DataError } from './types'

/** The error for a cache the engine needs but that could not be written. */
function unwritable(file: string, err: Error): DataError {
  if (isDiskFull(err)) return new DataError(diskFullMessage(dirname(file)))
  return new DataError(
    `cannot write the dataset cache ${file} (${err.message}), which the torch engine reads: ` +
      `make ${dirname(file)} writable, or set engine to "tfjs"`,
  )
}

export async function datasetCacheFile(opts: LoadDatasetsOptions): Promise<{
  file: string
  classNames: string[]
  channels: number
  numClasses: number
  stats: ChannelStats
}> {
  const loaded = await loadDatasets(opts)
  if (loaded.cacheWriteError) throw unwritable(loaded.cacheFile, loaded.cacheWriteError)
  return {
    file: loaded.cacheFile,
    classNames: loaded.train.classNames,
    channels: loaded.train.channels,
    numClasses: loaded.train.numClasses,
    stats: loaded.stats,
  }
}
