import js from '@eslint/js'
import prettier from 'eslint-config-prettier'
import vue from 'eslint-plugin-vue'
import globals from 'globals'
import tseslint from 'typescript-eslint'
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript'
import importX from 'eslint-plugin-import-x'
import { join } from 'node:path'

const ROOT = import.meta.dirname

const NODE_BUILTINS = ['node:*', 'fs', 'path', 'os', 'child_process', 'crypto', 'http', 'net']
const electron = {
  name: 'electron',
  message: 'Only the Electron main process (src/main) and the preload (src/preload) load electron.',
}

/**
 * Which packages a program may load: package names are what the import string says, so
 * no-restricted-imports (a match on the string) is the right tool for them. Imports of other
 * programs' files are fenced on resolved paths below.
 */
function packageFences() {
  const rule = (files, { paths = [], patterns = [] }) => ({
    files,
    rules: { 'no-restricted-imports': ['error', { paths, patterns }] },
  })
  const elsewhere = ['src/core', 'src/trainer', 'src/cli', 'src/worker'].map((d) => `${d}/**/*`)
  return [
    rule(['src/shared/**/*'], {
      paths: [electron],
      patterns: [
        {
          group: [...NODE_BUILTINS, 'vue', 'pinia'],
          message: 'src/shared is pure TypeScript, imported by every process.',
        },
      ],
    }),
    rule(elsewhere, { paths: [electron] }),
    rule(['src/renderer/**/*'], {
      paths: [electron],
      patterns: [{ group: NODE_BUILTINS, message: 'The renderer is a sandboxed web page.' }],
    }),
  ]
}

/** src/<name>, for a zone of import-x/no-restricted-paths (resolved against basePath below). */
const srcOf = (...names) => names.map((n) => `src/${n}`)

/**
 * Who may import whom, between the programs: every program may use src/shared; the CLI drives the
 * core through its API (never the store); the core and the trainer meet only through the trainer
 * protocol (a process boundary); the Electron main process starts the core as a process; the
 * renderer sees src/shared and the preload's types only; a worker supervises trainers
 * (src/core/queue) but opens no store, core, server or reports.
 */
const PROGRAM_ZONES = [
  {
    target: srcOf('shared'),
    from: srcOf('core', 'trainer', 'cli', 'worker', 'main', 'preload', 'renderer'),
    message: 'src/shared imports no program.',
  },
  {
    target: srcOf('core'),
    from: srcOf('trainer'),
    message:
      'The core runs trainers as processes: speak src/shared/protocol/trainer.ts, do not import the trainer.',
  },
  {
    target: srcOf('core'),
    from: srcOf('cli', 'worker', 'main', 'preload', 'renderer'),
    message: 'The core is imported by its clients, never the reverse.',
  },
  {
    target: srcOf('trainer'),
    from: srcOf('core'),
    message:
      'The trainer never imports the core: it only speaks the trainer protocol (src/shared/protocol/trainer.ts).',
  },
  {
    target: srcOf('trainer'),
    from: srcOf('cli', 'worker', 'main', 'preload', 'renderer'),
    message: 'The trainer is a process of its own: it imports src/shared only.',
  },
  {
    target: srcOf('cli'),
    from: srcOf('core/store'),
    message: 'CLI commands go through the core API (core.api), not the store.',
  },
  {
    target: srcOf('cli'),
    from: srcOf('trainer', 'main', 'preload', 'renderer'),
    message: 'The CLI reaches training through the core.',
  },
  {
    target: srcOf('worker'),
    from: srcOf(
      'core/store',
      'core/core.ts',
      'core/host.ts',
      'core/estimates.ts',
      'core/progress.ts',
      'core/server',
      'core/reports',
    ),
    message:
      'A worker holds no database: it supervises trainers (src/core/queue) and talks to the head through Redis.',
  },
  {
    target: srcOf('worker'),
    from: srcOf('trainer', 'cli', 'main', 'preload', 'renderer'),
    message: 'A worker runs trainers as processes and reports to the head through Redis.',
  },
  {
    target: srcOf('main'),
    from: srcOf('core', 'trainer', 'cli', 'worker', 'renderer'),
    message:
      'The Electron main process runs the core as a child process (core-client.ts): it relays, it does not import.',
  },
  {
    target: srcOf('renderer'),
    from: srcOf('core', 'trainer', 'cli', 'worker', 'main'),
    message:
      'The renderer sees src/shared and the preload types only; it reaches the core through the API client.',
  },
  {
    target: srcOf('preload'),
    from: srcOf('core', 'trainer', 'cli', 'worker', 'main', 'renderer'),
    message: 'The preload is the bridge: src/shared only.',
  },
]

/**
 * Layers inside a program: each imports only the layers below it (and its own). A zone per layer
 * names every layer above it; `layers` lists them top first, each a list of paths.
 */
function layerZones(layers, why) {
  return layers.slice(1).map((layer, i) => ({
    target: layer,
    from: layers.slice(0, i + 1).flat(),
    message: why,
  }))
}

const core = (...names) => srcOf(...names.map((n) => `core/${n}`))
const CORE_API = core(
  'core.ts',
  'host.ts',
  'estimates.ts',
  'progress.ts',
  'run-reads.ts',
  'add-runs.ts',
  'queue-settings.ts',
)
/**
 * The core's layers: server → core → queue / reports → store → files. A new file at the top of
 * src/core joins a layer by being listed here.
 */
const CORE_ZONES = [
  ...layerZones(
    [
      core('server'),
      CORE_API,
      core('queue', 'reports'),
      core('store'),
      core('files.ts', 'paths.ts', 'entries.ts', 'turns.ts'),
    ],
    'The core is layered server → core (core.ts, host.ts, estimates.ts, progress.ts, run-reads.ts, add-runs.ts, queue-settings.ts) → queue / reports → store → files (files.ts, paths.ts, entries.ts, turns.ts): import downwards only.',
  ),
  {
    target: core('queue'),
    from: core('reports'),
    message:
      'The queue and the reports are siblings: what both need belongs in the store or below.',
  },
  {
    target: core('reports'),
    from: core('queue'),
    message:
      'The queue and the reports are siblings: what both need belongs in the store or below.',
  },
]

const web = (...names) => srcOf(...names.map((n) => `renderer/src/${n}`))
/** The renderer's layers: views → components → composables → stores → lib → the API client. */
const RENDERER_ZONES = [
  ...layerZones(
    [
      web('App.vue', 'main.ts'),
      web('views'),
      web('components'),
      web('composables'),
      web('stores'),
      web('lib'),
      web('api.ts'),
    ],
    'The renderer is layered App → views → components → composables → stores → lib → api.ts: import downwards only; what a lower layer needs from a higher one moves down.',
  ),
  {
    target: web('composables'),
    from: web('composables'),
    except: ['./useSort.ts', './useLiveMetrics.ts'],
    message:
      "A page's composable is its own: composables share only useSort and useLiveMetrics; what two pages share belongs in lib.",
  },
  {
    target: web('App.vue', 'main.ts', 'views', 'components', 'composables', 'lib', 'api.ts'),
    from: web('stores/new-experiment-storage.ts'),
    message:
      "The New experiment page's saved state is its stores' own: read it through the draft, grid and submission stores.",
  },
]

/**
 * The house's own rule: an eslint-disable comment must say why, after ` -- ` (as
 * @eslint-community/eslint-comments' require-description would; that plugin is no dependency of
 * ours). tests/unit/house/function-length.test.ts shows it bites.
 */
const house = {
  rules: {
    'disable-needs-why': {
      meta: {
        type: 'problem',
        schema: [],
        messages: { why: 'Say why after " -- ": // {{directive}} <rule> -- <why it must be so>' },
      },
      create(context) {
        return {
          Program() {
            for (const comment of context.sourceCode.getAllComments()) {
              const m = /^\s*(eslint-disable(?:-next-line|-line)?)(?=\s|$)(.*)$/s.exec(
                comment.value,
              )
              if (m === null || /\s-{2,}\s+\S/.test(m[2])) continue
              context.report({ loc: comment.loc, messageId: 'why', data: { directive: m[1] } })
            }
          },
        }
      },
    },
  },
}

export default tseslint.config(
  // .venv: the project's Python environment (scripts/python-env.mjs), whose packages ship JavaScript.
  { ignores: ['out/**', 'node_modules/**', 'test-results/**', 'bench/results/**', '.venv/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...vue.configs['flat/recommended'],
  {
    files: ['**/*.vue'],
    languageOptions: { parserOptions: { parser: tseslint.parser } },
  },
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    plugins: { house },
    languageOptions: { globals: { ...globals.node } },
    rules: {
      'house/disable-needs-why': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'vue/multi-word-component-names': 'off',
    },
  },
  {
    files: ['src/renderer/**/*'],
    languageOptions: { globals: { ...globals.browser } },
  },
  // A renderer function reads on one screen (issue 22): at most 80 lines, blanks and comments
  // aside. In a Vue SFC the rule sees the <script>'s functions; a <script setup> body is module
  // code, not a function, so it is not counted (a page that grows is split into components).
  // An exception says why: `// eslint-disable-next-line max-lines-per-function -- <why>`.
  {
    files: ['src/renderer/**/*.{ts,vue}'],
    rules: {
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
    },
  },
  // The fences between the programs and between the layers inside the core and the renderer
  // (docs/architecture.md), on resolved paths: an import is resolved the way TypeScript resolves
  // it (both tsconfigs' `paths`, so every alias and every relative spelling such as
  // `./../core/queue/scheduler` lands on the same file) and refused by where that file lives.
  // eslint-plugin-import-x rather than dependency-cruiser: it runs inside the ESLint pass we
  // already make (one tool, one report, editor integration), and dependency-cruiser 18 needs
  // Node 22 while this project supports Node 20. An import that does not resolve cannot be
  // fenced, so import-x/no-unresolved makes every import resolve. tests/unit/house/fences.test.ts
  // proves each fence bites.
  ...packageFences(),
  {
    files: ['src/**/*.{ts,vue}'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [
        createTypeScriptImportResolver({
          // Its references: tsconfig.node.json and tsconfig.web.json, each with its `paths`.
          project: join(ROOT, 'tsconfig.json'),
        }),
      ],
    },
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        { basePath: ROOT, zones: [...PROGRAM_ZONES, ...CORE_ZONES, ...RENDERER_ZONES] },
      ],
      // tfjs-core-gradients is a bundler alias to a file inside tfjs-core (TFJS_GRADIENTS in
      // electron.vite.config.ts), not a module TypeScript can see.
      'import-x/no-unresolved': ['error', { ignore: ['^tfjs-core-gradients$'] }],
    },
  },
  // The 80-line rule: a function a newcomer can hold on one screen. A function that must stay
  // one piece says why, `// eslint-disable-next-line max-lines-per-function -- <why>` (a disable
  // without its why is refused: house/disable-needs-why). tests/unit/house/function-length.test.ts
  // shows both bite. src/renderer has a block of its own; tests are left out (a describe block is
  // one piece by nature).
  {
    files: ['src/**/*.{ts,mts,cts,js,mjs}'],
    ignores: ['src/renderer/**'],
    rules: {
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
    },
  },
  prettier,
)
