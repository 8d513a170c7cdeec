/**
 * The core as a child process of the desktop app (docs/architecture.md: Electron main owns
 * windows and nothing heavy). The Electron main process starts `nin-lab core-host` with the Node
 * that installed the project and talks to it over Node's IPC channel: calls in, results and
 * events out (HostRequest / HostMessage in src/shared/api/transport.ts).
 *
 * When the app closes it says whether to keep training: `keep` lets the queue run to its end
 * with no window (then this process exits), `stop` stops the running trainers after their
 * current step (they resume on the next start). If the app dies without saying, the queue stops
 * as for `stop`.
 */
import { EVENT_NAMES } from '@shared/api/contract'
import type { HostMessage, HostRequest } from '@shared/api/transport'
import { Core, toApiError } from './core'

export async function runCoreHost(dataDir: string): Promise<number> {
  if (!process.send) throw new Error('core-host is started by the desktop app, with an IPC channel')
  const send = (m: HostMessage): void => {
    // With a callback, a send to an app that has just died is an error passed here, not an
    // uncaught 'error' event that kills the core mid-run; the disconnect then stops it.
    if (process.connected) process.send?.(m, undefined, undefined, () => {})
  }
  const core = new Core({ dataDir, scheduler: 'if-free' })
  for (const event of EVENT_NAMES) {
    core.on(event, (payload: unknown) => send({ kind: 'event', event, payload }))
  }

  let closing: 'keep' | 'stop' | null = null
  const finish = new Promise<void>((resolve) => {
    const stopNow = (): void => void core.close().then(resolve)
    const keepUntilIdle = (): void => {
      const scheduler = core.scheduler
      if (!scheduler) return stopNow()
      const check = (): void => {
        if (scheduler.isIdle()) stopNow()
      }
      scheduler.on('idle', check)
      check()
    }
    process.on('message', (raw) => {
      const m = raw as HostRequest
      if (m.kind === 'close') {
        closing = m.mode
        if (m.mode === 'stop') stopNow()
        else keepUntilIdle()
        return
      }
      core.call(m.method, m.params).then(
        (result) => send({ kind: 'result', id: m.id, ok: true, result }),
        (err: unknown) =>
          send({ kind: 'result', id: m.id, ok: false, error: toApiError(err).toBody() }),
      )
    })
    process.on('disconnect', () => {
      if (closing === null) stopNow()
    })
    // An app that died while this process was still loading disconnected before the listener
    // above existed: without this check the core would run on with no app, forever.
    if (!process.connected) stopNow()
    process.on('SIGTERM', stopNow)
  })
  send({ kind: 'ready', dataDir: core.store.dataDir, scheduler: core.scheduler !== null })
  await finish
  // The IPC channel would keep this process alive.
  if (process.connected) process.disconnect()
  return 0
}
