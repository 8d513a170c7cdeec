/**
 * The Electron main process: owns the window and nothing heavy (docs/architecture.md). It loads
 * no native module: the core (store, scheduler, trainers) runs in a plain Node child process
 * (core-client.ts), and this process relays the renderer's calls and the core's events.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { app, BrowserWindow, dialog, ipcMain, Menu, session, shell } from 'electron'
import {
  IPC_CALL,
  IPC_EVENT,
  IPC_PRINT_PDF,
  IPC_SAVE_FILES,
  type CallOutcome,
} from '@shared/api/transport'
import type { QueueState } from '@shared/api/contract'
import { nestsDeeperThan } from '@shared/json'
import { APP_CSP } from '@shared/security'
import { startCoreClient, type CoreClient } from './core-client'

let core: CoreClient | null = null
let quitting = false

const APP_PAGE = join(import.meta.dirname, '../renderer/index.html')
/** The renderer's dev server (electron-vite dev), never in a packaged app. */
const devServer = (): string | undefined =>
  app.isPackaged ? undefined : process.env['ELECTRON_RENDERER_URL']

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 820,
    minWidth: 900,
    minHeight: 600,
    title: 'NiN Lab',
    show: false,
    webPreferences: {
      preload: join(import.meta.dirname, '../preload/index.cjs'),
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
      webSecurity: true,
    },
  })
  win.once('ready-to-show', () => win.show())

  // No navigation away from the app and no new windows: web links open in the OS browser.
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (/^https?:\/\//.test(url)) void shell.openExternal(url)
    return { action: 'deny' }
  })
  win.webContents.on('will-navigate', (event, url) => {
    if (url !== win.webContents.getURL()) {
      event.preventDefault()
      if (/^https?:\/\//.test(url)) void shell.openExternal(url)
    }
  })
  win.on('close', (event) => {
    if (quitting) return
    event.preventDefault()
    void confirmClose(win)
  })

  const dev = devServer()
  if (dev) void win.loadURL(dev)
  else void win.loadFile(APP_PAGE)
  return win
}

/** Closing while runs train asks: keep training in the background, or stop. */
async function confirmClose(win: BrowserWindow): Promise<void> {
  let mode: 'keep' | 'stop' = 'stop'
  const outcome = core ? await core.call('queueState', {}) : null
  const state = outcome?.ok ? (outcome.result as QueueState) : null
  const training = state?.runs.filter((r) => r.status === 'running').length ?? 0
  if (training > 0) {
    // Not runs.length: the state lists at most a page of the queued runs.
    const queued = state?.queuedTotal ?? 0
    const { response } = await dialog.showMessageBox(win, {
      type: 'question',
      buttons: ['Keep training in the background', 'Stop training', 'Cancel'],
      defaultId: 0,
      cancelId: 2,
      message: `${training} run${training === 1 ? ' is' : 's are'} training${queued > 0 ? `, ${queued} more queued` : ''}.`,
      detail:
        'Keep training: the queue runs on without a window and stops when it is empty; open NiN Lab again to watch it.\n' +
        'Stop: running runs stop after their current step and resume from their last checkpoint next time.',
    })
    if (response === 2) return
    mode = response === 0 ? 'keep' : 'stop'
  }
  quitting = true
  core?.close(mode)
  win.close()
}

function startCore(): CoreClient {
  const client = startCoreClient({ cliPath: join(import.meta.dirname, 'cli.js') })
  client.onEvent((event, payload) => {
    for (const win of BrowserWindow.getAllWindows()) win.webContents.send(IPC_EVENT, event, payload)
  })
  client.ready.catch((err: unknown) => {
    dialog.showErrorBox(
      'NiN Lab could not start its core',
      `${err instanceof Error ? err.message : String(err)}\n\nNiN Lab runs its core with Node.js (20 or newer). ` +
        'Install Node.js, or set NIN_LAB_NODE to its path, and start NiN Lab again.',
    )
    app.quit()
  })
  return client
}

interface FileData {
  readonly name: string
  readonly mimeType: string
  readonly base64: string
}

/** A name that is a file in the chosen folder once its directories are dropped ("", ".." are not). */
const isFileName = (name: unknown): name is string =>
  typeof name === 'string' && !['', '.', '..'].includes(basename(name))

const isFileList = (v: unknown): v is FileData[] =>
  Array.isArray(v) &&
  v.length > 0 &&
  v.length <= 20 &&
  v.every(
    (f: unknown) =>
      typeof f === 'object' &&
      f !== null &&
      isFileName((f as FileData).name) &&
      typeof (f as FileData).base64 === 'string',
  )

/**
 * The sender is our own page: the app's index.html (any route: the hash is not compared), or in
 * development the dev server's origin. Compared as parsed URLs, not as string prefixes, which
 * `http://localhost:5173.evil.example` or any other file:// page would pass.
 */
function fromApp(url: string): boolean {
  let sender: URL
  try {
    sender = new URL(url)
  } catch {
    return false
  }
  const dev = devServer()
  if (dev) return sender.origin === new URL(dev).origin
  return sender.protocol === 'file:' && sender.pathname === pathToFileURL(APP_PAGE).pathname
}

function registerIpc(): void {
  ipcMain.handle(IPC_SAVE_FILES, async (event, files: unknown): Promise<string[] | null> => {
    if (!fromApp(event.senderFrame?.url ?? '') || !isFileList(files)) return null
    const win = BrowserWindow.fromWebContents(event.sender)
    const first = files[0] as FileData
    const options = { defaultPath: join(app.getPath('documents'), basename(first.name)) }
    const { canceled, filePath } = win
      ? await dialog.showSaveDialog(win, options)
      : await dialog.showSaveDialog(options)
    if (canceled || !filePath) return null
    // The first file goes where the user said; the others (charts, metrics) beside it.
    const written = files.map((f, i) =>
      i === 0 ? filePath : join(dirname(filePath), basename(f.name)),
    )
    files.forEach((f, i) => writeFileSync(written[i] as string, Buffer.from(f.base64, 'base64')))
    return written
  })
  ipcMain.handle(
    IPC_PRINT_PDF,
    async (event, html: unknown, name: unknown): Promise<FileData | null> => {
      if (
        !fromApp(event.senderFrame?.url ?? '') ||
        typeof html !== 'string' ||
        typeof name !== 'string'
      )
        return null
      const dir = mkdtempSync(join(tmpdir(), 'nin-lab-pdf-'))
      // An offscreen window with no preload and no JavaScript: the report is static HTML.
      const printer = new BrowserWindow({
        show: false,
        webPreferences: { sandbox: true, javascript: false },
      })
      try {
        const page = join(dir, 'report.html')
        writeFileSync(page, html)
        await printer.loadFile(page)
        const pdf = await printer.webContents.printToPDF({ printBackground: true, pageSize: 'A4' })
        return {
          name: basename(name),
          mimeType: 'application/pdf',
          base64: Buffer.from(pdf).toString('base64'),
        }
      } finally {
        printer.destroy()
        rmSync(dir, { recursive: true, force: true })
      }
    },
  )
  ipcMain.handle(
    IPC_CALL,
    async (event, method: unknown, params: unknown): Promise<CallOutcome> => {
      if (!fromApp(event.senderFrame?.url ?? '')) {
        return {
          ok: false,
          error: { code: 'invalid-params', message: 'calls are accepted from the app window only' },
        }
      }
      if (typeof method !== 'string')
        return { ok: false, error: { code: 'invalid-params', message: 'method must be a string' } }
      if (!core)
        return { ok: false, error: { code: 'unavailable', message: 'the core is not running' } }
      // Serialising a hostile, very deep object for the core would overflow this process's stack.
      if (nestsDeeperThan(params))
        return {
          ok: false,
          error: { code: 'invalid-params', message: `the parameters nest too deeply` },
        }
      // The core validates the parameters (it is the boundary for every transport).
      return core.call(method, params)
    },
  )
}

if (!app.requestSingleInstanceLock()) {
  app.quit()
} else {
  app.on('second-instance', () => {
    const [win] = BrowserWindow.getAllWindows()
    if (win) {
      if (win.isMinimized()) win.restore()
      win.focus()
    }
  })
  void app.whenReady().then(() => {
    // The same strict CSP as the page's meta tag, also as a header: nothing remote, ever.
    session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
      callback({
        responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [APP_CSP] },
      })
    })
    session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) =>
      callback(false),
    )
    Menu.setApplicationMenu(
      Menu.buildFromTemplate([
        ...(process.platform === 'darwin' ? [{ role: 'appMenu' as const }] : []),
        { role: 'fileMenu' },
        { role: 'editMenu' },
        { role: 'viewMenu' },
        { role: 'windowMenu' },
        {
          role: 'help',
          submenu: [
            {
              label: 'NiN paper (Lin et al. 2013)',
              click: () => void shell.openExternal('https://arxiv.org/abs/1312.4400'),
            },
            {
              label: 'd2l.ai §8.3 Network in Network',
              click: () =>
                void shell.openExternal('https://d2l.ai/chapter_convolutional-modern/nin.html'),
            },
          ],
        },
      ]),
    )
    core = startCore()
    registerIpc()
    createWindow()
    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) createWindow()
    })
  })
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin' || quitting) app.quit()
  })
}
