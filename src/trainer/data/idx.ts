/**
 * Reader for the official IDX files of MNIST and Fashion-MNIST (Y. LeCun's format):
 *
 *   images: uint32 BE magic 2051 (0x00000803: ubyte data, 3 dims), uint32 BE count, rows, cols,
 *           then count·rows·cols uint8 pixels, row-major;
 *   labels: uint32 BE magic 2049 (0x00000801: ubyte data, 1 dim), uint32 BE count, then count
 *           uint8 labels.
 *
 * Files may be gzipped or not. Every read is bounded by what the file's header promises (and by
 * IDX_MAX_BYTES): a FIFO, a device, a gzip bomb or a header claiming 10^9 images is refused
 * before it costs memory. Everything is checked before a Dataset is returned, and every error
 * names the file and the fix: these files come from the user's downloads folder, and
 * "truncated download" or "files renamed the wrong way round" are the usual problems.
 * Nothing is written anywhere.
 */
import { readdir, stat, type FileHandle } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import { bytes, int } from '@shared/format'
import { FileReadError, fileChunks, openRegularFile, readInto, type RegularFile } from '../files'
import { DataError, classNamesFor } from './types'
import type { Dataset, DatasetName } from './types'

export const IDX_IMAGES_MAGIC = 2051
export const IDX_LABELS_MAGIC = 2049
const NUM_CLASSES = 10

/** The four official base names; `.gz` may be appended. */
export const IDX_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const

type IdxRole = keyof typeof IDX_FILES

const WHERE = 'data.path'

/**
 * Find one of the four files in the folder. Also accepts the dotted spelling
 * (`train-images.idx3-ubyte`) that some MNIST mirrors use. A raw file wins over a `.gz`.
 */
function pickFile(folder: string, names: Set<string>, role: IdxRole): string {
  const base = IDX_FILES[role]
  const dotted = base.replace(/-(idx\d-ubyte)$/, '.$1')
  for (const candidate of [base, `${base}.gz`, dotted, `${dotted}.gz`])
    if (names.has(candidate)) return join(folder, candidate)
  throw new DataError(
    `${WHERE}: ${folder} has no ${base} or ${base}.gz; the folder must hold the four official ` +
      `IDX files (${Object.values(IDX_FILES).join(', ')}, each optionally .gz)`,
  )
}

/**
 * The most bytes one IDX file may promise (after gunzip). The official Fashion-MNIST training
 * images are 47 MB and EMNIST's largest split 0.6 GB; a header claiming more is corrupt, or a
 * dataset this app could not hold in memory beside its cache copy anyway.
 */
export const IDX_MAX_BYTES = 2 * 1024 ** 3

export interface IdxReadOptions {
  /** The most bytes the file may promise (default IDX_MAX_BYTES). */
  readonly maxBytes?: number
  /** Stops the read between chunks (the trainer aborts it on SIGTERM). */
  readonly signal?: AbortSignal
}

/** An IDX format: its header size, and the exact file size a header promises. */
interface IdxFormat {
  readonly magic: number
  readonly headerBytes: number
  readonly what: 'images' | 'labels'
  /** Checks the header's fields; returns the file size they promise and how they read. */
  readonly promised: (file: string, header: Buffer) => { bytes: number; says: string }
}

const IMAGES: IdxFormat = {
  magic: IDX_IMAGES_MAGIC,
  headerBytes: 16,
  what: 'images',
  promised(file, header) {
    const count = header.readUInt32BE(4)
    const rows = header.readUInt32BE(8)
    const cols = header.readUInt32BE(12)
    if (count === 0 || rows === 0 || cols === 0 || rows > 4096 || cols > 4096)
      throw new DataError(
        `${WHERE}: ${file} has implausible dimensions ${count} × ${rows} × ${cols}; download it again`,
      )
    return {
      bytes: 16 + count * rows * cols,
      says: `the header says ${int(count)} images of ${rows}×${cols}`,
    }
  },
}

const LABELS: IdxFormat = {
  magic: IDX_LABELS_MAGIC,
  headerBytes: 8,
  what: 'labels',
  promised(file, header) {
    const count = header.readUInt32BE(4)
    if (count === 0) throw new DataError(`${WHERE}: ${file} holds no labels; download it again`)
    return { bytes: 8 + count, says: `the header says ${int(count)} labels` }
  },
}

function checkMagic(file: string, buf: Buffer, want: number): void {
  if (buf.length < 4)
    throw new DataError(`${WHERE}: ${file} is truncated (${buf.length} bytes); download it again`)
  const magic = buf.readUInt32BE(0)
  if (magic === want) return
  const hint =
    magic === IDX_IMAGES_MAGIC || magic === IDX_LABELS_MAGIC
      ? `it is an IDX ${magic === IDX_IMAGES_MAGIC ? 'image' : 'label'} file: are the files named the wrong way round?`
      : 'it is not an IDX file of this kind (or it is corrupt): download it again'
  const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`
  throw new DataError(
    `${WHERE}: ${file} has magic number ${magic} (${hex(magic)}), expected ${want} (${hex(want)}) ` +
      `for ${want === IDX_IMAGES_MAGIC ? 'images' : 'labels'}; ${hint}`,
  )
}

/**
 * Checks a header (magic, fields, the limit) and returns the exact size it promises. Runs
 * before the file's body is allocated or read.
 */
function promisedSize(file: string, header: Buffer, format: IdxFormat, maxBytes: number): number {
  checkMagic(file, header, format.magic)
  if (header.length < format.headerBytes)
    throw new DataError(
      `${WHERE}: ${file} is truncated (${header.length} bytes${file.endsWith('.gz') ? ' after gunzip' : ''}: ` +
        `${format.what === 'images' ? 'an image' : 'a label'} header is ${format.headerBytes} bytes); download it again`,
    )
  const { bytes: size, says } = format.promised(file, header)
  if (size > maxBytes)
    throw new DataError(
      `${WHERE}: ${file} cannot be read: ${says}, ${bytes(size)}, more than the ${bytes(maxBytes)} ` +
        'NiN Lab reads from one IDX file; the header is corrupt or the file is not an MNIST-style ' +
        'dataset: download it again',
    )
  return size
}

function sizeError(
  file: string,
  got: number,
  expected: number,
  says: string,
  gz: boolean,
): DataError {
  const verb = got < expected ? 'is truncated' : 'is too long'
  return new DataError(
    `${WHERE}: ${file} ${verb} (${says}: expected ${int(expected)} bytes` +
      `${gz ? ' after gunzip' : ''}, got ${got < expected ? int(got) : `more than ${int(expected)}`}); download it again`,
  )
}

/**
 * Reads one IDX file, raw or gzipped, bounded by what its header promises: exactly that many
 * bytes are allocated and read, and never more than `maxBytes`. Gzip is detected by content
 * (the magic 1f 8b), not by name: browsers sometimes decompress a download and keep the `.gz`
 * name; an IDX file never starts with 1f 8b (its magic begins with two zero bytes). A gzip
 * stream is inflated chunk by chunk and stopped the moment it yields more than the header
 * promised, so a gzip bomb costs what the header claims, not what the bomb holds.
 */
async function readIdxFile(file: string, format: IdxFormat, opts: IdxReadOptions): Promise<Buffer> {
  const maxBytes = opts.maxBytes ?? IDX_MAX_BYTES
  let opened: RegularFile
  try {
    opened = await openRegularFile(file)
  } catch (err) {
    if (!(err instanceof FileReadError)) throw err
    throw new DataError(
      `${WHERE}: ${err.message}; it must be the IDX file itself (or a link to one), not a pipe or device`,
    )
  }
  const { handle, size } = opened
  try {
    const start = Buffer.alloc(Math.min(size, format.headerBytes))
    await readInto(handle, start, 0, opts.signal)
    if (start.length >= 2 && start[0] === 0x1f && start[1] === 0x8b)
      return await gunzipBounded(file, handle, size, format, maxBytes, opts.signal)
    const expected = promisedSize(file, start, format, maxBytes)
    const { says } = format.promised(file, start)
    if (size !== expected) throw sizeError(file, size, expected, says, false)
    const data = Buffer.alloc(expected)
    const got = await readInto(handle, data, 0, opts.signal)
    if (got !== expected) throw sizeError(file, got, expected, says, false)
    return data
  } finally {
    await handle.close()
  }
}

async function gunzipBounded(
  file: string,
  handle: FileHandle,
  compressedSize: number,
  format: IdxFormat,
  maxBytes: number,
  signal: AbortSignal | undefined,
): Promise<Buffer> {
  let header = Buffer.alloc(0)
  let out: Buffer | null = null
  let expected = 0
  let says = ''
  let filled = 0
  // pipeline() reports a stage's own error as an AbortError of the others: keep ours.
  let refusal: DataError | null = null
  // Inflated output arrives in pieces of a few KiB; the first ones are gathered into the header,
  // which decides the one allocation. Throwing here ends the pipeline: nothing more is inflated.
  const collect = async (inflated: AsyncIterable<Buffer>): Promise<void> => {
    for await (let piece of inflated) {
      try {
        if (out === null) {
          header = Buffer.concat([header, piece])
          if (header.length < format.headerBytes) continue
          expected = promisedSize(file, header, format, maxBytes)
          says = format.promised(file, header).says
          out = Buffer.alloc(expected)
          piece = header
        }
        if (filled + piece.length > expected)
          throw sizeError(file, filled + piece.length, expected, says, true)
      } catch (err) {
        if (err instanceof DataError) refusal = err
        throw err
      }
      piece.copy(out, filled)
      filled += piece.length
    }
  }
  try {
    await pipeline(Readable.from(fileChunks(handle, compressedSize)), createGunzip(), collect, {
      signal,
    })
  } catch (err) {
    if (refusal) throw refusal
    if (err instanceof DataError || signal?.aborted) throw err
    if ((err as NodeJS.ErrnoException).code === 'Z_BUF_ERROR')
      throw new DataError(
        `${WHERE}: ${file} is truncated (the gzip stream ends early: got ${int(out === null ? header.length : filled)} ` +
          `bytes after gunzip${out === null ? '' : `, expected ${int(expected)}`}); download it again`,
      )
    throw new DataError(
      `${WHERE}: ${file} is not a valid gzip file (${(err as Error).message}); download it again`,
    )
  }
  // A whole stream shorter than a header: promisedSize words it.
  if (out === null) promisedSize(file, header, format, maxBytes)
  if (filled !== expected) throw sizeError(file, filled, expected, says, true)
  return out ?? Buffer.alloc(0)
}

interface IdxImages {
  images: Uint8Array
  count: number
  rows: number
  cols: number
}

export async function readIdxImages(file: string, opts: IdxReadOptions = {}): Promise<IdxImages> {
  const buf = await readIdxFile(file, IMAGES, opts)
  const count = buf.readUInt32BE(4)
  const rows = buf.readUInt32BE(8)
  const cols = buf.readUInt32BE(12)
  // A view, not a copy: the buffer belongs to this read alone.
  const images = new Uint8Array(buf.buffer, buf.byteOffset + 16, count * rows * cols)
  return { images, count, rows, cols }
}

export async function readIdxLabels(
  file: string,
  numClasses = NUM_CLASSES,
  opts: IdxReadOptions = {},
): Promise<Uint8Array> {
  const buf = await readIdxFile(file, LABELS, opts)
  const count = buf.readUInt32BE(4)
  const labels = new Uint8Array(buf.buffer, buf.byteOffset + 8, count)
  for (let i = 0; i < count; i++) {
    const l = labels[i] as number
    if (l >= numClasses)
      throw new DataError(
        `${WHERE}: ${file} has label ${l} at index ${int(i)}; labels must be 0–${numClasses - 1} ` +
          '(is this an MNIST or Fashion-MNIST label file?)',
      )
  }
  return labels
}

async function readSet(
  folder: string,
  names: Set<string>,
  imagesRole: IdxRole,
  labelsRole: IdxRole,
  dataset: DatasetName,
  opts: IdxReadOptions,
): Promise<Dataset> {
  const imagesFile = pickFile(folder, names, imagesRole)
  const labelsFile = pickFile(folder, names, labelsRole)
  const { images, count, rows, cols } = await readIdxImages(imagesFile, opts)
  const labels = await readIdxLabels(labelsFile, NUM_CLASSES, opts)
  if (labels.length !== count)
    throw new DataError(
      `${WHERE}: ${imagesFile} holds ${int(count)} images but ${labelsFile} holds ` +
        `${int(labels.length)} labels; the two files must come from the same download`,
    )
  return {
    name: dataset,
    images,
    labels,
    count,
    channels: 1,
    height: rows,
    width: cols,
    numClasses: NUM_CLASSES,
    classNames: classNamesFor(dataset),
  }
}

/** The four IDX files of a folder (train images, train labels, test images, test labels). */
export async function locateIdxFiles(path: string): Promise<string[]> {
  const folder = await checkIdxFolder(path)
  const names = new Set(await readdir(folder))
  return (Object.keys(IDX_FILES) as IdxRole[]).map((role) => pickFile(folder, names, role))
}

async function checkIdxFolder(path: string): Promise<string> {
  const folder = resolve(path)
  let isDir: boolean
  try {
    isDir = (await stat(folder)).isDirectory()
  } catch {
    throw new DataError(
      `${WHERE}: folder ${folder} does not exist; set it to the folder holding the IDX files, ` +
        'or to null for the embedded Fashion-MNIST',
    )
  }
  if (!isDir)
    throw new DataError(
      `${WHERE}: ${folder} is a file, not a folder; set it to the folder that holds ` +
        `${IDX_FILES.trainImages}[.gz] and the other three IDX files`,
    )
  return folder
}

/**
 * Load train (`train-*`) and test (`t10k-*`) sets from a folder of official IDX files.
 * `dataset` only names the set and its classes: MNIST and Fashion-MNIST files have the same
 * shape and cannot be told apart by content.
 */
export async function loadIdxFolder(
  path: string,
  dataset: DatasetName,
  opts: IdxReadOptions = {},
): Promise<{ train: Dataset; test: Dataset; source: string }> {
  const folder = await checkIdxFolder(path)
  const names = new Set(await readdir(folder))
  // Resolve all four names first so a missing file is reported before any large read.
  for (const role of Object.keys(IDX_FILES) as IdxRole[]) pickFile(folder, names, role)
  const train = await readSet(folder, names, 'trainImages', 'trainLabels', dataset, opts)
  const test = await readSet(folder, names, 'testImages', 'testLabels', dataset, opts)
  if (train.height !== test.height || train.width !== test.width)
    throw new DataError(
      `${WHERE}: train images in ${folder} are ${train.height}×${train.width} but test images are ` +
        `${test.height}×${test.width}; the four files must come from the same dataset`,
    )
  return { train, test, source: `${dataset} IDX files in ${folder}` }
}
