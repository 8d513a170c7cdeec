// The house rules that tooling enforces: the ESLint fences between the programs and between the
// layers inside the core and the renderer bite (a fixture import per fence, linted as if it lived
// in that folder; the imports are resolved, so every spelling of a path counts), and the aliases
// are the same in the build (electron.vite.config.ts) and in both tsconfigs.
import { readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'
import { ALIASES } from '../../../electron.vite.config'

const ROOT = join(import.meta.dirname, '../../..')
const eslint = new ESLint({ cwd: ROOT })

/** The fence rules: package names (on the import string) and files (on the resolved path). */
const FENCE_RULES = [
  'no-restricted-imports',
  'import-x/no-restricted-paths',
  'import-x/no-unresolved',
]

/** The fence messages ESLint reports for `code` placed at `file`. */
async function fenceErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, file) })
  const messages = result?.messages ?? []
  // A parse or configuration error would make every case pass as "allowed": never let it.
  expect(messages.filter((m) => m.fatal || m.ruleId === null)).toEqual([])
  return messages.filter((m) => FENCE_RULES.includes(m.ruleId ?? '')).map((m) => m.message)
}

/** A probe: `import { x } from '<from>'` used once, so no other rule has a say. */
const probe = (from: string, name = 'x'): string =>
  `import { ${name} } from '${from}'\nexport const y = ${name}\n`

const CASES: readonly { file: string; code: string; refused: boolean; why: RegExp }[] = [
  {
    file: 'src/core/probe.ts',
    code: "import { app } from 'electron'\nexport const x = app\n",
    refused: true,
    why: /Only the Electron main process/,
  },
  {
    file: 'src/trainer/probe.ts',
    code: "import { Core } from '@core/core'\nexport const x = Core\n",
    refused: true,
    why: /never imports the core/,
  },
  {
    file: 'src/trainer/data/probe.ts',
    code: "import { RunStore } from '../../core/store'\nexport const x = RunStore\n",
    refused: true,
    why: /never imports the core/,
  },
  {
    file: 'src/cli/commands/probe.ts',
    code: "import { RunStore } from '@core/store'\nexport const x = RunStore\n",
    refused: true,
    why: /through the core API/,
  },
  {
    file: 'src/renderer/src/probe.ts',
    code: "import { Core } from '@core/core'\nexport const x = Core\n",
    refused: true,
    why: /renderer sees src\/shared/,
  },
  {
    file: 'src/renderer/src/probe.ts',
    code: "import { readFileSync } from 'node:fs'\nexport const x = readFileSync\n",
    refused: true,
    why: /sandboxed web page/,
  },
  {
    file: 'src/shared/probe.ts',
    code: "import { join } from 'node:path'\nexport const x = join\n",
    refused: true,
    why: /pure TypeScript/,
  },
  {
    file: 'src/main/probe.ts',
    code: "import { Core } from '@core/core'\nexport const x = Core\n",
    refused: true,
    why: /runs the core as a child process/,
  },
  {
    file: 'src/core/probe.ts',
    code: "import { trainTfjs } from '@trainer/engines/tfjs/train'\nexport const x = trainTfjs\n",
    refused: true,
    why: /trainers as processes/,
  },
  // The programs, on resolved paths: any spelling of a path into another program is refused.
  {
    file: 'src/trainer/probe.ts',
    code: probe('./../core/queue/scheduler', 'Scheduler'),
    refused: true,
    why: /never imports the core/,
  },
  {
    file: 'src/trainer/engines/probe.ts',
    code: probe('@trainer/../core/store', 'RunStore'),
    refused: true,
    why: /never imports the core/,
  },
  {
    file: 'src/shared/probe.ts',
    code: probe('../core/paths', 'runDirOf'),
    refused: true,
    why: /src\/shared imports no program/,
  },
  {
    file: 'src/core/queue/probe.ts',
    code: probe('../../cli/core', 'openCore'),
    refused: true,
    why: /imported by its clients, never the reverse/,
  },
  {
    file: 'src/trainer/probe.ts',
    code: probe('@worker/worker', 'RemoteWorker'),
    refused: true,
    why: /a process of its own/,
  },
  {
    file: 'src/cli/commands/probe.ts',
    code: probe('../../core/store/run-store', 'RunStore'),
    refused: true,
    why: /through the core API/,
  },
  {
    file: 'src/cli/commands/probe.ts',
    code: probe('@trainer/engines/select', 'selectEngine'),
    refused: true,
    why: /reaches training through the core/,
  },
  {
    file: 'src/worker/probe.ts',
    code: probe('@core/store', 'RunStore'),
    refused: true,
    why: /A worker holds no database/,
  },
  {
    file: 'src/worker/probe.ts',
    code: probe('../trainer/files', 'isDiskFull'),
    refused: true,
    why: /runs trainers as processes and reports to the head/,
  },
  {
    file: 'src/preload/probe.ts',
    code: probe('../core/core', 'Core'),
    refused: true,
    why: /The preload is the bridge/,
  },
  {
    file: 'src/renderer/src/views/probe.ts',
    code: probe('../../../core/store/run-store', 'RunStore'),
    refused: true,
    why: /renderer sees src\/shared/,
  },
  {
    file: 'src/core/probe.ts',
    code: probe('./queue/no-such-file', 'nothing'),
    refused: true,
    why: /Unable to resolve/,
  },
  // The core's layers: server → core → queue / reports → store → files.
  {
    file: 'src/core/store/probe.ts',
    code: probe('../queue/scheduler', 'Scheduler'),
    refused: true,
    why: /The core is layered/,
  },
  {
    file: 'src/core/store/probe.ts',
    code: probe('@core/core', 'Core'),
    refused: true,
    why: /The core is layered/,
  },
  {
    file: 'src/core/queue/probe.ts',
    code: probe('../server/http-server', 'isAuthorized'),
    refused: true,
    why: /The core is layered/,
  },
  {
    file: 'src/core/host.ts',
    code: probe('./server/api-handler', 'apiHandler'),
    refused: true,
    why: /The core is layered/,
  },
  {
    file: 'src/core/reports/probe.ts',
    code: probe('../queue/run-execution', 'RunExecution'),
    refused: true,
    why: /siblings/,
  },
  {
    file: 'src/core/queue/probe.ts',
    code: probe('../reports/files', 'reportFiles'),
    refused: true,
    why: /siblings/,
  },
  {
    file: 'src/core/progress.ts',
    code: probe('./store', 'RunStore'),
    refused: false,
    why: /./,
  },
  // The renderer's layers: views → components → composables → stores → lib → api.ts.
  {
    file: 'src/renderer/src/lib/probe.ts',
    code: probe('../stores/theme', 'useThemeStore'),
    refused: true,
    why: /The renderer is layered/,
  },
  {
    file: 'src/renderer/src/stores/probe.ts',
    code: probe('../composables/useSort', 'compareSortValues'),
    refused: true,
    why: /The renderer is layered/,
  },
  {
    file: 'src/renderer/src/components/probe.ts',
    code: "import View from '@renderer/views/CompareView.vue'\nexport const y = View\n",
    refused: true,
    why: /The renderer is layered/,
  },
  {
    file: 'src/renderer/src/api-probe.ts',
    code: probe('./lib/download', 'downloadBlob'),
    refused: false,
    why: /./,
  },
  {
    file: 'src/renderer/src/composables/probe.ts',
    code: probe('./useComparison', 'useComparison'),
    refused: true,
    why: /A page's composable is its own/,
  },
  {
    file: 'src/renderer/src/views/probe.ts',
    code: probe('../stores/new-experiment-storage', 'loadSaved'),
    refused: true,
    why: /saved state is its stores' own/,
  },
  // What the fences allow, so they cannot pass by refusing everything.
  {
    file: 'src/renderer/src/stores/probe.ts',
    code: probe('./new-experiment-storage', 'loadSaved'),
    refused: false,
    why: /./,
  },
  {
    file: 'src/renderer/src/composables/probe.ts',
    code: probe('./useSort', 'compareSortValues'),
    refused: false,
    why: /./,
  },
  {
    file: 'src/renderer/src/views/probe.ts',
    code: probe('../lib/charts', 'curvesXExtent'),
    refused: false,
    why: /./,
  },
  {
    file: 'src/worker/probe.ts',
    code: probe('@core/queue/trainer-process', 'startTrainer'),
    refused: false,
    why: /./,
  },
  {
    file: 'src/core/reports/probe.ts',
    code: probe('../store', 'RunStore'),
    refused: false,
    why: /./,
  },
  {
    file: 'src/main/probe.ts',
    code: "import { app } from 'electron'\nexport const x = app\n",
    refused: false,
    why: /./,
  },
  {
    file: 'src/cli/commands/probe.ts',
    code: "import { Core } from '@core/core'\nexport const x = Core\n",
    refused: false,
    why: /./,
  },
  {
    file: 'src/renderer/src/probe.ts',
    code: "import { canRetry } from '@shared/run-state'\nimport type { DesktopBridge } from '@preload/bridge'\nexport const x: [typeof canRetry, DesktopBridge | null] = [canRetry, null]\n",
    refused: false,
    why: /./,
  },
]

describe('ESLint fences between the programs', () => {
  for (const c of CASES) {
    it(`${c.refused ? 'refuses' : 'allows'} in ${c.file}: ${c.code.split('\n')[0]}`, async () => {
      const errors = await fenceErrors(c.file, c.code)
      if (c.refused) {
        expect(errors).toHaveLength(1)
        expect(errors[0]).toMatch(c.why)
      } else expect(errors).toEqual([])
    })
  }
})

describe('aliases', () => {
  const paths = (file: string): Record<string, string[]> =>
    (
      JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as {
        compilerOptions: { paths: Record<string, string[]> }
      }
    ).compilerOptions.paths

  it('are the same in the build and the node-side tsconfig', () => {
    const tsconfig = paths('tsconfig.node.json')
    for (const [alias, dir] of Object.entries(ALIASES)) {
      if (alias === '@renderer') continue // web side only
      expect(tsconfig[`${alias}/*`], alias).toEqual([`${relative(ROOT, dir)}/*`])
    }
  })

  it('are the same in the build and the web-side tsconfig', () => {
    const tsconfig = paths('tsconfig.web.json')
    for (const alias of ['@shared', '@renderer', '@preload'] as const) {
      expect(tsconfig[`${alias}/*`], alias).toEqual([`${relative(ROOT, ALIASES[alias])}/*`])
    }
  })
})
