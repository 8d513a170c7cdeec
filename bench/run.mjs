// `npm run bench`: every benchmark, in one sitting. Build first (`npm run build`).
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const only = process.argv[2]
for (const name of ['throughput', 'persist']) {
  if (only && only !== name) continue
  const r = spawnSync(process.execPath, [join(here, `${name}.mjs`)], { stdio: 'inherit' })
  if (r.status !== 0) process.exit(r.status ?? 1)
}
