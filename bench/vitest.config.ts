// Benchmarks that need the TypeScript sources or a browser run under vitest with this config
// (`npm run bench`); they print numbers and assert nothing.
import { defineConfig, mergeConfig } from 'vitest/config'
import base from '../vitest.config'

const merged = mergeConfig(
  base,
  defineConfig({
    test: {
      testTimeout: 1_800_000,
      hookTimeout: 600_000,
      fileParallelism: false,
    },
  }),
)
// mergeConfig concatenates arrays: the benchmarks replace the test suite's files, not join them
// (`npm run bench fleet` must not also run tests/integration/fleet.test.ts).
merged.test = { ...merged.test, include: ['bench/**/*.bench.ts'] }
export default merged
