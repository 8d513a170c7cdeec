/** Runs the built `nin-lab` command as a real process (tests need `npm run build` first). */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const BIN = fileURLToPath(new URL('../../bin/nin-lab.mjs', import.meta.url))

export function assertBuilt(): void {
  if (!existsSync(new URL('../../out/main/cli.js', import.meta.url))) {
    throw new Error('out/main/cli.js is missing: run `npm run build` before the integration tests')
  }
}

export interface CliResult {
  status: number | null
  stdout: string
  stderr: string
}

export function runCli(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    encoding: 'utf8',
    // Generous: a bound on a hung process, never a speed check (the machine is shared and noisy).
    timeout: 240_000,
  })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

export interface ServeProcess {
  url: string
  origin: string
  token: string
  /** Everything it printed so far (stdout and stderr). */
  output(): string
  /** Its exit code once it has exited (a crash, say), else undefined. */
  exited(): number | null | undefined
  stop(): Promise<void>
}

/** Starts `nin-lab serve --port 0` on `dataDir` and resolves once it prints its URL. */
export function startServe(
  dataDir: string,
  extraArgs: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--port', '0', '--data-dir', dataDir, ...extraArgs],
    {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let output = ''
  let exitCode: number | null | undefined
  child.once('exit', (code) => (exitCode = code))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${output}`)), 30_000)
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      const match = /(http:\/\/[^\s]+)#token=([\w-]+)/.exec(output)
      if (match?.[1] && match[2]) {
        clearTimeout(timer)
        resolve({
          url: `${match[1]}#token=${match[2]}`,
          origin: match[1].replace(/\/$/, ''),
          token: match[2],
          output: () => output,
          exited: () => exitCode,
          stop: () =>
            new Promise<void>((done) => {
              if (exitCode !== undefined) return done()
              child.once('exit', () => done())
              child.kill('SIGTERM')
            }),
        })
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`serve exited with ${code}:\n${output}`))
    })
  })
}

/** Starts `nin-lab …` without waiting; output is collected for assertions. */
export function spawnCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv } = {},
): {
  child: import('node:child_process').ChildProcess
  output: () => { stdout: string; stderr: string }
  exited: Promise<number | null>
} {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()))
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()))
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  )
  return { child, output: () => ({ stdout, stderr }), exited }
}

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => T | undefined,
  timeoutMs = 60_000,
  what = 'condition',
): Promise<T> {
  const start = Date.now()
  for (;;) {
    const checked = Date.now()
    const value = check()
    if (value !== undefined) return value
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    // Every 50 ms, but never busier than half the time: a check that runs the CLI (~0.5 CPU-s a
    // process) back to back would keep a core busy for the whole wait, slowing the very
    // processes it waits for on a 2-core machine.
    await new Promise((r) => setTimeout(r, Math.max(50, Date.now() - checked)))
  }
}

/** Running (a zombie, which lingers until its parent reaps it, counts as gone). */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return true // no /proc here: signal 0 is all we know
  }
}
