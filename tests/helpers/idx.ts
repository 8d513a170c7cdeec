/**
 * IDX files for tests, written by hand (big-endian headers, as in the official format), so the
 * readers are checked against the format rather than against themselves; and gzip streams of
 * zeros, for bombs that cost the test almost nothing.
 */
import { createWriteStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { createGzip } from 'node:zlib'

export const IDX_NAMES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const

export function idxImages(
  images: Uint8Array,
  count: number,
  rows: number,
  cols: number,
  magic = 2051,
): Buffer {
  const header = Buffer.alloc(16)
  header.writeUInt32BE(magic, 0)
  header.writeUInt32BE(count, 4)
  header.writeUInt32BE(rows, 8)
  header.writeUInt32BE(cols, 12)
  return Buffer.concat([header, images])
}

export function idxLabels(labels: Uint8Array, magic = 2049): Buffer {
  const header = Buffer.alloc(8)
  header.writeUInt32BE(magic, 0)
  header.writeUInt32BE(labels.length, 4)
  return Buffer.concat([header, labels])
}

/**
 * A gzip file whose stream starts with `head` and goes on with `zeros` zero bytes: a gzip bomb
 * when zeros is large (deflate turns 1 MB of zeros into about 1 KB), written as a stream so the
 * test never holds the inflated bytes itself.
 */
export async function gzipWithZeros(file: string, head: Buffer, zeros: number): Promise<void> {
  async function* content(): AsyncGenerator<Buffer> {
    yield head
    const chunk = Buffer.alloc(1 << 20)
    for (let left = zeros; left > 0; left -= chunk.length)
      yield left >= chunk.length ? chunk : chunk.subarray(0, left)
  }
  await pipeline(content, createGzip({ level: 9 }), createWriteStream(file))
}
