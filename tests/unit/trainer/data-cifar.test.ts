// CIFAR-10 and CIFAR-100 in their official binary layout, from files the tests write: a folder
// of .bin files, the folder the archive unpacks to, the .tar.gz itself; labels (CIFAR-100 fine
// and coarse), the R, G, B plane order, the cache round trip, and every way the files can be
// damaged — truncated, corrupt, a size or a tar header claiming far too much.
import { mkdtempSync, readFileSync, rmSync, truncateSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import { CIFAR10_CLASS_NAMES, CIFAR100_COARSE_CLASS_NAMES, DataError } from '@trainer/data'
import { channelStats } from '@trainer/data/cache'
import { CIFAR_FILE_MAX_BYTES } from '@trainer/data/cifar'
import { loadFromSource, type SourceOptions } from '@trainer/data/source'
import { readTarEntries } from '@trainer/data/tar'
import {
  CIFAR_PLANE,
  cifar100Files,
  cifar10Files,
  cifarPixels,
  tarGzOf,
  tarHeader,
  tarOf,
  writeFiles,
} from '../../helpers/cifar'

const dirs: string[] = []
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'nin-cifar-'))
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const PER_BATCH = 40
const TEST = 60

const options = (path: string, over: Partial<SourceOptions> = {}): SourceOptions => ({
  dataset: 'cifar10',
  path,
  labels: 'fine',
  color: 'rgb',
  imageSize: 32,
  dataDir: tempDir(),
  ...over,
})

describe('CIFAR-10 binary version', () => {
  it('reads the six files: counts, labels, class names and the R, G, B planes of each image', async () => {
    const folder = writeFiles(join(tempDir(), 'c10'), cifar10Files(PER_BATCH, TEST))
    const { train, test } = await loadFromSource(options(folder))
    expect(train.count).toBe(5 * PER_BATCH)
    expect(test.count).toBe(TEST)
    expect(train.channels).toBe(3)
    expect([train.height, train.width, train.numClasses]).toEqual([32, 32, 10])
    expect(train.classNames).toEqual(CIFAR10_CLASS_NAMES)
    expect(Array.from(train.labels.subarray(0, 12))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1])
    // Image 123 (batch 4, record 3) in the training set and image 5·40 + 7 in the test set.
    for (const [ds, i, global] of [
      [train, 123, 123],
      [test, 7, 5 * PER_BATCH + 7],
    ] as const) {
      const img = ds.images.subarray(i * 3 * CIFAR_PLANE, (i + 1) * 3 * CIFAR_PLANE)
      expect(img[0]).toBe(global % 256) // red plane first
      expect(img[CIFAR_PLANE]).toBe(255 - (global % 256)) // then green
      expect(img[2 * CIFAR_PLANE + 32 * 5]).toBe(35) // blue: row 5 × 7
      expect(Buffer.from(img).equals(Buffer.from(cifarPixels(global)))).toBe(true)
    }
  })

  it('reads the .tar.gz as distributed, the folder holding it and the unpacked folder alike', async () => {
    const files = cifar10Files(PER_BATCH, TEST)
    const root = tempDir()
    const archive = join(root, 'cifar-10-binary.tar.gz')
    writeFileSync(archive, tarGzOf('cifar-10-batches-bin', files))
    const unpacked = join(tempDir(), 'download')
    writeFiles(join(unpacked, 'cifar-10-batches-bin'), files)
    const a = await loadFromSource(options(archive))
    const b = await loadFromSource(options(root))
    const c = await loadFromSource(options(unpacked))
    for (const other of [b, c]) {
      expect(Buffer.from(other.train.images).equals(Buffer.from(a.train.images))).toBe(true)
      expect(Buffer.from(other.test.labels).equals(Buffer.from(a.test.labels))).toBe(true)
    }
    expect(a.source).toMatch(/cifar10 archive .*cifar-10-binary\.tar\.gz/)
  })

  it('caches once: a second load reads the cache; changed files rebuild it', async () => {
    const folder = writeFiles(join(tempDir(), 'c10'), cifar10Files(PER_BATCH, TEST))
    const dataDir = tempDir()
    const first = await loadFromSource(options(folder, { dataDir }))
    expect(first.built).toBe(true)
    const again = await loadFromSource(options(folder, { dataDir }))
    expect(again.built).toBe(false)
    expect(again.cacheFile).toBe(first.cacheFile)
    expect(Buffer.from(again.train.images).equals(Buffer.from(first.train.images))).toBe(true)
    expect(again.stats).toEqual(first.stats)
    // The stored statistics are the training pixels' own, per channel.
    const direct = channelStats(first.train.images, first.train.count, 3, CIFAR_PLANE)
    expect(first.stats.mean).toEqual(direct.mean.map(Math.fround))
    expect(first.stats.std).toEqual(direct.std.map(Math.fround))
    // Replace the test batch (another size, a new time): the cache is rebuilt from the files.
    writeFileSync(
      join(folder, 'test_batch.bin'),
      cifar10Files(PER_BATCH, 20).get('test_batch.bin') as Buffer,
    )
    utimesSync(join(folder, 'test_batch.bin'), new Date(), new Date(Date.now() + 5_000))
    const logs: string[] = []
    const changed = await loadFromSource({
      ...options(folder, { dataDir }),
      log: (m) => logs.push(m),
    })
    expect(changed.built).toBe(true)
    expect(changed.test.count).toBe(20)
    expect(logs.join('\n')).toMatch(/out of date/)
  })

  it('a truncated batch names the file and the record size', async () => {
    const folder = writeFiles(join(tempDir(), 'c10'), cifar10Files(PER_BATCH, TEST))
    truncateSync(join(folder, 'data_batch_3.bin'), 3073 * 10 + 100)
    await expect(loadFromSource(options(folder))).rejects.toThrow(
      /data_batch_3\.bin is 30,830 bytes, not a whole number of 3,073-byte CIFAR-10 records.*truncated.*download cifar-10-binary\.tar\.gz again/,
    )
  })

  it('a label out of range, a missing batch and the Python version are clear errors', async () => {
    const files = cifar10Files(PER_BATCH, TEST)
    const bad = Buffer.from(files.get('data_batch_2.bin') as Buffer)
    bad[3073 * 4] = 10
    const folder = writeFiles(
      join(tempDir(), 'c10'),
      new Map([...files, ['data_batch_2.bin', bad]]),
    )
    await expect(loadFromSource(options(folder))).rejects.toThrow(
      /data_batch_2\.bin has label 10 in record 4, not below 10/,
    )
    const missing = new Map(files)
    missing.delete('data_batch_5.bin')
    const partial = writeFiles(join(tempDir(), 'c10'), missing)
    await expect(loadFromSource(options(partial))).rejects.toThrow(/lacks data_batch_5\.bin/)
    const python = writeFiles(join(tempDir(), 'py'), new Map([['data_batch_1', Buffer.alloc(10)]]))
    await expect(loadFromSource(options(python))).rejects.toThrow(DataError)
  })

  it('refuses a file claiming a billion images before allocating it', async () => {
    const folder = writeFiles(join(tempDir(), 'c10'), cifar10Files(PER_BATCH, TEST))
    // A sparse 3 TB file: its size says a billion records; nothing of it is ever read.
    truncateSync(join(folder, 'data_batch_1.bin'), 3073 * 1_000_000_000)
    const before = process.memoryUsage().rss
    await expect(loadFromSource(options(folder))).rejects.toThrow(
      /data_batch_1\.bin is 2\.8 TiB, more than the 1\.0 GiB a CIFAR-10 file can be/,
    )
    expect(process.memoryUsage().rss - before).toBeLessThan(CIFAR_FILE_MAX_BYTES / 4)
  })
})

describe('CIFAR-100 binary version', () => {
  it('reads fine labels by default and coarse ones when asked, with their class names', async () => {
    const folder = writeFiles(join(tempDir(), 'c100'), cifar100Files(300, 100))
    const fine = await loadFromSource(options(folder, { dataset: 'cifar100' }))
    const coarse = await loadFromSource(options(folder, { dataset: 'cifar100', labels: 'coarse' }))
    expect(fine.train.numClasses).toBe(100)
    expect(coarse.train.numClasses).toBe(20)
    expect(Array.from(fine.train.labels.subarray(0, 4))).toEqual([0, 7, 14, 21])
    expect(Array.from(coarse.train.labels.subarray(0, 4))).toEqual([0, 1, 2, 3])
    expect(fine.train.classNames[99]).toBe('worm')
    expect(coarse.train.classNames).toEqual(CIFAR100_COARSE_CLASS_NAMES)
    expect(fine.cacheFile).not.toBe(coarse.cacheFile)
    expect(Buffer.from(fine.test.images).equals(Buffer.from(coarse.test.images))).toBe(true)
    expect(fine.test.images[0]).toBe(300 % 256)
  })

  it('refuses a fine label of 100', async () => {
    const files = cifar100Files(50, 10)
    const bad = Buffer.from(files.get('test.bin') as Buffer)
    bad[3074 * 2 + 1] = 100
    const folder = writeFiles(join(tempDir(), 'c100'), new Map([...files, ['test.bin', bad]]))
    await expect(loadFromSource(options(folder, { dataset: 'cifar100' }))).rejects.toThrow(
      /test\.bin has label 100 in record 2, not below 100/,
    )
  })
})

describe('the tar.gz stream', () => {
  const files = cifar10Files(PER_BATCH, TEST)
  const want = (name: string): number | null => (name.endsWith('.bin') ? 1 << 30 : null)
  const read = (file: string): Promise<Map<string, Buffer>> =>
    readTarEntries(file, { want, maxTotalBytes: 1 << 30, where: 'data.path' })

  it('keeps only the wanted entries, byte for byte', async () => {
    const file = join(tempDir(), 'a.tar.gz')
    writeFileSync(file, tarGzOf('cifar-10-batches-bin', files))
    const got = await read(file)
    expect([...got.keys()].sort()).toEqual(
      [...files.keys()]
        .filter((n) => n.endsWith('.bin'))
        .map((n) => `cifar-10-batches-bin/${n}`)
        .sort(),
    )
    expect(
      got.get('cifar-10-batches-bin/test_batch.bin')?.equals(files.get('test_batch.bin') as Buffer),
    ).toBe(true)
  })

  it('a truncated archive, a corrupt header and a header claiming 8 GiB are clear errors', async () => {
    const whole = tarGzOf('cifar-10-batches-bin', files)
    const cut = join(tempDir(), 'cut.tar.gz')
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)))
    await expect(read(cut)).rejects.toThrow(/cut\.tar\.gz is truncated.*download it again/)

    const tar = tarOf('cifar-10-batches-bin', files)
    tar[512 + 10] = (tar[512 + 10] as number) ^ 0xff // the first file's name: its checksum no longer matches
    const corrupt = join(tempDir(), 'corrupt.tar.gz')
    writeFileSync(corrupt, gzipSync(tar))
    await expect(read(corrupt)).rejects.toThrow(/not a valid tar archive \(a header checksum fails/)

    // A header promising an 8 GiB data_batch_1.bin: refused from the header, nothing allocated.
    const huge = join(tempDir(), 'huge.tar.gz')
    writeFileSync(
      huge,
      gzipSync(
        Buffer.concat([tarHeader('x/data_batch_1.bin', 8 * 1024 ** 3 - 1), Buffer.alloc(4096)]),
      ),
    )
    await expect(read(huge)).rejects.toThrow(
      /holds x\/data_batch_1\.bin of 8\.0 GiB, more than the 1\.0 GiB/,
    )
  })

  it('stops a gzip bomb at the total it may expand to', async () => {
    const bomb = join(tempDir(), 'bomb.tar.gz')
    const body = Buffer.alloc(64 * 1024 ** 2) // zeros after a skipped entry's header
    writeFileSync(bomb, gzipSync(Buffer.concat([tarHeader('x/readme.html', body.length), body])))
    await expect(
      readTarEntries(bomb, { want, maxTotalBytes: 16 * 1024 ** 2, where: 'data.path' }),
    ).rejects.toThrow(/expands to more than 16\.0 MiB/)
  })

  it('a plain (not gzipped) tar reads too', async () => {
    const file = join(tempDir(), 'plain.tar')
    writeFileSync(file, tarOf('d', files))
    expect((await read(file)).get('d/data_batch_4.bin')?.length).toBe(3073 * PER_BATCH)
    expect(readFileSync(file).length % 512).toBe(0)
  })
})
