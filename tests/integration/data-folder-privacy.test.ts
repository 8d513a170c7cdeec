// The data folder is private (issue 23, minor 9): 0700, the database and its WAL and shared
// memory files 0600, and a folder left open by an older version is tightened once, saying so.
// Real `nin-lab` processes on real folders.
import { chmodSync, existsSync, mkdtempSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, runCli } from '../helpers/cli'

const mode = (path: string): number => statSync(path).mode & 0o777
const TINY = ['--preset', 'small-28', '--set', 'train.epochs=1']

beforeAll(() => assertBuilt())

describe.skipIf(process.platform === 'win32')('the data folder', () => {
  it('is created 0700 with its database files 0600', () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'nin-lab-priv-')), 'data')
    const r = runCli(['queue', 'add', ...TINY, '--data-dir', dataDir])
    expect(r.status, r.stderr).toBe(0)
    expect(mode(dataDir)).toBe(0o700)
    for (const suffix of ['', '-wal', '-shm']) {
      const file = join(dataDir, `nin-lab.db${suffix}`)
      if (suffix === '' || existsSync(file)) expect(mode(file), file).toBe(0o600)
    }
    // Nothing to tighten on a fresh folder: nothing said.
    expect(r.stderr).not.toMatch(/private/)
  })

  it('tightens a folder and database left readable by others, and says so once', () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'nin-lab-priv-')), 'data')
    expect(runCli(['queue', 'add', ...TINY, '--data-dir', dataDir]).status).toBe(0)
    chmodSync(dataDir, 0o755)
    chmodSync(join(dataDir, 'nin-lab.db'), 0o644)

    const first = runCli(['ls', '--data-dir', dataDir])
    expect(first.status, first.stderr).toBe(0)
    expect(first.stderr).toMatch(/made the data folder private/)
    expect(first.stderr).toContain('0755 → 0700')
    expect(mode(dataDir)).toBe(0o700)
    expect(mode(join(dataDir, 'nin-lab.db'))).toBe(0o600)

    const second = runCli(['ls', '--data-dir', dataDir])
    expect(second.status).toBe(0)
    expect(second.stderr).not.toMatch(/private/)
  })

  it('keeps what the processes it starts write there private (umask 077)', () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'nin-lab-priv-')), 'data')
    // The scheduler lock and the access key are written by the serving process itself.
    const r = runCli(['key', 'show', '--data-dir', dataDir])
    expect(r.status, r.stderr).toBe(0)
    expect(mode(join(dataDir, 'access-key'))).toBe(0o600)
    const out = join(mkdtempSync(join(tmpdir(), 'nin-lab-priv-out-')), 'r.json')
    expect(
      runCli(['queue', 'add', ...TINY, '--experiment', 'e', '--data-dir', dataDir]).status,
    ).toBe(0)
    const exported = runCli([
      'export',
      '--experiment',
      'e',
      '--format',
      'json',
      '--out',
      out,
      '--data-dir',
      dataDir,
    ])
    expect(exported.status, exported.stderr).toBe(0)
    expect(mode(out) & 0o077).toBe(0)
  })
})
