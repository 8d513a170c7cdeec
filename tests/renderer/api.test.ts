// @vitest-environment happy-dom
/**
 * The api module's transports. `fetch` and WebSocket are stubbed: they are the transport
 * boundary, and these tests check what crosses it (URL, token, body, error bodies, frames).
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ApiError } from '@shared/api/contract'
import type { ApiBridge } from '@preload/bridge'
import {
  api,
  captureToken,
  connection,
  createHttpTransport,
  createTransport,
  onEvent,
  setTransport,
} from '@renderer/api'

afterEach(() => {
  setTransport(null)
  delete window.ninLab
  vi.unstubAllGlobals()
})

function fakeBridge(): ApiBridge & { listeners: ((e: string, p: unknown) => void)[] } {
  const listeners: ((e: string, p: unknown) => void)[] = []
  return {
    listeners,
    call: vi.fn(async (method: string) => {
      if (method === 'getRun') throw { code: 'not-found', message: 'no run r1' }
      return {
        paused: false,
        schedulerRunning: true,
        halted: null,
        runs: [],
        queuedTotal: 0,
        progress: {},
      }
    }),
    on(listener) {
      listeners.push(listener)
      return () => listeners.splice(listeners.indexOf(listener), 1)
    },
  }
}

describe('transport choice', () => {
  it('uses the Electron bridge when window.ninLab.api exists', async () => {
    const bridge = fakeBridge()
    window.ninLab = {
      transport: 'electron',
      versions: { electron: '1', chrome: '1', node: '1' },
      api: bridge,
    }
    const fetchSpy = vi.fn()
    vi.stubGlobal('fetch', fetchSpy)
    const transport = createTransport(window)
    expect(transport.kind).toBe('electron')
    setTransport(transport)

    const state = await api.queueState({})
    expect(state.paused).toBe(false)
    expect(bridge.call).toHaveBeenCalledWith('queueState', {})
    expect(fetchSpy).not.toHaveBeenCalled()

    // Rejections carrying an ApiErrorBody become ApiErrors.
    const err = await api.getRun({ id: 'r1' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err).toMatchObject({ code: 'not-found', message: 'no run r1' })

    // Events arrive through the bridge's listener.
    const seen: boolean[] = []
    const off = onEvent('queueChanged', (p) => seen.push(p.paused))
    bridge.listeners.forEach((l) => l('queueChanged', { paused: true }))
    off()
    bridge.listeners.forEach((l) => l('queueChanged', { paused: false }))
    expect(seen).toEqual([true])
  })

  it('uses HTTP with the bearer token otherwise', async () => {
    window.sessionStorage.setItem('ninLab.token', 'tok123')
    const fetchSpy = vi.fn(
      async () =>
        new Response(JSON.stringify([]), {
          status: 200,
          headers: { 'content-type': 'application/json' },
        }),
    )
    vi.stubGlobal('fetch', fetchSpy)
    const transport = createTransport(window)
    expect(transport.kind).toBe('http')
    setTransport(transport)

    expect(await api.listRuns({ status: ['failed'] })).toEqual([])
    const [url, init] = fetchSpy.mock.calls[0] as unknown as [string, RequestInit]
    expect(url).toBe('/api/call/listRuns')
    expect(init.method).toBe('POST')
    expect(init.headers).toMatchObject({ authorization: 'Bearer tok123' })
    expect(JSON.parse(String(init.body))).toEqual({ status: ['failed'] })
  })
})

describe('HTTP transport', () => {
  it('turns an error body into an ApiError with its issues', async () => {
    const body = {
      code: 'invalid-config',
      message: 'config is invalid',
      issues: [{ path: 'model.microConvs', message: 'model.microConvs must be …' }],
    }
    const transport = createHttpTransport({
      baseUrl: 'http://127.0.0.1:9',
      token: 't',
      fetch: async () => new Response(JSON.stringify(body), { status: 400 }),
    })
    const err = await transport.call('addRuns', {}).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err).toMatchObject({ code: 'invalid-config', issues: body.issues })
  })

  it('says the server is unreachable when fetch fails', async () => {
    const transport = createHttpTransport({
      baseUrl: '',
      token: 't',
      fetch: async () => {
        throw new TypeError('Failed to fetch')
      },
    })
    await expect(transport.call('queueState', {})).rejects.toMatchObject({ code: 'unavailable' })
  })

  it('receives event frames over a WebSocket and reconnects when it drops', async () => {
    vi.useFakeTimers()
    const sockets: FakeSocket[] = []
    class FakeSocket {
      onopen: (() => void) | null = null
      onmessage: ((e: { data: string }) => void) | null = null
      onclose: (() => void) | null = null
      constructor(readonly url: string) {
        sockets.push(this)
      }
      close(): void {
        this.onclose?.()
      }
    }
    const transport = createHttpTransport({
      baseUrl: 'http://127.0.0.1:5000',
      token: 'abc',
      WebSocket: FakeSocket as unknown as typeof WebSocket,
      minDelay: 100,
    })
    const got: [string, unknown][] = []
    const off = transport.subscribe((e, p) => got.push([e, p]))
    expect(sockets[0]?.url).toBe('ws://127.0.0.1:5000/api/events?token=abc')
    sockets[0]?.onopen?.()
    expect(connection.value).toBe('open')
    sockets[0]?.onmessage?.({
      data: JSON.stringify({ event: 'queueChanged', payload: { paused: true } }),
    })
    expect(got).toEqual([['queueChanged', { paused: true }]])

    sockets[0]?.onclose?.()
    expect(connection.value).toBe('reconnecting')
    vi.advanceTimersByTime(100)
    expect(sockets).toHaveLength(2)
    sockets[1]?.onopen?.()
    expect(connection.value).toBe('open')
    // Listeners hear that the stream came back, so they can refetch what they missed.
    expect(got.at(-1)?.[0]).toBe('$reconnected')
    off()
    vi.useRealTimers()
  })
})

describe('captureToken', () => {
  it('moves the token from the URL into sessionStorage and out of the address bar', () => {
    const storage = new Map<string, string>()
    const replaceState = vi.fn()
    const token = captureToken(
      { hash: '#token=s3cret', pathname: '/', search: '' },
      { getItem: (k) => storage.get(k) ?? null, setItem: (k, v) => void storage.set(k, v) },
      { replaceState, state: null },
    )
    expect(token).toBe('s3cret')
    expect(storage.get('ninLab.token')).toBe('s3cret')
    expect(replaceState).toHaveBeenCalledWith(null, '', '/')
  })

  it('keeps the stored token when the URL has none', () => {
    const replaceState = vi.fn()
    const token = captureToken(
      { hash: '#/runs', pathname: '/', search: '' },
      { getItem: () => 'kept', setItem: () => undefined },
      { replaceState, state: null },
    )
    expect(token).toBe('kept')
    expect(replaceState).not.toHaveBeenCalled()
  })
})
