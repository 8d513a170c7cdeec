import { describe, expect, it } from 'vitest'
import { ConfigError, validateExperimentConfig } from '@shared/config/experiment'
import {
  axisValueCode,
  canonicalJson,
  configIdentity,
  expandGrid,
  gridRunCount,
  parseGridAxis,
  type GridAxis,
} from '@shared/grid'

/** The problem lines of the ConfigError that `fn` throws. */
function problems(fn: () => unknown): string[] {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return (err as ConfigError).issues.map((i) => i.message)
  }
  throw new Error('expected a ConfigError')
}

const axis = (text: string): GridAxis => parseGridAxis(text)

describe('parseGridAxis', () => {
  it('parses numbers as JSON and other words as strings', () => {
    expect(parseGridAxis('model.microConvs=1,2,3')).toEqual({
      path: 'model.microConvs',
      values: [1, 2, 3],
    })
    expect(parseGridAxis('model.head=gap,fc')).toEqual({
      path: 'model.head',
      values: ['gap', 'fc'],
    })
    expect(parseGridAxis('train.lr=0.1, 1e-2 ,0.001').values).toEqual([0.1, 0.01, 0.001])
    expect(parseGridAxis('data.trainLimit=null,1000').values).toEqual([null, 1000])
  })

  it('splits lists only at bracket depth 0', () => {
    expect(parseGridAxis('model.fcHidden=[],[512],[512,256]').values).toEqual([
      [],
      [512],
      [512, 256],
    ])
    expect(
      parseGridAxis('model.blocks=[{"channels":8,"kernel":3}],[{"channels":16,"kernel":5}]').values,
    ).toEqual([[{ channels: 8, kernel: 3 }], [{ channels: 16, kernel: 5 }]])
    // Commas inside JSON strings do not split either.
    expect(parseGridAxis('name="a,b",c').values).toEqual(['a,b', 'c'])
  })

  it('gives an empty value list for PATH= (expandGrid reports it with the other problems)', () => {
    expect(parseGridAxis('model.head=')).toEqual({ path: 'model.head', values: [] })
  })

  it('refuses text that is not PATH=VALUES, or whose brackets do not balance', () => {
    expect(problems(() => parseGridAxis('model.microConvs'))).toEqual([
      '--grid model.microConvs: expected PATH=V1,V2,…, e.g. --grid model.microConvs=1,2,3',
    ])
    expect(problems(() => parseGridAxis('=1,2'))[0]).toMatch(/expected PATH=V1,V2/)
    expect(problems(() => parseGridAxis('model.fcHidden=[512,[256]'))).toEqual([
      '--grid model.fcHidden=[512,[256]: unbalanced brackets or quotes in the values',
    ])
  })
})

describe('expandGrid', () => {
  it('gives the cartesian product in axis order, last axis fastest, seeds innermost', () => {
    const { configs } = expandGrid(
      { name: 'nin' },
      [axis('model.microConvs=1,2,3'), axis('model.head=gap,fc')],
      3,
    )
    expect(configs).toHaveLength(18)
    expect(gridRunCount([axis('model.microConvs=1,2,3'), axis('model.head=gap,fc')], 3)).toBe(18)
    expect(configs.slice(0, 7).map((c) => c.name)).toEqual([
      'nin-m1-gap-s0',
      'nin-m1-gap-s1',
      'nin-m1-gap-s2',
      'nin-m1-fc-s0',
      'nin-m1-fc-s1',
      'nin-m1-fc-s2',
      'nin-m2-gap-s0',
    ])
    expect(configs[17]?.name).toBe('nin-m3-fc-s2')
    expect(configs[17]?.model).toMatchObject({ microConvs: 3, head: 'fc' })
    expect(configs.slice(0, 3).map((c) => c.train.seed)).toEqual([0, 1, 2])
    expect(new Set(configs.map((c) => c.name)).size).toBe(18)
    // Every config is complete and valid on its own.
    for (const c of configs) expect(validateExperimentConfig(c)).toEqual(c)
  })

  it('counts seeds from the base seed and adds no seed suffix for one seed', () => {
    const seeded = expandGrid({ name: 'x', train: { seed: 40 } }, [], 3).configs
    expect(seeded.map((c) => [c.name, c.train.seed])).toEqual([
      ['x-s40', 40],
      ['x-s41', 41],
      ['x-s42', 42],
    ])
    const one = expandGrid({ name: 'x', train: { seed: 40 } }, [axis('model.microKernel=1,3')])
    expect(one.configs.map((c) => [c.name, c.train.seed])).toEqual([
      ['x-k1', 40],
      ['x-k3', 40],
    ])
    expect(expandGrid({ name: 'solo' }, []).configs.map((c) => c.name)).toEqual(['solo'])
  })

  it('addresses a complete config, so axes can edit default blocks', () => {
    const { configs } = expandGrid({}, [axis('model.blocks[0].channels=64,96')])
    expect(configs.map((c) => c.model.blocks[0]?.channels)).toEqual([64, 96])
    expect(configs.map((c) => c.model.blocks.length)).toEqual([3, 3])
    expect(configs.map((c) => c.name)).toEqual(['nin-channels64', 'nin-channels96'])
  })

  it('names runs with short codes per axis value, and a sanitized fallback', () => {
    expect(axisValueCode('model.microConvs', 3)).toBe('m3')
    expect(axisValueCode('model.microKernel', 3)).toBe('k3')
    expect(axisValueCode('model.head', 'gap')).toBe('gap')
    expect(axisValueCode('model.inputSize', 96)).toBe('96px')
    expect(axisValueCode('model.fcFrom', 'features')).toBe('features')
    expect(axisValueCode('train.optimizer', 'adam')).toBe('adam')
    expect(axisValueCode('train.lr', 0.1)).toBe('lr0.1')
    expect(axisValueCode('train.batchSize', 64)).toBe('b64')
    expect(axisValueCode('model.dropout', 0.3)).toBe('d0.3')
    expect(axisValueCode('model.headChannels', [192, 48])).toBe('h192-48')
    expect(axisValueCode('model.headChannels', [])).toBe('h0')
    expect(axisValueCode('model.fcHidden', [512, 256])).toBe('fc512-256')
    expect(axisValueCode('data.trainLimit', null)).toBe('nall')
    expect(axisValueCode('model.blocks', [{ channels: 16 }, { channels: 32 }])).toBe('c16-32')
    expect(axisValueCode('model.blocks[1].kernel', 5)).toBe('kernel5')
    expect(axisValueCode('data.path', '/data/my mnist/')).toBe('path-data-my-mnist')
    expect(axisValueCode('model.numClasses', 10)).toBe('numClasses10')
  })

  it('keeps names within the 120-character limit by shortening the base name', () => {
    const { configs } = expandGrid({ name: 'n'.repeat(120) }, [axis('model.head=gap,fc')])
    expect(configs.map((c) => c.name.length)).toEqual([120, 120])
    expect(configs[0]?.name.endsWith('-gap')).toBe(true)
  })

  it('reports an unknown path with a suggestion', () => {
    expect(problems(() => expandGrid({}, [axis('model.microconv=1,2')]))).toEqual([
      'grid axis model.microconv: not a config field (did you mean model.microConvs?)',
    ])
    expect(problems(() => expandGrid({}, [axis('microConvs=1,2')]))).toEqual([
      'grid axis microConvs: not a config field (did you mean model.microConvs?)',
    ])
    expect(problems(() => expandGrid({}, [axis('train.learningRate=1')]))).toEqual([
      'grid axis train.learningRate: not a config field',
    ])
  })

  it('reports each bad value once, named by its axis, not once per combination', () => {
    const messages = problems(() =>
      expandGrid({}, [axis('model.microConvs=1,5,7'), axis('model.head=gap,fc')], 2),
    )
    expect(messages).toEqual([
      'grid axis model.microConvs=5: model.microConvs must be an integer from 0 to 3 (got 5)',
      'grid axis model.microConvs=7: model.microConvs must be an integer from 0 to 3 (got 7)',
    ])
    expect(problems(() => expandGrid({}, [axis('model.head=gap,mlp')]))).toEqual([
      'grid axis model.head=mlp: model.head must be one of "gap", "fc" (got "mlp")',
    ])
    // A single bad value is still the axis's, not the base config's.
    expect(problems(() => expandGrid({}, [axis('train.lr=0')]))).toEqual([
      'grid axis train.lr=0: train.lr must be a number greater than 0 and at most 10 (got 0)',
    ])
  })

  it('blames a cross-field problem on the value that causes it', () => {
    expect(problems(() => expandGrid({}, [axis('model.numClasses=10,100')]))).toEqual([
      'grid axis model.numClasses=100: model.numClasses must be 10 for dataset fashion-mnist (got 100): it follows the dataset, leave it at its default',
    ])
  })

  it('names both values when only their combination fails', () => {
    // Stride 4 is fine at 224 px and stride 2 is fine at 64 px, but 64 px at stride 4 shrinks
    // the feature map to nothing before the last pool.
    const messages = problems(() =>
      expandGrid({}, [axis('model.inputSize=224,64'), axis('model.blocks[0].stride=2,4')]),
    )
    expect(messages).toHaveLength(1)
    expect(messages[0]).toMatch(/^grid axes model\.inputSize=64 × model\.blocks\[0\]\.stride=4: /)
  })

  it('reports a problem of the base config once, without an axis', () => {
    expect(
      problems(() => expandGrid({ train: { epochs: 0 } }, [axis('model.head=gap,fc')], 2)),
    ).toEqual(['train.epochs must be an integer from 1 to 1000 (got 0)'])
  })

  it('lists every problem at once', () => {
    const messages = problems(() =>
      expandGrid(
        {},
        [
          axis('model.microconv=1'),
          axis('model.head='),
          axis('model.microKernel=1,3'),
          axis('model.microKernel=3'),
          axis('model.dropout=0.2,2'),
          axis('model.fcHidden=[],[],[0]'),
        ],
        0,
      ),
    )
    expect(messages).toEqual([
      'seeds must be an integer of at least 1 (got 0)',
      'grid axis model.microconv: not a config field (did you mean model.microConvs?)',
      'grid axis model.head: no values (expected model.head=V1,V2,…)',
      'grid axis model.microKernel is given twice: list all its values in one axis',
      'grid axis model.fcHidden: value [] is listed twice',
      'grid axis model.dropout=2: model.dropout must be a number from 0 to 0.95 (got 2)',
    ])
  })

  it('refuses overlapping axes, missing list items and grids that repeat a config', () => {
    expect(
      problems(() =>
        expandGrid({}, [axis('model.blocks=[{"channels":8}]'), axis('model.blocks.0.kernel=3')]),
      ),
    ).toEqual([
      'grid axes model.blocks and model.blocks.0.kernel overlap: one would overwrite the other',
    ])
    expect(problems(() => expandGrid({}, [axis('model.blocks[5].kernel=3,5')]))).toEqual([
      'grid axis model.blocks[5].kernel: model.blocks has 3 items (indices 0 to 2)',
    ])
    expect(problems(() => expandGrid({}, [axis('train.seed=0,1')], 2))).toEqual([
      'grid gives the same config twice (nin-seed0-s1 and nin-seed1-s1)',
    ])
  })
})

describe('canonicalJson and configIdentity', () => {
  it('sorts keys at every level and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    )
    expect(canonicalJson({ x: 1, y: 2 })).toBe(canonicalJson({ y: 2, x: 1 }))
    expect(canonicalJson({ a: undefined, b: [undefined] })).toBe('{"b":[null]}')
    expect(canonicalJson('s')).toBe('"s"')
  })

  it('identifies a config by everything but its name', () => {
    const a = validateExperimentConfig({ name: 'a', model: { head: 'fc', microConvs: 1 } })
    const b = validateExperimentConfig({ model: { microConvs: 1, head: 'fc' }, name: 'b' })
    const c = validateExperimentConfig({ name: 'a', model: { head: 'fc', microConvs: 2 } })
    expect(configIdentity(a)).toBe(configIdentity(b))
    expect(configIdentity(a)).not.toBe(configIdentity(c))
    expect(configIdentity(a)).not.toContain('"name"')
  })

  it('keeps the identity of configs stored before a later training field, at its earlier value', () => {
    const plain = validateExperimentConfig({})
    // As a run stored before train.precision, onChance and compile existed reads back.
    const { precision: _p, onChance: _o, compile: _c, ...older } = plain.train
    const stored = { ...plain, train: older } as unknown as typeof plain
    expect(configIdentity(stored)).toBe(configIdentity(plain))
    expect(configIdentity(plain)).not.toContain('"compile"')
    // Away from the earlier value the field is part of what the run is.
    const compiled = validateExperimentConfig({ train: { compile: 'on' } })
    expect(configIdentity(compiled)).not.toBe(configIdentity(plain))
    expect(configIdentity(compiled)).toContain('"compile":"on"')
  })
})
