/**
 * The binary dataset cache: one file holding a train and a test set, cheap to read (one
 * bounded read and one sha256, well under a second for 55 MB) and simple enough for any language
 * to parse.
 *
 * Byte layout (version 2; integers unsigned 32-bit LITTLE-endian, floats IEEE float32 LE):
 *
 *   offset  size              field
 *   0       8                 magic, ASCII 'NINLABDS'
 *   8       4                 format version = 2
 *   12      4                 trainCount  (Fashion-MNIST: 60000, CIFAR: 50000)
 *   16      4                 testCount   (10000)
 *   20      4                 height      (28, 32)
 *   24      4                 width       (28, 32)
 *   28      4                 numClasses  (10, 100)
 *   32      32                sha256 of bytes [0, 32) followed by bytes [64, end of file),
 *                             i.e. of the header fields and the whole payload
 *   64      4                 channels C (1 gray, 3 RGB; at most 4)
 *   68      4                 reserved, 0
 *   72      16                per-channel mean of the training pixels, in [0, 1] (4 float32;
 *                             unused channels 0)
 *   88      16                per-channel standard deviation (population; unused channels 0)
 *   104     24                source fingerprint: what the cache was built from (the files'
 *                             names, sizes and times, the reader's options), opaque bytes
 *   128     trainCount        train labels, one uint8 each
 *   ...     testCount         test labels
 *   ...     trainCount·C·H·W  train pixels, uint8, image after image; each image its C channel
 *                             planes in order (R, G, B, as CIFAR stores them), each row-major
 *   ...     testCount·C·H·W   test pixels
 *
 * The file is exactly 128 + (trainCount + testCount) · (1 + C·H·W) bytes (Fashion-MNIST:
 * 54,950,128). Version 1 (64-byte header, one channel, no statistics) is refused as an older
 * format and rebuilt, never misread. A Python reader needs only the standard library:
 *
 *   import hashlib, struct
 *   data = open(path, 'rb').read()
 *   magic, version, n_train, n_test, h, w, k = struct.unpack_from('<8s6I', data, 0)
 *   assert magic == b'NINLABDS' and version == 2
 *   assert hashlib.sha256(data[:32] + data[64:]).digest() == data[32:64]
 *   c, = struct.unpack_from('<I', data, 64)
 *   mean = struct.unpack_from('<4f', data, 72)[:c]; std = struct.unpack_from('<4f', data, 88)[:c]
 *   train_labels = data[128:128 + n_train]
 *   test_labels = data[128 + n_train:128 + n_train + n_test]
 *   px = 128 + n_train + n_test
 *   train_pixels = data[px:px + n_train * c * h * w]    # image i: [i*c*h*w, (i+1)*c*h*w)
 *   test_pixels = data[px + n_train * c * h * w:]
 *
 * The statistics are computed once, when the cache is written (`channelStats`), from the
 * training pixels as stored; both engines read them from here, so they normalise alike.
 *
 * Writers go through a temp file, an fsync and a rename (writeFileAtomic in ../files.ts), so a
 * crash leaves either no cache or a whole one; a cache that fails any check (size, magic,
 * version, checksum, labels, channels) is reported as invalid and the caller rebuilds it.
 */
import { createHash } from 'node:crypto'
import { readdir, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { FileReadError, openRegularFile, readInto, type RegularFile } from '../files'

export const CACHE_MAGIC = 'NINLABDS'
export const CACHE_VERSION = 2
export const CACHE_HEADER_BYTES = 128
/** The sha256 covers [0, 32) and [CHECKSUMMED_FROM, end). */
const CHECKSUMMED_FROM = 64
export const CACHE_MAX_CHANNELS = 4
export const FINGERPRINT_BYTES = 24

/** Per-channel mean and standard deviation of the training pixels, scaled to [0, 1]. */
export interface ChannelStats {
  mean: number[]
  std: number[]
}

/** What a cache file holds, without names or class names (those come from the caller). */
export interface CacheContents {
  channels: number
  height: number
  width: number
  numClasses: number
  train: { images: Uint8Array; labels: Uint8Array; count: number }
  test: { images: Uint8Array; labels: Uint8Array; count: number }
  /** What it was built from (24 bytes; zeros when unknown). */
  fingerprint: Uint8Array
}

/** A decoded cache: its contents and the statistics stored with them. */
export interface DecodedCache extends CacheContents {
  stats: ChannelStats
}

export type CacheReadResult =
  { ok: true; contents: DecodedCache } | { ok: false; reason: string; missing: boolean }

export function cacheFileSize(
  trainCount: number,
  testCount: number,
  h: number,
  w: number,
  channels = 1,
): number {
  return CACHE_HEADER_BYTES + (trainCount + testCount) * (1 + channels * h * w)
}

function checksum(file: Uint8Array): Buffer {
  return createHash('sha256')
    .update(file.subarray(0, 32))
    .update(file.subarray(CHECKSUMMED_FROM))
    .digest()
}

/**
 * Per-channel mean and population standard deviation of `count` planar images, on the [0, 1]
 * scale, summed exactly (integer sums of bytes and of their squares), so every writer of the same
 * pixels stores the same float32 numbers.
 */
export function channelStats(
  images: Uint8Array,
  count: number,
  channels: number,
  plane: number,
): ChannelStats {
  const mean: number[] = []
  const std: number[] = []
  // 256 bins per channel: sums of bytes (and squares) from the histogram are exact integers.
  const hist = Array.from({ length: channels }, () => new Float64Array(256))
  const imageBytes = channels * plane
  for (let i = 0; i < count; i++)
    for (let c = 0; c < channels; c++) {
      const h = hist[c] as Float64Array
      const start = i * imageBytes + c * plane
      for (let p = start; p < start + plane; p++) {
        const v = images[p] as number
        h[v] = (h[v] as number) + 1
      }
    }
  const n = count * plane
  for (const h of hist) {
    let sum = 0
    let squares = 0
    for (let v = 0; v < 256; v++) {
      sum += v * (h[v] as number)
      squares += v * v * (h[v] as number)
    }
    const m = n > 0 ? sum / n : 0
    const variance = n > 0 ? Math.max(0, squares / n - m * m) : 0
    mean.push(m / 255)
    std.push(Math.sqrt(variance) / 255)
  }
  return { mean, std }
}

/** Lay out a complete cache file in memory (55 MB for Fashion-MNIST, 184 MB for CIFAR). */
export function encodeCache(c: CacheContents): Buffer {
  const { height: h, width: w, channels } = c
  const px = channels * h * w
  if (!Number.isInteger(channels) || channels < 1 || channels > CACHE_MAX_CHANNELS)
    throw new Error(`encodeCache: ${channels} channels (1 to ${CACHE_MAX_CHANNELS})`)
  if (c.train.images.length !== c.train.count * px || c.test.images.length !== c.test.count * px)
    throw new Error('encodeCache: image bytes do not match count × channels × height × width')
  if (c.train.labels.length !== c.train.count || c.test.labels.length !== c.test.count)
    throw new Error('encodeCache: label count does not match image count')
  const buf = Buffer.alloc(cacheFileSize(c.train.count, c.test.count, h, w, channels))
  buf.write(CACHE_MAGIC, 0, 'ascii')
  const fields = [CACHE_VERSION, c.train.count, c.test.count, h, w, c.numClasses]
  fields.forEach((v, i) => buf.writeUInt32LE(v, 8 + 4 * i))
  buf.writeUInt32LE(channels, 64)
  const stats = channelStats(c.train.images, c.train.count, channels, h * w)
  stats.mean.forEach((v, i) => buf.writeFloatLE(v, 72 + 4 * i))
  stats.std.forEach((v, i) => buf.writeFloatLE(v, 88 + 4 * i))
  buf.set(c.fingerprint.subarray(0, FINGERPRINT_BYTES), 104)
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
  const channels = file.readUInt32LE(64)
  if (channels < 1 || channels > CACHE_MAX_CHANNELS)
    return bad(`${channels} channels in its header (1 to ${CACHE_MAX_CHANNELS})`)
  const expected = cacheFileSize(trainCount, testCount, height, width, channels)
  if (file.length !== expected)
    return bad(
      `${file.length < expected ? 'truncated' : 'too long'}: ${file.length} bytes, expected ${expected}`,
    )
  if (!checksum(file).equals(file.subarray(32, 64))) return bad('checksum mismatch (corrupt)')

  // Views, not copies: the file buffer is allocated for this read alone, so nothing else
  // shares (or could overwrite) its memory.
  const view = (off: number, len: number): Uint8Array =>
    new Uint8Array(file.buffer, file.byteOffset + off, len)
  const px = channels * height * width
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
  const floats = (at: number): number[] =>
    Array.from({ length: channels }, (_, i) => file.readFloatLE(at + 4 * i))
  return {
    ok: true,
    contents: {
      channels,
      height,
      width,
      numClasses,
      train: { images: trainImages, labels: trainLabels, count: trainCount },
      test: { images: testImages, labels: testLabels, count: testCount },
      fingerprint: view(104, FINGERPRINT_BYTES),
      stats: { mean: floats(72), std: floats(88) },
    },
  }
}

/**
 * The largest cache file read or written: the format's own ceiling (uint32 counts aside, one
 * Buffer holds the whole file, and Node caps a Buffer at 4 GiB), far above Fashion-MNIST's 55 MB
 * and CIFAR's 184 MB.
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
      Math.min(header.readUInt32LE(64), CACHE_MAX_CHANNELS + 1),
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
