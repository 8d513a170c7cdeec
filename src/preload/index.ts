/**
 * The preload bridge: the only way the sandboxed renderer reaches the main process. It exposes
 * a small, typed surface through contextBridge and never the raw ipcRenderer.
 */
import { contextBridge } from 'electron'
import type { DesktopBridge } from './bridge'

const bridge: DesktopBridge = {
  transport: 'electron',
  versions: {
    electron: process.versions.electron ?? 'unknown',
    chrome: process.versions.chrome ?? 'unknown',
    node: process.versions.node,
  },
}

contextBridge.exposeInMainWorld('ninLab', bridge)
