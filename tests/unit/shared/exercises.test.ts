// The six d2l exercises as studies: the grids each queues, what the scale changes (computed
// from the layer tables), the analytic costs at d2l's scale, and answers from finished runs.
import { describe, expect, it } from 'vitest'
import type { Run } from '@shared/api/types'
import { layerTable } from '@shared/architecture'
import { answerExercise } from '@shared/exercise-answer'
import {
  analyticRows,
  EXERCISES,
  exerciseById,
  exerciseRuns,
  maxPoolIndexBytes,
  scaleNotes,
  variantConfig,
  variantOfConfig,
  type Exercise,
} from '@shared/exercises'
import type { ExperimentConfig } from '@shared/config/experiment'
import type { RunHealth } from '@shared/health'

const ex = (id: number): Exercise => {
  const e = exerciseById(id)
  if (!e) throw new Error(`no exercise ${id}`)
  return e
}

describe('exercise grids', () => {
  it('has the six exercises, each with its baseline among its variants', () => {
    expect(EXERCISES.map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6])
    for (const e of EXERCISES) {
      for (const scale of ['small', '96', '224'] as const) {
        expect(e.variants(scale).map((v) => v.key)).toContain(e.baseline)
      }
    }
  })

  it('queues each variant × seeds, named by exercise, scale, variant and seed', () => {
    const plan = exerciseRuns(ex(1), 'small', 3)
    expect(plan.map((p) => p.variant)).toEqual(['m0', 'm1', 'm2', 'm3'])
    const configs = plan.flatMap((p) => p.configs)
    expect(configs).toHaveLength(12)
    expect(configs.map((c) => c.model.microConvs)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
    expect(configs.map((c) => c.train.seed).slice(0, 3)).toEqual([0, 1, 2])
    expect(configs[0]?.name).toBe('ex1-small-m0-s0')
    expect(new Set(configs.map((c) => c.model.inputSize))).toEqual(new Set([28]))
    expect(exerciseRuns(ex(1), '224', 2)[0]?.configs[0]?.model.inputSize).toBe(224)
    expect(exerciseRuns(ex(1), '96', 2)[0]?.configs[0]?.model.inputSize).toBe(96)
  })

  it('applies --set to every run, and refuses one that would make the variants equal', () => {
    const plan = exerciseRuns(ex(1), 'small', 2, [{ path: 'train.epochs', value: 1 }])
    expect(plan.flatMap((p) => p.configs).every((c) => c.train.epochs === 1)).toBe(true)
    expect(() => exerciseRuns(ex(1), 'small', 2, [{ path: 'model.microConvs', value: 1 }])).toThrow(
      /model\.microConvs: exercise 1 sets this field itself/,
    )
    expect(() => exerciseRuns(ex(1), 'small', 2, [{ path: 'model.inputSize', value: 40 }])).toThrow(
      /use --scale/,
    )
  })

  it('exercise 3 keeps GAP and the FC heads apart, and matches runs back to their variant', () => {
    const configs = exerciseRuns(ex(3), 'small', 1).flatMap((p) => p.configs)
    expect(configs.map((c) => [c.model.head, c.model.fcFrom, c.model.fcHidden])).toEqual([
      ['gap', 'classmaps', []],
      ['fc', 'classmaps', []],
      ['fc', 'features', []],
      ['fc', 'features', [512]],
    ])
    expect(configs.map((c) => variantOfConfig(ex(3), 'small', c)?.key)).toEqual([
      'gap',
      'fc-maps',
      'fc-features',
      'fc-hidden',
    ])
  })

  it('exercise 5 halves the last block’s width at each scale; exercise 6 trains nin-a/b/c', () => {
    const widths = (scale: 'small' | '224'): unknown[] =>
      ex(5)
        .variants(scale)
        .map((v) => v.set['model.headChannels'])
    expect(widths('small')).toEqual([[], [64], [64, 32]])
    expect(widths('224')).toEqual([[], [192], [192, 96]])
    const family = exerciseRuns(ex(6), 'small', 1).flatMap((p) => p.configs)
    expect(family.map((c) => c.model.microConvs)).toEqual([1, 2, 3])
    expect(family.map((c) => c.model.blocks.length)).toEqual([5, 5, 5])
    // 64: the smallest multiple of 32 that five pooling stages leave a map of (63 is the least).
    expect(family[0]?.model.inputSize).toBe(64)
  })
})

describe('what the scale changes, from the layer tables', () => {
  it('says small-28 ends in 128×2×2 and GAP vs FC on class maps differ by 410 parameters (2,510 at d2l)', () => {
    const notes = scaleNotes(ex(3), 'small').join('\n')
    expect(notes).toContain('the last pooled feature map is 128×2×2, not 384×5×5')
    expect(notes).toContain('FC on class maps: +410 parameters')
    expect(notes).toContain('at d2l’s scale +2,510 parameters')
    expect(notes).toMatch(/Trains with adam lr 0\.002/)
    // The 410 is the dense layer on 10 class maps of 2×2: 40 × 10 weights + 10 biases.
    const fc = variantConfig('small', ex(3).variants('small')[1]!)
    const dense = layerTable(fc.model).find((l) => l.type === 'dense')
    expect(dense?.params).toBe(410)
  })

  it('at d2l’s own scale says so and compares only variants', () => {
    const notes = scaleNotes(ex(1), '224')
    expect(notes[0]).toMatch(/d2l’s own scale/)
    expect(notes.join('\n')).toContain('3 micro convs: +223,054 parameters')
  })
})

describe('the analytic part at d2l scale', () => {
  it('gives d2l’s NiN its params, MACs and memory at 224 px, batch 128', () => {
    const [row] = analyticRows(ex(4), '224')
    expect(row).toMatchObject({
      inputSize: 224,
      batchSize: 128,
      lastMap: '384×5×5',
      params: 1_992_166,
      macs: 762_297_352,
    })
  })

  it('counts 108.75 MiB of max-pool indices at d2l batch 128', () => {
    const config = variantConfig('224', ex(4).variants('224')[0]!)
    // 96×26×26 + 256×12×12 + 384×5×5 pooled values per image, int64 each, 128 images.
    expect((96 * 26 * 26 + 256 * 12 * 12 + 384 * 5 * 5) * 8 * 128).toBe(108.75 * 2 ** 20)
    expect(maxPoolIndexBytes(layerTable(config.model), 128)).toBe(108.75 * 2 ** 20)
  })
})

// --- answers -------------------------------------------------------------------------------

let next = 0
function run(config: ExperimentConfig, acc: number | null, health?: RunHealth['status']): Run {
  next++
  const done = acc !== null
  return {
    id: `r${next}`,
    experimentId: 1,
    experiment: 'exercise',
    name: config.name,
    config,
    configHash: String(next),
    status: done ? 'completed' : 'queued',
    priority: 0,
    queuePosition: next,
    engine: null,
    backend: null,
    precision: null,
    versions: null,
    seed: config.train.seed,
    host: null,
    pid: null,
    attempt: 0,
    owner: null,
    placement: null,
    createdAt: 0,
    queuedAt: 0,
    startedAt: null,
    finishedAt: null,
    error: null,
    lastCheckpointEpoch: 0,
    notes: '',
    tags: [],
    params: null,
    finalTestAcc: acc,
    bestTestAcc: acc,
    epochsDone: done ? 1 : 0,
    linkedFrom: null,
    health: { status: 'ok', reason: 'ok', moreEpochs: null },
    ...(health
      ? {
          health: {
            status: health,
            reason: health,
            moreEpochs: health === 'not-converged' ? 4 : null,
          },
        }
      : {}),
  } as Run
}

describe('answers from finished runs', () => {
  const plan = exerciseRuns(ex(2), 'small', 2)
  const [k1, k3] = plan.map((p) => p.configs)

  it('pairs by seed; two seeds: a 4.5 pp gain is within noise (hand-worked: t = 9, df 1)', () => {
    const runs = [run(k1![0]!, 0.8), run(k1![1]!, 0.82), run(k3![0]!, 0.85), run(k3![1]!, 0.86)]
    const a = answerExercise(ex(2), 'small', runs)
    const [c] = a.comparisons
    expect(c?.paired).toBe(true)
    expect(c?.diff).toBeCloseTo(0.045, 10)
    // se = sd(0.05, 0.04)/√2 = 0.005; t(0.975, 1) = 12.7062
    expect(c?.ci95?.[0]).toBeCloseTo(0.045 - 12.7062 * 0.005, 4)
    expect(c?.pAdjusted).toBeCloseTo(0.0704, 3)
    expect(c?.verdict).toBe('within-noise')
    expect(a.groups.map((g) => g.finalTestAcc.n)).toEqual([2, 2])
    expect(a.conclusions.join('\n')).toContain('3×3 micro convs vs 1×1 micro convs: +4.5 pp')
    expect(a.conclusions.join('\n')).toContain('within seed noise')
    // Pooled seed noise: √((0.01² × ½ … ) averaged): both groups' sd, pooled with 1 df each.
    const sd1 = Math.SQRT1_2 * 0.02
    const sd3 = Math.SQRT1_2 * 0.01
    expect(a.noise).toBeCloseTo(Math.sqrt((sd1 ** 2 + sd3 ** 2) / 2), 10)
  })

  it('three seeds that agree: larger than seed noise, with its number in the sentence', () => {
    const three = exerciseRuns(ex(2), 'small', 3).map((p) => p.configs)
    const runs = [
      ...[0.8, 0.81, 0.79].map((acc, i) => run(three[0]![i]!, acc)),
      ...[0.85, 0.861, 0.839].map((acc, i) => run(three[1]![i]!, acc)),
    ]
    const a = answerExercise(ex(2), 'small', runs)
    expect(a.comparisons[0]?.verdict).toBe('larger-than-noise')
    expect(a.conclusions.join('\n')).toMatch(
      /3×3 micro convs beats 1×1 micro convs by 5\.0 pp \(95% CI .* paired by seed\), larger than seed noise/,
    )
  })

  it('one seed: no estimate; queued runs and unconverged runs become caveats', () => {
    const runs = [
      run(k1![0]!, 0.8, 'not-converged'),
      run(k3![0]!, 0.7, 'chance'),
      run(k3![1]!, null),
    ]
    const a = answerExercise(ex(2), 'small', runs)
    expect(a.comparisons[0]?.verdict).toBe('no-estimate')
    expect(a.conclusions.join('\n')).toContain('on one seed: one seed: no estimate of noise')
    const caveats = a.caveats.join('\n')
    expect(caveats).toContain('1 of 2 finished runs ended at chance (3×3 micro convs 1)')
    expect(caveats).toContain('1 of 2 finished runs had not converged')
    expect(caveats).toContain('about 4 more epochs')
    expect(caveats).toContain('1 runs are still queued')
    expect(caveats).toContain('Trained at small-28, not at d2l’s scale')
  })

  it('a group whose runs differ in more than the seed says so and is not paired', () => {
    const other = { ...k3![1]!, train: { ...k3![1]!.train, epochs: 3 } }
    const runs = [run(k1![0]!, 0.8), run(k1![1]!, 0.82), run(k3![0]!, 0.85), run(other, 0.86)]
    const a = answerExercise(ex(2), 'small', runs)
    expect(a.groups[1]?.mixes).toEqual(['train.epochs'])
    expect(a.comparisons[0]?.paired).toBe(false)
    expect(a.caveats.join('\n')).toContain('mixes runs whose configs differ in train.epochs')
  })

  it('names the overrides the runs were queued with (the scale notes describe the defaults)', () => {
    const quick = exerciseRuns(ex(2), 'small', 2, [{ path: 'train.epochs', value: 1 }])
    const runs = quick.flatMap((p) => p.configs).map((c, i) => run(c, 0.8 + i / 100))
    const a = answerExercise(ex(2), 'small', runs)
    expect(a.caveats.join('\n')).toContain('queued with overrides: train.epochs 1 (default 10)')
    const plain = answerExercise(ex(2), 'small', [run(k1![0]!, 0.8)])
    expect(plain.caveats.join('\n')).not.toContain('overrides')
  })

  it('says when an interval excludes 0 but the Holm-adjusted p does not (hand-worked)', () => {
    // 3 variants against the baseline: the 1-micro-conv gain is consistent (+4, +4.5 pp) but
    // two pairs give p ≈ 0.035 alone, Holm-adjusted across the three comparisons above 0.05.
    const plan = exerciseRuns(ex(1), 'small', 2).map((p) => p.configs)
    const accs = [
      [0.5, 0.9],
      [0.84, 0.855],
      [0.8, 0.81],
      [0.4, 0.95],
    ]
    const runs = plan.flatMap((configs, v) => configs.map((c, s) => run(c, accs[v]![s]!)))
    const a = answerExercise(ex(1), 'small', runs)
    const m1 = a.comparisons.find((c) => c.variant === 'm1')
    expect(m1?.ci95?.[0]).toBeGreaterThan(0)
    expect(m1?.verdict).toBe('within-noise')
    expect(a.conclusions.join('\n')).toMatch(
      /1 micro conv vs 2 micro convs: \+4\.[23] pp .*the interval alone excludes 0, but adjusted for the table’s comparisons \(Holm\) p = /,
    )
  })
})
