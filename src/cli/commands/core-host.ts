/** `nin-lab core-host`: the core for the desktop app (not for people; see core/host.ts). */
import { parseArgs } from 'node:util'
import { runCoreHost } from '@core/host'
import { resolveDataDir } from '@core/paths'

export const coreHostHelp = `Usage: nin-lab core-host [--data-dir D]

Internal: the desktop app starts this to run the core; it talks over Node's IPC channel.`

export function coreHostCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { 'data-dir': { type: 'string' } } })
  return runCoreHost(resolveDataDir(values['data-dir']))
}
