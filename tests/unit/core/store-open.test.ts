/**
 * RunStore.open on what a night of bad luck leaves behind: a data folder that is a dangling or
 * looping symlink, a database truncated to 0 bytes or deleted beside its runs/, damaged pages
 * in the tables every command reads, and a data folder NiN Lab may only read (a read-only
 * mount; another user's folder). Real files, a real tmpfs mount where the machine allows one.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  closeSync,
  readdirSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeSync,
  chmodSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { DB_FILE, RunStore, StoreError } from '@core/store'
import { canMount, mountTmpfs, withoutRoot, type Mount } from '../../helpers/fs'
import { cleanUp, config, tempDir } from './store-helpers'

const stores: RunStore[] = []
const mounts: Mount[] = []
afterEach(() => {
  for (const s of stores.splice(0)) s.close()
  for (const m of mounts.splice(0)) m.unmount()
  cleanUp()
})
const keep = (store: RunStore): RunStore => {
  stores.push(store)
  return store
}
const mountable = canMount(join(tmpdir(), `nin-lab-mount-probe-${process.pid}`))

function storeError(fn: () => unknown): StoreError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(StoreError)
    return err as StoreError
  }
  throw new Error('expected a StoreError')
}

/** A data folder with `n` queued runs and a run folder for the first (as a started run has). */
function dataWithRuns(dir: string, n = 18): string[] {
  const store = RunStore.open(dir)
  const configs = Array.from({ length: n }, (_, i) => config(`r${i}`, { dropout: i / 100 }))
  const ids = store.addRuns('overnight', configs).added.map((r) => r.id)
  mkdirSync(store.runDir(ids[0]!), { recursive: true })
  store.close()
  return ids
}

describe('the data folder path', () => {
  it('a symlink that loops is named as such, read-write and read-only', () => {
    const base = tempDir()
    const loop = join(base, 'data')
    symlinkSync(loop, loop)
    for (const readonly of [false, true]) {
      const err = storeError(() => RunStore.open(loop, { readonly }))
      expect(err.code).toBe('cannot-open')
      expect(err.message).toBe(
        `cannot use ${loop} as the data folder: it is a symlink that loops back on itself (ELOOP); point it at a real folder, or use another --data-dir`,
      )
    }
  })

  it('a dangling symlink names the folder it points to', () => {
    const base = tempDir()
    const link = join(base, 'data')
    symlinkSync(join(base, 'unmounted-disk', 'nin-lab'), link)
    const err = storeError(() => RunStore.open(link))
    expect(err.message).toBe(
      `cannot use ${link} as the data folder: it is a symlink to ${join(base, 'unmounted-disk', 'nin-lab')}, which does not exist; create that folder (or restore the disk it was on), or use another --data-dir`,
    )
    expect(existsSync(join(base, 'unmounted-disk'))).toBe(false)
  })

  it('a symlink to a real folder is fine', () => {
    const base = tempDir()
    mkdirSync(join(base, 'real'))
    symlinkSync(join(base, 'real'), join(base, 'data'))
    keep(RunStore.open(join(base, 'data'))).addRuns('e', [config('a')])
    expect(readdirSync(join(base, 'real'))).toContain(DB_FILE)
  })
})

describe('a lost database beside its runs', () => {
  it('a 0-byte nin-lab.db beside run folders is refused, and nothing is changed', () => {
    const dir = tempDir()
    const [first] = dataWithRuns(dir)
    truncateSync(join(dir, DB_FILE), 0)
    const err = storeError(() => RunStore.open(dir))
    expect(err.code).toBe('lost')
    expect(err.message).toBe(
      `${join(dir, DB_FILE)} is empty (0 bytes or no tables), but ${join(dir, 'runs')} holds 1 run folder (e.g. ${first}): the database that listed them is lost. Restore nin-lab.db from a backup; or, to start a new database, first move the runs folder aside (e.g. mv ${join(dir, 'runs')} ${join(dir, 'runs')}.orphaned). NiN Lab changed nothing.`,
    )
    expect(statSync(join(dir, DB_FILE)).size).toBe(0)
    expect(readdirSync(join(dir, 'runs'))).toEqual([first])
  })

  it('a deleted nin-lab.db beside run folders is refused without creating one', () => {
    const dir = tempDir()
    dataWithRuns(dir)
    for (const f of readdirSync(dir)) if (f.startsWith(DB_FILE)) truncateSync(join(dir, f), 0)
    const missing = tempDir()
    mkdirSync(join(missing, 'runs', 'r2345ab'), { recursive: true })
    const err = storeError(() => RunStore.open(missing))
    expect(err.code).toBe('lost')
    expect(err.message).toMatch(
      /nin-lab\.db is missing, but .*runs holds 1 run folder \(e\.g\. r2345ab\)/,
    )
    expect(readdirSync(missing)).toEqual(['runs'])
  })

  it('a 0-byte nin-lab.db with no runs is simply a new database', () => {
    const dir = tempDir()
    mkdirSync(join(dir, 'runs'))
    closeSync(openSync(join(dir, DB_FILE), 'w'))
    expect(keep(RunStore.open(dir)).listRuns()).toEqual([])
  })
})

describe('a damaged database says "damaged" to every command', () => {
  /** Overwrites the b-tree page header and cell pointers of a table's or index's root page. */
  function garbleRoot(file: string, name: string): void {
    const db = new Database(file, { readonly: true })
    const { rootpage } = db
      .prepare<[string], { rootpage: number }>('SELECT rootpage FROM sqlite_schema WHERE name = ?')
      .get(name)!
    const pageSize = db.pragma('page_size', { simple: true }) as number
    db.close()
    const fd = openSync(file, 'r+')
    writeSync(
      fd,
      Buffer.from([0xff, 0x13, 0x77, 0x01].flatMap((b) => Array(16).fill(b))),
      0,
      64,
      (rootpage - 1) * pageSize + 8,
    )
    closeSync(fd)
  }

  // The pages whose damage made `ls` print "no runs yet" or `show` say "no run …" while other
  // commands said "damaged": the experiments table and the runs table's primary-key index.
  it.each(['experiments', 'runs', 'sqlite_autoindex_runs_1', 'sqlite_autoindex_experiments_1'])(
    'damage in %s is reported by open, read-write and read-only',
    (name) => {
      const dir = tempDir()
      dataWithRuns(dir)
      const file = join(dir, DB_FILE)
      garbleRoot(file, name)
      for (const readonly of [false, true]) {
        const err = storeError(() => RunStore.open(dir, { readonly }))
        expect(err.code).toBe('corrupt')
        expect(err.message).toMatch(/ is damaged \(.+\); restore it from a backup, or move it away/)
        expect(err.message.startsWith(`${file} is damaged`)).toBe(true)
      }
    },
  )

  it("a damaged header says it may be NiN Lab's, damaged", () => {
    const dir = tempDir()
    dataWithRuns(dir)
    const fd = openSync(join(dir, DB_FILE), 'r+')
    writeSync(fd, Buffer.from('not SQLite at all'), 0, 16, 0)
    closeSync(fd)
    const err = storeError(() => RunStore.open(dir))
    expect(err.code).toBe('not-a-database')
    expect(err.message).toContain("if it was NiN Lab's, it is damaged: restore it from a backup")
  })
})

describe('a data folder NiN Lab may only read', () => {
  /** Copies a data folder as a crash would leave it: the WAL still holding commits, no -shm. */
  function crashCopy(from: string, to: string): void {
    const store = RunStore.open(from)
    store.connection.pragma('wal_autocheckpoint = 0')
    store.addRuns('late', [config('after-crash', { dropout: 0.9 })])
    mkdirSync(to, { recursive: true })
    copyFileSync(join(from, DB_FILE), join(to, DB_FILE))
    copyFileSync(join(from, `${DB_FILE}-wal`), join(to, `${DB_FILE}-wal`))
    store.close()
  }

  it.skipIf(!mountable)('reads a WAL database on a read-only mount (no -shm can be made)', () => {
    const mount = mountTmpfs(join(tempDir(), 'ro'), 4096)
    if (!mount) throw new Error('mount failed after the probe worked')
    mounts.push(mount)
    const dir = join(mount.dir, 'data')
    const ids = dataWithRuns(dir, 3)
    mount.readOnly()
    expect(readdirSync(dir).sort()).toEqual([DB_FILE, 'runs'])
    const reader = keep(RunStore.open(dir, { readonly: true }))
    expect(
      reader
        .listRuns()
        .map((r) => r.id)
        .sort(),
    ).toEqual([...ids].sort())
    expect(reader.requireRun(ids[1]!).status).toBe('queued')
    const write = storeError(() => reader.cancel(ids[1]!))
    expect(write.code).toBe('read-only')
  })

  it.skipIf(!mountable)('says what to do when the WAL still holds commits', () => {
    const mount = mountTmpfs(join(tempDir(), 'ro'), 4096)
    if (!mount) throw new Error('mount failed after the probe worked')
    mounts.push(mount)
    const source = tempDir()
    dataWithRuns(source, 2)
    const dir = join(mount.dir, 'data')
    crashCopy(source, dir)
    mount.readOnly()
    const err = storeError(() => RunStore.open(dir, { readonly: true }))
    expect(err.code).toBe('read-only')
    expect(err.message).toBe(
      `cannot read ${join(dir, DB_FILE)} without write access to its folder: its write-ahead log ${join(dir, DB_FILE)}-wal holds changes not yet in the database, and only a process that may write there can apply them. Run any nin-lab command once with write access, or copy the data folder somewhere writable`,
    )
  })

  it("reads another user's data folder it may not write to (the kernel checks, not as root)", () => {
    const base = tempDir()
    chmodSync(base, 0o755)
    const dir = join(base, 'data')
    const ids = dataWithRuns(dir, 2)
    chmodSync(dir, 0o555)
    chmodSync(join(dir, DB_FILE), 0o444)
    const runs = withoutRoot(() => {
      const reader = RunStore.open(dir, { readonly: true })
      try {
        return reader.listRuns().map((r) => r.id)
      } finally {
        reader.close()
      }
    })
    expect(runs.sort()).toEqual([...ids].sort())
    chmodSync(dir, 0o755)
    expect(readdirSync(dir).sort()).toEqual([DB_FILE, 'runs'])
  })
})
