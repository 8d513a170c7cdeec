import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, runCli } from '../helpers/cli'

interface SummaryJson {
  layers: { name: string; type: string; outputShape: number[]; params: number; macs: number }[]
  totals: {
    params: number
    macs: number
    memory: { training: { total: number }; prediction: { perImage: number; batch: number } }
  }
}

let dir: string
const file = (name: string, text: string): string => {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

beforeAll(() => {
  assertBuilt()
  dir = mkdtempSync(join(tmpdir(), 'nin-lab-summary-'))
})

describe('nin-lab summary', () => {
  it('prints the d2l layer table and totals', () => {
    const r = runCli(['summary', '--preset', 'd2l'])
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/block1\.conv\s+conv\s+11×11 \/4\s+96×54×54\s+11,712/)
    expect(r.stdout).toMatch(/parameters\s+1,992,166/)
    expect(r.stdout).toMatch(/762,297,352 MACs per image/)
    expect(r.stdout).toMatch(/smallest that works: 67 px/)
  })

  it('--json has the documented shape and the PyTorch numbers', () => {
    const r = runCli(['summary', '--json', '--set', 'model.microConvs=3', '--set', 'model.head=fc'])
    expect(r.status).toBe(0)
    const out = JSON.parse(r.stdout) as SummaryJson
    expect(out.totals.params).toBe(2_217_730)
    expect(Object.keys(out.layers[0] ?? {})).toEqual([
      'name',
      'type',
      'outputShape',
      'params',
      'macs',
    ])
    expect(out.layers[0]).toEqual({
      name: 'block1.conv',
      type: 'conv',
      outputShape: [96, 54, 54],
      params: 11_712,
      macs: 96 * 54 * 54 * 121,
    })
    expect(out.totals.memory.training.total).toBeGreaterThan(out.totals.memory.prediction.batch)
  })

  it('summarizes an array of configs in order, in one process', () => {
    const variants = [1, 2, 3].flatMap((m) =>
      ['gap', 'fc'].map((head) => ({ model: { microConvs: m, head } })),
    )
    const r = runCli(['summary', '--json', file('grid.json', JSON.stringify(variants))])
    expect(r.status).toBe(0)
    const out = JSON.parse(r.stdout) as SummaryJson[]
    expect(out.map((s) => s.totals.params)).toEqual([
      1_769_112, 1_771_622, 1_992_166, 1_994_676, 2_215_220, 2_217_730,
    ])
  })

  it('applies --set over a preset over the defaults', () => {
    const r = runCli([
      'summary',
      '--json',
      '--preset',
      'd2l-96',
      '--set',
      'model.blocks[0].channels=64',
    ])
    const out = JSON.parse(r.stdout) as SummaryJson
    expect(out.layers[0]?.outputShape).toEqual([64, 22, 22])
  })
})

describe('nin-lab summary rejects bad input, naming the field, and writes nothing', () => {
  const cases: [string, string[], RegExp][] = [
    [
      'microConvs 5',
      ['--set', 'model.microConvs=5'],
      /model\.microConvs must be an integer from 0 to 3 \(got 5\)/,
    ],
    [
      'inputSize 40',
      ['--set', 'model.inputSize=40'],
      /model\.inputSize 40 is too small.*block3\.pool.*67/,
    ],
    [
      'negative lr',
      ['--set', 'train.lr=-0.1'],
      /train\.lr must be a number greater than 0.*\(got -0\.1\)/,
    ],
    [
      'unknown head',
      ['--set', 'model.head=mlp'],
      /model\.head must be one of "gap", "fc" \(got "mlp"\)/,
    ],
    ['unknown field', ['--set', 'model.micro=2'], /model\.micro is not a known field/],
    ['unknown preset', ['--preset', 'vgg'], /unknown preset "vgg"; presets: d2l, d2l-96/],
  ]
  it.each(cases)('%s', (_name, args, message) => {
    const before = readdirSync(dir)
    const r = runCli(['summary', ...args], { cwd: dir })
    expect(r.status).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(message)
    expect(readdirSync(dir)).toEqual(before)
  })

  it('a file that is not JSON', () => {
    const r = runCli(['summary', file('broken.json', '{"model": {"microConvs": 2,}}')])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/broken\.json is not valid JSON/)
  })

  it('a missing file', () => {
    const r = runCli(['summary', join(dir, 'nope.json')])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/cannot read config .*nope\.json: no such file/)
  })

  it('every problem of every item of an array, each with its index', () => {
    const r = runCli([
      'summary',
      file('bad-grid.json', JSON.stringify([{}, { model: { microConvs: 7 }, train: { lr: 0 } }])),
    ])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/\[1\] model\.microConvs must be an integer from 0 to 3 \(got 7\)/)
    expect(r.stderr).toMatch(/\[1\] train\.lr must be a number greater than 0/)
  })

  it('an unknown option prints the command help', () => {
    const r = runCli(['summary', '--frobnicate'])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/Usage: nin-lab summary/)
  })
})

describe('nin-lab summary refuses input aimed at JavaScript itself', () => {
  it('--set and --grid paths through __proto__ / constructor / prototype', () => {
    const set = runCli(['summary', '--set', '__proto__.model=1'])
    expect(set.status).toBe(2)
    expect(set.stderr).toBe(
      'nin-lab summary: --set is invalid (1 problem):\n' +
        '  - __proto__.model: "__proto__" cannot be part of a config path (it is JavaScript\'s ' +
        'object machinery, not a config field); paths look like model.microConvs or model.blocks[0].channels\n',
    )
    const grid = runCli([
      'queue',
      'add',
      '--data-dir',
      join(dir, 'grid-data'),
      '--grid',
      'constructor=1,2',
    ])
    expect(grid.status).toBe(2)
    expect(grid.stderr).toMatch(
      /^nin-lab queue: grid is invalid \(1 problem\):\n {2}- constructor: "constructor" cannot be part of a config path/,
    )
  })

  it('a config file with a "__proto__" key is an unknown field, not silently dropped', () => {
    const r = runCli(['summary', file('proto.json', '{"__proto__": {"model": {"microConvs": 3}}}')])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/ {2}- __proto__ is not a known field; a config takes name, engine/)
  })

  it('a config file nested 100,000 deep names the limit instead of overflowing the stack', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000)
    const path = file('deep.json', `{"model": {"fcHidden": ${deep}}}`)
    const r = runCli(['summary', path])
    expect(r.status).toBe(2)
    expect(r.stderr).toBe(
      `nin-lab summary: ${path} nests arrays and objects deeper than the limit of 64 levels; a NiN Lab config needs only a few\n`,
    )
  })
  it('memory follows the precision the engine will train in: bf16 on torch, fp32 on tfjs (and it says why)', () => {
    const line = (engine: string): string => {
      const r = runCli([
        'summary',
        '--preset',
        'small-28',
        '--set',
        `engine="${engine}"`,
        '--set',
        'train.precision="bf16"',
      ])
      expect(r.status, r.stderr).toBe(0)
      return r.stdout.split('\n').find((l) => l.startsWith('training')) ?? ''
    }
    const torch = line('torch')
    const tfjs = line('tfjs')
    expect(torch).toMatch(/^training\s+34\.7 MiB at batch 128 in bf16: .*bf16 copy 289\.8 KiB/)
    expect(tfjs).toMatch(
      /^training\s+66\.6 MiB at batch 128 in fp32 \(TensorFlow\.js trains in fp32; train\.precision bf16 is for the torch engine\)/,
    )
    expect(tfjs).not.toContain('bf16 copy')
  })
})
