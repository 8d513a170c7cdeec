// `nin-lab export --out` against what can be at a path: symlinks, a FIFO, a device node, a
// folder, a trailing slash, a read-only file system, a full disk. Each is a real file-system
// object (tmpfs mounts and mknod need root, as the test machines run; they skip, saying so,
// elsewhere). Every refusal is one clear line (no stack trace), leaves the thing at the path as it
// was, and leaves no temporary file. The runs are queued, not trained: a report of queued runs
// has every table, and that is all these checks need.
import {
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
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, runCli } from '../helpers/cli'
import { canMount, leftovers, mkfifo, mknodChar, mountTmpfs, type Mount } from '../helpers/fs'

let dataDir: string
let ids: string[]
const dirs: string[] = []
const mounts: Mount[] = []
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'nin-lab-export-files-'))
  dirs.push(dir)
  return dir
}
const mountable = canMount(join(tmpdir(), `nin-lab-mount-probe-${process.pid}`))
const isRoot = process.getuid?.() === 0

beforeAll(() => {
  assertBuilt()
  dataDir = tempDir()
  const add = runCli([
    'queue',
    'add',
    '--preset',
    'small-28',
    '--data-dir',
    dataDir,
    '--json',
    '--grid',
    'model.microConvs=1,2',
  ])
  expect(add.status, add.stderr).toBe(0)
  ids = (JSON.parse(add.stdout) as { added: { id: string }[] }).added.map((r) => r.id)
})
afterEach(() => {
  for (const m of mounts.splice(0)) m.unmount()
})
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const exportTo = (out: string, format = 'html'): ReturnType<typeof runCli> =>
  runCli(['export', ...ids, '--format', format, '--out', out, '--data-dir', dataDir])

/** Writes `file` until the disk is full (the part that fit stays). */
function fillDisk(file: string): void {
  try {
    writeFileSync(file, Buffer.alloc(1 << 20))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
    return
  }
  throw new Error(`${file}: the disk did not fill up`)
}

/** One line naming the path, no stack trace, a non-zero exit. */
function expectRefusal(r: ReturnType<typeof runCli>, message: string): void {
  expect(r.status, r.stdout).not.toBe(0)
  expect(r.stderr).toBe(`nin-lab export: ${message}\n`)
}

describe('nin-lab export --out only ever replaces a regular file', () => {
  it('writes and then replaces a regular file, with nothing else left in the folder', () => {
    const dir = tempDir()
    const out = join(dir, 'report.html')
    expect(exportTo(out).status).toBe(0)
    writeFileSync(out, 'stale')
    const again = exportTo(out)
    expect(again.status, again.stderr).toBe(0)
    expect(readFileSync(out, 'utf8')).toContain('<!doctype html>')
    expect(readdirSync(dir)).toEqual(['report.html'])
  })

  it('refuses a symlink: the link and the file it points to stay as they were', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'notes.txt'), 'my notes')
    const out = join(dir, 'report.html')
    symlinkSync(join(dir, 'notes.txt'), out)
    expectRefusal(
      exportTo(out),
      `refusing to write ${out}: it is a symlink, and NiN Lab only replaces regular files; choose another path, or remove it first`,
    )
    expect(readlinkSync(out)).toBe(join(dir, 'notes.txt'))
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('my notes')
    expect(leftovers(dir)).toEqual([])
  })

  it('refuses a symlink to /dev/null', () => {
    const dir = tempDir()
    const out = join(dir, 'report.json')
    symlinkSync('/dev/null', out)
    expect(exportTo(out, 'json').stderr).toContain('it is a symlink')
    expect(readlinkSync(out)).toBe('/dev/null')
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true)
    expect(leftovers(dir)).toEqual([])
  })

  it('refuses a FIFO, which stays a FIFO', () => {
    const dir = tempDir()
    const out = join(dir, 'report.md')
    expect(mkfifo(out)).toBe(true)
    expect(exportTo(out, 'md').stderr).toContain('it is a FIFO (named pipe)')
    expect(lstatSync(out).isFIFO()).toBe(true)
    // Neither the Markdown nor any chart PNG was written beside it.
    expect(readdirSync(dir)).toEqual(['report.md'])
  })

  it.skipIf(!isRoot)('refuses a device node like /dev/full (made with mknod)', () => {
    const dir = tempDir()
    const out = join(dir, 'full')
    expect(mknodChar(out, 1, 7)).toBe(true)
    expectRefusal(
      exportTo(out),
      `refusing to write ${out}: it is a character device, and NiN Lab only replaces regular files; choose another path, or remove it first`,
    )
    expect(lstatSync(out).isCharacterDevice()).toBe(true)
    expect(leftovers(dir)).toEqual([])
  })

  it('refuses a folder and a path ending in a slash, with the fix', () => {
    const dir = tempDir()
    mkdirSync(join(dir, 'reports'))
    expect(exportTo(join(dir, 'reports')).stderr).toContain(
      'it is a folder, and NiN Lab only replaces regular files',
    )
    expectRefusal(
      exportTo(`${dir}/reports/`),
      `cannot write ${dir}/reports/: it names a folder (it ends in "/"); give a file name, e.g. ${join(dir, 'reports', 'report')}`,
    )
    expect(readdirSync(join(dir, 'reports'))).toEqual([])
    expect(leftovers(dir)).toEqual([])
  })

  it.skipIf(!mountable)('says so on a read-only file system (a tmpfs remounted ro)', () => {
    const mount = mountTmpfs(join(tempDir(), 'ro'), 256)
    if (!mount) throw new Error('mount failed after the probe worked')
    mounts.push(mount)
    mount.readOnly()
    const out = join(mount.dir, 'report.csv')
    expectRefusal(
      exportTo(out, 'csv'),
      `cannot write ${out}: ${mount.dir} is on a read-only file system; choose a folder on a writable disk`,
    )
    expect(readdirSync(mount.dir)).toEqual([])
  })

  it.skipIf(!mountable)(
    'says so on a full disk (a filled tmpfs), keeps the old report, no temporary file',
    () => {
      const mount = mountTmpfs(join(tempDir(), 'full'), 64)
      if (!mount) throw new Error('mount failed after the probe worked')
      mounts.push(mount)
      const out = join(mount.dir, 'report.html')
      writeFileSync(out, 'the old report')
      fillDisk(join(mount.dir, 'filler'))
      expectRefusal(
        exportTo(out),
        `cannot write ${out}: the disk holding ${mount.dir} is full (nothing was written); free some space or choose another folder`,
      )
      expect(readFileSync(out, 'utf8')).toBe('the old report')
      expect(readdirSync(mount.dir).sort()).toEqual(['filler', 'report.html'])
    },
  )
})
