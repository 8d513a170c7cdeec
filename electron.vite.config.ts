import { resolve } from 'node:path'
import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'electron-vite'
import { APP_CSP_META } from './src/shared/security'

const src = (path: string): string => resolve(import.meta.dirname, 'src', path)

/**
 * One alias per program folder (docs/architecture.md). tsconfig.node.json and tsconfig.web.json
 * repeat them as `paths` (JSON cannot import this); tests/unit/house/fences.test.ts checks they agree.
 * Which program may import which is ESLint's job (eslint.config.mjs), not the aliases'.
 */
export const ALIASES = {
  '@shared': src('shared'),
  '@core': src('core'),
  '@trainer': src('trainer'),
  '@cli': src('cli'),
  '@worker': src('worker'),
  '@main': src('main'),
  '@preload': src('preload'),
  '@renderer': src('renderer/src'),
}
const shared = { '@shared': ALIASES['@shared'] }

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
  // The Node side, built into out/main/. Besides the Electron entry (src/main) it builds the
  // programs that run under plain Node (docs/architecture.md): the `nin-lab` CLI (src/cli), which
  // also hosts the core (src/core) and the web server, and the per-run trainer (src/trainer).
  // Those run on the Node that installed the project (20+), not on Electron's, hence the target.
  main: {
    resolve: {
      alias: {
        ...shared,
        '@core': ALIASES['@core'],
        '@trainer': ALIASES['@trainer'],
        '@cli': ALIASES['@cli'],
        '@worker': ALIASES['@worker'],
        '@main': ALIASES['@main'],
        ...TFJS_GRADIENTS,
      },
    },
    build: {
      target: 'node20',
      rollupOptions: {
        input: {
          index: src('main/index.ts'),
          cli: src('cli/index.ts'),
          trainer: src('trainer/index.ts'),
          'report-worker': src('core/reports/report-worker.ts'),
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
      alias: { ...shared, '@preload': ALIASES['@preload'], '@renderer': ALIASES['@renderer'] },
    },
    plugins: [
      vue(),
      // The page's CSP meta tag, from the one policy in src/shared/security.ts.
      {
        name: 'nin-lab-csp',
        transformIndexHtml: (html: string) => html.replace('%NIN_LAB_CSP%', APP_CSP_META),
      },
    ],
  },
})
