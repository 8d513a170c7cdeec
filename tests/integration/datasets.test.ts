// Colour input end to end: `nin-lab run` trains on a CIFAR-10 folder the test writes (the
// official binary layout, a few hundred synthetic images) with both engines as real trainer
// processes — normalised, cropped and flipped — with equal parameter counts, CIFAR's class names
// in the result, and one dataset cache both engines read.
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { countParams, layerTable } from '@shared/architecture'
import { validateExperimentConfig } from '@shared/config/experiment'
import { presetInput } from '@shared/config/presets'
import type { FinishedMessage, StartedMessage, TrainerMessage } from '@shared/protocol/trainer'
import { CIFAR10_CLASS_NAMES } from '@trainer/data'
import { cifar10Files, writeFiles } from '../helpers/cifar'
import { assertBuilt, runCli } from '../helpers/cli'
import { probeTorch, warnSkipped } from '../fixtures/torch/torch-python'

const { skipReason } = probeTorch()
if (skipReason) warnSkipped('torch on RGB input', skipReason)

let dataDir: string
let cifar: string

beforeAll(() => {
  assertBuilt()
  dataDir = mkdtempSync(join(tmpdir(), 'nin-lab-datasets-'))
  // 5 × 60 training images, 100 test images.
  cifar = writeFiles(join(dataDir, 'cifar-10-batches-bin'), cifar10Files(60, 100))
})

/** small-28's narrow network on 32 px RGB: a few seconds a run. */
const args = (engine: string, seed: number): string[] => [
  'run',
  '--preset',
  'small-28',
  '--set',
  `engine=${engine}`,
  '--set',
  'data.dataset=cifar10',
  '--set',
  `data.path=${JSON.stringify(cifar)}`,
  '--set',
  'model.inputSize=32',
  '--set',
  'data.normalize=channel',
  '--set',
  'data.cropPadding=4',
  '--set',
  'data.hflip=true',
  '--set',
  'train.epochs=1',
  '--set',
  'train.batchSize=32',
  '--set',
  `train.seed=${seed}`,
  '--data-dir',
  dataDir,
  '--json',
]

interface RunJson {
  id: string
  status: string
  engine: string
  params: number
  error?: string
}

const messagesOf = (id: string): TrainerMessage[] =>
  readFileSync(join(dataDir, 'runs', id, 'messages.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as TrainerMessage)

function train(engine: string, seed: number): { run: RunJson; messages: TrainerMessage[] } {
  const r = runCli(args(engine, seed))
  const run = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as RunJson
  expect(run.error, r.stderr).toBeUndefined()
  expect(r.status, r.stderr).toBe(0)
  return { run, messages: messagesOf(run.id) }
}

const expected = validateExperimentConfig({
  ...presetInput('small-28'),
  data: { dataset: 'cifar10', path: '/x' },
  model: { ...presetInput('small-28').model, inputSize: 32 },
})

describe('RGB input on both engines', () => {
  it('the config is a 3-channel network (channels follow the dataset)', () => {
    expect(expected.model.inputChannels).toBe(3)
    expect(layerTable(expected.model)[0]?.inputShape).toEqual([3, 32, 32])
  })

  it('tfjs trains on CIFAR-10: 3 channels, the cost model’s parameters, CIFAR’s class names', () => {
    const { run, messages } = train('tfjs', 1)
    expect(run.status).toBe('completed')
    const started = messages.find((m): m is StartedMessage => m.type === 'started')
    const finished = messages.find((m): m is FinishedMessage => m.type === 'finished')
    expect(started?.params).toBe(countParams(layerTable(expected.model)))
    expect(started?.trainCount).toBe(300)
    expect(started?.testCount).toBe(100)
    expect(finished?.classNames).toEqual(CIFAR10_CLASS_NAMES)
    expect(finished?.confusion).toHaveLength(10)
    expect(messages.filter((m) => m.type === 'step').length).toBe(10)
    const caches = readdirSync(join(dataDir, 'datasets'))
    expect(caches).toEqual([expect.stringMatching(/^cifar10-[0-9a-f]{16}\.v2\.bin$/)])
  })

  it.skipIf(skipReason !== null)(
    'torch trains on the same cache with the same parameter count',
    () => {
      const { run, messages } = train('torch', 2)
      expect(run.status).toBe('completed')
      expect(run.engine).toBe('torch')
      const started = messages.find((m): m is StartedMessage => m.type === 'started')
      const finished = messages.find((m): m is FinishedMessage => m.type === 'finished')
      expect(started?.params).toBe(countParams(layerTable(expected.model)))
      expect(started?.trainCount).toBe(300)
      expect(finished?.classNames).toEqual(CIFAR10_CLASS_NAMES)
      // One cache for both engines: the tfjs run wrote it, the torch run read it.
      expect(readdirSync(join(dataDir, 'datasets'))).toHaveLength(1)
      const steps = messages.filter((m) => m.type === 'step')
      expect(steps).toHaveLength(10)
      for (const s of steps) expect(Number.isFinite((s as { loss: number }).loss)).toBe(true)
    },
  )

  it('an image folder that does not exist is a clear error', () => {
    const root = join(dataDir, 'not-cifar')
    const r = runCli([
      'run',
      '--preset',
      'small-28',
      '--set',
      'engine=tfjs',
      '--set',
      'data.dataset=folder',
      '--set',
      `data.path=${JSON.stringify(root)}`,
      '--data-dir',
      dataDir,
      '--json',
    ])
    expect(r.status).toBe(1)
    expect(r.stdout).toMatch(/data\.path: .*not-cifar does not exist/)
    expect(existsSync(root)).toBe(false)
  })
})
