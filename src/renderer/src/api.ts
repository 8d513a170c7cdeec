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
  /** Web mode: use another access key from now on (a new `#token=…`, or one pasted). */
  setToken?(token: string | null): void
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

type KeyStorage = Pick<Storage, 'getItem' | 'setItem'>

/**
 * Where the access key is kept: localStorage, so a bookmark, a new tab and a reload all open the
 * app (the key is the data folder's and survives restarts, see src/core/server/access-key.ts);
 * one kept in sessionStorage by an older NiN Lab is taken over.
 */
function keyStorage(win: Window = window): KeyStorage {
  const local = win.localStorage
  try {
    const old = win.sessionStorage.getItem(TOKEN_KEY)
    if (old && !local.getItem(TOKEN_KEY)) local.setItem(TOKEN_KEY, old)
  } catch {
    // storage unavailable: nothing to take over
  }
  return local
}

/** The key in a pasted address (`…/#token=KEY`) or the key itself; null when it holds none. */
export function tokenFrom(text: string): string | null {
  const trimmed = text.trim()
  const match = /(?:^|[#&?])token=([^&\s]+)/.exec(trimmed)
  let key = trimmed
  try {
    if (match?.[1]) key = decodeURIComponent(match[1])
  } catch {
    return null // broken percent-encoding (`#token=%`): no key, never an exception
  }
  return /^[\w-]{8,200}$/.test(key) ? key : null
}

/**
 * Takes the access token from a `#token=…` URL (as `nin-lab serve` prints it) into storage, and
 * removes it from the visible URL and the history entry, so it is not bookmarked, shared in a
 * screenshot or sent as a referrer. Returns the token in force.
 */
export function captureToken(
  loc: Pick<Location, 'hash' | 'pathname' | 'search'> = window.location,
  storage: KeyStorage = keyStorage(),
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

/** Keeps a key the user pasted, and uses it from now on. */
export function setAccessKey(token: string): void {
  try {
    keyStorage().setItem(TOKEN_KEY, token)
  } catch {
    // storage unavailable: the key lasts for this page
  }
  transport().setToken?.(token)
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

/** What the event stream keeps between calls: who listens, the socket, the backoff. */
interface Stream {
  readonly listeners: Set<EventListener>
  token: string | null
  socket: WebSocket | null
  delay: number
  timer: ReturnType<typeof setTimeout> | null
  /** The stream came back, or a new key was given: what was missed is refetched. */
  refetch: boolean
}

interface StreamOptions {
  readonly baseUrl: string
  readonly doFetch: typeof fetch
  readonly Socket: typeof WebSocket | undefined
  readonly minDelay: number
  readonly maxDelay: number
}

export function createHttpTransport(options: HttpTransportOptions): Transport {
  const o: StreamOptions = {
    baseUrl: options.baseUrl,
    doFetch: options.fetch ?? ((input, init) => fetch(input, init)),
    Socket: options.WebSocket ?? globalThis.WebSocket,
    minDelay: options.minDelay ?? 500,
    maxDelay: options.maxDelay ?? 10_000,
  }
  const st: Stream = {
    listeners: new Set<EventListener>(),
    token: options.token,
    socket: null,
    delay: o.minDelay,
    timer: null,
    refetch: false,
  }

  // Without a key nothing but the key screen can work: say so before the first call fails.
  if (!st.token) connection.value = 'unauthorized'

  return {
    kind: 'http',
    call: (method, params) => postCall(o, st.token, method, params),
    subscribe(listener) {
      st.listeners.add(listener)
      openStream(st, o)
      return () => {
        st.listeners.delete(listener)
        if (st.listeners.size === 0) {
          closeStream(st)
          connection.value = 'idle'
        }
      }
    },
    setToken(next) {
      if (next === st.token && connection.value !== 'unauthorized') return
      st.token = next
      st.delay = o.minDelay
      closeStream(st)
      if (!st.token) {
        connection.value = 'unauthorized'
        return
      }
      st.refetch = true
      connection.value = 'connecting'
      if (st.listeners.size > 0) openStream(st, o)
      else {
        // No event stream to wait for: the views refetch at once.
        st.refetch = false
        connection.value = 'idle'
      }
    },
  }
}

const authHeader = (token: string | null): Record<string, string> =>
  token ? { authorization: `Bearer ${token}` } : {}

/** One API call: POST /api/call/<method>, its answer, or the error it says (or why none came). */
async function postCall(
  o: Pick<StreamOptions, 'baseUrl' | 'doFetch'>,
  token: string | null,
  method: string,
  params: unknown,
): Promise<unknown> {
  if (!token) {
    // Nothing would answer: the access key screen says what to do.
    connection.value = 'unauthorized'
    throw new ApiError('unavailable', 'no access key yet: open the address `nin-lab serve` printed')
  }
  let response: Response
  try {
    response = await o.doFetch(`${o.baseUrl}/api/call/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authHeader(token) },
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
      'the access key is missing or out of date: open the address `nin-lab serve` printed (or `nin-lab key show` prints)',
    )
  }
  if (isApiErrorBody(body)) throw toApiError(body)
  throw new ApiError('internal', `${method} failed: HTTP ${response.status}`)
}

/** Stops the stream: no reconnect pending, the socket (if any) closed. */
function closeStream(st: Stream): void {
  if (st.timer) clearTimeout(st.timer)
  st.timer = null
  const ws = st.socket
  st.socket = null
  ws?.close()
}

/** Opens the event stream, when someone listens and none is open (or a key is missing). */
function openStream(st: Stream, o: StreamOptions): void {
  if (st.socket || st.listeners.size === 0 || typeof o.Socket !== 'function') return
  if (!st.token) {
    connection.value = 'unauthorized'
    return
  }
  if (connection.value !== 'reconnecting') connection.value = 'connecting'
  const base = o.baseUrl || window.location.origin
  const url = new URL('/api/events', base)
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  if (st.token) url.searchParams.set('token', st.token)
  const ws = new o.Socket(url.toString())
  st.socket = ws
  let opened = false
  ws.onopen = () => {
    opened = true
    st.delay = o.minDelay
    const wasDown = connection.value === 'reconnecting' || st.refetch
    st.refetch = false
    connection.value = 'open'
    // Events pushed while the socket was down are lost: tell listeners to refetch.
    if (wasDown) for (const l of st.listeners) l(RECONNECTED, null)
  }
  ws.onmessage = (e: MessageEvent) => {
    let frame: unknown
    try {
      frame = JSON.parse(String(e.data))
    } catch {
      return
    }
    if (isRecord(frame) && typeof frame['event'] === 'string') {
      for (const l of st.listeners) l(frame['event'], frame['payload'])
    }
  }
  ws.onclose = () => streamClosed(st, o, ws, opened)
}

/**
 * A socket that closed: the server is down (reconnect with backoff), or it refused the key (a
 * WebSocket cannot say which, so a call to /api/health asks). A refused key stops the retries
 * until another key is given.
 */
function streamClosed(st: Stream, o: StreamOptions, ws: WebSocket, opened: boolean): void {
  if (st.socket !== ws) return
  st.socket = null
  if (st.listeners.size === 0) {
    connection.value = 'idle'
    return
  }
  const retry = (): void => {
    connection.value = 'reconnecting'
    st.timer = setTimeout(() => {
      st.timer = null
      openStream(st, o)
    }, st.delay)
    st.delay = Math.min(st.delay * 2, o.maxDelay)
  }
  if (opened) return retry()
  const tried = st.token
  void whyClosed(o, tried).then((why) => {
    if (tried !== st.token || st.socket) return // a new key came meanwhile
    if (why === 'unauthorized') connection.value = 'unauthorized'
    else retry()
  })
}

async function whyClosed(
  o: Pick<StreamOptions, 'baseUrl' | 'doFetch'>,
  token: string | null,
): Promise<'down' | 'unauthorized'> {
  try {
    const r = await o.doFetch(`${o.baseUrl}/api/health`, { headers: authHeader(token) })
    return r.status === 401 || r.status === 403 ? 'unauthorized' : 'down'
  } catch {
    return 'down'
  }
}

// --- choosing the transport -------------------------------------------------------------------

/**
 * The Electron relay when the preload provides one, else HTTP to the page's own origin. In web
 * mode a later `#token=…` (the user pasting a new address into this tab) switches to that key.
 */
export function createTransport(win: Window = window): Transport {
  const bridge = win.ninLab?.api
  if (bridge) return createBridgeTransport(bridge)
  const storage = keyStorage(win)
  const http = createHttpTransport({
    baseUrl: '',
    token: captureToken(win.location, storage, win.history),
  })
  win.addEventListener('hashchange', () => {
    if (!/(^#|&)token=/.test(win.location.hash)) return
    http.setToken?.(captureToken(win.location, storage, win.history))
  })
  return http
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
