import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'vitest/config'
import { ALIASES, TFJS_GRADIENTS } from './electron.vite.config'

export default defineConfig({
  plugins: [vue()],
  resolve: {
    alias: {
      ...ALIASES,
      ...TFJS_GRADIENTS,
    },
  },
  test: {
    include: [
      'tests/e2e/**/*.test.ts',
      'tests/unit/**/*.test.ts',
      'tests/integration/**/*.test.ts',
      'tests/renderer/**/*.test.ts',
    ],
    environment: 'node',
    // Two test files train side by side on two cores: one PyTorch thread each (see README).
    env: { NIN_LAB_TORCH_THREADS: '1' },
    server: {
      deps: {
        // tfjs-core's gradient modules are extensionless ES modules that Node cannot load on its
        // own: let Vite transform them (see TFJS_GRADIENTS in electron.vite.config.ts).
        inline: [/@tensorflow\/tfjs-core\/dist\/(?!tf-core)/],
      },
    },
    // Bounds on a hung test, not speed checks: a loaded 2-core machine trains tiny runs slowly.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // Integration tests start real processes and train tiny models; on a 2-core machine
    // running them all at once only makes each slower and flakier.
    fileParallelism: true,
    maxWorkers: 2,
  },
})
