/**
 * Where NiN Lab keeps its data: `--data-dir`, else $NIN_LAB_HOME, else the OS's per-user
 * application-data folder. It holds nin-lab.db, runs/<id>/ and datasets/.
 */
import { rmSync } from 'node:fs'
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

/**
 * Removes deleted runs' folders (checkpoints, model, logs). After the database deleted the runs:
 * files are not the database's to delete, and a folder that cannot be removed must not undo it.
 */
export function removeRunFolders(folders: readonly string[]): void {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true })
}
