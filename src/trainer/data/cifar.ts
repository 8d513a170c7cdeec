/**
 * Reader for CIFAR-10 and CIFAR-100 in their official *binary version* (A. Krizhevsky's
 * `cifar-10-binary.tar.gz` and `cifar-100-binary.tar.gz`):
 *
 *   CIFAR-10:  data_batch_1.bin … data_batch_5.bin (training), test_batch.bin (test); each a
 *              sequence of 3,073-byte records: 1 label byte (0–9), then 3,072 pixel bytes —
 *              the 1,024 red values of the 32×32 image (row-major), then the green, then the blue.
 *   CIFAR-100: train.bin, test.bin; 3,074-byte records: the coarse label (0–19), the fine label
 *              (0–99), then the same 3,072 pixel bytes.
 *
 * `data.path` may name the folder holding the .bin files, the folder the archive unpacks to
 * (cifar-10-batches-bin/, cifar-100-binary/) or one holding it, or the .tar.gz itself (or a
 * folder holding it): the archive is read as one bounded stream (./tar.ts), nothing extracted.
 *
 * The files have no header: a file's size says how many records it holds, so the size is checked
 * (a positive multiple of the record, at most CIFAR_FILE_MAX_BYTES) before anything is
 * allocated, every label is checked against its range, and every error names the file and the
 * fix. The pixels are kept in the stored planar order, which is the cache's (./cache.ts).
 */
import { readdir, stat } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { bytes, int } from '@shared/format'
import { FileReadError, openRegularFile, readInto } from '../files'
import { readTarEntries } from './tar'
import { DataError } from './types'

export type CifarName = 'cifar10' | 'cifar100'

const SIDE = 32
const CHANNELS = 3
const PIXELS = CHANNELS * SIDE * SIDE

const WHERE = 'data.path'

/** The layout of each version: its files, folder and archive names, its record. */
export const CIFAR_FORMATS = {
  cifar10: {
    title: 'CIFAR-10',
    train: [
      'data_batch_1.bin',
      'data_batch_2.bin',
      'data_batch_3.bin',
      'data_batch_4.bin',
      'data_batch_5.bin',
    ],
    test: ['test_batch.bin'],
    folder: 'cifar-10-batches-bin',
    archive: 'cifar-10-binary.tar.gz',
    labelBytes: 1,
    classes: [10],
  },
  cifar100: {
    title: 'CIFAR-100',
    train: ['train.bin'],
    test: ['test.bin'],
    folder: 'cifar-100-binary',
    archive: 'cifar-100-binary.tar.gz',
    labelBytes: 2,
    // coarse, fine
    classes: [20, 100],
  },
} as const

type CifarFormat = (typeof CIFAR_FORMATS)[CifarName]

const recordBytes = (f: CifarFormat): number => f.labelBytes + PIXELS

/**
 * The most bytes one .bin file may have: 1 GiB, about 350,000 images (the official files hold
 * 10,000 or 50,000). A file larger than that is not a CIFAR file NiN Lab can hold in memory.
 */
export const CIFAR_FILE_MAX_BYTES = 1024 ** 3

/** Where the files are: .bin files in a folder, or an archive. */
export type CifarSource =
  | {
      kind: 'files'
      folder: string
      files: { name: string; path: string; size: number; mtimeMs: number }[]
    }
  | { kind: 'archive'; path: string; size: number; mtimeMs: number }

const binNames = (f: CifarFormat): string[] => [...f.train, ...f.test]

/** Finds the dataset's files under `path` (see the file comment); DataError says what is missing. */
export async function locateCifar(path: string, dataset: CifarName): Promise<CifarSource> {
  const f = CIFAR_FORMATS[dataset]
  const target = resolve(path)
  const st = await stat(target).catch(() => null)
  if (st === null)
    throw new DataError(
      `${WHERE}: ${target} does not exist; set it to the folder with ${f.title}'s binary files ` +
        `(${binNames(f).join(', ')}) or to ${f.archive}`,
    )
  if (st.isFile()) return { kind: 'archive', path: target, size: st.size, mtimeMs: st.mtimeMs }
  const inFolder = async (folder: string): Promise<CifarSource | { archive: string } | null> => {
    const names = new Set(await readdir(folder).catch(() => []))
    if (binNames(f).some((n) => names.has(n))) {
      const missing = binNames(f).filter((n) => !names.has(n))
      if (missing.length > 0) {
        const python = names.has('data_batch_1') || names.has('train')
        throw new DataError(
          `${WHERE}: ${folder} lacks ${missing.join(', ')}; ${f.title}'s binary version has ` +
            `${binNames(f).join(', ')}${python ? ' (files without .bin are the Python version, which NiN Lab does not read)' : ''}: download ${f.archive} again`,
        )
      }
      const files = []
      for (const name of binNames(f)) {
        const p = join(folder, name)
        const s = await stat(p)
        files.push({ name, path: p, size: s.size, mtimeMs: s.mtimeMs })
      }
      return { kind: 'files', folder, files }
    }
    if (names.has(f.folder)) return inFolder(join(folder, f.folder))
    if (names.has(f.archive)) return { archive: join(folder, f.archive) }
    return null
  }
  const found = await inFolder(target)
  if (found === null) {
    const python = dataset === 'cifar10' ? 'cifar-10-batches-py' : 'cifar-100-python'
    const names = new Set(await readdir(target).catch(() => []))
    throw new DataError(
      `${WHERE}: ${target} holds neither ${f.title}'s binary files (${binNames(f).join(', ')}), ` +
        `nor ${f.folder}/, nor ${f.archive}` +
        (names.has(python) || names.has(`${python.replace(/-py(thon)?$/, '')}-python.tar.gz`)
          ? `; ${python} is the Python version, which NiN Lab does not read: download the binary version`
          : `: download ${f.archive} (the "binary version") and put it there`),
    )
  }
  if ('archive' in found) {
    const s = await stat(found.archive)
    return { kind: 'archive', path: found.archive, size: s.size, mtimeMs: s.mtimeMs }
  }
  return found
}

export interface CifarSet {
  images: Uint8Array
  labels: Uint8Array
  count: number
}

/**
 * Splits records into labels and planar pixels, checking the size and every label. `which` picks
 * the label byte (CIFAR-100: 0 coarse, 1 fine).
 */
function parseRecords(
  parts: { name: string; data: Uint8Array }[],
  f: CifarFormat,
  which: number,
  where: string,
): CifarSet {
  const rec = recordBytes(f)
  const numClasses = f.classes[which] as number
  let count = 0
  for (const { name, data } of parts) count += checkedCount(name, data.length, f, where)
  const images = new Uint8Array(count * PIXELS)
  const labels = new Uint8Array(count)
  let i = 0
  for (const { name, data } of parts) {
    const n = data.length / rec
    for (let r = 0; r < n; r++, i++) {
      const at = r * rec
      const label = data[at + which] as number
      if (label >= numClasses)
        throw new DataError(
          `${WHERE}: ${where}${name} has label ${label} in record ${int(r)}, not below ${numClasses}; ` +
            `it is corrupt or not ${f.title}'s binary version: download ${f.archive} again`,
        )
      labels[i] = label
      images.set(data.subarray(at + f.labelBytes, at + rec), i * PIXELS)
    }
  }
  return { images, labels, count }
}

function checkedCount(name: string, size: number, f: CifarFormat, where: string): number {
  const rec = recordBytes(f)
  if (size === 0 || size % rec !== 0)
    throw new DataError(
      `${WHERE}: ${where}${name} is ${int(size)} bytes, not a whole number of ${int(rec)}-byte ` +
        `${f.title} records (${f.labelBytes} label byte${f.labelBytes > 1 ? 's' : ''} + ${int(PIXELS)} pixel bytes): ` +
        `it is truncated or not the binary version: download ${f.archive} again`,
    )
  return size / rec
}

/** Reads one .bin file, its size checked before its buffer is allocated. */
async function readBin(path: string, f: CifarFormat): Promise<Uint8Array> {
  let opened
  try {
    opened = await openRegularFile(path)
  } catch (err) {
    if (!(err instanceof FileReadError)) throw err
    throw new DataError(`${WHERE}: ${err.message}; it must be the ${f.title} file itself`)
  }
  const { handle, size } = opened
  try {
    if (size > CIFAR_FILE_MAX_BYTES)
      throw new DataError(
        `${WHERE}: ${path} is ${bytes(size)}, more than the ${bytes(CIFAR_FILE_MAX_BYTES)} a ` +
          `${f.title} file can be (the official ones are ${f.labelBytes === 1 ? '30.7 MB' : '154 MB and 31 MB'}): ` +
          `it is not ${f.title}'s binary version: download ${f.archive} again`,
      )
    checkedCount(basename(path), size, f, `${resolve(path, '..')}/`)
    const data = Buffer.alloc(size)
    const got = await readInto(handle, data, 0)
    if (got !== size) throw new DataError(`${WHERE}: ${path} shrank while being read`)
    return data
  } finally {
    await handle.close()
  }
}

/** Reads the train and test sets; `labels` picks CIFAR-100's coarse or fine labels. */
export async function readCifar(
  source: CifarSource,
  dataset: CifarName,
  labels: 'fine' | 'coarse',
  signal?: AbortSignal,
): Promise<{ train: CifarSet; test: CifarSet; height: number; width: number; channels: number }> {
  const f = CIFAR_FORMATS[dataset]
  const which = dataset === 'cifar100' && labels === 'fine' ? 1 : 0
  const parts = new Map<string, Uint8Array>()
  let where: string
  if (source.kind === 'files') {
    where = `${source.folder}/`
    for (const file of source.files) {
      signal?.throwIfAborted()
      parts.set(file.name, await readBin(file.path, f))
    }
  } else {
    where = `${source.path}: `
    const wanted = new Set(binNames(f))
    const entries = await readTarEntries(source.path, {
      want: (name) => (wanted.has(basename(name)) ? CIFAR_FILE_MAX_BYTES : null),
      maxTotalBytes: 4 * CIFAR_FILE_MAX_BYTES,
      where: WHERE,
      signal,
    })
    for (const [name, data] of entries) {
      const base = basename(name)
      if (parts.has(base))
        throw new DataError(
          `${WHERE}: ${source.path} holds ${base} twice; it is not the official ${f.archive}`,
        )
      parts.set(base, data)
    }
    const missing = binNames(f).filter((n) => !parts.has(n))
    if (missing.length > 0)
      throw new DataError(
        `${WHERE}: ${source.path} lacks ${missing.join(', ')}; it must be ${f.title}'s binary ` +
          `version (${f.archive}), not the Python or MATLAB one: download it again`,
      )
  }
  const pick = (names: readonly string[]): { name: string; data: Uint8Array }[] =>
    names.map((name) => ({ name, data: parts.get(name) as Uint8Array }))
  const train = parseRecords(pick(f.train), f, which, where)
  const test = parseRecords(pick(f.test), f, which, where)
  return { train, test, height: SIDE, width: SIDE, channels: CHANNELS }
}
