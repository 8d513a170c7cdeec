/**
 * The web-mode server: serves the built renderer and the API on 127.0.0.1.
 *
 * Security model: the API is reachable only with the data folder's access key (the token; checked before
 * anything else about a request is looked at), the socket binds to loopback unless told
 * otherwise, static files are confined to the renderer folder, and every response carries a
 * strict Content-Security-Policy with no remote origins.
 *
 * Robustness model: nothing a client does may reach the rest of the process (the scheduler and
 * the runs it trains share it). Every socket and stream has an error path; slow or half-open
 * clients are cut off by the header and request timeouts; the number of connections is capped.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { createReadStream, statSync } from 'node:fs'
import { pipeline } from 'node:stream'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { extname, join, normalize, sep } from 'node:path'
import { APP_CSP } from '@shared/security'
import { stringifyYielding } from './json-yielding'

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
}

export interface ApiHandler {
  (req: IncomingMessage, res: ServerResponse, path: string): void | Promise<void>
}

/** How long and how many: what a slow, half-open or greedy client may take from the server. */
export interface ServerLimits {
  /** Time from connecting to the end of the request headers (slowloris). */
  readonly headersTimeoutMs: number
  /** Time from connecting to the end of the request body. */
  readonly requestTimeoutMs: number
  /** An idle keep-alive connection is closed after this long. */
  readonly keepAliveTimeoutMs: number
  /** How often Node checks the two timeouts above. */
  readonly checkIntervalMs: number
  /** Open connections (HTTP and WebSocket together); more are closed as they arrive. */
  readonly maxConnections: number
}

export const DEFAULT_LIMITS: ServerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  checkIntervalMs: 1_000,
  maxConnections: 128,
}

export interface WebServerOptions {
  /** Folder with the built renderer (index.html and assets/). */
  readonly rendererDir: string
  readonly host: string
  /** 0 picks a free port. */
  readonly port: number
  /**
   * The token in force: fixed, or read at each request (the data folder's access key, which a
   * rotation may replace while the server runs). A random one when not given (tests).
   */
  readonly token?: string | (() => string)
  /** Handles authenticated `/api/...` requests; `path` is the part after `/api`. */
  readonly api: ApiHandler
  /** Handles authenticated WebSocket upgrades (under `/api/`). */
  readonly upgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void
  /** Tests shorten these; see DEFAULT_LIMITS. */
  readonly limits?: Partial<ServerLimits>
}

export interface RunningWebServer {
  readonly server: Server
  /** The address with the token as it was at start. */
  readonly url: string
  readonly token: string
  close(): Promise<void>
}

export const newToken = (): string => randomBytes(24).toString('base64url')

/** Constant-time comparison, so the token cannot be guessed byte by byte from response times. */
export function tokenMatches(given: string | null, token: string): boolean {
  if (given === null) return false
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** The token from `Authorization: Bearer …` or, for WebSockets and downloads, `?token=…`. */
export function requestToken(req: IncomingMessage): string | null {
  const auth = req.headers.authorization
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim()
  const url = new URL(req.url ?? '/', 'http://localhost')
  return url.searchParams.get('token')
}

export const isAuthorized = (req: IncomingMessage, token: string): boolean =>
  tokenMatches(requestToken(req), token)

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendJsonText(res, status, JSON.stringify(body))
}

/** sendJson for answers that may be large: stringified with other calls let in between. */
export async function sendJsonYielding(
  res: ServerResponse,
  status: number,
  body: unknown,
): Promise<void> {
  sendJsonText(res, status, (await stringifyYielding(body)) ?? 'null')
}

function sendJsonText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  })
  res.end(text)
}

function serveStatic(rendererDir: string, urlPath: string, res: ServerResponse): void {
  let relative: string
  try {
    relative = decodeURIComponent(urlPath)
  } catch {
    sendJson(res, 400, { error: 'malformed URL' })
    return
  }
  if (relative === '/' || relative === '') relative = '/index.html'
  const root = normalize(rendererDir + sep)
  const file = normalize(join(root, relative))
  if (!file.startsWith(root)) {
    sendJson(res, 403, { error: 'outside the app folder' })
    return
  }
  let size: number
  try {
    const st = statSync(file)
    if (!st.isFile()) throw new Error('not a file')
    size = st.size
  } catch {
    sendJson(res, 404, { error: `not found: ${urlPath}` })
    return
  }
  res.writeHead(200, {
    'content-type': MIME[extname(file)] ?? 'application/octet-stream',
    'content-length': size,
    'cache-control': relative.startsWith('/assets/')
      ? 'public, max-age=31536000, immutable'
      : 'no-cache',
  })
  // pipeline, not pipe: a file that vanishes between stat and read, or a client that goes away
  // mid-download, ends this response instead of throwing an unhandled stream error.
  pipeline(createReadStream(file), res, (err) => {
    if (err) res.destroy()
  })
}

/** A raw reply on a socket that has not become HTTP or WebSocket (refused upgrades). */
function rejectSocket(socket: Duplex, status: string): void {
  if (socket.writable)
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
  else socket.destroy()
}

export async function startWebServer(opts: WebServerOptions): Promise<RunningWebServer> {
  const given = opts.token ?? newToken()
  const currentToken = typeof given === 'function' ? given : (): string => given
  const token = currentToken()
  const limits = { ...DEFAULT_LIMITS, ...opts.limits }
  const server = createServer(
    { connectionsCheckingInterval: limits.checkIntervalMs },
    (req, res) => {
      // A client that resets the connection mid-request must not become an unhandled 'error'.
      req.on('error', () => res.destroy())
      res.on('error', () => res.destroy())
      res.setHeader('content-security-policy', APP_CSP)
      res.setHeader('x-content-type-options', 'nosniff')
      res.setHeader('referrer-policy', 'no-referrer')
      res.setHeader('cross-origin-resource-policy', 'same-origin')
      const path = new URL(req.url ?? '/', 'http://localhost').pathname
      if (path === '/api' || path.startsWith('/api/')) {
        // The token is checked before anything else about the request is looked at.
        if (!isAuthorized(req, currentToken())) {
          sendJson(res, 401, {
            error:
              'missing or out-of-date access key: open the address `nin-lab serve` printed (it ends in #token=…)',
          })
          return
        }
        Promise.resolve(opts.api(req, res, path.slice(4))).catch((err: unknown) => {
          if (!res.headersSent)
            sendJson(res, 500, { error: err instanceof Error ? err.message : String(err) })
          else res.destroy()
        })
        return
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        sendJson(res, 405, { error: 'method not allowed' })
        return
      }
      serveStatic(opts.rendererDir, path, res)
    },
  )
  server.headersTimeout = limits.headersTimeoutMs
  server.requestTimeout = limits.requestTimeoutMs
  server.keepAliveTimeout = limits.keepAliveTimeoutMs
  server.maxConnections = limits.maxConnections
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node hands the socket over with no error listener: a reset would crash the process.
    socket.on('error', () => socket.destroy())
    // Same rule as for requests: no valid token, no socket, before anything else is looked at.
    if (!isAuthorized(req, currentToken())) return rejectSocket(socket, '401 Unauthorized')
    if (!opts.upgrade) return rejectSocket(socket, '404 Not Found')
    opts.upgrade(req, socket, head)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject)
      // Once listening, an error (EMFILE when accepting, say) concerns one connection, not the
      // process: said, never thrown (an 'error' without a listener would end the runs too).
      server.on('error', (err) => console.error(`nin-lab serve: ${err.message}`))
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host
  return {
    server,
    token,
    url: `http://${hostForUrl}:${port}/#token=${token}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
