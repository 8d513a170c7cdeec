/** What the preload exposes as `window.ninLab` in the Electron window (absent in web mode). */
export interface DesktopBridge {
  readonly transport: 'electron'
  readonly versions: { readonly electron: string; readonly chrome: string; readonly node: string }
}

declare global {
  interface Window {
    ninLab?: DesktopBridge
  }
}
