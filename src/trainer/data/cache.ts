/**
 * The binary dataset cache: one file holding a train and a test set, cheap to read (one
 * bounded read and one sha256, well under a second for 55 MB) and simple enough for any language
 * to parse.
 *
 * Byte layout (version 1; all integers unsigned 32-bit LITTLE-endian):
 *
 *   offset  size              field
 *   0       8                 magic, ASCII 'NINLABDS'
 *   8       4                 format version = 1
 *   12      4                 trainCount  (Fashion-MNIST: 60000)
 *   16      4                 testCount   (10000)
 *   20      4                 height      (28)
 *   24      4                 width       (28)
 *   28      4                 numClasses  (10)
 *   32      32                sha256 of bytes [0, 32) followed by bytes [64, end of file),
 *                             i.e. of the header fields and the whole payload
 *   64      trainCount        train labels, one uint8 each
 *   ...     testCount         test labels
 *   ...     trainCount·H·W    train pixels, uint8, image after image, each row-major
 *   ...     testCount·H·W     test pixels
 *
 * The file is exactly 64 + (trainCount + testCount) · (1 + H·W) bytes (Fashion-MNIST:
 * 54,950,064). A Python reader needs only the standard library:
 *
 *   import hashlib, struct
 *   data = open(path, 'rb').read()
 *   magic, version, n_train, n_test, h, w, k = struct.unpack_from('<8s6I', data, 0)
 *   assert magic == b'NINLABDS' and version == 1
 *   assert hashlib.sha256(data[:32] + data[64:]).digest() == data[32:64]
 *   train_labels = data[64:64 + n_train]
 *   test_labels = data[64 + n_train:64 + n_train + n_test]
 *   px = 64 + n_train + n_test
 *   train_pixels = data[px:px + n_train * h * w]    # image i: [i*h*w, (i+1)*h*w)
 *   test_pixels = data[px + n_train * h * w:]
 *
 * Writers go through a temp file, an fsync and a rename (writeFileAtomic in ../files.ts), so a
 * crash leaves either no cache or a whole one; a cache that fails any check (size, magic, version, checksum, labels) is reported as
 * invalid and the caller rebuilds it.
 */
import { createHash } from 'node:crypto'
import { readdir, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { FileReadError, openRegularFile, readInto, type RegularFile } from '../files'

export const CACHE_MAGIC = 'NINLABDS'
export const CACHE_VERSION = 1
export const CACHE_HEADER_BYTES = 64

/** What a cache file holds, without names or class names (those come from the caller). */
export interface CacheContents {
  height: number
  width: number
  numClasses: number
  train: { images: Uint8Array; labels: Uint8Array; count: number }
  test: { images: Uint8Array; labels: Uint8Array; count: number }
}

export type CacheReadResult =
  { ok: true; contents: CacheContents } | { ok: false; reason: string; missing: boolean }

export function cacheFileSize(trainCount: number, testCount: number, h: number, w: number): number {
  return CACHE_HEADER_BYTES + (trainCount + testCount) * (1 + h * w)
}

function checksum(file: Uint8Array): Buffer {
  return createHash('sha256')
    .update(file.subarray(0, 32))
    .update(file.subarray(CACHE_HEADER_BYTES))
    .digest()
}

/** Lay out a complete cache file in memory (55 MB for Fashion-MNIST). */
export function encodeCache(c: CacheContents): Buffer {
  const { height: h, width: w } = c
  const px = h * w
  if (c.train.images.length !== c.train.count * px || c.test.images.length !== c.test.count * px)
    throw new Error('encodeCache: image bytes do not match count × height × width')
  if (c.train.labels.length !== c.train.count || c.test.labels.length !== c.test.count)
    throw new Error('encodeCache: label count does not match image count')
  const buf = Buffer.alloc(cacheFileSize(c.train.count, c.test.count, h, w))
  buf.write(CACHE_MAGIC, 0, 'ascii')
  const fields = [CACHE_VERSION, c.train.count, c.test.count, h, w, c.numClasses]
  fields.forEach((v, i) => buf.writeUInt32LE(v, 8 + 4 * i))
  let off = CACHE_HEADER_BYTES
  for (const part of [c.train.labels, c.test.labels, c.train.images, c.test.images]) {
    buf.set(part, off)
    off += part.length
  }
  checksum(buf).copy(buf, 32)
  return buf
}

/**
 * Check and split a cache file's bytes. The returned arrays are views into `file` (no copy).
 */
export function decodeCache(file: Buffer): CacheReadResult {
  const bad = (reason: string): CacheReadResult => ({ ok: false, reason, missing: false })
  if (file.length < CACHE_HEADER_BYTES)
    return bad(`truncated (${file.length} bytes, shorter than the header)`)
  if (file.toString('ascii', 0, 8) !== CACHE_MAGIC) return bad('not a NiN Lab dataset cache')
  const version = file.readUInt32LE(8)
  if (version !== CACHE_VERSION) return bad(`format version ${version}, expected ${CACHE_VERSION}`)
  const trainCount = file.readUInt32LE(12)
  const testCount = file.readUInt32LE(16)
  const height = file.readUInt32LE(20)
  const width = file.readUInt32LE(24)
  const numClasses = file.readUInt32LE(28)
  const expected = cacheFileSize(trainCount, testCount, height, width)
  if (file.length !== expected)
    return bad(
      `${file.length < expected ? 'truncated' : 'too long'}: ${file.length} bytes, expected ${expected}`,
    )
  if (!checksum(file).equals(file.subarray(32, 64))) return bad('checksum mismatch (corrupt)')

  // Views, not copies: the file buffer is allocated for this read alone, so nothing else
  // shares (or could overwrite) its memory.
  const view = (off: number, len: number): Uint8Array =>
    new Uint8Array(file.buffer, file.byteOffset + off, len)
  const px = height * width
  const labelsAt = CACHE_HEADER_BYTES
  const pixelsAt = labelsAt + trainCount + testCount
  const trainLabels = view(labelsAt, trainCount)
  const testLabels = view(labelsAt + trainCount, testCount)
  const trainImages = view(pixelsAt, trainCount * px)
  const testImages = view(pixelsAt + trainCount * px, testCount * px)
  // A matching checksum only proves the file is what some writer wrote; this catches a
  // writer bug (or a hand-made file) before it turns into NaN losses much later.
  for (const labels of [trainLabels, testLabels])
    for (let i = 0; i < labels.length; i++)
      if ((labels[i] as number) >= numClasses)
        return bad(`label ${labels[i]} at index ${i} is not below numClasses ${numClasses}`)
  return {
    ok: true,
    contents: {
      height,
      width,
      numClasses,
      train: { images: trainImages, labels: trainLabels, count: trainCount },
      test: { images: testImages, labels: testLabels, count: testCount },
    },
  }
}

/**
 * The largest cache file read: the format's own ceiling (uint32 counts aside, one Buffer holds
 * the whole file, and Node caps a Buffer at 4 GiB), far above Fashion-MNIST's 55 MB.
 */
export const CACHE_MAX_BYTES = 4 * 1024 ** 3 - 1

/**
 * Reads and checks a cache file. Bounded by its own header: the 64 header bytes are read first,
 * and the file is read only when its size is exactly what the header promises (and at most
 * CACHE_MAX_BYTES), so a damaged header or a path that is not a regular file (a FIFO, a link to
 * /dev/zero) is refused before anything large is allocated.
 */
export async function readCache(path: string, signal?: AbortSignal): Promise<CacheReadResult> {
  const bad = (reason: string): CacheReadResult => ({ ok: false, reason, missing: false })
  let opened: RegularFile
  try {
    opened = await openRegularFile(path)
  } catch (err) {
    if (err instanceof FileReadError && err.code === 'ENOENT')
      return { ok: false, reason: 'missing', missing: true }
    return bad(`unreadable (${err instanceof FileReadError ? err.reason : (err as Error).message})`)
  }
  const { handle, size } = opened
  try {
    const header = Buffer.alloc(Math.min(size, CACHE_HEADER_BYTES))
    await readInto(handle, header, 0, signal)
    if (header.length < CACHE_HEADER_BYTES) return decodeCache(header)
    const expected = cacheFileSize(
      header.readUInt32LE(12),
      header.readUInt32LE(16),
      header.readUInt32LE(20),
      header.readUInt32LE(24),
    )
    if (size !== expected || expected > CACHE_MAX_BYTES) {
      // decodeCache words a wrong magic or version; give it the header alone, never the file.
      if (
        header.toString('ascii', 0, 8) !== CACHE_MAGIC ||
        header.readUInt32LE(8) !== CACHE_VERSION
      )
        return decodeCache(header)
      if (expected > CACHE_MAX_BYTES)
        return bad(`its header claims ${expected} bytes, more than a cache can hold`)
      return bad(
        `${size < expected ? 'truncated' : 'too long'}: ${size} bytes, expected ${expected}`,
      )
    }
    const file = Buffer.alloc(size)
    const got = await readInto(handle, file, 0, signal)
    if (got !== size) return bad(`truncated: ${got} bytes, expected ${expected}`)
    return decodeCache(file)
  } catch (err) {
    if (signal?.aborted) throw err
    return bad(`unreadable (${(err as Error).message})`)
  } finally {
    await handle.close()
  }
}

/**
 * Remove temp files a crashed writer left next to `path` (55 MB each). Only ones older than
 * `minAgeMs`, so a build running right now in another process keeps its file.
 */
export async function removeStaleTempFiles(path: string, minAgeMs = 15 * 60_000): Promise<void> {
  const dir = dirname(path)
  const prefix = `${basename(path)}.`
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue
    const full = join(dir, name)
    try {
      if (Date.now() - (await stat(full)).mtimeMs > minAgeMs) await unlink(full)
    } catch {
      // Another process may have removed or renamed it meanwhile: nothing to clean.
    }
  }
}
