import { execFileSync } from 'node:child_process'
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DataError, loadDatasets, loadIdxFolder } from '@trainer/data'
import { findFashionMnistPackage } from '@trainer/data/embedded'
import { IDX_MAX_BYTES } from '@trainer/data/idx'
import { IDX_NAMES, gzipWithZeros, idxImages, idxLabels } from '../../helpers/idx'

interface Slice {
  images: Uint8Array
  labels: Uint8Array
  count: number
}

// 300 train and 100 test images taken from two classes of the package (classes 1 and 7 are
// the smallest JSON files; reading them costs ~0.2 s).
let train: Slice
let test: Slice
const dirs: string[] = []
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'nin-idx-'))
  dirs.push(d)
  return d
}

beforeAll(() => {
  const pkg = findFashionMnistPackage()
  const pick = (c: number, from: number, n: number): number[][] =>
    (
      JSON.parse(readFileSync(join(pkg.dir, 'src', 'clothes', `${c}.json`), 'utf8')) as {
        data: number[][]
      }
    ).data.slice(from, from + n)
  const slice = (parts: [number, number[][]][]): Slice => {
    const rows = parts.flatMap(([c, imgs]) => imgs.map((img) => [c, img] as const))
    return {
      images: Uint8Array.from(rows.flatMap(([, img]) => img)),
      labels: Uint8Array.from(rows.map(([c]) => c)),
      count: rows.length,
    }
  }
  train = slice([
    [1, pick(1, 0, 150)],
    [7, pick(7, 0, 150)],
  ])
  test = slice([
    [1, pick(1, 200, 50)],
    [7, pick(7, 200, 50)],
  ])
})

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

type Files = Record<'trainImages' | 'trainLabels' | 'testImages' | 'testLabels', Buffer>

function validFiles(): Files {
  return {
    trainImages: idxImages(train.images, train.count, 28, 28),
    trainLabels: idxLabels(train.labels),
    testImages: idxImages(test.images, test.count, 28, 28),
    testLabels: idxLabels(test.labels),
  }
}

const NAMES = IDX_NAMES

function writeFolder(
  files: Files,
  gz: boolean,
  tweak?: (name: string, data: Buffer) => Buffer,
): string {
  const dir = tempDir()
  for (const key of Object.keys(NAMES) as (keyof Files)[]) {
    const raw = files[key]
    const data = gz ? gzipSync(raw) : raw
    const name = NAMES[key] + (gz ? '.gz' : '')
    writeFileSync(join(dir, name), tweak ? tweak(name, data) : data)
  }
  return dir
}

describe('IDX loader', () => {
  for (const gz of [false, true]) {
    it(`reads ${gz ? 'gzipped' : 'raw'} IDX files back exactly`, async () => {
      const dir = writeFolder(validFiles(), gz)
      const {
        train: tr,
        test: te,
        source,
      } = await loadDatasets({ dataset: 'fashion-mnist', path: dir, dataDir: dir })
      expect(tr.count).toBe(300)
      expect(te.count).toBe(100)
      expect([tr.height, tr.width, tr.numClasses]).toEqual([28, 28, 10])
      expect(Buffer.from(tr.images).equals(Buffer.from(train.images))).toBe(true)
      expect(Buffer.from(tr.labels).equals(Buffer.from(train.labels))).toBe(true)
      expect(Buffer.from(te.images).equals(Buffer.from(test.images))).toBe(true)
      expect(Buffer.from(te.labels).equals(Buffer.from(test.labels))).toBe(true)
      expect(tr.classNames[7]).toBe('Sneaker')
      expect(source).toContain(dir)
    })
  }

  it('names MNIST classes 0–9 when told the files are MNIST', async () => {
    const dir = writeFolder(validFiles(), false)
    const { train: tr } = await loadIdxFolder(dir, 'mnist')
    expect(tr.name).toBe('mnist')
    expect(tr.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'])
  })

  it('accepts a .gz name whose content was already decompressed (browser downloads)', async () => {
    const dir = tempDir()
    const files = validFiles()
    for (const key of Object.keys(NAMES) as (keyof Files)[])
      writeFileSync(join(dir, `${NAMES[key]}.gz`), files[key])
    const { train: tr } = await loadIdxFolder(dir, 'fashion-mnist')
    expect(tr.count).toBe(300)
  })

  it('reports a missing folder', async () => {
    const missing = join(tempDir(), 'nope')
    await expect(loadIdxFolder(missing, 'fashion-mnist')).rejects.toThrow(
      `data.path: folder ${missing} does not exist`,
    )
  })

  it('reports a file given instead of a folder', async () => {
    const dir = writeFolder(validFiles(), false)
    await expect(loadIdxFolder(join(dir, NAMES.trainImages), 'fashion-mnist')).rejects.toThrow(
      /is a file, not a folder/,
    )
  })

  it('reports a missing file by name', async () => {
    const dir = tempDir()
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, NAMES.trainImages), validFiles().trainImages)
    await expect(loadIdxFolder(dir, 'fashion-mnist')).rejects.toThrow(
      `data.path: ${dir} has no train-labels-idx1-ubyte or train-labels-idx1-ubyte.gz`,
    )
  })

  it('rejects a wrong magic number, naming the file', async () => {
    const files = validFiles()
    files.testImages = idxImages(test.images, test.count, 28, 28, 0x12345678)
    const dir = writeFolder(files, true)
    const err = await loadIdxFolder(dir, 'fashion-mnist').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DataError)
    expect((err as Error).message).toContain(
      `${join(dir, NAMES.testImages)}.gz has magic number 305419896`,
    )
    expect((err as Error).message).toContain('expected 2051')
  })

  it('spots label and image files swapped', async () => {
    const files = validFiles()
    const dir = writeFolder(
      { ...files, trainImages: files.trainLabels, trainLabels: files.trainImages },
      false,
    )
    await expect(loadIdxFolder(dir, 'fashion-mnist')).rejects.toThrow(/named the wrong way round/)
  })

  it('reports a truncated .gz with the byte counts', async () => {
    const dir = writeFolder(validFiles(), true, (name, data) =>
      name.startsWith('train-images') ? data.subarray(0, Math.floor(data.length / 2)) : data,
    )
    const err = await loadIdxFolder(dir, 'fashion-mnist').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DataError)
    const msg = (err as Error).message
    expect(msg).toContain(`data.path: ${join(dir, NAMES.trainImages)}.gz is truncated`)
    expect(msg).toContain(`expected ${(16 + 300 * 784).toLocaleString('en-US')}`)
    expect(msg).toContain('download it again')
  })

  it('reports a complete .gz whose content is shorter than its header says', async () => {
    const files = validFiles()
    files.trainImages = files.trainImages.subarray(0, 1_000)
    const dir = writeFolder(files, true)
    await expect(loadIdxFolder(dir, 'fashion-mnist')).rejects.toThrow(
      `data.path: ${join(dir, NAMES.trainImages)}.gz is truncated (the header says 300 images of 28×28: ` +
        'expected 235,216 bytes after gunzip, got 1,000); download it again',
    )
  })

  it('reports a raw file with bytes after the data', async () => {
    const files = validFiles()
    files.testLabels = Buffer.concat([files.testLabels, Buffer.alloc(3)])
    const dir = writeFolder(files, false)
    await expect(loadIdxFolder(dir, 'fashion-mnist')).rejects.toThrow(
      /t10k-labels-idx1-ubyte is too long/,
    )
  })

  it('rejects garbage that only looks gzipped', async () => {
    const dir = writeFolder(validFiles(), true, (name, data) =>
      name.startsWith('t10k-labels')
        ? Buffer.concat([data.subarray(0, 10), Buffer.alloc(50, 0xff)])
        : data,
    )
    await expect(loadIdxFolder(dir, 'fashion-mnist')).rejects.toThrow(DataError)
  })

  it('rejects image and label counts that disagree', async () => {
    const files = validFiles()
    files.trainLabels = idxLabels(train.labels.subarray(0, 299))
    const dir = writeFolder(files, false)
    await expect(loadIdxFolder(dir, 'fashion-mnist')).rejects.toThrow(
      /holds 300 images but .*train-labels-idx1-ubyte holds 299 labels/,
    )
  })

  it('rejects labels of 10 or more', async () => {
    const files = validFiles()
    const labels = Uint8Array.from(test.labels)
    labels[42] = 10
    files.testLabels = idxLabels(labels)
    const dir = writeFolder(files, false)
    await expect(loadIdxFolder(dir, 'fashion-mnist')).rejects.toThrow(
      /has label 10 at index 42; labels must be 0–9/,
    )
  })

  it('rejects train and test images of different sizes', async () => {
    const files = validFiles()
    files.testImages = idxImages(new Uint8Array(100 * 14 * 14), 100, 14, 14)
    const dir = writeFolder(files, false)
    await expect(loadIdxFolder(dir, 'fashion-mnist')).rejects.toThrow(
      /train images .* are 28×28 but test images are 14×14/,
    )
  })
})

// A data file that is not what it claims must be refused at once, before it costs memory or
// hangs the trainer: each case below used to read until the machine ran out of memory (a
// device, a bomb), block forever (a FIFO), or was refused only after inflating everything.
describe('IDX loader: every read bounded', () => {
  const imagesHeader = (count: number, rows = 28, cols = 28): Buffer =>
    idxImages(new Uint8Array(0), count, rows, cols)

  it('refuses a link to /dev/zero, naming the file and what it is', async () => {
    const dir = writeFolder(validFiles(), false)
    const file = join(dir, NAMES.trainImages)
    rmSync(file)
    symlinkSync('/dev/zero', file)
    await expect(loadIdxFolder(dir, 'fashion-mnist')).rejects.toThrow(
      `data.path: ${file} is a character device, not a regular file; it must be the IDX file ` +
        'itself (or a link to one), not a pipe or device',
    )
  })

  it('refuses a FIFO without waiting for a writer', async () => {
    const dir = writeFolder(validFiles(), false)
    const file = join(dir, NAMES.testLabels)
    rmSync(file)
    execFileSync('mkfifo', [file])
    await expect(loadIdxFolder(dir, 'fashion-mnist')).rejects.toThrow(
      `data.path: ${file} is a FIFO (named pipe), not a regular file`,
    )
  })

  it('refuses a directory where a file should be', async () => {
    const dir = writeFolder(validFiles(), false)
    const file = join(dir, NAMES.trainLabels)
    rmSync(file)
    mkdirSync(file)
    await expect(loadIdxFolder(dir, 'fashion-mnist')).rejects.toThrow(
      new RegExp(`data\\.path: ${file} is a directory`),
    )
  })

  it('stops a gzip bomb as soon as it yields more than its header promised', async () => {
    const dir = writeFolder(validFiles(), true)
    const file = join(dir, `${NAMES.trainImages}.gz`)
    // The header promises 300 images (235,216 bytes); the stream holds 64 MB more.
    await gzipWithZeros(file, validFiles().trainImages, 64 * 1024 ** 2)
    expect(statSync(file).size).toBeLessThan(1024 ** 2)
    const before = process.memoryUsage().arrayBuffers
    await expect(loadIdxFolder(dir, 'fashion-mnist')).rejects.toThrow(
      `data.path: ${file} is too long (the header says 300 images of 28×28: expected 235,216 ` +
        'bytes after gunzip, got more than 235,216); download it again',
    )
    // Buffers held after the refusal: far below the bomb's 64 MB (nothing of it was kept).
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(32 * 1024 ** 2)
  })

  for (const gz of [false, true]) {
    it(`refuses a header claiming 10^9 images before reading further (${gz ? 'gzipped' : 'raw'})`, async () => {
      const dir = writeFolder(validFiles(), gz)
      const file = join(dir, NAMES.trainImages + (gz ? '.gz' : ''))
      // Behind the header: 8 MB of zeros (a few KB gzipped), not the 784 GB it claims.
      if (gz) await gzipWithZeros(file, imagesHeader(1_000_000_000), 8 * 1024 ** 2)
      else writeFileSync(file, Buffer.concat([imagesHeader(1_000_000_000), Buffer.alloc(8 << 20)]))
      await expect(loadIdxFolder(dir, 'fashion-mnist')).rejects.toThrow(
        `data.path: ${file} cannot be read: the header says 1,000,000,000 images of 28×28, ` +
          `730.2 GiB, more than the ${(IDX_MAX_BYTES / 1024 ** 3).toFixed(1)} GiB NiN Lab reads ` +
          'from one IDX file; the header is corrupt or the file is not an MNIST-style dataset: ' +
          'download it again',
      )
    })
  }

  it('reports a raw file cut short, with the byte counts, before reading it', async () => {
    const dir = writeFolder(validFiles(), false, (name, data) =>
      name.startsWith('train-images') ? data.subarray(0, 5_000) : data,
    )
    await expect(loadIdxFolder(dir, 'fashion-mnist')).rejects.toThrow(
      `data.path: ${join(dir, NAMES.trainImages)} is truncated (the header says 300 images of ` +
        '28×28: expected 235,216 bytes, got 5,000); download it again',
    )
  })

  it('reports a file shorter than its header', async () => {
    const dir = writeFolder(validFiles(), false, (name, data) =>
      name.startsWith('train-labels') ? data.subarray(0, 6) : data,
    )
    await expect(loadIdxFolder(dir, 'fashion-mnist')).rejects.toThrow(
      `data.path: ${join(dir, NAMES.trainLabels)} is truncated (6 bytes: a label header is 8 ` +
        'bytes); download it again',
    )
  })

  it('stops reading when its signal is aborted', async () => {
    const dir = writeFolder(validFiles(), true)
    const stop = new AbortController()
    stop.abort(new Error('stop requested'))
    await expect(loadIdxFolder(dir, 'fashion-mnist', { signal: stop.signal })).rejects.toThrow(
      'stop requested',
    )
  })
})
