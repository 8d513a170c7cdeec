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
import { toApiError, type Core } from '../core'
import { sendJson } from './http-server'

const MAX_BODY_BYTES = 1 << 20

const STATUS: Record<ApiErrorCode, number> = {
  'invalid-params': 400,
  'invalid-config': 422,
  'not-found': 404,
  'illegal-state': 409,
  'needs-confirmation': 409,
  unavailable: 503,
  internal: 500,
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        reject(new ApiError('invalid-params', `request body over ${MAX_BODY_BYTES} bytes`))
        req.destroy()
      } else chunks.push(chunk)
    })
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
          params = JSON.parse(text)
        } catch {
          throw new ApiError('invalid-params', 'the request body is not valid JSON')
        }
      }
      sendJson(res, 200, await core.call(method, params))
    } catch (err) {
      const apiError = toApiError(err)
      sendJson(res, STATUS[apiError.code], apiError.toBody())
    }
  }
}

/** Accepts event sockets (already authenticated) and broadcasts every core event to them. */
export function eventSockets(core: Core): {
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void
  close: () => void
} {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 })
  const clients = new Set<WebSocket>()
  const listeners = EVENT_NAMES.map((event) => {
    const listener = (payload: unknown): void => {
      const frame = JSON.stringify({ event, payload } satisfies EventFrame)
      for (const ws of clients) if (ws.readyState === ws.OPEN) ws.send(frame)
    }
    core.on(event, listener)
    return () => core.off(event, listener)
  })
  return {
    upgrade: (req, socket, head) => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname
      if (path !== API_EVENTS_PATH) {
        socket.end('HTTP/1.1 404 Not Found\r\n\r\n')
        return
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        clients.add(ws)
        ws.on('close', () => clients.delete(ws))
        // Clients only listen; anything they send is ignored.
      })
    },
    close: () => {
      listeners.forEach((off) => off())
      for (const ws of clients) ws.terminate()
      wss.close()
    },
  }
}
