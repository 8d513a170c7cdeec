/** `nin-lab key`: the web mode's access key of a data folder (see src/core/server/access-key.ts). */
import { parseArgs } from 'node:util'
import { resolveDataDir } from '@core/paths'
import { accessKeyPath, loadAccessKey, rotateAccessKey } from '@core/server/access-key'
import { fleetKeyPath, loadFleetKey, rotateFleetKey } from '@core/queue/fleet-key'
import { UsageError } from '../errors'

export const keyHelp = `Usage: nin-lab key show | rotate [--port P] [--data-dir D]
       nin-lab key show | rotate --fleet [--data-dir D]

The access key of web mode (\`nin-lab serve\`), kept in <data-dir>/access-key (mode 0600).
show prints the address with the key, for a browser that lost it (a new profile, another
browser); rotate replaces the key: a running server takes the new one at once, and every page
opened with the old one asks for the new address. --port: the port in the printed address
(default 7317).

--fleet: the fleet key instead, <data-dir>/fleet-key (mode 0600), which the head and its remote
workers share (docs/scale-out.md). show makes it if there is none and prints where it is: copy
that file to each worker (scp, your config management) and give it as --fleet-key-file. rotate
replaces it: a running head signs and checks with the new key at once; workers still holding the
old one are refused and drop out of the fleet within 10 s, and their runs resume from their last
checkpoint on workers given the new key.`

export function keyCommand(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string', default: '7317' },
      'data-dir': { type: 'string' },
      fleet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(keyHelp)
    return 0
  }
  const [sub] = positionals
  if (sub !== 'show' && sub !== 'rotate') {
    throw new UsageError(`key needs show or rotate (got ${sub ?? 'nothing'})\n\n${keyHelp}`)
  }
  const port = Number(values.port)
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`--port must be an integer from 1 to 65535 (got ${values.port})`)
  }
  const dataDir = resolveDataDir(values['data-dir'])
  if (values.fleet) return fleetKeyCommand(sub, dataDir)
  const key = sub === 'rotate' ? rotateAccessKey(dataDir) : loadAccessKey(dataDir).key
  if (sub === 'rotate') {
    console.log(`New access key in ${accessKeyPath(dataDir)}; the old one no longer opens the app.`)
  }
  console.log(`http://127.0.0.1:${port}/#token=${key}`)
  return 0
}

/** `key show --fleet` / `key rotate --fleet`: where the fleet key is; never the key itself. */
function fleetKeyCommand(sub: 'show' | 'rotate', dataDir: string): number {
  const path = fleetKeyPath(dataDir)
  if (sub === 'rotate') {
    rotateFleetKey(dataDir)
    console.log(
      `New fleet key in ${path}. Copy it to every worker (--fleet-key-file): workers with the ` +
        'old key are refused from now on, and their runs resume elsewhere from their last checkpoint.',
    )
    return 0
  }
  const { created } = loadFleetKey(dataDir)
  if (created) console.error(created)
  console.log(path)
  return 0
}
