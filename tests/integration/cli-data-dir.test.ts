// The CLI on a data folder after a bad night: a symlink that loops or dangles, a database
// truncated to 0 bytes beside its runs, damaged pages. Every command says the same clear thing
// in one line (no stack trace), and nothing is changed.
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, runCli } from '../helpers/cli'

const dirs: string[] = []
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'nin-lab-cli-data-'))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})
beforeAll(() => assertBuilt())

/** A data folder with queued runs (and, like a started run, a folder for the first one). */
function dataWithRuns(): { dir: string; ids: string[] } {
  const dir = tempDir()
  const add = runCli([
    'queue',
    'add',
    '--preset',
    'small-28',
    '--data-dir',
    dir,
    '--json',
    '--grid',
    'model.microConvs=1,2,3',
    '--grid',
    'model.head=gap,fc',
    '--seeds',
    '3',
  ])
  expect(add.status, add.stderr).toBe(0)
  const ids = (JSON.parse(add.stdout) as { added: { id: string }[] }).added.map((r) => r.id)
  return { dir, ids }
}

const noStack = (stderr: string): void => {
  expect(stderr).not.toMatch(/\n\s+at /)
  expect(stderr.trim().split('\n')).toHaveLength(1)
}

describe('nin-lab on a damaged data folder', () => {
  it('a looping --data-dir symlink: one clear line', () => {
    const loop = join(tempDir(), 'data')
    symlinkSync(loop, loop)
    const r = runCli(['ls', '--data-dir', loop])
    expect(r.status).toBe(1)
    noStack(r.stderr)
    expect(r.stderr).toBe(
      `nin-lab ls: cannot use ${loop} as the data folder: it is a symlink that loops back on itself (ELOOP); point it at a real folder, or use another --data-dir\n`,
    )
  })

  it('a dangling --data-dir symlink names where it points', () => {
    const base = tempDir()
    symlinkSync(join(base, 'gone'), join(base, 'data'))
    const r = runCli(['queue', 'ls', '--data-dir', join(base, 'data')])
    expect(r.status).toBe(1)
    noStack(r.stderr)
    expect(r.stderr).toContain(`it is a symlink to ${join(base, 'gone')}, which does not exist`)
  })

  it('a 0-byte nin-lab.db beside its runs is refused by every command, and stays as it is', () => {
    const { dir, ids } = dataWithRuns()
    // As a trainer does when a run starts.
    const runDir = join(dir, 'runs', ids[0]!)
    mkdirSync(runDir, { recursive: true })
    truncateSync(join(dir, 'nin-lab.db'), 0)
    for (const args of [['ls'], ['show', ids[0]!], ['queue', 'ls']]) {
      const r = runCli([...args, '--data-dir', dir])
      expect(r.status, args.join(' ')).toBe(1)
      noStack(r.stderr)
      expect(r.stderr).toContain(
        'the database that listed them is lost. Restore nin-lab.db from a backup',
      )
    }
    expect(statSync(join(dir, 'nin-lab.db')).size).toBe(0)
    expect(readdirSync(join(dir, 'runs'))).toEqual([ids[0]])
  })

  it('damage in the runs index: ls, show and export all say "damaged"', () => {
    const { dir, ids } = dataWithRuns()
    const file = join(dir, 'nin-lab.db')
    const db = new Database(file, { readonly: true })
    const { rootpage } = db
      .prepare<[], { rootpage: number }>(
        "SELECT rootpage FROM sqlite_schema WHERE name = 'sqlite_autoindex_runs_1'",
      )
      .get()!
    db.close()
    const fd = openSync(file, 'r+')
    writeSync(fd, Buffer.alloc(64, 0x5a), 0, 64, (rootpage - 1) * 4096 + 8)
    closeSync(fd)
    const out = join(tempDir(), 'r.html')
    for (const args of [
      ['ls'],
      ['show', ids[5]!],
      ['export', ids[5]!, '--format', 'html', '--out', out],
    ]) {
      const r = runCli([...args, '--data-dir', dir])
      expect(r.status, args.join(' ')).toBe(1)
      noStack(r.stderr)
      expect(r.stderr).toMatch(
        new RegExp(`^nin-lab ${args[0]}: ${file.replace(/\./g, '\\.')} is damaged \\(`),
      )
    }
  })
})
