// Benchmarks that need the TypeScript sources or a browser run under vitest with this config
// (`npm run bench`); they print numbers and assert nothing.
import { defineConfig, mergeConfig } from 'vitest/config'
import base from '../vitest.config'

export default mergeConfig(
  base,
  defineConfig({
    test: {
      include: ['bench/**/*.bench.ts'],
      testTimeout: 600_000,
      hookTimeout: 600_000,
      fileParallelism: false,
    },
  }),
)
