import { describe, expect, it } from 'vitest'
import { ArchitectureError, layerTable, minimumInputSize } from '@shared/architecture'
import { costTotals } from '@shared/cost'
import { defaultExperimentConfig, validateExperimentConfig } from '@shared/config/experiment'
import type { ModelSpec } from '@shared/config/experiment'

const model = (over: Partial<ModelSpec> = {}): ModelSpec => ({
  ...defaultExperimentConfig().model,
  ...over,
})
const totals = (spec: ModelSpec): { params: number; macs: number } => {
  const t = costTotals(layerTable(spec), { optimizer: 'sgd', momentum: 0, batchSize: 1 })
  return { params: t.params, macs: t.macs }
}

describe('layerTable against PyTorch (docs/engines.md, 224 px, 10 classes)', () => {
  // Parameter counts from PyTorch modules (weights + biases); MACs from forward hooks.
  it.each([
    [1, 'gap', 1_769_112],
    [2, 'gap', 1_992_166],
    [3, 'gap', 2_215_220],
    [1, 'fc', 1_771_622],
    [2, 'fc', 1_994_676],
    [3, 'fc', 2_217_730],
  ] as const)('microConvs %i, head %s has %i parameters', (microConvs, head, params) => {
    expect(totals(model({ microConvs, head })).params).toBe(params)
  })

  it.each([
    [1, 669_884_996],
    [2, 762_297_352],
    [3, 854_709_708],
  ] as const)('microConvs %i (gap) costs %i MACs per image', (microConvs, macs) => {
    expect(totals(model({ microConvs })).macs).toBe(macs)
  })

  it('gives the d2l output shapes', () => {
    const shapes = Object.fromEntries(layerTable(model()).map((l) => [l.name, l.outputShape]))
    expect(shapes['block1.conv']).toEqual([96, 54, 54])
    expect(shapes['block1.pool']).toEqual([96, 26, 26])
    expect(shapes['block2.micro2']).toEqual([256, 26, 26])
    expect(shapes['block2.pool']).toEqual([256, 12, 12])
    expect(shapes['block3.conv']).toEqual([384, 12, 12])
    expect(shapes['block3.pool']).toEqual([384, 5, 5])
    expect(shapes['classes.micro2']).toEqual([10, 5, 5])
    expect(shapes['gap']).toEqual([10])
  })

  it('at 96 px gives 22 → 10 → 10 → 4 → 4 → 1 (docs/engines.md)', () => {
    const s = layerTable(model({ inputSize: 96 })).map(
      (l) => `${l.name}:${l.outputShape[1] ?? '-'}`,
    )
    expect(s).toContain('block1.conv:22')
    expect(s).toContain('block1.pool:10')
    expect(s).toContain('block2.conv:10')
    expect(s).toContain('block2.pool:4')
    expect(s).toContain('block3.conv:4')
    expect(s).toContain('block3.pool:1')
  })

  it('orders the layers as d2l does: blocks, dropout, class block, GAP', () => {
    expect(layerTable(model({ microConvs: 1 })).map((l) => l.name)).toEqual([
      'block1.conv',
      'block1.micro1',
      'block1.pool',
      'block2.conv',
      'block2.micro1',
      'block2.pool',
      'block3.conv',
      'block3.micro1',
      'block3.pool',
      'dropout',
      'classes.conv',
      'classes.micro1',
      'gap',
    ])
  })
})

describe('head variants', () => {
  it('fc from features flattens the pooled features and has no class block', () => {
    const layers = layerTable(model({ head: 'fc', fcFrom: 'features', fcHidden: [512] }))
    const names = layers.map((l) => l.name)
    expect(names).not.toContain('classes.conv')
    expect(names.slice(-5)).toEqual(['dropout', 'flatten', 'fc1', 'fc1.dropout', 'output'])
    const fc1 = layers.find((l) => l.name === 'fc1')
    expect(fc1?.inputShape).toEqual([384 * 5 * 5])
    expect(fc1?.params).toBe(384 * 25 * 512 + 512)
    expect(layers.at(-1)?.params).toBe(512 * 10 + 10)
  })

  it('headChannels inserts 3×3 NiN blocks without pooling before the class block', () => {
    const layers = layerTable(model({ headChannels: [192, 48], microConvs: 1 }))
    const names = layers.map((l) => l.name)
    expect(names.slice(names.indexOf('dropout'))).toEqual([
      'dropout',
      'head1.conv',
      'head1.micro1',
      'head2.conv',
      'head2.micro1',
      'classes.conv',
      'classes.micro1',
      'gap',
    ])
    const head2 = layers.find((l) => l.name === 'head2.conv')
    expect(head2?.outputShape).toEqual([48, 5, 5])
    expect(head2?.params).toBe(9 * 192 * 48 + 48)
  })

  it('3×3 micro convs keep the size (same padding) and cost 9× the 1×1 weights', () => {
    const one = layerTable(model({ microKernel: 1 })).find((l) => l.name === 'block2.micro1')
    const three = layerTable(model({ microKernel: 3 })).find((l) => l.name === 'block2.micro1')
    expect(three?.outputShape).toEqual(one?.outputShape)
    expect(three && one ? three.params - 256 : 0).toBe(9 * ((one?.params ?? 0) - 256))
  })

  it('microConvs 0 leaves one conv per block', () => {
    const convs = layerTable(model({ microConvs: 0 })).filter((l) => l.type === 'conv')
    expect(convs.map((l) => l.name)).toEqual([
      'block1.conv',
      'block2.conv',
      'block3.conv',
      'classes.conv',
    ])
  })
})

describe('inputs too small for the strides', () => {
  it('the smallest d2l input is 67 px (docs/engines.md)', () => {
    expect(minimumInputSize(model())).toBe(67)
    expect(() => layerTable(model({ inputSize: 67 }))).not.toThrow()
  })

  it('names the layer where the size reaches zero and the smallest size that works', () => {
    let error: unknown
    try {
      layerTable(model({ inputSize: 40 }))
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ArchitectureError)
    const e = error as ArchitectureError
    expect(e.minimumInputSize).toBe(67)
    // 40 → conv 8 → pool 3 → conv 3 → pool 1 → conv 1 → pool: 1 - 3 < 0
    expect(e.layer).toBe('block3.pool')
    expect(e.message).toContain('block3.pool')
    expect(e.message).toContain('67')
  })

  it('is a config error on model.inputSize', () => {
    expect(() => validateExperimentConfig({ model: { inputSize: 40 } })).toThrow(
      /model\.inputSize 40 is too small.*block3\.pool.*67/,
    )
  })
})
