// The house rules that tooling enforces: the ESLint fences between the programs bite (a fixture
// import per fence, linted as if it lived in that program's folder), and the aliases are the
// same in the build (electron.vite.config.ts) and in both tsconfigs.
import { readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'
import { ALIASES } from '../../../electron.vite.config'

const ROOT = join(import.meta.dirname, '../../..')
const eslint = new ESLint({ cwd: ROOT })

/** The restricted-import messages ESLint reports for `code` placed at `file`. */
async function fenceErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, file) })
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === 'no-restricted-imports')
    .map((m) => m.message)
}

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
  // What the fences allow, so they cannot pass by refusing everything.
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
