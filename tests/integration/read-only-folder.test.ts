// A data folder another user owns, readable but not writable (issue 23, minor 8): `serve` and
// `queue start` say what is wrong and what to do, as `ls`, `queue add` and `export` do, instead
// of a stack trace about scheduler.lock. The commands run as a real other user (nobody), so the
// test needs root to switch to it.
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readdirSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, BIN, ROOT, runCli } from '../helpers/cli'

const NOBODY = 65534
const isRoot = process.getuid?.() === 0

/** `nin-lab …` run as nobody. */
function asNobody(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    uid: NOBODY,
    gid: NOBODY,
    env: { ...process.env, HOME: tmpdir() },
    encoding: 'utf8',
    timeout: 60_000,
  })
  return { status: r.status, stderr: r.stderr }
}

/**
 * The first folder above the checkout that other users cannot enter (no x for others: `mktemp -d`
 * makes 0700 folders), or null. Run as nobody, the CLI could not even be found from such a
 * checkout, so the tests below fail first with what to change.
 */
function closedToOthers(dir: string): string | null {
  for (let d = dir; ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return d
    if (dirname(d) === d) return null
  }
}

describe.skipIf(!isRoot)('a data folder of another user', () => {
  let dataDir: string
  let holder: Database.Database

  beforeAll(() => {
    assertBuilt()
    const closed = closedToOthers(ROOT)
    if (closed)
      throw new Error(
        `these tests run nin-lab as another user (nobody), who cannot enter ${closed} above ` +
          `this checkout: \`chmod o+x ${closed}\`, or clone the project where others can read it`,
      )
    const base = mkdtempSync(join(tmpdir(), 'nin-lab-ro-'))
    chmodSync(base, 0o755)
    dataDir = join(base, 'data')
    expect(runCli(['queue', 'add', '--preset', 'small-28', '--data-dir', dataDir]).status).toBe(0)
    // Its owner's process holds it open (so the -wal and -shm files exist), and an old version
    // left the folder readable and the database files writable to all: SQLite opens it, but
    // no file can be created in the folder.
    holder = new Database(join(dataDir, 'nin-lab.db'))
    holder.pragma('journal_mode = WAL')
    holder.prepare('SELECT COUNT(*) FROM runs').get()
    chmodSync(dataDir, 0o755)
    for (const name of readdirSync(dataDir)) {
      if (name.startsWith('nin-lab.db')) chmodSync(join(dataDir, name), 0o666)
    }
  })
  afterAll(() => holder?.close())

  for (const command of [
    ['queue', 'start'],
    ['serve', '--port', '0'],
  ]) {
    it(`\`${command.join(' ')}\` says the folder is not writable, without a stack trace`, () => {
      const r = asNobody([...command, '--data-dir', dataDir])
      expect(r.status).toBe(1)
      expect(r.stderr).toContain(`permission denied on ${dataDir}`)
      expect(r.stderr).toMatch(/fix the permissions, or use another --data-dir/)
      expect(r.stderr).not.toMatch(/\n\s+at /)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
    })
  }
})
