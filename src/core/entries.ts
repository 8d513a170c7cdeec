/**
 * The programs the core starts as processes of their own, built beside the CLI in out/main/:
 * the per-run trainer and the report worker. From a build, they sit next to this bundle; from
 * the sources (tests importing the core), in the project's out/main/ (`npm run build`).
 */
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export type EntryName = 'trainer' | 'report-worker'

export function builtEntry(name: EntryName): string {
  const beside = fileURLToPath(new URL(`./${name}.js`, import.meta.url))
  if (existsSync(beside)) return beside
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let up = 0; up < 6; up++) {
    const built = join(dir, 'out', 'main', `${name}.js`)
    if (existsSync(built)) return built
    dir = dirname(dir)
  }
  // Where a build puts it; starting it then fails with a clear "cannot find module".
  return beside
}
