import js from '@eslint/js'
import prettier from 'eslint-config-prettier'
import vue from 'eslint-plugin-vue'
import globals from 'globals'
import tseslint from 'typescript-eslint'

const NODE_BUILTINS = ['node:*', 'fs', 'path', 'os', 'child_process', 'crypto', 'http', 'net']
/** Imports of these programs (by alias, or by a relative path that climbs into them). */
const programs = (names, message) => ({
  regex: `^(@(${names.join('|')})(/|$)|(\\.\\./)+(${names.join('|')})/)`,
  message,
})
const electron = {
  name: 'electron',
  message: 'Only the Electron main process (src/main) and the preload (src/preload) load electron.',
}

/**
 * Who may import whom: every program may use src/shared; the CLI drives the core through its API
 * (never the store); the core and the trainer meet only through the trainer protocol (a process
 * boundary); the Electron main process starts the core as a process; the renderer sees src/shared
 * and the preload's types only.
 */
function fences() {
  const rule = (files, { paths = [], patterns = [] }) => ({
    files,
    rules: { 'no-restricted-imports': ['error', { paths, patterns }] },
  })
  return [
    rule(['src/shared/**/*'], {
      paths: [electron],
      patterns: [
        {
          group: [...NODE_BUILTINS, 'vue', 'pinia'],
          message: 'src/shared is pure TypeScript, imported by every process.',
        },
        programs(
          ['core', 'trainer', 'cli', 'worker', 'main', 'preload', 'renderer'],
          'src/shared imports no program.',
        ),
      ],
    }),
    rule(['src/core/**/*'], {
      paths: [electron],
      patterns: [
        programs(
          ['trainer'],
          'The core runs trainers as processes: speak src/shared/protocol/trainer.ts, do not import the trainer.',
        ),
        programs(
          ['cli', 'worker', 'main', 'preload', 'renderer'],
          'The core is imported by its clients, never the reverse.',
        ),
      ],
    }),
    rule(['src/trainer/**/*'], {
      paths: [electron],
      patterns: [
        programs(
          ['core'],
          'The trainer never imports the core: it only speaks the trainer protocol (src/shared/protocol/trainer.ts).',
        ),
        programs(
          ['cli', 'worker', 'main', 'preload', 'renderer'],
          'The trainer is a process of its own: it imports src/shared only.',
        ),
      ],
    }),
    rule(['src/cli/**/*'], {
      paths: [electron],
      patterns: [
        {
          regex: '^@core/store(/|$)',
          message: 'CLI commands go through the core API (core.api), not the store.',
        },
        programs(
          ['trainer', 'main', 'preload', 'renderer'],
          'The CLI reaches training through the core.',
        ),
      ],
    }),
    rule(['src/worker/**/*'], {
      paths: [electron],
      patterns: [
        {
          regex: '^@core/(store|core|server|reports)(/|$)',
          message:
            'A worker holds no database: it supervises trainers (@core/queue) and talks to the head through Redis.',
        },
        programs(
          ['trainer', 'cli', 'main', 'preload', 'renderer'],
          'A worker runs trainers as processes and reports to the head through Redis.',
        ),
      ],
    }),
    rule(['src/main/**/*'], {
      patterns: [
        programs(
          ['core', 'trainer', 'cli', 'worker', 'renderer'],
          'The Electron main process runs the core as a child process (core-client.ts): it relays, it does not import.',
        ),
      ],
    }),
    rule(['src/renderer/**/*'], {
      paths: [electron],
      patterns: [
        { group: NODE_BUILTINS, message: 'The renderer is a sandboxed web page.' },
        programs(
          ['core', 'trainer', 'cli', 'worker', 'main'],
          'The renderer sees src/shared and the preload types only; it reaches the core through the API client.',
        ),
      ],
    }),
    rule(['src/preload/**/*'], {
      patterns: [
        programs(
          ['core', 'trainer', 'cli', 'worker', 'main', 'renderer'],
          'The preload is the bridge: src/shared only.',
        ),
      ],
    }),
  ]
}

export default tseslint.config(
  { ignores: ['out/**', 'node_modules/**', 'test-results/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...vue.configs['flat/recommended'],
  {
    files: ['**/*.vue'],
    languageOptions: { parserOptions: { parser: tseslint.parser } },
  },
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
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
  // The fences between the programs (docs/architecture.md). Each program is a folder of src/ and
  // reaches another only through the aliases below, so a rule on the alias is a rule on the
  // boundary; tests/unit/house.test.ts proves each fence bites.
  ...fences(),
  prettier,
)
