/**
 * CIFAR files for tests, written by hand in the official binary layout (a label byte — two for
 * CIFAR-100: coarse, fine — then the red, green and blue 32×32 planes), and a tar writer (ustar
 * headers built here, byte by byte, not by the reader under test), so the readers are checked
 * against the format rather than against themselves. A few hundred synthetic images: never a
 * download.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'

export const CIFAR_PLANE = 32 * 32

/** The synthetic image i: red plane = i mod 256, green = 255 − that, blue = its row index × 7. */
export function cifarPixels(i: number): Uint8Array {
  const px = new Uint8Array(3 * CIFAR_PLANE)
  px.fill(i % 256, 0, CIFAR_PLANE)
  px.fill(255 - (i % 256), CIFAR_PLANE, 2 * CIFAR_PLANE)
  for (let p = 0; p < CIFAR_PLANE; p++) px[2 * CIFAR_PLANE + p] = (Math.floor(p / 32) * 7) % 256
  return px
}

/** Records for `count` images from `first`, labels given per image index. */
export function cifarRecords(
  first: number,
  count: number,
  labels: (i: number) => number[],
): Buffer {
  const parts: Buffer[] = []
  for (let i = first; i < first + count; i++)
    parts.push(Buffer.from(labels(i)), Buffer.from(cifarPixels(i)))
  return Buffer.concat(parts)
}

export const cifar10Label = (i: number): number[] => [i % 10]
export const cifar100Labels = (i: number): number[] => [i % 20, (i * 7) % 100]

/** The six CIFAR-10 files (five training batches of `perBatch`, a test batch of `test`). */
export function cifar10Files(perBatch: number, test: number): Map<string, Buffer> {
  const files = new Map<string, Buffer>()
  for (let b = 0; b < 5; b++)
    files.set(`data_batch_${b + 1}.bin`, cifarRecords(b * perBatch, perBatch, cifar10Label))
  files.set('test_batch.bin', cifarRecords(5 * perBatch, test, cifar10Label))
  files.set('batches.meta.txt', Buffer.from('airplane\nautomobile\n'))
  return files
}

export function cifar100Files(train: number, test: number): Map<string, Buffer> {
  return new Map([
    ['train.bin', cifarRecords(0, train, cifar100Labels)],
    ['test.bin', cifarRecords(train, test, cifar100Labels)],
  ])
}

export function writeFiles(folder: string, files: Map<string, Buffer>): string {
  mkdirSync(folder, { recursive: true })
  for (const [name, data] of files) writeFileSync(join(folder, name), data)
  return folder
}

/** One ustar header block for a regular file (or `type`), with its checksum. */
export function tarHeader(name: string, size: number, type = '0'): Buffer {
  const h = Buffer.alloc(512)
  h.write(name, 0, 100, 'utf8')
  h.write('0000644\0', 100, 'latin1')
  h.write('0000000\0', 108, 'latin1')
  h.write('0000000\0', 116, 'latin1')
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1')
  h.write('14712345670\0', 136, 'latin1')
  h.write(type, 156, 'latin1')
  h.write('ustar\0', 257, 'latin1')
  h.write('00', 263, 'latin1')
  h.fill(0x20, 148, 156)
  let sum = 0
  for (const b of h) sum += b
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1')
  return h
}

/** A tar archive of the files under `folder/` (a folder entry first, as tar writes it). */
export function tarOf(folder: string, files: Map<string, Buffer>): Buffer {
  const parts: Buffer[] = [tarHeader(`${folder}/`, 0, '5')]
  for (const [name, data] of files) {
    parts.push(tarHeader(`${folder}/${name}`, data.length), data)
    const pad = (512 - (data.length % 512)) % 512
    if (pad) parts.push(Buffer.alloc(pad))
  }
  parts.push(Buffer.alloc(1024))
  return Buffer.concat(parts)
}

export const tarGzOf = (folder: string, files: Map<string, Buffer>): Buffer =>
  gzipSync(tarOf(folder, files))
