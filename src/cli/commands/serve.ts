/** `nin-lab serve`: the app in a browser, for machines without the Electron window. */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Core } from '@core/core'
import { resolveDataDir } from '@core/paths'
import { AccessKey, loadAccessKey, rotateAccessKey } from '@core/server/access-key'
import { apiHandler, eventSockets } from '@core/server/api-handler'
import { startWebServer } from '@core/server/http-server'
import { UsageError } from '../errors'

export const serveHelp = `Usage: nin-lab serve [--port P] [--host 127.0.0.1] [--rotate-key] [--data-dir D]

Serves the app on http://127.0.0.1:P/ and prints its address with the access key (#token=…).
The key is kept in the data folder (<data-dir>/access-key, readable only by you), so the
address, a bookmark and open tabs keep working after a restart; --rotate-key (or
\`nin-lab key rotate\`, also while serving) replaces it, and pages with the old key ask for the
new one. It also runs the queue, unless another scheduler (\`nin-lab queue start\`, the desktop
app) already does. --port 0 picks a free port (default 7317, or a free one if taken).
--host other than a loopback address exposes the app to your network: the key is then the
only protection, so prefer an SSH tunnel.`

const DEFAULT_PORT = 7317
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1'])

/** The built renderer, next to this bundle: out/main/cli.js → out/renderer/. */
const rendererDir = (): string => fileURLToPath(new URL('../renderer/', import.meta.url))

export async function serveCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      'rotate-key': { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(serveHelp)
    return 0
  }
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--port must be an integer from 0 to 65535 (got ${values.port})`)
  }
  const dir = rendererDir()
  if (!existsSync(`${dir}index.html`)) {
    throw new UsageError(
      `the app is not built (${dir}index.html is missing); run \`npm run build\``,
    )
  }
  const core = new Core({ dataDir: resolveDataDir(values['data-dir']), scheduler: 'if-free' })
  const dataDir = core.store.dataDir
  const accessKey = new AccessKey(dataDir, accessKeyOf(dataDir, values['rotate-key']))
  const sockets = eventSockets(core, {}, () => accessKey.current())
  const options = {
    rendererDir: dir,
    host: values.host,
    token: () => accessKey.current(),
    api: apiHandler(core),
    upgrade: sockets.upgrade,
  }
  const running = await listen(options, port, values.port === undefined)
  if (!LOOPBACK.has(values.host)) {
    console.warn(
      `Warning: listening on ${values.host}, not loopback: anyone who can reach it and has the token can use the app.`,
    )
  }
  console.log(`NiN Lab is running at ${running.url}`)
  console.log(
    core.scheduler
      ? `Data: ${core.store.dataDir}; this server runs the queue.`
      : `Data: ${core.store.dataDir}; another scheduler runs the queue.`,
  )
  console.log(
    'Open that address in your browser (the token after # is your access key; it stays the same ' +
      'across restarts). Ctrl-C stops.',
  )
  await untilStopped(() => {
    sockets.close()
    return Promise.all([running.close(), core.close()])
  })
  return 0
}

/** The data folder's access key, replaced first with --rotate-key; says when it is new. */
function accessKeyOf(dataDir: string, rotate: boolean): string {
  if (rotate) {
    const key = rotateAccessKey(dataDir)
    console.log('A new access key replaces the old one: pages opened with the old one ask again.')
    return key
  }
  const loaded = loadAccessKey(dataDir)
  if (loaded.created) console.log(`New access key (${loaded.created}).`)
  return loaded.key
}

type ServerOptions = Omit<Parameters<typeof startWebServer>[0], 'port'>

/** Starts the server on `port`; the default port, when taken, gives way to a free one. */
async function listen(
  options: ServerOptions,
  port: number,
  portIsDefault: boolean,
): Promise<Awaited<ReturnType<typeof startWebServer>>> {
  try {
    return await startWebServer({ ...options, port })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EADDRINUSE' && portIsDefault) {
      const running = await startWebServer({ ...options, port: 0 })
      console.log(`Port ${DEFAULT_PORT} is taken; using a free port instead.`)
      return running
    }
    if (code === 'EADDRINUSE') {
      throw new UsageError(
        `port ${port} is in use; pick another with --port, or --port 0 for any free port`,
      )
    }
    throw err
  }
}

/**
 * Resolves once SIGINT or SIGTERM (or, started by `npm start`, the parent's exit) stopped the
 * server: `stop` closes what runs, then this resolves.
 */
function untilStopped(close: () => Promise<unknown>): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      console.log(
        'stopping: a run in progress stops after its current step; on the next start it resumes ' +
          'from its last checkpoint (the end of its last finished epoch), training the steps after ' +
          'it again…',
      )
      void close().then(() => resolve())
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    // Started by `npm start`: stop with it, even when it is killed without passing a signal on.
    if (process.env['NIN_LAB_EXIT_WITH_PARENT'] === '1') {
      const parent = process.ppid
      setInterval(() => {
        if (process.ppid !== parent) stop()
      }, 1000).unref()
    }
  })
}
