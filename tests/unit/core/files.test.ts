/**
 * writeFileSafely on a real, hostile file system: symlinks, FIFOs, device nodes, folders,
 * read-only mounts, a full disk. Each refusal must name the path and the fix, leave what was
 * there as it was, and leave no temporary file behind.
 */
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { FileWriteError, writeFileSafely, writeFilesSafely } from '@core/files'
import {
  canMount,
  leftovers,
  mkfifo,
  mknodChar,
  mountTmpfs,
  withoutRoot,
  type Mount,
} from '../../helpers/fs'

const dirs: string[] = []
const mounts: Mount[] = []
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'nin-lab-files-'))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const m of mounts.splice(0)) m.unmount()
})
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function writeError(fn: () => unknown): FileWriteError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(FileWriteError)
    return err as FileWriteError
  }
  throw new Error('expected a FileWriteError')
}

const mountable = canMount(join(tmpdir(), `nin-lab-mount-probe-${process.pid}`))

describe('writeFileSafely', () => {
  it('creates a file, replaces a regular file, and leaves no temporary file', () => {
    const dir = tempDir()
    const file = join(dir, 'report.html')
    writeFileSafely(file, 'first')
    writeFileSafely(file, 'second')
    expect(readFileSync(file, 'utf8')).toBe('second')
    expect(readdirSync(dir)).toEqual(['report.html'])
  })

  it('refuses a symlink, leaving the link and the file it points to as they were', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'precious.txt'), 'keep me')
    const link = join(dir, 'out.html')
    symlinkSync(join(dir, 'precious.txt'), link)
    const err = writeError(() => writeFileSafely(link, 'report'))
    expect(err.code).toBe('not-a-file')
    expect(err.message).toBe(
      `refusing to write ${link}: it is a symlink, and NiN Lab only replaces regular files; choose another path, or remove it first`,
    )
    expect(lstatSync(link).isSymbolicLink()).toBe(true)
    expect(readlinkSync(link)).toBe(join(dir, 'precious.txt'))
    expect(readFileSync(join(dir, 'precious.txt'), 'utf8')).toBe('keep me')
    expect(leftovers(dir)).toEqual([])
  })

  it('refuses a dangling symlink too (it would be replaced by a file)', () => {
    const dir = tempDir()
    const link = join(dir, 'out.html')
    symlinkSync(join(dir, 'nowhere'), link)
    expect(writeError(() => writeFileSafely(link, 'x')).code).toBe('not-a-file')
    expect(lstatSync(link).isSymbolicLink()).toBe(true)
  })

  it('refuses a FIFO without opening it (which would block) and leaves it a FIFO', () => {
    const dir = tempDir()
    const fifo = join(dir, 'pipe')
    expect(mkfifo(fifo)).toBe(true)
    const err = writeError(() => writeFileSafely(fifo, 'report'))
    expect(err.message).toContain('it is a FIFO (named pipe)')
    expect(lstatSync(fifo).isFIFO()).toBe(true)
    expect(leftovers(dir)).toEqual([])
  })

  it.skipIf(process.getuid?.() !== 0)(
    'refuses a device node (a /dev/full made with mknod) and leaves it a device',
    () => {
      const dir = tempDir()
      const device = join(dir, 'full')
      expect(mknodChar(device, 1, 7)).toBe(true)
      const err = writeError(() => writeFileSafely(device, 'report'))
      expect(err.message).toContain('it is a character device')
      expect(lstatSync(device).isCharacterDevice()).toBe(true)
      expect(statSync(device).rdev).toBe(statSync('/dev/full').rdev)
      expect(leftovers(dir)).toEqual([])
    },
  )

  it('refuses a folder, and a path that ends in a slash, naming the fix', () => {
    const dir = tempDir()
    mkdirSync(join(dir, 'reports'))
    const folder = writeError(() => writeFileSafely(join(dir, 'reports'), 'x'))
    expect(folder.message).toContain('it is a folder, and NiN Lab only replaces regular files')
    const slash = writeError(() => writeFileSafely(`${dir}/reports/`, 'x'))
    expect(slash.code).toBe('folder-path')
    expect(slash.message).toBe(
      `cannot write ${dir}/reports/: it names a folder (it ends in "/"); give a file name, e.g. ${join(dir, 'reports', 'report')}`,
    )
    expect(readdirSync(join(dir, 'reports'))).toEqual([])
    expect(leftovers(dir)).toEqual([])
  })

  it('says when the folder is missing, or a file is in its way', () => {
    const dir = tempDir()
    const missing = writeError(() => writeFileSafely(join(dir, 'no', 'such', 'r.html'), 'x'))
    expect(missing.code).toBe('no-folder')
    expect(missing.message).toContain(`the folder ${join(dir, 'no', 'such')} does not exist`)
    writeFileSync(join(dir, 'file'), '')
    const underFile = writeError(() =>
      writeFileSafely(join(dir, 'file', 'r.html'), 'x', { createFolder: true }),
    )
    expect(underFile.code).toBe('no-folder')
    expect(underFile.message).toContain('is a file, not a folder')
    writeFileSafely(join(dir, 'made', 'r.html'), 'x', { createFolder: true })
    expect(readFileSync(join(dir, 'made', 'r.html'), 'utf8')).toBe('x')
  })

  it('refuses a folder it may not write to, with the kernel checking (not as root)', () => {
    const dir = tempDir()
    chmodSync(dir, 0o755)
    const locked = join(dir, 'locked')
    mkdirSync(locked)
    writeFileSync(join(locked, 'old.html'), 'old')
    chmodSync(locked, 0o555)
    const err = withoutRoot(() =>
      writeError(() => writeFileSafely(join(locked, 'old.html'), 'new')),
    )
    expect(err.code).toBe('permission-denied')
    expect(err.message).toBe(
      `cannot write ${join(locked, 'old.html')}: permission denied in ${locked}; choose a folder you may write to, or fix its permissions`,
    )
    chmodSync(locked, 0o755)
    expect(readFileSync(join(locked, 'old.html'), 'utf8')).toBe('old')
    expect(readdirSync(locked)).toEqual(['old.html'])
  })

  it.skipIf(!mountable)('refuses a read-only file system (a tmpfs remounted ro)', () => {
    const mount = mountTmpfs(join(tempDir(), 'ro'), 256)
    if (!mount) throw new Error('mount failed after the probe worked')
    mounts.push(mount)
    writeFileSync(join(mount.dir, 'old.html'), 'old')
    mount.readOnly()
    const err = writeError(() => writeFileSafely(join(mount.dir, 'old.html'), 'new'))
    expect(err.code).toBe('read-only')
    expect(err.message).toContain(`${mount.dir} is on a read-only file system`)
    expect(readFileSync(join(mount.dir, 'old.html'), 'utf8')).toBe('old')
  })

  it.skipIf(!mountable)(
    'on a full disk (a 64 KiB tmpfs) keeps the old file whole and removes its temporary file',
    () => {
      const mount = mountTmpfs(join(tempDir(), 'full'), 64)
      if (!mount) throw new Error('mount failed after the probe worked')
      mounts.push(mount)
      const file = join(mount.dir, 'report.html')
      writeFileSync(file, 'the old report')
      const err = writeError(() => writeFileSafely(file, Buffer.alloc(1 << 20, 0x61)))
      expect(err.code).toBe('disk-full')
      expect(err.message).toBe(
        `cannot write ${file}: the disk holding ${mount.dir} is full (nothing was written); free some space or choose another folder`,
      )
      expect(readFileSync(file, 'utf8')).toBe('the old report')
      expect(readdirSync(mount.dir)).toEqual(['report.html'])
    },
  )

  it('writes several files all or none: one refused target means none is written', () => {
    const dir = tempDir()
    mkdirSync(join(dir, 'taken'))
    const err = writeError(() =>
      writeFilesSafely([
        { path: join(dir, 'a.csv'), data: 'a' },
        { path: join(dir, 'taken'), data: 'b' },
      ]),
    )
    expect(err.path).toBe(join(dir, 'taken'))
    expect(readdirSync(dir)).toEqual(['taken'])
  })
})
