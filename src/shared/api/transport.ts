/**
 * The wire formats of the transports, shared by both ends of each: the web server and the
 * renderer's HTTP client, the Electron relay and the preload bridge, the core host and the
 * Electron main process. Generic over the contract: no method is named here.
 */
import type { ApiErrorBody, EventName } from './contract'

/** HTTP: POST `${API_CALL_PATH}<method>` with the params as JSON body. */
export const API_CALL_PATH = '/api/call/'
/** WebSocket: events, one JSON `EventFrame` per message. */
export const API_EVENTS_PATH = '/api/events'

export interface EventFrame {
  readonly event: EventName
  readonly payload: unknown
}

/** Electron IPC channels between the preload bridge and the main process. */
export const IPC_CALL = 'nin-lab:api-call'
export const IPC_EVENT = 'nin-lab:api-event'
/** Desktop only: save exported files where the user picks (a save dialog in the main process). */
export const IPC_SAVE_FILES = 'nin-lab:save-files'
/** Desktop only: an HTML report to PDF with Electron's own printToPDF. */
export const IPC_PRINT_PDF = 'nin-lab:print-pdf'

/** A call's outcome as it crosses a process boundary (errors travel as data, not exceptions). */
export type CallOutcome =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly error: ApiErrorBody }

/** Messages between the Electron main process and the core host process (node IPC). */
export type HostRequest =
  | {
      readonly kind: 'call'
      readonly id: number
      readonly method: string
      readonly params: unknown
    }
  /** The app is closing: `keep` trains on in the background until the queue is empty, `stop` stops now. */
  | { readonly kind: 'close'; readonly mode: 'keep' | 'stop' }

export type HostMessage =
  | { readonly kind: 'ready'; readonly dataDir: string; readonly scheduler: boolean }
  | ({ readonly kind: 'result'; readonly id: number } & CallOutcome)
  | { readonly kind: 'event'; readonly event: EventName; readonly payload: unknown }
