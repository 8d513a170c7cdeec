// Run health through the real trainer, both engines: a run on the ln 10 plateau is judged at
// chance and one that learns is not; `train.onChance: stop` ends a chance run after its first
// epoch as failed, saying why. Real `nin-lab run` processes on real Fashion-MNIST images, a
// network narrowed to seconds per run.
import { rmSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, runCli } from '../helpers/cli'
import { seededTempDir } from '../helpers/datasets'
import { PYTHON, probeTorch, warnSkipped } from '../fixtures/torch/torch-python'

interface ShownRun {
  id: string
  status: string
  error?: string
  epochs: { epoch: number; trainLoss: number; testAcc: number }[]
  health: { status: string; reason: string }
}

let dataDir = ''
beforeAll(async () => {
  assertBuilt()
  dataDir = await seededTempDir('nin-lab-health-')
})
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

/** small-28 narrowed (8-16-32 channels) on 640 / 200 images: seconds per epoch. */
const TINY = [
  '--preset',
  'small-28',
  '--set',
  'model.blocks=[{"channels":8,"kernel":5,"stride":1,"padding":2},{"channels":16,"kernel":3,"stride":1,"padding":1},{"channels":32,"kernel":3,"stride":1,"padding":1}]',
  '--set',
  'data.trainLimit=640',
  '--set',
  'data.testLimit=200',
  '--set',
  'train.batchSize=32',
]
/** d2l's SGD at lr 0.05: on the plateau for hundreds of steps (docs/health.md). */
const PLATEAU = ['--set', 'train.optimizer=sgd', '--set', 'train.lr=0.05']

/** Trains one run in the foreground and returns `show --json` of it. */
function train(engine: 'tfjs' | 'torch', name: string, args: string[]): ShownRun {
  const env = engine === 'torch' ? { NIN_LAB_PYTHON: PYTHON } : {}
  const r = runCli(
    [
      'run',
      '--data-dir',
      dataDir,
      '--experiment',
      `health-${engine}`,
      ...TINY,
      '--set',
      `engine=${engine}`,
      '--set',
      `name=${name}`,
      '--json',
      ...args,
    ],
    { env },
  )
  const id = /"id":"(r\w+)"/.exec(r.stdout)?.[1]
  if (!id) throw new Error(`no run id (exit ${r.status}):\n${r.stdout}\n${r.stderr}`)
  const shown = runCli(['show', id, '--json', '--data-dir', dataDir])
  expect(shown.status, shown.stderr).toBe(0)
  return JSON.parse(shown.stdout) as ShownRun
}

const torch = probeTorch()
if (torch.skipReason) warnSkipped('health (torch engine)', torch.skipReason)

describe.each([
  ['tfjs', false],
  ['torch', torch.skipReason !== null],
] as const)('run health on the %s engine', (engine, skip) => {
  it.skipIf(skip)('a run on the plateau is at chance; one that learns is not', () => {
    const chance = train(engine, 'plateau', [...PLATEAU, '--set', 'train.epochs=1'])
    expect(chance.status).toBe('completed')
    expect(chance.epochs[0]?.trainLoss).toBeCloseTo(Math.log(10), 2)
    expect(chance.health.status, JSON.stringify(chance)).toBe('chance')
    expect(chance.health.reason).toContain('≈ ln 10')

    // Adam (small-28's optimizer) at a higher lr, to leave the plateau within 80 steps.
    const learns = train(engine, 'learns', [
      '--set',
      'train.epochs=2',
      '--set',
      'train.lr=0.005',
      '--set',
      'data.trainLimit=1280',
    ])
    expect(learns.status).toBe('completed')
    // Well off the plateau: three times the chance margin (0.0115) below ln 10.
    expect(learns.epochs.at(-1)?.trainLoss).toBeLessThan(Math.log(10) - 0.035)
    expect(['ok', 'not-converged'], JSON.stringify(learns)).toContain(learns.health.status)
  })

  it.skipIf(skip)(
    'train.onChance=stop ends a chance run after epoch 1 as failed, saying why',
    () => {
      const stopped = train(engine, 'stopped', [
        ...PLATEAU,
        '--set',
        'train.epochs=3',
        '--set',
        'train.onChance=stop',
      ])
      expect(stopped.status).toBe('failed')
      expect(stopped.epochs).toHaveLength(1)
      expect(stopped.error).toMatch(
        /^stopped at chance after epoch 1: train loss 2\.30\d\d and test loss 2\.30\d\d ≈ ln 10/,
      )
      expect(stopped.error).toContain('train.onChance is stop')
      expect(stopped.health.status).toBe('chance')
    },
  )
})
