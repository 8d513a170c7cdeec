// The PyTorch engine builds its network from the shared layer table: for every preset and every
// variant of the PyTorch reference fixture, the torch model's parameters equal the cost model's,
// layer by layer (and so the tfjs engine's, which tests/unit/trainer/tfjs-network.test.ts ties to
// the same table). One `trainer.py --params` process answers for all configs.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { countParams, layerTable } from '@shared/architecture'
import { validateExperimentConfig, type ExperimentConfig } from '@shared/config/experiment'
import { PRESET_NAMES, presetInput } from '@shared/config/presets'
import { costTotals } from '@shared/cost'
import {
  PYTHON,
  TRAINER,
  probeTorch,
  warnSkipped,
  writeJsonIn,
} from '../../fixtures/torch/torch-python'

interface ParamsLine {
  params: number
  layers: { name: string; type: string; params: number }[]
}

interface ReferenceRow {
  name: string
  model: Record<string, unknown>
  params: number
}

const { skipReason } = probeTorch()
if (skipReason) warnSkipped('torch parameter counts', skipReason)

const references = JSON.parse(
  readFileSync(new URL('../../fixtures/torch-reference.json', import.meta.url), 'utf8'),
) as ReferenceRow[]

const cases: { name: string; config: ExperimentConfig; reference: number | null }[] = [
  ...PRESET_NAMES.map((name) => ({
    name: `preset ${name}`,
    config: validateExperimentConfig(presetInput(name)),
    reference: null,
  })),
  ...references.map((row) => ({
    name: `reference ${row.name}`,
    config: validateExperimentConfig({ model: row.model }),
    reference: row.params,
  })),
]

describe.skipIf(skipReason !== null)(
  `torch engine parameter counts${skipReason ? ` (SKIPPED: ${skipReason})` : ''}`,
  () => {
    let dir: string
    let run: SpawnSyncReturns<string>
    let lines: ParamsLine[] = []
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'nin-torch-params-'))
      const files = cases.map((c) => writeJsonIn(dir, { layers: layerTable(c.config.model) }))
      run = spawnSync(PYTHON, [TRAINER, '--params', ...files], {
        encoding: 'utf8',
        timeout: 60_000,
      })
      lines = run.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as ParamsLine)
    })
    afterAll(() => rmSync(dir, { recursive: true, force: true }))

    it('trainer.py --params answers for every config in one process', () => {
      expect(run.status, run.stderr).toBe(0)
      expect(lines).toHaveLength(cases.length)
    })

    it.each(cases.map((c, i) => [c.name, i] as const))('%s', (_name, i) => {
      const c = cases[i]!
      const line = lines[i]!
      const layers = layerTable(c.config.model)
      expect(line.params).toBe(countParams(layers))
      expect(line.params).toBe(costTotals(layers, c.config.train).params)
      if (c.reference !== null) expect(line.params).toBe(c.reference)
      expect(line.layers).toEqual(
        layers.map((l) => ({ name: l.name, type: l.type, params: l.params })),
      )
    })

    it('a layer table that disagrees with itself is refused, naming the layer', () => {
      const layers = layerTable(validateExperimentConfig({ model: { inputSize: 96 } }).model)
      const broken = layers.map((l) => (l.name === 'block2.micro1' ? { ...l, params: 1 } : l))
      const r = spawnSync(PYTHON, [TRAINER, '--params', writeJsonIn(dir, { layers: broken })], {
        encoding: 'utf8',
        timeout: 60_000,
      })
      expect(r.status).toBe(2)
      expect(r.stderr).toMatch(
        /layer block2\.micro1: torch has 65792 parameters, the layer table 1/,
      )
    })
  },
)
