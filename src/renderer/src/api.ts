/**
 * The renderer's one way to the core: a typed `api` (one async function per contract method) and
 * `onEvent` for pushed events. Two transports, picked once at first use and invisible to views:
 * - Electron: the preload's `window.ninLab.api` relay (IPC to the main process, then the core);
 * - web mode: `POST /api/call/<method>` with a bearer token, events over a WebSocket that
 *   reconnects with backoff.
 * Both are generic over method and event names: nothing here knows a method by name.
 */
import { visibleText } from '@shared/security'
import { ref } from 'vue'
import {
  ApiError,
  isApiErrorBody,
  METHOD_NAMES,
  type ApiClient,
  type ApiEvents,
  type EventName,
  type MethodName,
} from '@shared/api/contract'
import type { ConfigIssue } from '@shared/config/schema'
import type { ApiBridge } from '@preload/bridge'

export type EventListener = (event: string, payload: unknown) => void

/** What a transport does: call a method by name, stream every event. */
export interface Transport {
  readonly kind: 'electron' | 'http'
  call(method: MethodName, params: unknown): Promise<unknown>
  subscribe(listener: EventListener): () => void
}

/**
 * The event stream's state, for the "disconnected — reconnecting" banner. Electron's relay is
 * always `open`; a WebSocket starts `connecting`.
 */
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'unauthorized'
export const connection = ref<ConnectionState>('idle')

/**
 * A pseudo-event a transport sends its listeners after the event stream came back: state may
 * have changed unseen. (Exported for transports written elsewhere, such as tests' fakes.)
 */
export const RECONNECTED = '$reconnected'

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** Anything a transport rejects with, as an ApiError (code, message, config issues). */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err
  if (isApiErrorBody(err)) {
    const issues = Array.isArray(err.issues) ? (err.issues as readonly ConfigIssue[]) : undefined
    return new ApiError(err.code, err.message, issues)
  }
  if (err instanceof Error) return new ApiError('internal', err.message)
  return new ApiError('internal', String(err))
}

// --- Electron -----------------------------------------------------------------------------

export function createBridgeTransport(bridge: ApiBridge): Transport {
  return {
    kind: 'electron',
    async call(method, params) {
      try {
        return await bridge.call(method, params ?? {})
      } catch (err) {
        throw toApiError(err)
      }
    },
    subscribe(listener) {
      connection.value = 'open'
      return bridge.on(listener)
    },
  }
}

// --- web mode -------------------------------------------------------------------------------

const TOKEN_KEY = 'ninLab.token'

/**
 * Takes the access token from a `#token=…` URL (as `nin-lab serve` prints it) into
 * sessionStorage, and removes it from the visible URL and the history entry, so it is not
 * bookmarked, shared in a screenshot or sent as a referrer. Returns the token in force.
 */
export function captureToken(
  loc: Pick<Location, 'hash' | 'pathname' | 'search'> = window.location,
  storage: Pick<Storage, 'getItem' | 'setItem'> = window.sessionStorage,
  history: Pick<History, 'replaceState' | 'state'> = window.history,
): string | null {
  const hash = loc.hash.replace(/^#/, '')
  if (/(^|&)token=/.test(hash)) {
    const params = new URLSearchParams(hash)
    const token = params.get('token')
    if (token) storage.setItem(TOKEN_KEY, token)
    params.delete('token')
    const rest = params.toString()
    history.replaceState(history.state, '', `${loc.pathname}${loc.search}${rest ? `#${rest}` : ''}`)
  }
  return storage.getItem(TOKEN_KEY)
}

export interface HttpTransportOptions {
  /** Origin of the core's web server, e.g. `http://127.0.0.1:5173` ('' = this page's). */
  readonly baseUrl: string
  readonly token: string | null
  readonly fetch?: typeof fetch
  readonly WebSocket?: typeof WebSocket
  /** Reconnect delays grow from this (ms) to `maxDelay`, doubling on each failure. */
  readonly minDelay?: number
  readonly maxDelay?: number
}

export function createHttpTransport(options: HttpTransportOptions): Transport {
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init))
  const Socket = options.WebSocket ?? globalThis.WebSocket
  const minDelay = options.minDelay ?? 500
  const maxDelay = options.maxDelay ?? 10_000
  const listeners = new Set<EventListener>()
  let socket: WebSocket | null = null
  let delay = minDelay
  let timer: ReturnType<typeof setTimeout> | null = null

  const wsUrl = (): string => {
    const base = options.baseUrl || window.location.origin
    const url = new URL('/api/events', base)
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
    if (options.token) url.searchParams.set('token', options.token)
    return url.toString()
  }

  const open = (): void => {
    if (socket || listeners.size === 0 || typeof Socket !== 'function') return
    if (connection.value !== 'reconnecting') connection.value = 'connecting'
    const ws = new Socket(wsUrl())
    socket = ws
    ws.onopen = () => {
      delay = minDelay
      const wasDown = connection.value === 'reconnecting'
      connection.value = 'open'
      // Events pushed while the socket was down are lost: tell listeners to refetch.
      if (wasDown) for (const l of listeners) l(RECONNECTED, null)
    }
    ws.onmessage = (e: MessageEvent) => {
      let frame: unknown
      try {
        frame = JSON.parse(String(e.data))
      } catch {
        return
      }
      if (isRecord(frame) && typeof frame['event'] === 'string') {
        for (const l of listeners) l(frame['event'], frame['payload'])
      }
    }
    ws.onclose = () => {
      if (socket !== ws) return
      socket = null
      if (listeners.size === 0) {
        connection.value = 'idle'
        return
      }
      connection.value = 'reconnecting'
      timer = setTimeout(() => {
        timer = null
        open()
      }, delay)
      delay = Math.min(delay * 2, maxDelay)
    }
  }

  return {
    kind: 'http',
    async call(method, params) {
      let response: Response
      try {
        response = await doFetch(`${options.baseUrl}/api/call/${method}`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          },
          body: JSON.stringify(params ?? {}),
        })
      } catch (err) {
        throw new ApiError(
          'unavailable',
          `cannot reach the NiN Lab server (${err instanceof Error ? err.message : String(err)})`,
        )
      }
      let body: unknown = null
      const text = await response.text()
      if (text !== '') {
        try {
          body = JSON.parse(text)
        } catch {
          body = text
        }
      }
      if (response.ok) return body
      if (response.status === 401 || response.status === 403) {
        connection.value = 'unauthorized'
        throw new ApiError(
          'unavailable',
          'not authorized: open the address that `nin-lab serve` printed, with its #token=…',
        )
      }
      if (isApiErrorBody(body)) throw toApiError(body)
      throw new ApiError('internal', `${method} failed: HTTP ${response.status}`)
    },
    subscribe(listener) {
      listeners.add(listener)
      open()
      return () => {
        listeners.delete(listener)
        if (listeners.size === 0) {
          if (timer) clearTimeout(timer)
          timer = null
          const ws = socket
          socket = null
          ws?.close()
          connection.value = 'idle'
        }
      }
    },
  }
}

// --- choosing the transport -------------------------------------------------------------------

/** The Electron relay when the preload provides one, else HTTP to the page's own origin. */
export function createTransport(win: Window = window): Transport {
  const bridge = win.ninLab?.api
  if (bridge) return createBridgeTransport(bridge)
  return createHttpTransport({ baseUrl: '', token: captureToken(win.location) })
}

let current: Transport | null = null
const transport = (): Transport => (current ??= createTransport())

/** Replaces the transport (tests; a future in-process client). Drops every event subscription. */
export function setTransport(next: Transport | null): void {
  unsubscribeAll?.()
  unsubscribeAll = null
  current = next
  if (handlers.size > 0) ensureSubscribed()
}

/** The typed client: one function per contract method, built from the list of method names. */
export function createClient(get: () => Transport): ApiClient {
  const client: Partial<Record<MethodName, (params: unknown) => Promise<unknown>>> = {}
  for (const method of METHOD_NAMES) client[method] = (params) => get().call(method, params)
  return client as ApiClient
}

export const api: ApiClient = createClient(transport)

// --- events -----------------------------------------------------------------------------------

type Handler = (payload: unknown) => void
const handlers = new Map<string, Set<Handler>>()
let unsubscribeAll: (() => void) | null = null

function ensureSubscribed(): void {
  if (unsubscribeAll) return
  unsubscribeAll = transport().subscribe((event, payload) => {
    for (const h of handlers.get(event) ?? []) {
      try {
        h(payload)
      } catch (err) {
        console.error(`handler of ${event} failed`, err)
      }
    }
  })
}

function addHandler(name: string, handler: Handler): () => void {
  let set = handlers.get(name)
  if (!set) handlers.set(name, (set = new Set()))
  set.add(handler)
  ensureSubscribed()
  return () => {
    set.delete(handler)
  }
}

/** Subscribes to one pushed event; returns the unsubscribe function. */
export function onEvent<E extends EventName>(
  name: E,
  handler: (payload: ApiEvents[E]) => void,
): () => void {
  return addHandler(name, handler as Handler)
}

/** Runs `handler` when the event stream reconnects after a drop (refetch what may be stale). */
export function onReconnect(handler: () => void): () => void {
  return addHandler(RECONNECTED, handler)
}

/** Which transport is in use, for the header ("desktop" or "web mode"). */
export const transportKind = (): Transport['kind'] => transport().kind

/**
 * A message for any thrown value, for status lines. Messages quote user text (run and
 * experiment names, config values): shown with invisible characters made visible.
 */
export const errorMessage = (err: unknown): string =>
  visibleText(toApiError(err).message, { multiline: true })
