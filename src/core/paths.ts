/**
 * Where NiN Lab keeps its data: `--data-dir`, else $NIN_LAB_HOME, else the OS's per-user
 * application-data folder. It holds nin-lab.db, runs/<id>/ and datasets/.
 */
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'

export const DATA_DIR_ENV = 'NIN_LAB_HOME'

export function defaultDataDir(): string {
  const home = homedir()
  switch (process.platform) {
    case 'darwin':
      return join(home, 'Library', 'Application Support', 'nin-lab')
    case 'win32':
      return join(process.env['APPDATA'] ?? join(home, 'AppData', 'Roaming'), 'nin-lab')
    default:
      return join(process.env['XDG_DATA_HOME'] ?? join(home, '.local', 'share'), 'nin-lab')
  }
}

export function resolveDataDir(flag?: string): string {
  return resolve(flag ?? process.env[DATA_DIR_ENV] ?? defaultDataDir())
}

export const runsDir = (dataDir: string): string => join(dataDir, 'runs')
export const runDirOf = (dataDir: string, runId: string): string => join(runsDir(dataDir), runId)
