/**
 * The store facing a hostile file system: files that are not ours, a newer schema, read-only
 * folders, a full disk, a lock held too long. Each must give a clear StoreError and leave the
 * database valid (or, when it is not ours, untouched).
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { DB_FILE, LATEST_VERSION, RunStore, StoreError } from '@core/store'
import { withoutRoot } from '../../helpers/fs'
import { cleanUp, config, tempDir } from './store-helpers'

const stores: RunStore[] = []
afterEach(() => cleanUp(stores.splice(0)))

const keep = (store: RunStore): RunStore => {
  stores.push(store)
  return store
}

function storeError(fn: () => unknown): StoreError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(StoreError)
    return err as StoreError
  }
  throw new Error('expected a StoreError')
}

/** `PRAGMA integrity_check` on a fresh connection of its own. */
function integrity(file: string): unknown {
  const db = new Database(file, { readonly: true })
  try {
    return db.pragma('integrity_check', { simple: true })
  } finally {
    db.close()
  }
}

describe('RunStore.open refuses what it must not touch', () => {
  it('refuses a database written by a newer NiN Lab, without rewriting it', () => {
    const dir = tempDir()
    RunStore.open(dir).close()
    const file = join(dir, DB_FILE)
    const db = new Database(file)
    db.pragma(`user_version = ${LATEST_VERSION + 4}`)
    db.close()
    const before = readFileSync(file)
    const err = storeError(() => RunStore.open(dir))
    expect(err.code).toBe('newer-schema')
    expect(err.message).toBe(
      `${file} was written by a newer NiN Lab (schema ${LATEST_VERSION + 4}; this one knows up to ${LATEST_VERSION}): upgrade NiN Lab, or use another --data-dir`,
    )
    expect(readFileSync(file).equals(before)).toBe(true)
  })

  it('refuses a file that is not a SQLite database, naming it, and leaves it as it was', () => {
    const dir = tempDir()
    const file = join(dir, DB_FILE)
    const text = 'these are my notes, not a database\n'.repeat(50)
    writeFileSync(file, text)
    const err = storeError(() => RunStore.open(dir))
    expect(err.code).toBe('not-a-database')
    expect(err.message).toContain(`${file} is not a SQLite database`)
    expect(err.message).toContain('move it away, or use another --data-dir')
    expect(readFileSync(file, 'utf8')).toBe(text)
  })

  it("refuses another program's SQLite database", () => {
    const dir = tempDir()
    const file = join(dir, DB_FILE)
    const db = new Database(file)
    db.exec('CREATE TABLE photos (id INTEGER PRIMARY KEY)')
    db.close()
    const err = storeError(() => RunStore.open(dir))
    expect(err.code).toBe('not-a-database')
    expect(err.message).toBe(
      `${file} is a SQLite database, but not NiN Lab's; NiN Lab leaves it untouched: move it away, or use another --data-dir`,
    )
    const after = new Database(file, { readonly: true })
    expect(after.pragma('user_version', { simple: true })).toBe(0)
    after.close()
  })

  it('says so when the data folder or the database path is not usable', () => {
    const base = tempDir()
    writeFileSync(join(base, 'file'), '')
    const underFile = storeError(() => RunStore.open(join(base, 'file', 'data')))
    expect(underFile.code).toBe('cannot-open')
    expect(underFile.message).toContain('a file is in the way; or use another --data-dir')

    mkdirSync(join(base, 'dir', DB_FILE), { recursive: true })
    const isDir = storeError(() => RunStore.open(join(base, 'dir')))
    expect(isDir.code).toBe('cannot-open')
    expect(isDir.message).toContain(`cannot open ${join(base, 'dir', DB_FILE)}`)
  })
})

describe('RunStore on a read-only data folder', () => {
  it('cannot create a database in a folder it may not write', () => {
    const base = tempDir()
    chmodSync(base, 0o755)
    const dir = join(base, 'data')
    mkdirSync(dir, { mode: 0o555 })
    chmodSync(dir, 0o555)
    const err = withoutRoot(() => storeError(() => RunStore.open(dir)))
    expect(err.code).toBe('cannot-open')
    expect(err.message).toContain(`cannot open ${join(dir, DB_FILE)}`)
    expect(err.message).toContain('or use another --data-dir')
  })

  it('cannot open an existing database read-write in a read-only folder; it stays valid', () => {
    const base = tempDir()
    chmodSync(base, 0o755)
    const dir = join(base, 'data')
    const store = RunStore.open(dir)
    store.addRuns('exp', [config('a')])
    store.close()
    chmodSync(dir, 0o555)
    chmodSync(join(dir, DB_FILE), 0o444)
    const err = withoutRoot(() => storeError(() => RunStore.open(dir)))
    expect(['read-only', 'cannot-open']).toContain(err.code)
    expect(err.message).toContain(join(dir, DB_FILE))
    expect(err.message).toMatch(/fix the permissions|may write to/)
    chmodSync(dir, 0o755)
    expect(integrity(join(dir, DB_FILE))).toBe('ok')
    const again = keep(RunStore.open(dir))
    expect(again.listRuns()).toHaveLength(1)
  })

  it('a store opened read-only reads, and refuses writes with a clear error', () => {
    const dir = tempDir()
    const writer = RunStore.open(dir)
    const [run] = writer.addRuns('exp', [config('a')]).added
    writer.close()
    const reader = keep(RunStore.open(dir, { readonly: true }))
    expect(reader.listRuns().map((r) => r.id)).toEqual([run!.id])
    const err = storeError(() => reader.addRuns('exp', [config('b', { microConvs: 1 })]))
    expect(err.code).toBe('read-only')
    expect(err.message).toContain(`cannot write to ${join(dir, DB_FILE)}`)
    expect(storeError(() => reader.cancel(run!.id)).code).toBe('read-only')
    reader.close()
    expect(integrity(join(dir, DB_FILE))).toBe('ok')
    const store = keep(RunStore.open(dir))
    expect(store.requireRun(run!.id).status).toBe('queued')
  })

  it('a read-only store refuses a missing database rather than creating one', () => {
    const dir = tempDir()
    expect(storeError(() => RunStore.open(join(dir, 'none'), { readonly: true })).code).toBe(
      'cannot-open',
    )
  })
})

describe('RunStore on a full disk', () => {
  it('reports SQLITE_FULL clearly, writes nothing of the failed change, stays valid', () => {
    const dir = tempDir()
    const store = keep(RunStore.open(dir))
    const [run] = store.addRuns('exp', [config('a')]).added
    // SQLite's own quota: the database may not grow past its current size, as on a full disk.
    const pages = store.connection.pragma('page_count', { simple: true }) as number
    store.connection.pragma(`max_page_count = ${pages}`)
    const many = Array.from({ length: 200 }, (_, i) =>
      config(`c${i}`, { dropout: Math.round((i / 400) * 1000) / 1000 }),
    )
    const err = storeError(() => store.addRuns('exp', many))
    expect(err.code).toBe('disk-full')
    expect(err.message).toContain(`the disk holding ${join(dir, DB_FILE)} is full`)
    expect(err.message).toContain('Free some space')
    expect(store.listRuns().map((r) => r.id)).toEqual([run!.id])
    expect(store.integrityCheck()).toEqual(['ok'])
    // Space again: the store carries on.
    store.connection.pragma('max_page_count = 1073741823')
    expect(store.addRuns('exp', many).added).toHaveLength(200)
    expect(store.integrityCheck()).toEqual(['ok'])
  })
})

describe('RunStore under lock contention', () => {
  it('waits for another writer, then gives up with a clear error', () => {
    const dir = tempDir()
    const holder = keep(RunStore.open(dir))
    const waiter = keep(RunStore.open(dir, { busyTimeoutMs: 100 }))
    holder.connection.exec('BEGIN IMMEDIATE')
    try {
      const err = storeError(() => waiter.addRuns('exp', [config('a')]))
      expect(err.code).toBe('busy')
      expect(err.message).toContain('stayed locked by another process for 0.1 s')
      // Readers are not blocked by the writer (WAL).
      expect(waiter.listRuns()).toEqual([])
    } finally {
      holder.connection.exec('ROLLBACK')
    }
    expect(waiter.addRuns('exp', [config('a')]).added).toHaveLength(1)
    expect(waiter.integrityCheck()).toEqual(['ok'])
  })
})
