import { describe, expect, it } from 'vitest'
import {
  ConfigError,
  D2L_BLOCKS,
  parseExperimentConfig,
  validateExperimentConfig,
} from '@shared/config/experiment'
import { applyOverride, mergeInput, parseOverride } from '@shared/config/overrides'
import { PRESET_NAMES, presetInput } from '@shared/config/presets'
import { layerTable } from '@shared/architecture'
import { costTotals } from '@shared/cost'

const messages = (input: unknown): string[] => {
  const r = parseExperimentConfig(input)
  return r.ok ? [] : r.issues.map((i) => i.message)
}

describe('experiment config', () => {
  it('{} is the d2l NiN with d2l 1.0 hyper-parameters', () => {
    const c = validateExperimentConfig({})
    expect(c.model.blocks).toEqual(D2L_BLOCKS)
    expect(c.model).toMatchObject({
      inputSize: 224,
      microConvs: 2,
      microKernel: 1,
      head: 'gap',
      dropout: 0.5,
    })
    expect(c.train).toMatchObject({
      epochs: 10,
      batchSize: 128,
      lr: 0.05,
      optimizer: 'sgd',
      seed: 0,
    })
    expect(c.data).toEqual({
      dataset: 'fashion-mnist',
      path: null,
      labels: 'fine',
      color: 'rgb',
      imageSize: null,
      trainLimit: null,
      testLimit: null,
      normalize: 'none',
      cropPadding: 0,
      hflip: false,
    })
    expect(c.engine).toBe('auto')
  })

  it('names the path, the allowed range and the value given', () => {
    expect(messages({ model: { microConvs: 5 } })).toEqual([
      'model.microConvs must be an integer from 0 to 3 (got 5)',
    ])
    expect(messages({ train: { lr: -0.1 } })).toEqual([
      'train.lr must be a number greater than 0 and at most 10 (got -0.1)',
    ])
    expect(messages({ model: { head: 'mlp' } })).toEqual([
      'model.head must be one of "gap", "fc" (got "mlp")',
    ])
    expect(messages({ model: { blocks: [{ channels: 0 }] } })).toEqual([
      'model.blocks[0].channels must be an integer from 1 to 4096 (got 0)',
    ])
  })

  it('reports every problem at once', () => {
    const m = messages({
      model: { microConvs: 5, head: 'mlp' },
      train: { lr: -1, epochs: 1.5 },
      extra: 1,
    })
    expect(m).toHaveLength(5)
    expect(m.join('\n')).toMatch(/extra is not a known field/)
  })

  it('rejects unknown fields and suggests the likely one', () => {
    expect(messages({ model: { microconv: 2 } })[0]).toMatch(
      /^model\.microconv is not a known field \(did you mean "microConvs"\?\); model takes family, inputSize/,
    )
  })

  it('checks fields against each other', () => {
    expect(messages({ model: { blocks: [{ channels: 8, kernel: 3, padding: 2 }] } })).toEqual([
      'model.blocks[0].padding must be at most 1 for a 3×3 kernel (got 2)',
    ])
    expect(messages({ model: { numClasses: 100 } })).toEqual([
      'model.numClasses must be 10 for dataset fashion-mnist (got 100): it follows the dataset, leave it at its default',
    ])
    // A dataset without its folder still validates (a cost summary needs no data); the trainer
    // refuses it (tests/unit/trainer/data.test.ts).
    expect(messages({ data: { dataset: 'mnist' } })).toEqual([])
  })

  it('rejects non-finite numbers and wrong types', () => {
    expect(messages({ train: { lr: Number.NaN } })).toEqual([
      'train.lr must be a number greater than 0 and at most 10 (got NaN)',
    ])
    expect(messages({ train: { epochs: '10' } })).toEqual([
      'train.epochs must be an integer from 1 to 1000 (got "10")',
    ])
    expect(messages([])).toEqual(['the config must be an object (got [])'])
  })

  it('ConfigError lists every problem, one per line', () => {
    expect(() =>
      validateExperimentConfig({ model: { microConvs: 9, dropout: 2 } }, 'x.json'),
    ).toThrow(ConfigError)
    try {
      validateExperimentConfig({ model: { microConvs: 9, dropout: 2 } }, 'x.json')
    } catch (e) {
      expect((e as Error).message).toBe(
        'x.json is invalid (2 problems):\n' +
          '  - model.microConvs must be an integer from 0 to 3 (got 9)\n' +
          '  - model.dropout must be a number from 0 to 0.95 (got 2)',
      )
    }
  })
})

describe('overrides', () => {
  it('parses values as JSON where they parse, else as strings', () => {
    expect(parseOverride('model.microConvs=3')).toEqual({ path: 'model.microConvs', value: 3 })
    expect(parseOverride('model.head=fc')).toEqual({ path: 'model.head', value: 'fc' })
    expect(parseOverride('model.fcHidden=[512,256]')).toEqual({
      path: 'model.fcHidden',
      value: [512, 256],
    })
    expect(parseOverride('data.path=null')).toEqual({ path: 'data.path', value: null })
    expect(parseOverride('oops')).toMatchObject({ message: expect.stringMatching(/PATH=VALUE/) })
  })

  it('sets nested paths and array items without touching the input', () => {
    const base = { model: { blocks: [{ channels: 1 }, { channels: 2 }] } }
    const out = applyOverride(base, { path: 'model.blocks[1].channels', value: 64 })
    expect(out).toEqual({ model: { blocks: [{ channels: 1 }, { channels: 64 }] } })
    expect(base.model.blocks[1]?.channels).toBe(2)
    expect(applyOverride({}, { path: 'train.lr', value: 0.1 })).toEqual({ train: { lr: 0.1 } })
  })

  it('merges objects deeply and replaces arrays', () => {
    expect(
      mergeInput({ model: { inputSize: 96, blocks: [1, 2] } }, { model: { blocks: [3] } }),
    ).toEqual({
      model: { inputSize: 96, blocks: [3] },
    })
  })
})

describe('presets', () => {
  it('every preset is a valid config', () => {
    for (const name of PRESET_NAMES)
      expect(parseExperimentConfig(presetInput(name)).ok, name).toBe(true)
  })

  it('d2l-96 is the d2l network at 96 px', () => {
    const c = validateExperimentConfig(presetInput('d2l-96'))
    expect(c.model.inputSize).toBe(96)
    expect(c.model.blocks).toEqual(D2L_BLOCKS)
  })

  it('small-28 is far under 50 million MACs per image at native 28 px', () => {
    const c = validateExperimentConfig(presetInput('small-28'))
    expect(c.model.inputSize).toBe(28)
    const t = costTotals(layerTable(c.model), c.train)
    expect(t.macs).toBeLessThan(50_000_000)
  })

  it('the VGG-style family grows in depth only: 11, 16, 21 conv layers', () => {
    const convs = (['nin-a', 'nin-b', 'nin-c'] as const).map(
      (n) =>
        layerTable(validateExperimentConfig(presetInput(n)).model).filter((l) => l.type === 'conv')
          .length,
    )
    expect(convs).toEqual([11, 16, 21])
  })
})

describe('the NiN paper presets', () => {
  it('nin-cifar10 is the paper’s network: 966,986 parameters, 200,357,760 MACs per 32 px image', () => {
    const c = validateExperimentConfig(presetInput('nin-cifar10'))
    expect([c.model.inputChannels, c.model.numClasses, c.model.inputSize]).toEqual([3, 10, 32])
    const layers = layerTable(c.model)
    const convs = layers.filter((l) => l.type === 'conv')
    // Three mlpconv layers: 192-160-96, 192-192-192, 192-192-10.
    expect(convs.map((l) => l.outputShape[0])).toEqual([192, 160, 96, 192, 192, 192, 192, 192, 10])
    expect(convs.map((l) => (l.type === 'conv' ? l.kernel : 0))).toEqual([
      5, 1, 1, 5, 1, 1, 3, 1, 1,
    ])
    expect(layers.filter((l) => l.type === 'dropout').map((l) => l.name)).toEqual([
      'block1.dropout',
      'dropout',
    ])
    expect(layers.at(-1)?.type).toBe('gap')
    const t = costTotals(layers, c.train)
    expect(t.params).toBe(966_986)
    expect(t.macs).toBe(200_357_760)
    expect(c.data).toMatchObject({ dataset: 'cifar10', normalize: 'channel', cropPadding: 0 })
    expect(c.train).toMatchObject({ optimizer: 'sgd', momentum: 0.9, weightDecay: 0.0001 })
  })

  it('nin-cifar10-aug adds crops of the 4-px padded image and flips; nin-cifar100 has 100 classes', () => {
    expect(validateExperimentConfig(presetInput('nin-cifar10-aug')).data).toMatchObject({
      cropPadding: 4,
      hflip: true,
    })
    const c100 = validateExperimentConfig(presetInput('nin-cifar100'))
    expect(c100.model.numClasses).toBe(100)
    expect(costTotals(layerTable(c100.model), c100.train).params).toBe(984_356)
  })
})

describe('channels and classes follow the dataset', () => {
  const resolved = (data: Record<string, unknown>, model: Record<string, unknown> = {}) =>
    validateExperimentConfig({ data, model }).model

  it('a complete config at the defaults takes the dataset’s shape', () => {
    expect(resolved({ dataset: 'cifar10' })).toMatchObject({ inputChannels: 3, numClasses: 10 })
    expect(resolved({ dataset: 'cifar100' })).toMatchObject({ inputChannels: 3, numClasses: 100 })
    expect(resolved({ dataset: 'cifar100', labels: 'coarse' })).toMatchObject({ numClasses: 20 })
    expect(resolved({ dataset: 'folder', color: 'grayscale' })).toMatchObject({ inputChannels: 1 })
    expect(resolved({ dataset: 'folder' }, { numClasses: 37 })).toMatchObject({
      inputChannels: 3,
      numClasses: 37,
    })
    // Through --set on the complete default config, as the CLI applies it.
    const input = applyOverride(
      applyOverride(validateExperimentConfig({}), { path: 'data.dataset', value: 'cifar100' }),
      { path: 'model.inputSize', value: 96 },
    )
    expect(validateExperimentConfig(input).model).toMatchObject({
      inputChannels: 3,
      numClasses: 100,
    })
  })

  it('a value that contradicts the dataset is refused, naming both', () => {
    expect(messages({ data: { dataset: 'cifar100' }, model: { numClasses: 37 } })).toEqual([
      'model.numClasses must be 100 for dataset cifar100 (fine labels) (got 37): it follows the dataset, leave it at its default',
    ])
    expect(messages({ data: { dataset: 'mnist' }, model: { inputChannels: 3 } })).toEqual([
      'model.inputChannels must be 1 for dataset mnist (got 3): it follows the dataset, leave it at its default',
    ])
  })

  it('a 3-channel, 100-class NiN has a cost summary (CIFAR-100 at 32 px)', () => {
    const c = validateExperimentConfig({ data: { dataset: 'cifar100' }, model: { inputSize: 67 } })
    const layers = layerTable(c.model)
    expect(layers[0]?.inputShape).toEqual([3, 67, 67])
    expect(layers.at(-1)?.outputShape).toEqual([100])
    expect(costTotals(layers, c.train).params).toBe(
      1_992_166 +
        2 * 11 * 11 * 96 +
        90 * (3 * 3 * 384 + 1) +
        (100 * 100 + 100) * 2 -
        (10 * 10 + 10) * 2,
    )
  })
})
