/**
 * The API over HTTP and WebSocket, on top of `http-server.ts` (which has already checked the
 * token). Calls: POST /api/call/<method>, JSON body = params, JSON reply = result or error body.
 * Events: a WebSocket at /api/events that receives every core event as an EventFrame.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import { ApiError, EVENT_NAMES, type ApiErrorCode } from '@shared/api/contract'
import { API_CALL_PATH, API_EVENTS_PATH, type EventFrame } from '@shared/api/transport'
import { bytes, int } from '@shared/format'
import { JsonTooDeepError, MAX_JSON_DEPTH, parseJson } from '@shared/json'
import { toApiError, type Core } from '../core'
import { requestToken, sendJson, sendJsonYielding, tokenMatches } from './http-server'

export const MAX_BODY_BYTES = 1 << 20

/** Event sockets: clients only listen, so what they may send or leave unread is small. */
export const EVENT_SOCKET_LIMITS = {
  /** Bytes a client may send in one message (anything it sends is ignored). */
  maxPayload: 4096,
  /** Open event sockets; more are refused with 503 (the app opens one per window). */
  maxClients: 32,
  /** Events queued for a client that does not read them; past this it is cut off. */
  maxBufferedBytes: 8 << 20,
  /** A client that has not answered the last ping by the next one is gone (half-open). */
  pingIntervalMs: 30_000,
  /** How often open sockets are checked against the access key in force (a rotation). */
  keyCheckMs: 1_000,
}

/** The close code of a socket whose access key was rotated away (4000–4999: the app's own). */
export const KEY_ROTATED_CLOSE = 4401

class BodyTooLargeError extends Error {
  constructor() {
    super(
      `the request body is larger than the limit of ${bytes(MAX_BODY_BYTES)} (${int(MAX_BODY_BYTES)} bytes); API calls are small: send less`,
    )
  }
}

const STATUS: Record<ApiErrorCode, number> = {
  'invalid-params': 400,
  'invalid-config': 422,
  'not-found': 404,
  'illegal-state': 409,
  'needs-confirmation': 409,
  unavailable: 503,
  internal: 500,
}

/**
 * The body as text, at most MAX_BODY_BYTES. Past the limit the rest is read and dropped rather
 * than the connection reset, so that the client receives the 413 that says why (a reset socket
 * says nothing); the server's request timeout bounds how long that may take.
 */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
      req.resume()
      reject(new BodyTooLargeError())
      return
    }
    let size = 0
    const chunks: Buffer[] = []
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size <= MAX_BODY_BYTES) return void chunks.push(chunk)
      chunks.length = 0
      req.off('data', onData)
      req.resume()
      reject(new BodyTooLargeError())
    }
    req.on('data', onData)
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

/** Handles an authenticated `/api/...` request; `path` is the part after `/api`. */
export function apiHandler(core: Core) {
  return async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const callPrefix = API_CALL_PATH.slice('/api'.length)
    if (path === '/health') return sendJson(res, 200, { ok: true, app: 'nin-lab' })
    if (!path.startsWith(callPrefix))
      return sendJson(res, 404, { code: 'not-found', message: `no API endpoint ${path}` })
    if (req.method !== 'POST')
      return sendJson(res, 405, { code: 'invalid-params', message: 'API calls are POST requests' })
    const method = path.slice(callPrefix.length)
    try {
      const type = req.headers['content-type'] ?? ''
      if (!type.startsWith('application/json')) {
        throw new ApiError('invalid-params', 'API calls need Content-Type: application/json')
      }
      const text = await readBody(req)
      let params: unknown = {}
      if (text.trim() !== '') {
        try {
          params = parseJson(text, MAX_JSON_DEPTH)
        } catch (err) {
          throw new ApiError(
            'invalid-params',
            err instanceof JsonTooDeepError
              ? `the request body ${err.message}`
              : 'the request body is not valid JSON',
          )
        }
      }
      await sendJsonYielding(res, 200, await core.call(method, params))
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        return sendJson(res, 413, { code: 'invalid-params', message: err.message })
      }
      const apiError = toApiError(err)
      sendJson(res, STATUS[apiError.code], apiError.toBody())
    }
  }
}

/** Accepts event sockets (already authenticated) and broadcasts every core event to them. */
export function eventSockets(
  core: Core,
  options: Partial<typeof EVENT_SOCKET_LIMITS> = {},
  /**
   * The access key in force (read again at each call): a socket opened with another key is
   * closed, so a rotation shuts out sockets opened with the old key as it does requests.
   */
  currentToken?: () => string,
): {
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void
  close: () => void
} {
  const limits = { ...EVENT_SOCKET_LIMITS, ...options }
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxPayload })
  // The server itself only errors on a failed upgrade, which the socket's own handler covers.
  wss.on('error', () => undefined)
  const clients = new Set<WebSocket>()
  const alive = new WeakSet<WebSocket>()
  /** The key each socket was opened with. */
  const keys = new WeakMap<WebSocket, string>()
  /** Closes the sockets opened with a key that is no longer in force. */
  const closeStale = (): void => {
    if (!currentToken) return
    const token = currentToken()
    for (const ws of clients) {
      if (tokenMatches(keys.get(ws) ?? null, token)) continue
      clients.delete(ws)
      ws.close(KEY_ROTATED_CLOSE, 'access key rotated: open the new address')
    }
  }
  const keyCheck = setInterval(closeStale, limits.keyCheckMs)
  keyCheck.unref()
  const listeners = EVENT_NAMES.map((event) => {
    const listener = (payload: unknown): void => {
      // Checked before each event too: nothing reaches a socket after its key was rotated.
      closeStale()
      const frame = JSON.stringify({ event, payload } satisfies EventFrame)
      for (const ws of clients) {
        if (ws.readyState !== ws.OPEN) continue
        // A client that stopped reading would otherwise grow this process's memory without end.
        if (ws.bufferedAmount > limits.maxBufferedBytes) ws.terminate()
        else ws.send(frame)
      }
    }
    core.on(event, listener)
    return () => core.off(event, listener)
  })
  // Half-open clients (a laptop that went to sleep, a dropped network) never close their side:
  // each ping must be answered by the next one.
  const heartbeat = setInterval(() => {
    for (const ws of clients) {
      if (!alive.has(ws)) {
        ws.terminate()
        continue
      }
      alive.delete(ws)
      ws.ping()
    }
  }, limits.pingIntervalMs)
  heartbeat.unref()
  const refuse = (socket: Duplex, status: string): void => {
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
  }
  return {
    upgrade: (req, socket, head) => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname
      if (path !== API_EVENTS_PATH) return refuse(socket, '404 Not Found')
      if (clients.size >= limits.maxClients) return refuse(socket, '503 Service Unavailable')
      wss.handleUpgrade(req, socket, head, (ws) => {
        keys.set(ws, requestToken(req) ?? '')
        clients.add(ws)
        alive.add(ws)
        ws.on('pong', () => alive.add(ws))
        ws.on('close', () => clients.delete(ws))
        // A message over maxPayload, a bad frame or a reset: ws has already sent the close code
        // (1009, 1002, …); without this listener the error would end the whole process.
        ws.on('error', () => ws.terminate())
        // Clients only listen; anything they send is ignored.
      })
    },
    close: () => {
      clearInterval(heartbeat)
      clearInterval(keyCheck)
      listeners.forEach((off) => off())
      for (const ws of clients) ws.terminate()
      wss.close()
    },
  }
}
