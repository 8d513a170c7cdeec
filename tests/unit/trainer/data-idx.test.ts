import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DataError, loadDatasets, loadIdxFolder } from '@trainer/data'
import { findFashionMnistPackage } from '@trainer/data/embedded'

// IDX files are written here by hand (big-endian headers, as in the official format) from a
// slice of the real data, so the reader is checked against the format, not against itself.
function idxImages(
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

function idxLabels(labels: Uint8Array, magic = 2049): Buffer {
  const header = Buffer.alloc(8)
  header.writeUInt32BE(magic, 0)
  header.writeUInt32BE(labels.length, 4)
  return Buffer.concat([header, labels])
}

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

const NAMES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const

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
