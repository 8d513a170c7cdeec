// The Electron main process (src/main/index.ts, built as out/main/index.js) running under plain
// Node. Mocked, because it cannot exist here: the Electron binary (its download needs the
// internet). `electron` resolves to tests/fixtures/electron/stand-in.mjs, which records what the
// main process asks of Electron and lets this test play the user and the renderer. Everything
// else is real: the main process starts the real core host (`nin-lab core-host`, out/main/cli.js)
// on a temp data folder, which opens a real SQLite file and trains with real trainer processes.
import { fork, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { QueueState } from '@shared/api/contract'
import { IPC_CALL, IPC_EVENT, IPC_PRINT_PDF, IPC_SAVE_FILES } from '@shared/api/transport'
import type { CallOutcome } from '@shared/api/transport'
import type { Run } from '@shared/api/types'
import { presetInput } from '@shared/config/presets'
import { APP_CSP } from '@shared/security'
import { assertBuilt, isAlive, ROOT } from '../helpers/cli'

const REGISTER = join(ROOT, 'tests/fixtures/electron/register.mjs')
const EVIL = 'http://evil.example/'

interface WindowRecord {
  id: number
  options: { webPreferences?: Record<string, unknown> } & Record<string, unknown>
  loaded: { file?: string; url?: string } | null
  url: string
  shown: boolean
  destroyed: boolean
  hasWindowOpenHandler: boolean
  sent: [string, string | null][]
  printOptions: unknown
}
interface Snapshot {
  windows: WindowRecord[]
  ipcChannels: string[]
  appEvents: string[]
  headersListener: boolean
  permissionRequestHandler: boolean
  openExternal: string[]
  errorBoxes: { title: string; content: string }[]
  quitCalls: number
  menu: unknown
}
interface Dialog {
  id: number
  method: 'showMessageBox' | 'showSaveDialog'
  window: number | null
  options: Record<string, unknown>
}
type Notice = { what: 'ready' | 'quit' } | ({ what: 'dialog' } & Dialog) | { what: 'error-box' }

/** The built main process under the stand-in, and the test's side of its wire. */
class MainProcess {
  readonly child: ChildProcess
  readonly exited: Promise<number | null>
  private nextId = 1
  private readonly replies = new Map<number, (m: { ok: boolean; value?: unknown; error?: string }) => void>()
  private readonly notices: Notice[] = []
  private output = ''

  constructor(env: NodeJS.ProcessEnv) {
    const base = { ...process.env }
    delete base['ELECTRON_RENDERER_URL']
    this.child = fork(join(ROOT, 'out/main/index.js'), [], {
      execArgv: ['--import', REGISTER],
      env: { ...base, ...env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    })
    const collect = (chunk: Buffer): void => void (this.output += chunk.toString())
    this.child.stdout?.on('data', collect)
    this.child.stderr?.on('data', collect)
    this.child.on('message', (raw) => {
      const m = raw as { type: string; id: number; what?: string }
      if (m.type === 'reply') {
        this.replies.get(m.id)?.(m as { ok: boolean; value?: unknown; error?: string })
        this.replies.delete(m.id)
      } else if (m.type === 'notice') this.notices.push(m as unknown as Notice)
    })
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)))
  }

  get log(): string {
    return this.output
  }

  request<T>(type: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      this.replies.set(id, (m) =>
        m.ok ? resolve(m.value as T) : reject(new Error(`${type}: ${m.error}\n${this.output}`)),
      )
      this.child.send({ id, type, ...args })
    })
  }

  snapshot = (): Promise<Snapshot> => this.request<Snapshot>('snapshot')

  /** The renderer's `ipcRenderer.invoke` from a page at `senderUrl`. */
  invoke<T = unknown>(channel: string, senderUrl: string, ...args: unknown[]): Promise<T> {
    return this.request<T>('invoke', { channel, senderUrl, args })
  }

  /** Waits for (and consumes) the next notice of that kind. */
  async notice<W extends Notice['what']>(what: W): Promise<Extract<Notice, { what: W }>> {
    return until(
      () => {
        const i = this.notices.findIndex((n) => n.what === what)
        return i < 0 ? undefined : (this.notices.splice(i, 1)[0] as Extract<Notice, { what: W }>)
      },
      `the main process to show ${what}\n${this.output}`,
      60_000,
    )
  }

  hasNotice(what: Notice['what']): boolean {
    return this.notices.some((n) => n.what === what)
  }

  answer(dialog: Dialog, value: unknown): Promise<null> {
    return this.request('answer', { dialog: dialog.id, value })
  }

  /** Ends the process as Electron would after `app.quit()`; resolves with its exit code. */
  async exit(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.connected) await this.request('exit')
    return this.exited
  }
}

/** Polls an async check until it gives a value (no timing assertions: the limit is generous). */
async function until<T>(
  check: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Direct children of `pid` whose command line contains `marker` (Linux /proc). */
function childPids(pid: number, marker: string): number[] {
  const found: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ')
      if (ppid === pid && cmdline.includes(marker)) found.push(Number(entry))
    } catch {
      // The process ended while we looked.
    }
  }
  return found
}

const appPage = async (main: MainProcess): Promise<string> => {
  const [win] = (await main.snapshot()).windows
  if (!win) throw new Error('the main process opened no window')
  return win.url
}

async function call<T>(main: MainProcess, method: string, params: unknown = {}): Promise<T> {
  const outcome = await main.invoke<CallOutcome>(IPC_CALL, await appPage(main), method, params)
  if (!outcome.ok) throw new Error(`${method}: ${outcome.error.message}`)
  return outcome.result as T
}

let dataDir: string
let documents: string
const started: MainProcess[] = []
/** Core hosts left running on purpose ("keep training"), stopped after the test. */
const detachedHosts: number[] = []

function startMain(env: NodeJS.ProcessEnv = {}): MainProcess {
  const main = new MainProcess({
    // How the app finds its data folder and its Node (src/core/paths.ts, core-client.ts).
    NIN_LAB_HOME: dataDir,
    NIN_LAB_NODE: process.execPath,
    STAND_IN_DOCUMENTS: documents,
    ...env,
  })
  started.push(main)
  return main
}

/** A run that trains for a while: small-28 on a class-balanced slice of Fashion-MNIST. */
function trainingRun(epochs: number): Record<string, unknown> {
  const config = presetInput('small-28') as Record<string, Record<string, unknown>>
  return {
    ...config,
    data: { ...config['data'], trainLimit: 2000, testLimit: 200 },
    train: { ...config['train'], epochs, batchSize: 32 },
  }
}

/** Queues one run through the window's own relay and waits until its trainer reports steps. */
async function startTraining(main: MainProcess, experiment: string, epochs: number): Promise<Run> {
  const { added } = await call<{ added: Run[] }>(main, 'addRuns', {
    experiment,
    base: trainingRun(epochs),
    axes: [],
    seeds: 1,
  })
  const id = added[0]?.id
  if (!id) throw new Error('addRuns added nothing')
  return until(async () => {
    const state = await call<QueueState>(main, 'queueState')
    const run = state.runs.find((r) => r.id === id)
    return run?.status === 'running' && run.pid !== null && state.progress[id] ? run : undefined
  }, `run ${id} to train`)
}

beforeAll(() => {
  assertBuilt()
  dataDir = mkdtempSync(join(tmpdir(), 'nin-lab-electron-'))
  documents = mkdtempSync(join(tmpdir(), 'nin-lab-documents-'))
})

afterEach(async () => {
  for (const main of started.splice(0)) {
    if (main.child.exitCode === null) main.child.kill('SIGKILL')
    await main.exited
  }
})

afterAll(async () => {
  for (const pid of detachedHosts) {
    if (!isAlive(pid)) continue
    process.kill(pid, 'SIGTERM')
    await until(() => (isAlive(pid) ? undefined : true), 'the core host to stop', 60_000)
  }
})

describe('the Electron main process', () => {
  it('opens one isolated, sandboxed window with the preload, and registers the relay', async () => {
    const main = startMain()
    await main.notice('ready')
    const snap = await main.snapshot()
    expect(snap.windows).toHaveLength(1)
    const [win] = snap.windows as [WindowRecord]
    expect(win.options.webPreferences).toMatchObject({
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
    })
    const preload = win.options.webPreferences?.['preload']
    expect(preload).toBe(join(ROOT, 'out/preload/index.cjs'))
    expect(existsSync(preload as string)).toBe(true)
    expect(win.loaded).toEqual({ file: join(ROOT, 'out/renderer/index.html') })
    await until(async () => ((await main.snapshot()).windows[0]?.shown ? true : undefined), 'show')
    expect(snap.ipcChannels.sort()).toEqual(
      [IPC_CALL, IPC_PRINT_PDF, IPC_SAVE_FILES].sort(),
    )
    expect(snap.appEvents).toEqual(
      expect.arrayContaining(['second-instance', 'window-all-closed', 'activate']),
    )
  })
})
