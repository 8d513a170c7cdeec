import { availableParallelism } from 'node:os'
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
    // A temp folder per run, removed at its end (tests/helpers/temp-root.ts).
    globalSetup: ['tests/helpers/temp-root.ts'],
    // Test files train side by side: one PyTorch thread each (see README).
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
    // One file more than there are cores: an integration test file spends part of its time
    // waiting (processes starting, a heartbeat expiring, a browser loading), and a third file
    // fills the core it leaves idle. On the 2-core dev machine the whole suite took 635 s with 2
    // workers and 510 s with 3 (one sitting each; the second also had the CLI's lighter start-up,
    // about 30 CPU-s of the 1088 → 944 user+sys). More only makes each file slower: they all train.
    fileParallelism: true,
    maxWorkers: availableParallelism() + 1,
  },
})
