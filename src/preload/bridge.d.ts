/**
 * The API relay: one generic call and one event stream, carrying the shared contract's methods
 * and events by name (src/shared/api/contract.ts). The renderer's api.ts types it back.
 */
export interface ApiBridge {
  /** Resolves with the method's result; rejects with an ApiErrorBody-shaped object. */
  call(method: string, params: unknown): Promise<unknown>
  /** Subscribes to every pushed event; returns the unsubscribe function. */
  on(listener: (event: string, payload: unknown) => void): () => void
}

/** One file of an exported report, as the core returns it. */
export interface BridgeFile {
  readonly name: string
  readonly mimeType: string
  readonly base64: string
}

/** Desktop-only file services: a native save dialog, and Electron's own PDF printing. */
export interface FilesBridge {
  /** Asks where to save (the first file names the choice; the rest go beside it). Null: cancelled. */
  save(files: readonly BridgeFile[]): Promise<string[] | null>
  /** Prints an HTML report to PDF with Electron's printToPDF. */
  printPdf(html: string, name: string): Promise<BridgeFile>
}

/** What the preload exposes as `window.ninLab` in the Electron window (absent in web mode). */
export interface DesktopBridge {
  readonly transport: 'electron'
  readonly versions: { readonly electron: string; readonly chrome: string; readonly node: string }
  /** The API relay to the core (optional so the renderer can tell an older preload apart). */
  readonly api?: ApiBridge
  readonly files?: FilesBridge
}

declare global {
  interface Window {
    ninLab?: DesktopBridge
  }
}
