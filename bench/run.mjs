// `npm run bench`: every benchmark, in one sitting. Build first (`npm run build`).
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const only = process.argv[2]
// Benchmarks written in TypeScript (*.bench.ts) run under vitest; the rest are plain scripts.
const TYPESCRIPT = new Set(['throughput', 'compare-ui', 'fleet'])
for (const name of ['throughput', 'persist', 'compare-ui', 'fleet', 'api-latency']) {
  if (only && only !== name) continue
  const args = TYPESCRIPT.has(name)
    ? [
        join(here, '../node_modules/vitest/vitest.mjs'),
        'run',
        '-c',
        join(here, 'vitest.config.ts'),
        name,
      ]
    : [join(here, `${name}.mjs`)]
  const r = spawnSync(process.execPath, args, { stdio: 'inherit' })
  if (r.status !== 0) process.exit(r.status ?? 1)
}
