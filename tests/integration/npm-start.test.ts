// Killing the npm process of `npm start` (SIGTERM or SIGINT) stops everything it started:
// scripts/start.mjs, the server it runs in web mode, and the trainer that server runs. Before,
// npm and its shell died and the rest went on serving and training, orphaned. Real npm, real
// processes, a real training run.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, isAlive, ROOT, runCli, waitFor } from '../helpers/cli'

/** Every process below `pid` (children, grandchildren, …), from /proc. */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      parentOf.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]))
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = []
  const walk = (p: number): void => {
    for (const [child, parent] of parentOf) {
      if (parent === p) {
        out.push(child)
        walk(child)
      }
    }
  }
  walk(pid)
  return out
}

const cmdline = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')
  } catch {
    return ''
  }
}

let npm: ChildProcess | null = null
/** The processes a test saw npm start (they outlive npm when the behaviour is broken). */
let seen: number[] = []
afterEach(() => {
  // Whatever a failed test left running (by the pids this test started, never by name).
  const left = [...seen, ...(npm?.pid ? descendants(npm.pid) : [])]
  for (const pid of left) if (isAlive(pid)) process.kill(pid, 'SIGKILL')
  npm?.kill('SIGKILL')
  npm = null
  seen = []
})

beforeAll(() => assertBuilt())

describe.skipIf(process.platform !== 'linux')('killing the npm of `npm start`', () => {
  // SIGTERM to npm's pid (`kill PID`), and SIGINT to its process group (Ctrl-C in its terminal).
  // SIGINT to npm's pid alone is forwarded by npm to its `sh -c`, which, as POSIX shells do,
  // waits for its command before acting on it: npm and the app both keep running (npm has not
  // stopped), and `kill PID` or Ctrl-C then stops them all.
  for (const [signal, target] of [
    ['SIGTERM', 'pid'],
    ['SIGINT', 'group'],
  ] as const) {
    it(`with ${signal} (to its ${target}) stops start.mjs, the server and the trainer`, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'nin-lab-npm-start-'))
      const added = runCli([
        'queue',
        'add',
        '--preset',
        'small-28',
        '--set',
        'train.epochs=50',
        '--set',
        'data.trainLimit=3000',
        '--data-dir',
        dataDir,
      ])
      expect(added.status, added.stderr).toBe(0)
      let output = ''
      npm = spawn('npm', ['start', '--', '--data-dir', dataDir, '--port', '0'], {
        cwd: ROOT,
        env: { ...process.env, NIN_LAB_WEB: '1', NIN_LAB_NO_BUILD: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group, as a terminal gives it (and none of this test's).
        detached: true,
      })
      npm.stdout?.on('data', (c: Buffer) => (output += c.toString()))
      npm.stderr?.on('data', (c: Buffer) => (output += c.toString()))
      const npmPid = npm.pid as number
      // Served, and training: a trainer process below the server.
      await waitFor(() => (/#token=/.test(output) ? true : undefined), 60_000, 'the address')
      const started = await waitFor(
        () => {
          const all = descendants(npmPid)
          seen = [...new Set([...seen, ...all])]
          const trainer = all.find((p) => /out\/main\/trainer\.js/.test(cmdline(p)))
          return trainer === undefined ? undefined : all
        },
        120_000,
        'a trainer',
      )
      // The node processes themselves (npm runs the script through `sh -c`, named the same).
      const named = (re: RegExp): number[] =>
        started.filter((p) => re.test(cmdline(p)) && !cmdline(p).startsWith('sh '))
      expect(named(/scripts\/start\.mjs/)).toHaveLength(1)
      expect(named(/nin-lab\.mjs serve/)).toHaveLength(1)

      process.kill(target === 'pid' ? npmPid : -npmPid, signal)
      await waitFor(
        () => (started.every((p) => !isAlive(p)) ? true : undefined),
        60_000,
        `every process npm start started to end (left: ${started.filter(isAlive).map(cmdline).join('; ')})`,
      )
    })
  }
})
