// Every preset must be a recipe that learns: the VGG-style family's settings (presets.ts: Adam at
// lr 0.001, a 1×1 class conv) leave the ln 10 plateau within one short epoch where their old
// settings (d2l's SGD at lr 0.05, the d2l class block) do not. nin-a (the cheapest of the three;
// the family shares the settings) at its smallest input, 64 px, on a Fashion-MNIST subset, through
// the PyTorch engine (the fastest here); real `nin-lab run` processes.
import { rmSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PRESETS } from '@shared/config/presets'
import { assertBuilt, runCli } from '../helpers/cli'
import { seededTempDir } from '../helpers/datasets'
import { PYTHON, probeTorch, warnSkipped } from '../fixtures/torch/torch-python'

interface Shown {
  status: string
  epochs: { trainLoss: number; testLoss: number; testAcc: number }[]
  health: { status: string }
}

const torch = probeTorch()
if (torch.skipReason) warnSkipped('presets learn (torch engine)', torch.skipReason)

let dataDir = ''
beforeAll(async () => {
  assertBuilt()
  dataDir = await seededTempDir('nin-lab-presets-')
})
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

function train(name: string, extra: string[]): Shown {
  const r = runCli(
    [
      'run',
      '--data-dir',
      dataDir,
      '--preset',
      'nin-a',
      '--set',
      `name=${name}`,
      '--set',
      'engine=torch',
      '--set',
      'train.precision=fp32',
      '--set',
      'model.inputSize=64',
      '--set',
      'data.trainLimit=2560',
      '--set',
      'data.testLimit=200',
      '--set',
      'train.batchSize=64',
      '--set',
      'train.epochs=1',
      '--json',
      ...extra,
    ],
    { env: { NIN_LAB_PYTHON: PYTHON } },
  )
  const id = /"id":"(r\w+)"/.exec(r.stdout)?.[1]
  if (!id) throw new Error(`no run (exit ${r.status}):\n${r.stdout}\n${r.stderr}`)
  return JSON.parse(runCli(['show', id, '--json', '--data-dir', dataDir]).stdout) as Shown
}

describe.skipIf(torch.skipReason !== null)('the VGG-style presets learn', () => {
  it('share one optimizer setting and class conv, not the plateau-bound SGD 0.05', () => {
    const presets = (['nin-a', 'nin-b', 'nin-c'] as const).map((n) => PRESETS[n].config)
    expect(new Set(presets.map((c) => JSON.stringify(c.train))).size).toBe(1)
    expect(presets[0]?.train).not.toMatchObject({ optimizer: 'sgd', lr: 0.05 })
    expect(presets.map((c) => c.model.classBlock)).toEqual(['conv1x1', 'conv1x1', 'conv1x1'])
  })

  it('one 40-step epoch (batch 64) of the preset leaves ln 10; the old SGD 0.05 does not', () => {
    const preset = train('preset', [])
    // The old preset: the d2l class block and d2l's SGD.
    const old = train('old-sgd', [
      '--set',
      'model.classBlock=nin',
      '--set',
      'train.optimizer=sgd',
      '--set',
      'train.lr=0.05',
    ])
    const ln10 = Math.log(10)
    expect(old.epochs[0]?.testLoss).toBeGreaterThan(ln10 - 0.01)
    expect(old.health.status, JSON.stringify(old.epochs)).toBe('chance')
    // Well off: ten times the plateau's own movement over the same steps.
    expect(preset.epochs[0]?.testLoss, JSON.stringify(preset.epochs)).toBeLessThan(ln10 - 0.05)
    expect(preset.health.status).not.toBe('chance')
  })
})
