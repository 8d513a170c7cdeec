/**
 * Reader for an image folder, the layout torchvision's ImageFolder reads:
 *
 *   <data.path>/train/<class>/*.png|jpg|jpeg
 *   <data.path>/test/<class>/*.png|jpg|jpeg
 *
 * Class names are the train folder's subfolder names, sorted by code point (as Python sorts
 * them), labels their positions; the test folder may lack a class but not add one. Hidden
 * entries (a leading dot) and other file types are ignored.
 *
 * Images are decoded with sharp (libvips, shipped in its npm packages), oriented by their EXIF
 * tag, converted to RGB (alpha dropped) or to grayscale, and resized once — scaled so the shorter
 * side fits, then centre-cropped to a square of `size` — into the dataset cache, so decoding is
 * paid once per folder, not per run.
 *
 * Bounded like every data read: a folder is listed entry by entry and refused past
 * FOLDER_MAX_IMAGES; the cache the images will fill is sized from the count before anything is
 * allocated; each file is read with readRegularFile (a regular file of at most
 * IMAGE_FILE_MAX_BYTES) and sharp refuses images over IMAGE_MAX_PIXELS before decoding them.
 */
import { createHash, type Hash } from 'node:crypto'
import { opendir, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { bytes, int } from '@shared/format'
import { FileReadError, readRegularFile } from '../files'
import { CACHE_MAX_BYTES, FINGERPRINT_BYTES, cacheFileSize } from './cache'
import { DataError } from './types'

const WHERE = 'data.path'
const IMAGE_EXTENSIONS = /\.(png|jpe?g)$/i
/** The most images a folder (train and test together) may hold. */
export const FOLDER_MAX_IMAGES = 2_000_000
/** The most classes: labels are one byte in the dataset cache. */
export const FOLDER_MAX_CLASSES = 256
/** One image file: photos are a few MB; anything far larger is not a training image. */
export const IMAGE_FILE_MAX_BYTES = 64 * 1024 ** 2
/** Decoded pixels of one image (about 7,000 × 7,000). */
export const IMAGE_MAX_PIXELS = 50_000_000

export interface FolderImage {
  path: string
  label: number
}

export interface FolderScan {
  folder: string
  classNames: string[]
  train: FolderImage[]
  test: FolderImage[]
  /** What the folder holds (names, sizes, modification times) and how it is read. */
  fingerprint: Uint8Array
}

/** Entry names of a folder, one at a time, stopping past `max` (a folder of a million files). */
async function listNames(
  folder: string,
  max: number,
  onTooMany: () => DataError,
): Promise<{ name: string; isDir: boolean; isFile: boolean }[]> {
  const out: { name: string; isDir: boolean; isFile: boolean }[] = []
  const dir = await opendir(folder)
  try {
    for await (const entry of dir) {
      if (entry.name.startsWith('.')) continue
      // A symlink is followed (stat), as for every data file.
      let isDir = entry.isDirectory()
      let isFile = entry.isFile()
      if (entry.isSymbolicLink()) {
        const s = await stat(join(folder, entry.name)).catch(() => null)
        isDir = s?.isDirectory() ?? false
        isFile = s?.isFile() ?? false
      }
      out.push({ name: entry.name, isDir, isFile })
      if (out.length > max) throw onTooMany()
    }
  } finally {
    await dir.close().catch(() => undefined)
  }
  return out
}

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/**
 * Lists the folder: class names, every image with its label, and a fingerprint of what was
 * found; refuses a layout it cannot use, naming the folder and the fix. Reads no image.
 */
export async function scanImageFolder(
  path: string,
  options: { color: 'rgb' | 'grayscale'; size: number },
  signal?: AbortSignal,
): Promise<FolderScan> {
  const folder = resolve(path)
  const st = await stat(folder).catch(() => null)
  if (st === null || !st.isDirectory())
    throw new DataError(
      `${WHERE}: ${folder} ${st === null ? 'does not exist' : 'is not a folder'}; an image folder ` +
        'holds train/<class>/*.png|jpg and test/<class>/*.png|jpg',
    )
  const state: ScanState = {
    folder,
    total: 0,
    hash: createHash('sha256').update(`folder\0${options.color}\0${options.size}\0`),
    signal,
  }
  const classNames = await classDirs(folder, 'train')
  if (classNames.length < 2)
    throw new DataError(
      `${WHERE}: ${join(folder, 'train')} holds ${classNames.length} class folder${classNames.length === 1 ? '' : 's'}; ` +
        'it needs one folder per class, at least two',
    )
  const testClasses = await classDirs(folder, 'test')
  const unknown = testClasses.filter((c) => !classNames.includes(c))
  if (unknown.length > 0)
    throw new DataError(
      `${WHERE}: ${join(folder, 'test')} has class folder${unknown.length > 1 ? 's' : ''} ` +
        `${unknown.slice(0, 5).join(', ')} that train/ lacks; the test classes must be train's`,
    )
  const train = await listImages(state, 'train', classNames, classNames)
  const test = await listImages(state, 'test', testClasses, classNames)
  classNames.forEach((name, label) => {
    if (!train.some((im) => im.label === label))
      throw new DataError(
        `${WHERE}: ${join(folder, 'train', name)} holds no PNG or JPEG image; every class needs training images`,
      )
  })
  if (test.length === 0)
    throw new DataError(`${WHERE}: ${join(folder, 'test')} holds no PNG or JPEG image`)
  return {
    folder,
    classNames,
    train,
    test,
    fingerprint: state.hash.digest().subarray(0, FINGERPRINT_BYTES),
  }
}

/** What listing both splits' images shares: the running count and the fingerprint. */
interface ScanState {
  readonly folder: string
  total: number
  readonly hash: Hash
  readonly signal: AbortSignal | undefined
}

/** A split's class folders (train/<class>/, test/<class>/), in code-point order. */
async function classDirs(folder: string, split: 'train' | 'test'): Promise<string[]> {
  const dir = join(folder, split)
  const s = await stat(dir).catch(() => null)
  if (s === null || !s.isDirectory())
    throw new DataError(
      `${WHERE}: ${folder} has no ${split}/ folder; an image folder holds train/<class>/ and ` +
        'test/<class>/ folders of PNG or JPEG images',
    )
  const entries = await listNames(
    dir,
    FOLDER_MAX_CLASSES,
    () =>
      new DataError(
        `${WHERE}: ${dir} holds more than ${FOLDER_MAX_CLASSES} entries; a class folder each, ` +
          `at most ${FOLDER_MAX_CLASSES} classes`,
      ),
  )
  return entries
    .filter((e) => e.isDir)
    .map((e) => e.name)
    .sort(byCodePoint)
}

/** A split's images, class by class (labelled by the train classes), each in the fingerprint. */
async function listImages(
  state: ScanState,
  split: 'train' | 'test',
  classes: readonly string[],
  classNames: readonly string[],
): Promise<FolderImage[]> {
  const tooMany = (): DataError =>
    new DataError(
      `${WHERE}: ${state.folder} holds more than ${int(FOLDER_MAX_IMAGES)} entries, more than NiN Lab ` +
        'reads from an image folder: use a subset of the images',
    )
  const out: FolderImage[] = []
  for (const name of classes) {
    state.signal?.throwIfAborted()
    const dir = join(state.folder, split, name)
    const entries = await listNames(dir, FOLDER_MAX_IMAGES - state.total, tooMany)
    const files = entries
      .filter((e) => e.isFile && IMAGE_EXTENSIONS.test(e.name))
      .map((e) => e.name)
      .sort(byCodePoint)
    state.total += files.length
    const label = classNames.indexOf(name)
    for (const file of files) {
      const p = join(dir, file)
      const s = await stat(p)
      state.hash.update(`${split}/${name}/${file}\0${s.size}\0${s.mtimeMs}\n`)
      out.push({ path: p, label })
    }
  }
  return out
}

type Sharp = typeof import('sharp').default

/** sharp, loaded on first use: a machine without its binary still trains every other dataset. */
async function loadSharp(): Promise<Sharp> {
  try {
    return (await import('sharp')).default
  } catch (err) {
    throw new DataError(
      `image folders are decoded with the sharp package, which cannot load here ` +
        `(${(err as Error).message.split('\n')[0]}): reinstall NiN Lab (npm ci) on this machine`,
    )
  }
}

/**
 * Decodes every image of a scan into planar uint8 (C planes of size × size), train then test.
 * A few images decode at once (sharp works on libuv's threads); the order of the result is the
 * scan's whatever order they finish in.
 */
export async function decodeImageFolder(
  scan: FolderScan,
  options: { color: 'rgb' | 'grayscale'; size: number },
  log?: (message: string) => void,
  signal?: AbortSignal,
): Promise<{
  channels: number
  train: { images: Uint8Array; labels: Uint8Array; count: number }
  test: { images: Uint8Array; labels: Uint8Array; count: number }
}> {
  const channels = options.color === 'rgb' ? 3 : 1
  const { size } = options
  const cacheBytes = cacheFileSize(scan.train.length, scan.test.length, size, size, channels)
  if (cacheBytes > CACHE_MAX_BYTES)
    throw new DataError(
      `${WHERE}: ${scan.folder} holds ${int(scan.train.length + scan.test.length)} images; at ` +
        `${size}×${size}×${channels} they need ${bytes(cacheBytes)}, more than the ` +
        `${bytes(CACHE_MAX_BYTES)} a dataset cache holds: lower data.imageSize or use fewer images`,
    )
  const sharp = await loadSharp()
  const plane = size * size
  const perImage = channels * plane
  log?.(
    `Decoding ${int(scan.train.length + scan.test.length)} images of ${scan.folder} into the ` +
      `dataset cache at ${size}×${size} (once)…`,
  )
  const decodeOne = (image: FolderImage, into: Uint8Array, at: number): Promise<void> =>
    decodeImage(sharp, image, into, at, { channels, size }, signal)
  const decodeSet = async (
    list: FolderImage[],
  ): Promise<{ images: Uint8Array; labels: Uint8Array; count: number }> => {
    const images = new Uint8Array(list.length * perImage)
    const labels = Uint8Array.from(list, (im) => im.label)
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < list.length) {
        signal?.throwIfAborted()
        const i = next++
        await decodeOne(list[i] as FolderImage, images, i * perImage)
      }
    }
    await Promise.all(Array.from({ length: 4 }, worker))
    return { images, labels, count: list.length }
  }
  const train = await decodeSet(scan.train)
  const test = await decodeSet(scan.test)
  return { channels, train, test }
}

/**
 * Decodes one image (rotated by its EXIF, cropped to a centred square, resized) into `into` at
 * `at` as planar uint8; a file that cannot be read or decoded is a DataError naming it.
 */
async function decodeImage(
  sharp: Sharp,
  image: FolderImage,
  into: Uint8Array,
  at: number,
  { channels, size }: { channels: number; size: number },
  signal: AbortSignal | undefined,
): Promise<void> {
  const plane = size * size
  let file: Buffer
  try {
    file = await readRegularFile(image.path, IMAGE_FILE_MAX_BYTES, signal)
  } catch (err) {
    if (signal?.aborted) throw err
    const why =
      err instanceof FileReadError ? err.message : `${image.path}: ${(err as Error).message}`
    throw new DataError(`${WHERE}: ${why}; remove it from the folder or replace it`)
  }
  let raw: Buffer
  let got: number
  try {
    let pipe = sharp(file, { limitInputPixels: IMAGE_MAX_PIXELS, failOn: 'error' })
      .rotate()
      .resize(size, size, { fit: 'cover', position: 'centre' })
      .removeAlpha()
    pipe = channels === 3 ? pipe.toColourspace('srgb') : pipe.grayscale()
    const out = await pipe.raw().toBuffer({ resolveWithObject: true })
    raw = out.data
    got = out.info.channels
  } catch (err) {
    throw new DataError(
      `${WHERE}: ${image.path} is not a readable PNG or JPEG image (${(err as Error).message}); ` +
        'remove it from the folder or replace it',
    )
  }
  if (channels === 1 && got > 1) {
    // sharp's grayscale keeps the colour bands' count for some inputs: the first is the luma.
    for (let p = 0; p < plane; p++) into[at + p] = raw[p * got] as number
    return
  }
  if (got !== channels || raw.length !== plane * channels)
    throw new Error(`internal: sharp gave ${got} channels, ${raw.length} bytes for ${image.path}`)
  // Interleaved RGB → planes R, G, B (the cache's layout).
  for (let p = 0; p < plane; p++)
    for (let c = 0; c < channels; c++) into[at + c * plane + p] = raw[p * channels + c] as number
}
