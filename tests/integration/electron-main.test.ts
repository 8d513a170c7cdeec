// The Electron main process (src/main/index.ts, built as out/main/index.js) running under plain
// Node. Mocked, because it cannot exist here: the Electron binary (its download needs the
// internet). `electron` resolves to tests/fixtures/electron/stand-in.mjs, which records what the
// main process asks of Electron and lets this test play the user and the renderer. Everything
// else is real: the main process starts the real core host (`nin-lab core-host`, out/main/cli.js)
// on a temp data folder, which opens a real SQLite file and trains with real trainer processes.
// Linux: the core host is found among the main process's children through /proc.
import { fork, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { QUEUE_PAGE, type QueueState } from '@shared/api/contract'
import { IPC_CALL, IPC_EVENT, IPC_PRINT_PDF, IPC_SAVE_FILES } from '@shared/api/transport'
import type { CallOutcome } from '@shared/api/transport'
import type { Run } from '@shared/api/types'
import { presetInput } from '@shared/config/presets'
import { APP_CSP } from '@shared/security'
import { assertBuilt, isAlive, ROOT, runCli } from '../helpers/cli'

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
type Notice =
  | { what: 'ready' | 'quit' }
  | ({ what: 'dialog' } & Dialog)
  | { what: 'error-box'; title: string; content: string }
interface Reply {
  type: 'reply'
  id: number
  ok: boolean
  value?: unknown
  error?: string
}
/** What the stand-in sends this test (tests/fixtures/electron/stand-in.mjs). */
type StandInMessage = Reply | ({ type: 'notice' } & Notice)

/** The built main process under the stand-in, and the test's side of its wire. */
class MainProcess {
  readonly child: ChildProcess
  readonly exited: Promise<number | null>
  private nextId = 1
  private readonly replies = new Map<number, (reply: Reply) => void>()
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
      const m = raw as StandInMessage
      if (m.type === 'reply') {
        this.replies.get(m.id)?.(m)
        this.replies.delete(m.id)
      } else this.notices.push(m)
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
        if (i >= 0) return this.notices.splice(i, 1)[0] as Extract<Notice, { what: W }>
        if (this.child.exitCode !== null || this.child.signalCode !== null)
          throw new Error(`the main process ended before ${what}:\n${this.output}`)
        return undefined
      },
      `the main process to show ${what}\n${this.output}`,
      60_000,
    )
  }

  /** The core host this main process started (found among its children). */
  coreHost(): Promise<number> {
    const pid = this.child.pid
    if (pid === undefined) throw new Error('the main process did not start')
    return until(
      () => {
        const found = childPids(pid, 'core-host')[0]
        if (found === undefined && this.child.exitCode !== null)
          throw new Error(`the main process ended without a core host:\n${this.output}`)
        return found
      },
      `the core host\n${this.output}`,
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

const exitOf = (pid: number, what: string): Promise<true> =>
  until(() => (isAlive(pid) ? undefined : true), `${what} (pid ${pid}) to exit`)

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

const started: { main: MainProcess; coreHost: Promise<number | null> }[] = []
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
  // Found while the main process lives (afterwards the core host is nobody's child).
  started.push({ main, coreHost: main.coreHost().catch(() => null) })
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
  documents = mkdtempSync(join(tmpdir(), 'nin-lab-documents-'))
})

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'nin-lab-electron-'))
})

/** Each test's processes are gone before the next starts: one scheduler per data folder. */
afterEach(async () => {
  for (const { main, coreHost } of started.splice(0)) {
    const host = await coreHost
    if (main.child.exitCode === null) main.child.kill('SIGKILL')
    await main.exited
    // An app that dies without a word stops its core (core/host.ts: on disconnect).
    if (host !== null && !detachedHosts.includes(host)) await exitOf(host, 'the core host')
  }
})

afterAll(async () => {
  for (const pid of detachedHosts) {
    if (!isAlive(pid)) continue
    process.kill(pid, 'SIGTERM')
    await exitOf(pid, 'the detached core host')
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
    expect(snap.ipcChannels.sort()).toEqual([IPC_CALL, IPC_PRINT_PDF, IPC_SAVE_FILES].sort())
    expect(snap.appEvents).toEqual(
      expect.arrayContaining(['second-instance', 'window-all-closed', 'activate']),
    )
  })

  it("sends APP_CSP as every response's Content-Security-Policy and denies every permission", async () => {
    const main = startMain()
    await main.notice('ready')
    const page = await appPage(main)
    const { responseHeaders } = await main.request<{ responseHeaders: Record<string, string[]> }>(
      'headers',
      { details: { url: page, responseHeaders: { 'Content-Type': ['text/html'] } } },
    )
    expect(responseHeaders['Content-Security-Policy']).toEqual([APP_CSP])
    expect(responseHeaders['Content-Type']).toEqual(['text/html'])
    for (const permission of ['media', 'geolocation', 'notifications', 'clipboard-read'])
      expect(await main.request('permission', { permission })).toBe(false)
  })

  it('opens no new window and lets the page navigate nowhere; web links go to the OS browser', async () => {
    const main = startMain()
    await main.notice('ready')
    const page = await appPage(main)
    for (const url of ['https://d2l.ai/', 'file:///etc/passwd', 'javascript:alert(1)'])
      expect(await main.request('window-open', { url })).toEqual({ action: 'deny' })
    for (const url of ['https://evil.example/', 'file:///etc/passwd'])
      expect(await main.request('navigate', { url })).toEqual({ prevented: true })
    expect(await main.request('navigate', { url: page })).toEqual({ prevented: false })
    expect((await main.snapshot()).openExternal).toEqual([
      'https://d2l.ai/',
      'https://evil.example/',
    ])
  })

  it('relays calls from the app page to the real core and refuses other senders', async () => {
    const main = startMain()
    await main.notice('ready')
    const page = await appPage(main)
    expect(await main.invoke(IPC_CALL, page, 'pauseQueue', {})).toMatchObject({
      ok: true,
      result: { paused: true },
    })
    // The same core answers the next call: the pause is its state, kept in the SQLite file.
    expect(await main.invoke(IPC_CALL, page, 'queueState', {})).toMatchObject({
      ok: true,
      result: { paused: true, runs: [] },
    })
    expect(await main.invoke(IPC_CALL, `${page}#/runs`, 'listRuns', {})).toEqual({
      ok: true,
      result: { runs: [], total: 0, next: null },
    })
    // The core validates the parameters; the relay passes its error on as data.
    expect(await main.invoke(IPC_CALL, page, 'listRuns', { status: ['nope'] })).toMatchObject({
      ok: false,
      error: { code: 'invalid-params' },
    })
    expect(await main.invoke(IPC_CALL, page, 42, {})).toMatchObject({
      ok: false,
      error: { code: 'invalid-params', message: 'method must be a string' },
    })
    for (const sender of [EVIL, '', 'file:///tmp/not-the-app.html']) {
      expect(await main.invoke(IPC_CALL, sender, 'resumeQueue', {})).toEqual({
        ok: false,
        error: { code: 'invalid-params', message: 'calls are accepted from the app window only' },
      })
    }
    expect(await main.invoke(IPC_CALL, page, 'queueState', {})).toMatchObject({
      result: { paused: true },
    })
    // The core's events reach the window.
    await until(
      async () =>
        (await main.snapshot()).windows[0]?.sent.some(
          ([channel, event]) => channel === IPC_EVENT && event === 'queueChanged',
        ) || undefined,
      'queueChanged to reach the window',
    )
  })

  it('saves files where the user chooses, and refuses bad input and other senders', async () => {
    const main = startMain()
    await main.notice('ready')
    const page = await appPage(main)
    const folder = mkdtempSync(join(tmpdir(), 'nin-lab-saved-'))
    const b64 = (text: string): string => Buffer.from(text).toString('base64')
    const files = [
      { name: 'ablation.md', mimeType: 'text/markdown', base64: b64('# Ablation') },
      { name: '../charts/loss.png', mimeType: 'image/png', base64: b64('PNG') },
    ]
    const saving = main.invoke<string[] | null>(IPC_SAVE_FILES, page, files)
    const dialog = await main.notice('dialog')
    expect(dialog).toMatchObject({
      method: 'showSaveDialog',
      window: 1,
      options: { defaultPath: join(documents, 'ablation.md') },
    })
    await main.answer(dialog, { canceled: false, filePath: join(folder, 'mine.md') })
    // The first file where the user said, the others beside it (never outside that folder).
    expect(await saving).toEqual([join(folder, 'mine.md'), join(folder, 'loss.png')])
    expect(readFileSync(join(folder, 'mine.md'), 'utf8')).toBe('# Ablation')
    expect(readFileSync(join(folder, 'loss.png'), 'utf8')).toBe('PNG')

    const cancelled = main.invoke(IPC_SAVE_FILES, page, files)
    await main.answer(await main.notice('dialog'), { canceled: true, filePath: '' })
    expect(await cancelled).toBeNull()

    const file = files[0]
    const bad: unknown[] = [
      null,
      'ablation.md',
      [],
      Array.from({ length: 21 }, () => file),
      [{ name: 7, base64: '' }],
      [{ name: 'a.md' }],
      [file, { name: '..', mimeType: 'text/plain', base64: '' }],
      [{ name: '', mimeType: 'text/plain', base64: '' }],
    ]
    for (const input of bad) expect(await main.invoke(IPC_SAVE_FILES, page, input)).toBeNull()
    expect(await main.invoke(IPC_SAVE_FILES, EVIL, files)).toBeNull()
    expect(main.hasNotice('dialog')).toBe(false)
    expect(readdirSync(folder).sort()).toEqual(['loss.png', 'mine.md'])
  })

  it('prints a report to PDF in an offscreen window without JavaScript, then removes it', async () => {
    const main = startMain()
    await main.notice('ready')
    const page = await appPage(main)
    const pdf = await main.invoke<{ name: string; mimeType: string; base64: string } | null>(
      IPC_PRINT_PDF,
      page,
      '<h1>Report</h1>',
      '../elsewhere/report.pdf',
    )
    expect(pdf).toMatchObject({ name: 'report.pdf', mimeType: 'application/pdf' })
    expect(Buffer.from(pdf?.base64 ?? '', 'base64').toString()).toMatch(/^%PDF/)
    const printer = (await main.snapshot()).windows[1]
    expect(printer).toMatchObject({
      options: { show: false, webPreferences: { sandbox: true, javascript: false } },
      printOptions: { printBackground: true, pageSize: 'A4' },
      destroyed: true,
    })
    expect(existsSync(printer?.loaded?.file ?? '/')).toBe(false)
    expect(await main.invoke(IPC_PRINT_PDF, EVIL, '<h1>x</h1>', 'x.pdf')).toBeNull()
    expect(await main.invoke(IPC_PRINT_PDF, page, 42, 'x.pdf')).toBeNull()
    expect((await main.snapshot()).windows).toHaveLength(2)
  })

  it('closing with nothing training quits without asking and stops the core host', async () => {
    const main = startMain()
    await main.notice('ready')
    const host = await main.coreHost()
    // The close waits for the core's answer (is anything training?) before the window goes.
    expect(await main.request('close-window')).toEqual({ closed: false })
    await main.notice('quit')
    expect(main.hasNotice('dialog')).toBe(false)
    expect((await main.snapshot()).windows[0]?.destroyed).toBe(true)
    // Told to stop, not merely orphaned: the main process is still there.
    await exitOf(host, 'the core host')
    expect(main.child.exitCode).toBeNull()
  })

  it('closing while a run trains asks; "Keep training" lets the core finish the queue alone', async () => {
    const main = startMain()
    await main.notice('ready')
    const host = await main.coreHost()
    const run = await startTraining(main, 'keep', 2)

    await main.request('close-window')
    const dialog = await main.notice('dialog')
    expect(dialog).toMatchObject({
      method: 'showMessageBox',
      window: 1,
      options: {
        message: '1 run is training.',
        buttons: ['Keep training in the background', 'Stop training', 'Cancel'],
        cancelId: 2,
      },
    })
    await main.answer(dialog, { response: 0 })
    await main.notice('quit')
    detachedHosts.push(host)
    expect(await main.exit()).toBe(0)
    expect(isAlive(host)).toBe(true)

    // No window, no app: the queue runs to its end, then the core host exits by itself.
    await exitOf(host, 'the core host after its queue')
    const after = runCli(['show', run.id, '--json', '--data-dir', dataDir])
    const shown = JSON.parse(after.stdout) as { status: string; epochs: { epoch: number }[] }
    expect(shown.status).toBe('completed')
    expect(shown.epochs.map((e) => e.epoch)).toEqual([1, 2])
  }, 300_000)

  it('"Cancel" keeps the window; "Stop training" stops the core host and its trainer', async () => {
    const main = startMain()
    await main.notice('ready')
    const host = await main.coreHost()
    const run = await startTraining(main, 'stop', 50)
    // More queued behind it than queueState lists on one page (QUEUE_PAGE).
    const learningRates = [0.001, 0.002, 0.004]
    const seeds = Math.ceil((QUEUE_PAGE + 1) / learningRates.length)
    const waiting = learningRates.length * seeds
    await call(main, 'addRuns', {
      experiment: 'stop-grid',
      base: trainingRun(1),
      axes: [{ path: 'train.lr', values: learningRates }],
      seeds,
      confirm: true,
    })

    await main.request('close-window')
    const asked = await main.notice('dialog')
    expect(asked.options['message']).toBe(`1 run is training, ${waiting} more queued.`)
    await main.answer(asked, { response: 2 })
    expect((await main.snapshot()).windows[0]?.destroyed).toBe(false)
    expect(main.hasNotice('quit')).toBe(false)

    await main.request('close-window')
    await main.answer(await main.notice('dialog'), { response: 1 })
    await main.notice('quit')
    await exitOf(host, 'the core host')
    expect(main.child.exitCode).toBeNull()
    expect(isAlive(run.pid as number)).toBe(false)
    // Stopped, not lost: queued again, to resume from its last checkpoint next time.
    const after = runCli(['show', run.id, '--json', '--data-dir', dataDir])
    expect(JSON.parse(after.stdout)).toMatchObject({ status: 'queued' })
  }, 300_000)

  it('says why and what to do when its core cannot start, then quits', async () => {
    const main = startMain({ NIN_LAB_NODE: join(dataDir, 'no-such-node') })
    const box = await main.notice('error-box')
    expect(box).toMatchObject({ title: 'NiN Lab could not start its core' })
    expect(box.content).toContain(join(dataDir, 'no-such-node'))
    expect(box.content).toContain('NIN_LAB_NODE')
    // It quits cleanly: the window's close still asks the (absent) core, which must not crash it.
    await main.notice('quit')
    expect(await main.exit()).toBe(0)
  })

  it('with a dev server, accepts calls from its origin only', async () => {
    const dev = 'http://localhost:5173'
    const main = startMain({ ELECTRON_RENDERER_URL: dev })
    await main.notice('ready')
    expect((await main.snapshot()).windows[0]?.loaded).toEqual({ url: dev })
    expect(await main.invoke(IPC_CALL, `${dev}/#/queue`, 'listRuns', {})).toEqual({
      ok: true,
      result: { runs: [], total: 0, next: null },
    })
    for (const sender of [`${dev}.evil.example/`, `${dev}0/`, EVIL]) {
      expect(await main.invoke(IPC_CALL, sender, 'listRuns', {})).toMatchObject({
        ok: false,
        error: { message: 'calls are accepted from the app window only' },
      })
    }
  })
})
