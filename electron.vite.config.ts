import { resolve } from 'node:path'
import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'electron-vite'

const shared = { '@shared': resolve(import.meta.dirname, 'src/shared') }

/**
 * tfjs-core's CommonJS build (what Node loads) has no gradient functions; they exist only in its
 * extensionless ES modules, which Node cannot load. Aliasing the entry to a file path makes the
 * bundler inline those modules into the trainer. They register into tfjs' process-wide registry
 * and engine (kept on globalThis), so the CommonJS core and the backends see them.
 */
export const TFJS_GRADIENTS = {
  'tfjs-core-gradients': resolve(
    import.meta.dirname,
    'node_modules/@tensorflow/tfjs-core/dist/register_all_gradients.js',
  ),
}

export default defineConfig({
  // The Node side. Besides the Electron entry it builds the processes that run under plain Node
  // (DESIGN.md): the `nin-lab` CLI, which also hosts the core and the web server, and the
  // per-run trainer. Those run on the Node that installed the project (20+), not on Electron's,
  // hence the explicit target.
  main: {
    resolve: { alias: { ...shared, ...TFJS_GRADIENTS } },
    build: {
      target: 'node20',
      rollupOptions: {
        input: {
          index: resolve(import.meta.dirname, 'src/main/index.ts'),
          cli: resolve(import.meta.dirname, 'src/main/cli/index.ts'),
          trainer: resolve(import.meta.dirname, 'src/main/trainer/index.ts'),
        },
      },
    },
  },
  preload: {
    resolve: { alias: shared },
    build: {
      rollupOptions: {
        // A sandboxed renderer's preload must be CommonJS.
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    resolve: {
      alias: { ...shared, '@renderer': resolve(import.meta.dirname, 'src/renderer/src') },
    },
    plugins: [vue()],
  },
})
