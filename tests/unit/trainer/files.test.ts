// The trainer's file rules (src/trainer/files.ts, checksums.ts) on real files in a temp folder.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { SUMS_FILE, verifySums, writeSums } from '@trainer/checksums'
import { diskFullMessage, readRegularFile, writeFileAtomic } from '@trainer/files'

const dirs: string[] = []
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'nin-files-'))
  dirs.push(d)
  return d
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

describe('writeFileAtomic', () => {
  it('replaces the file whole and leaves no temp file', async () => {
    const dir = tempDir()
    const file = join(dir, 'a.bin')
    writeFileSync(file, 'old')
    await writeFileAtomic(file, 'new contents')
    expect(readFileSync(file, 'utf8')).toBe('new contents')
    expect(readdirSync(dir)).toEqual(['a.bin'])
  })

  it('fails without touching anything when it cannot write', async () => {
    const dir = tempDir()
    await expect(writeFileAtomic(join(dir, 'missing', 'a.bin'), 'x')).rejects.toThrow(/ENOENT/)
    expect(readdirSync(dir)).toEqual([])
  })
})

describe('readRegularFile', () => {
  it('refuses a file larger than the caller allows before reading it', async () => {
    const file = join(tempDir(), 'big.json')
    writeFileSync(file, Buffer.alloc(2048))
    await expect(readRegularFile(file, 1024)).rejects.toThrow(
      `${file} is 2.0 KiB, more than the 1.0 KiB such a file can hold`,
    )
    expect((await readRegularFile(file, 2048)).length).toBe(2048)
  })

  it('refuses a FIFO and a directory, naming what they are', async () => {
    const dir = tempDir()
    execFileSync('mkfifo', [join(dir, 'pipe')])
    await expect(readRegularFile(join(dir, 'pipe'), 1024)).rejects.toThrow(
      `${join(dir, 'pipe')} is a FIFO (named pipe), not a regular file`,
    )
    await expect(readRegularFile(dir, 1024)).rejects.toThrow(`${dir} is a directory`)
  })
})

describe('SHA256SUMS', () => {
  const folder = (): string => {
    const dir = tempDir()
    writeFileSync(join(dir, 'weights.bin'), Buffer.from([1, 2, 3, 4]))
    writeFileSync(join(dir, 'checkpoint.json'), '{"epoch":1}')
    return dir
  }

  it('is what coreutils writes, and verifies a sound folder', async () => {
    const dir = folder()
    await writeSums(dir)
    expect(readFileSync(join(dir, SUMS_FILE), 'utf8')).toBe(
      execFileSync('sha256sum', ['checkpoint.json', 'weights.bin'], { cwd: dir, encoding: 'utf8' }),
    )
    expect(await verifySums(dir)).toBeNull()
  })

  it('names a changed byte, a missing file, an unlisted file, and a folder never completed', async () => {
    const changed = folder()
    await writeSums(changed)
    writeFileSync(join(changed, 'weights.bin'), Buffer.from([1, 2, 3, 5]))
    expect(await verifySums(changed)).toBe(
      'weights.bin does not match its sha256 in SHA256SUMS (the file is damaged)',
    )

    const missing = folder()
    await writeSums(missing)
    rmSync(join(missing, 'weights.bin'))
    expect(await verifySums(missing)).toBe('weights.bin is missing')

    const extra = folder()
    await writeSums(extra)
    writeFileSync(join(extra, 'stray.bin'), 'x')
    expect(await verifySums(extra)).toBe('stray.bin is not in its SHA256SUMS')

    const unfinished = folder()
    expect(await verifySums(unfinished)).toBe('it has no SHA256SUMS (it was never completed)')
    mkdirSync(join(unfinished, SUMS_FILE))
    expect(await verifySums(unfinished)).toMatch(
      /^its SHA256SUMS is unreadable \(.* is a directory/,
    )
  })
})

describe('diskFullMessage', () => {
  it('says where a retried run resumes', () => {
    expect(diskFullMessage('/d/run/checkpoints', 3)).toBe(
      'the disk holding /d/run/checkpoints is full: free space and retry the run; it resumes from epoch 3',
    )
    expect(diskFullMessage('/d/run/checkpoints', 0)).toBe(
      'the disk holding /d/run/checkpoints is full: free space and retry the run; it starts from the beginning (there is no checkpoint yet)',
    )
    expect(diskFullMessage('/d/datasets')).toBe(
      'the disk holding /d/datasets is full: free space and retry the run',
    )
  })
})
