/**
 * The preload bridge: the only way the sandboxed renderer reaches the main process. It exposes
 * `window.ninLab` through contextBridge — a generic call and an event subscription — and never
 * the raw ipcRenderer. Errors travel as data and become rejected promises here.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron'
import {
  IPC_CALL,
  IPC_EVENT,
  IPC_PRINT_PDF,
  IPC_SAVE_FILES,
  type CallOutcome,
} from '@shared/api/transport'
import type { BridgeFile, DesktopBridge } from './bridge'

const bridge: DesktopBridge = {
  transport: 'electron',
  versions: {
    electron: process.versions.electron ?? 'unknown',
    chrome: process.versions.chrome ?? 'unknown',
    node: process.versions.node,
  },
  api: {
    call: async (method, params) => {
      const outcome = (await ipcRenderer.invoke(IPC_CALL, method, params)) as CallOutcome
      if (outcome.ok) return outcome.result
      throw outcome.error
    },
    on: (listener) => {
      const handler = (_event: IpcRendererEvent, name: string, payload: unknown): void =>
        listener(name, payload)
      ipcRenderer.on(IPC_EVENT, handler)
      return () => void ipcRenderer.off(IPC_EVENT, handler)
    },
  },
  files: {
    save: (files) => ipcRenderer.invoke(IPC_SAVE_FILES, files) as Promise<string[] | null>,
    printPdf: (html, name) => ipcRenderer.invoke(IPC_PRINT_PDF, html, name) as Promise<BridgeFile>,
  },
}

contextBridge.exposeInMainWorld('ninLab', bridge)
