// An image folder (train/<class>/*.png|jpg, test/<class>/…) of images the tests encode with sharp:
// class names from the folder names, labels, RGB planes and grayscale, the resize into the
// cache, a damaged image, a layout it cannot use, and a folder whose count claims too much.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadFromSource, type SourceOptions } from '@trainer/data/source'

const dirs: string[] = []
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'nin-folder-'))
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** A solid-colour image of w × h in PNG or JPEG. */
const solid = (
  rgb: [number, number, number],
  format: 'png' | 'jpeg',
  w = 20,
  h = 12,
): Promise<Buffer> =>
  sharp({
    create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } },
  })
    [format]()
    .toBuffer()

// Class folders out of alphabetical order on purpose; 'Zebra' sorts before 'apple' by code point.
const COLOURS: Record<string, [number, number, number]> = {
  cat: [200, 30, 10],
  Zebra: [10, 220, 40],
  apple: [30, 40, 250],
}

async function makeFolder(perClass: number, testPerClass: number): Promise<string> {
  const root = tempDir()
  for (const [split, n] of [
    ['train', perClass],
    ['test', testPerClass],
  ] as const)
    for (const [name, rgb] of Object.entries(COLOURS)) {
      const dir = join(root, split, name)
      mkdirSync(dir, { recursive: true })
      for (let i = 0; i < n; i++) {
        const jpeg = i % 3 === 2
        writeFileSync(
          join(dir, `img${i}.${jpeg ? 'jpg' : 'png'}`),
          await solid(rgb, jpeg ? 'jpeg' : 'png'),
        )
      }
      writeFileSync(join(dir, 'notes.txt'), 'not an image')
      writeFileSync(join(dir, '.DS_Store'), 'hidden')
    }
  return root
}

const options = (path: string, over: Partial<SourceOptions> = {}): SourceOptions => ({
  dataset: 'folder',
  path,
  labels: 'fine',
  color: 'rgb',
  imageSize: 8,
  dataDir: tempDir(),
  ...over,
})

let folder: string
beforeAll(async () => {
  folder = await makeFolder(6, 2)
})

describe('image folder', () => {
  it('class names from the folders (code-point order), labels, RGB planes resized into the cache', async () => {
    const { train, test } = await loadFromSource(options(folder))
    expect(train.classNames).toEqual(['Zebra', 'apple', 'cat'])
    expect(train.count).toBe(18)
    expect(test.count).toBe(6)
    expect([train.channels, train.height, train.width, train.numClasses]).toEqual([3, 8, 8, 3])
    const plane = 64
    for (let i = 0; i < train.count; i++) {
      const rgb = COLOURS[train.classNames[train.labels[i] as number] as string] as number[]
      const img = train.images.subarray(i * 3 * plane, (i + 1) * 3 * plane)
      for (let c = 0; c < 3; c++) {
        const v = img[c * plane + 27] as number
        // PNG is exact; JPEG is lossy, within a few levels for a solid colour.
        expect(Math.abs(v - (rgb[c] as number))).toBeLessThanOrEqual(4)
      }
    }
  })

  it('grayscale: one channel of luma', async () => {
    const { train } = await loadFromSource(options(folder, { color: 'grayscale' }))
    expect(train.channels).toBe(1)
    // sharp's own grayscale of the colour: what the reader must have stored (JPEG within a few).
    const want = (
      await sharp(await solid(COLOURS.Zebra as [number, number, number], 'png'))
        .grayscale()
        .raw()
        .toBuffer()
    )[0] as number
    for (let i = 0; i < train.count; i++)
      if (train.labels[i] === 0)
        expect(Math.abs((train.images[i * 64 + 9] as number) - want)).toBeLessThanOrEqual(4)
    expect(want).toBeGreaterThan(10)
    expect(want).toBeLessThan(220)
  })

  it('a damaged image names the file and the fix', async () => {
    const root = await makeFolder(2, 1)
    writeFileSync(join(root, 'train', 'cat', 'img1.png'), Buffer.from('\x89PNG\r\n\x1a\n garbage'))
    await expect(loadFromSource(options(root))).rejects.toThrow(
      /train\/cat\/img1\.png is not a readable PNG or JPEG image .*remove it from the folder or replace it/,
    )
  })

  it('refuses a layout it cannot use: no test folder, a test class train lacks, one class', async () => {
    const noTest = await makeFolder(1, 1)
    rmSync(join(noTest, 'test'), { recursive: true })
    await expect(loadFromSource(options(noTest))).rejects.toThrow(/has no test\/ folder/)
    const extra = await makeFolder(1, 1)
    mkdirSync(join(extra, 'test', 'dog'))
    await expect(loadFromSource(options(extra))).rejects.toThrow(
      /class folder dog that train\/ lacks/,
    )
    const one = tempDir()
    mkdirSync(join(one, 'train', 'only'), { recursive: true })
    mkdirSync(join(one, 'test'))
    await expect(loadFromSource(options(one))).rejects.toThrow(/1 class folder; .*at least two/)
  })

  it('refuses, before decoding or allocating, more images than a cache can hold', async () => {
    const root = tempDir()
    const tiny = await solid([1, 2, 3], 'png', 1, 1)
    for (const split of ['train', 'test'])
      for (const c of ['a', 'b']) {
        const dir = join(root, split, c)
        mkdirSync(dir, { recursive: true })
        for (let i = 0; i < (split === 'train' ? 700 : 10); i++)
          writeFileSync(join(dir, `${i}.png`), tiny)
      }
    // 1,420 images at 1024 × 1024 × 3 would need 4.2 GiB of cache.
    await expect(loadFromSource(options(root, { imageSize: 1024 }))).rejects.toThrow(
      /holds 1,420 images; at 1024×1024×3 they need 4\.2 GiB, more than the 4\.0 GiB a dataset cache holds/,
    )
  })

  it('caches once; a new image rebuilds the cache', async () => {
    const root = await makeFolder(2, 1)
    const dataDir = tempDir()
    expect((await loadFromSource(options(root, { dataDir }))).built).toBe(true)
    expect((await loadFromSource(options(root, { dataDir }))).built).toBe(false)
    writeFileSync(join(root, 'train', 'apple', 'new.png'), await solid([1, 1, 1], 'png'))
    const again = await loadFromSource(options(root, { dataDir }))
    expect(again.built).toBe(true)
    expect(again.train.count).toBe(7)
  })
})
