/**
 * Reader for the official IDX files of MNIST and Fashion-MNIST (Y. LeCun's format):
 *
 *   images: uint32 BE magic 2051 (0x00000803: ubyte data, 3 dims), uint32 BE count, rows, cols,
 *           then count·rows·cols uint8 pixels, row-major;
 *   labels: uint32 BE magic 2049 (0x00000801: ubyte data, 1 dim), uint32 BE count, then count
 *           uint8 labels.
 *
 * Files may be gzipped or not. Everything is checked before a Dataset is returned, and every
 * error names the file and the fix: these files come from the user's downloads folder, and
 * "truncated download" or "files renamed the wrong way round" are the usual problems.
 * Nothing is written anywhere.
 */
import { readFile, readdir, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { constants as zlibConstants, gunzip, gunzipSync } from 'node:zlib'
import { promisify } from 'node:util'
import { DataError, classNamesFor, fmtInt } from './types'
import type { Dataset, DatasetName } from './types'

const gunzipAsync = promisify(gunzip)

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
 * Read a file and gunzip it if it is gzipped. Detected by content (the gzip magic 1f 8b), not
 * by name: browsers sometimes decompress a download and keep the `.gz` name; an IDX file never
 * starts with 1f 8b (its magic begins with two zero bytes).
 */
async function readMaybeGzipped(
  file: string,
  expectedFromHeader: (partial: Buffer) => number | null,
): Promise<Buffer> {
  const raw = await readFile(file)
  if (raw.length < 2 || raw[0] !== 0x1f || raw[1] !== 0x8b) return raw
  try {
    return await gunzipAsync(raw)
  } catch (err) {
    // Decompress what is there, to say how much is missing rather than just "bad gzip".
    let partial: Buffer | null
    try {
      partial = gunzipSync(raw, { finishFlush: zlibConstants.Z_SYNC_FLUSH })
    } catch {
      partial = null
    }
    const code = (err as NodeJS.ErrnoException).code
    if (partial !== null && code === 'Z_BUF_ERROR') {
      const expected = expectedFromHeader(partial)
      throw new DataError(
        `${WHERE}: ${file} is truncated (the gzip stream ends early: got ${fmtInt(partial.length)} ` +
          `bytes after gunzip${expected === null ? '' : `, expected ${fmtInt(expected)}`}); download it again`,
      )
    }
    throw new DataError(
      `${WHERE}: ${file} is not a valid gzip file (${(err as Error).message}); download it again`,
    )
  }
}

function imagesExpectedSize(buf: Buffer): number | null {
  if (buf.length < 16 || buf.readUInt32BE(0) !== IDX_IMAGES_MAGIC) return null
  return 16 + buf.readUInt32BE(4) * buf.readUInt32BE(8) * buf.readUInt32BE(12)
}

function labelsExpectedSize(buf: Buffer): number | null {
  if (buf.length < 8 || buf.readUInt32BE(0) !== IDX_LABELS_MAGIC) return null
  return 8 + buf.readUInt32BE(4)
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

function checkSize(file: string, buf: Buffer, expected: number, why: string): void {
  if (buf.length === expected) return
  const verb = buf.length < expected ? 'is truncated' : 'is too long'
  throw new DataError(
    `${WHERE}: ${file} ${verb} (${why}: expected ${fmtInt(expected)} bytes` +
      `${file.endsWith('.gz') ? ' after gunzip' : ''}, got ${fmtInt(buf.length)}); download it again`,
  )
}

interface IdxImages {
  images: Uint8Array
  count: number
  rows: number
  cols: number
}

export async function readIdxImages(file: string): Promise<IdxImages> {
  const buf = await readMaybeGzipped(file, imagesExpectedSize)
  checkMagic(file, buf, IDX_IMAGES_MAGIC)
  if (buf.length < 16) checkSize(file, buf, 16, 'an image header is 16 bytes')
  const count = buf.readUInt32BE(4)
  const rows = buf.readUInt32BE(8)
  const cols = buf.readUInt32BE(12)
  if (count === 0 || rows === 0 || cols === 0 || rows > 4096 || cols > 4096)
    throw new DataError(
      `${WHERE}: ${file} has implausible dimensions ${count} × ${rows} × ${cols}; download it again`,
    )
  checkSize(
    file,
    buf,
    16 + count * rows * cols,
    `the header says ${fmtInt(count)} images of ${rows}×${cols}`,
  )
  // A view, not a copy: the buffer belongs to this read alone.
  const images = new Uint8Array(buf.buffer, buf.byteOffset + 16, count * rows * cols)
  return { images, count, rows, cols }
}

export async function readIdxLabels(file: string, numClasses = NUM_CLASSES): Promise<Uint8Array> {
  const buf = await readMaybeGzipped(file, labelsExpectedSize)
  checkMagic(file, buf, IDX_LABELS_MAGIC)
  if (buf.length < 8) checkSize(file, buf, 8, 'a label header is 8 bytes')
  const count = buf.readUInt32BE(4)
  if (count === 0) throw new DataError(`${WHERE}: ${file} holds no labels; download it again`)
  checkSize(file, buf, 8 + count, `the header says ${fmtInt(count)} labels`)
  const labels = new Uint8Array(buf.buffer, buf.byteOffset + 8, count)
  for (let i = 0; i < count; i++) {
    const l = labels[i] as number
    if (l >= numClasses)
      throw new DataError(
        `${WHERE}: ${file} has label ${l} at index ${fmtInt(i)}; labels must be 0–${numClasses - 1} ` +
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
): Promise<Dataset> {
  const imagesFile = pickFile(folder, names, imagesRole)
  const labelsFile = pickFile(folder, names, labelsRole)
  const { images, count, rows, cols } = await readIdxImages(imagesFile)
  const labels = await readIdxLabels(labelsFile)
  if (labels.length !== count)
    throw new DataError(
      `${WHERE}: ${imagesFile} holds ${fmtInt(count)} images but ${labelsFile} holds ` +
        `${fmtInt(labels.length)} labels; the two files must come from the same download`,
    )
  return {
    name: dataset,
    images,
    labels,
    count,
    height: rows,
    width: cols,
    numClasses: NUM_CLASSES,
    classNames: classNamesFor(dataset),
  }
}

/**
 * Load train (`train-*`) and test (`t10k-*`) sets from a folder of official IDX files.
 * `dataset` only names the set and its classes: MNIST and Fashion-MNIST files have the same
 * shape and cannot be told apart by content.
 */
export async function loadIdxFolder(
  path: string,
  dataset: DatasetName,
): Promise<{ train: Dataset; test: Dataset; source: string }> {
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
  const names = new Set(await readdir(folder))
  // Resolve all four names first so a missing file is reported before any large read.
  for (const role of Object.keys(IDX_FILES) as IdxRole[]) pickFile(folder, names, role)
  const train = await readSet(folder, names, 'trainImages', 'trainLabels', dataset)
  const test = await readSet(folder, names, 'testImages', 'testLabels', dataset)
  if (train.height !== test.height || train.width !== test.width)
    throw new DataError(
      `${WHERE}: train images in ${folder} are ${train.height}×${train.width} but test images are ` +
        `${test.height}×${test.width}; the four files must come from the same dataset`,
    )
  return { train, test, source: `${dataset} IDX files in ${folder}` }
}
