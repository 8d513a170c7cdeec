/**
 * The desktop app's side of the core host (src/core/host.ts): starts `nin-lab core-host`
 * under plain Node — never inside Electron, so native modules (better-sqlite3, tfjs-node) are
 * the ones `npm install` built, and a blocked event loop in the core never freezes a window —
 * and relays calls and events. Free of Electron imports, so it is tested with a real process.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { ApiError, type ApiErrorBody, type EventName } from '@shared/api/contract'
import type { CallOutcome, HostMessage, HostRequest } from '@shared/api/transport'

/** The Node that runs the core: NIN_LAB_NODE, else the one npm used, else `node` on PATH. */
export function nodeExecutable(env: NodeJS.ProcessEnv = process.env): string {
  return env['NIN_LAB_NODE'] ?? env['npm_node_execpath'] ?? 'node'
}

export interface CoreClient {
  readonly ready: Promise<{ dataDir: string; scheduler: boolean }>
  /** Resolves with the outcome (errors as data: they cross one more process boundary). */
  call(method: string, params: unknown): Promise<CallOutcome>
  onEvent(listener: (event: EventName, payload: unknown) => void): void
  /** `keep`: the core trains on without the app until its queue is empty. */
  close(mode: 'keep' | 'stop'): void
  readonly exited: Promise<number | null>
}

/** A call's outcome when the core cannot answer it. */
const unavailable = (message: string): CallOutcome => ({
  ok: false,
  error: new ApiError('unavailable', message).toBody() satisfies ApiErrorBody,
})

/** A promise with its resolve and reject in hand. */
function deferred<T>(): { promise: Promise<T>; resolve(value: T): void; reject(err: Error): void } {
  let resolve: (value: T) => void = () => {}
  let reject: (err: Error) => void = () => {}
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

export function startCoreClient(opts: {
  cliPath: string
  dataDir?: string
  node?: string
}): CoreClient {
  const args = ['core-host', ...(opts.dataDir ? ['--data-dir', opts.dataDir] : [])]
  const child: ChildProcess = fork(opts.cliPath, args, {
    execPath: opts.node ?? nodeExecutable(),
    // Detached: the core may keep training after the app quits ("keep training in the background").
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'json',
  })
  let nextId = 1
  const pending = new Map<number, (outcome: CallOutcome) => void>()
  const listeners: ((event: EventName, payload: unknown) => void)[] = []
  const {
    promise: ready,
    resolve: markReady,
    reject: failReady,
  } = deferred<{ dataDir: string; scheduler: boolean }>()

  child.on('message', (raw) => {
    const m = raw as HostMessage
    if (m.kind === 'ready') markReady({ dataDir: m.dataDir, scheduler: m.scheduler })
    else if (m.kind === 'event') listeners.forEach((l) => l(m.event, m.payload))
    else if (m.kind === 'result') {
      const resolve = pending.get(m.id)
      pending.delete(m.id)
      resolve?.(m.ok ? { ok: true, result: m.result } : { ok: false, error: m.error })
    }
  })
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      failReady(new Error(`the NiN Lab core exited (code ${code}) before it was ready`))
      for (const resolveCall of pending.values())
        resolveCall(unavailable('the NiN Lab core process has stopped'))
      pending.clear()
      resolve(code)
    })
    // `on`, not `once`: a core that never started fails its first send too, and an 'error'
    // event without a listener would take the whole app down with it.
    child.on('error', (err) => {
      failReady(
        new Error(
          `could not start the NiN Lab core with ${opts.node ?? nodeExecutable()}: ${err.message}`,
        ),
      )
      resolve(null)
    })
  })
  /** False when the core cannot be reached now; `onFailed` when the message did not get through. */
  const send = (m: HostRequest, onFailed: () => void = () => {}): boolean => {
    if (!child.connected) return false
    child.send(m, (err) => {
      if (err) onFailed()
    })
    return true
  }

  return {
    ready,
    exited,
    call: (method, params) =>
      new Promise<CallOutcome>((resolve) => {
        const id = nextId++
        pending.set(id, resolve)
        const notRunning = (): void => {
          if (pending.delete(id)) resolve(unavailable('the NiN Lab core process is not running'))
        }
        if (!send({ kind: 'call', id, method, params }, notRunning)) notRunning()
      }),
    onEvent: (listener) => void listeners.push(listener),
    close: (mode) => {
      send({ kind: 'close', mode })
      if (mode === 'keep') {
        // Let the app exit while the core trains on: drop our handles on it.
        child.disconnect()
        child.unref()
      }
    },
  }
}
