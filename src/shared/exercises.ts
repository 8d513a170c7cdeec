/**
 * d2l §8.3's six NiN exercises as studies: the single source of what each asks, the grid it
 * queues at each scale, and the analytic part (parameters, MACs, memory to train and to predict),
 * always also at d2l's own scale. Everything a card or the CLI says about a scale is computed
 * here from the layer tables (`layerTable`, `costTotals`), never written by hand.
 *
 * Scales: `small` (the small-28 preset: native 28 px, a narrow network, Adam — a 2-core CPU can
 * answer an exercise in minutes), `96` (the d2l network at 96 px) and `224` (d2l itself).
 * Exercise 6 is about a different family (nin-a/b/c), so its scales set the input size of those
 * presets instead: the smallest multiple of 32 they accept, 96 and 224.
 */
import { layerTable, minimumInputSize, type Layer } from './architecture'
import {
  defaultExperimentConfig,
  parseExperimentConfig,
  type ExperimentConfig,
} from './config/experiment'
import { applyOverride, mergeInput, type Override } from './config/overrides'
import { presetInput, type PresetName } from './config/presets'
import { ConfigError, type ConfigIssue } from './config/schema'
import { costTotals, type CostTotals } from './cost'
import { int, si } from './format'
import { expandGrid } from './grid'

export const EXERCISE_SCALES = ['small', '96', '224'] as const
export type ExerciseScale = (typeof EXERCISE_SCALES)[number]

/** The preset each scale starts from (exercises 1–5). */
export const SCALE_PRESETS: Readonly<Record<ExerciseScale, PresetName>> = {
  small: 'small-28',
  '96': 'd2l-96',
  '224': 'd2l',
}

export const SCALE_LABELS: Readonly<Record<ExerciseScale, string>> = {
  small: 'small-28 (28 px, narrow, Adam)',
  '96': 'd2l-96 (the d2l network at 96 px)',
  '224': 'd2l (224 px, d2l’s own setting)',
}

export const isExerciseScale = (s: string): s is ExerciseScale =>
  (EXERCISE_SCALES as readonly string[]).includes(s)

/**
 * Seeds per variant unless asked otherwise. One seed gives no estimate of seed-to-seed noise at
 * all, so no difference can be judged; two is the least that gives one. More seeds narrow the
 * 95% interval quickly: its half-width is t(0.975, n−1)·s/√n, and t falls from 12.7 (n = 2) to
 * 4.3 (n = 3) and 2.8 (n = 5).
 */
export const DEFAULT_SEEDS = 2
export const SEEDS_NOTE =
  'one seed gives no estimate of seed-to-seed noise; 2 is the least that does, and each seed more narrows the 95% interval (t(0.975) falls from 12.7 at 2 seeds to 4.3 at 3 and 2.8 at 5)'

export interface ExerciseVariant {
  /** Short and stable: run names and `--baseline` use it. */
  readonly key: string
  readonly label: string
  /** The preset this variant starts from instead of the scale's (exercise 6). */
  readonly preset?: PresetName
  /** The config fields that make this variant, as `--set` paths; they also identify its runs. */
  readonly set: Readonly<Record<string, unknown>>
}

export interface Exercise {
  readonly id: number
  readonly title: string
  /** The question, in NiN Lab's words. */
  readonly question: string
  /** What the study measures, and what it leaves to the reader. */
  readonly approach: string
  /** The variant the others are compared with: d2l's own setting where there is one. */
  readonly baseline: string
  /** Measures peak memory for training and prediction in the engine (exercise 4). */
  readonly measuresMemory: boolean
  readonly variants: (scale: ExerciseScale) => readonly ExerciseVariant[]
}

/** The last block's width at a scale: what exercise 5's gradual reduction starts from. */
function lastWidth(scale: ExerciseScale): number {
  const config = scaleConfig(scale)
  return config.model.blocks.at(-1)?.channels ?? 0
}

/** Halving widths from the last block's down to (not below) twice the classes: 384 → 192, 96. */
export function gradualReduction(scale: ExerciseScale, steps: number): number[] {
  const classes = scaleConfig(scale).model.numClasses
  const out: number[] = []
  let width = lastWidth(scale)
  for (let i = 0; i < steps && width / 2 >= 2 * classes; i++) {
    width = Math.round(width / 2)
    out.push(width)
  }
  return out
}

const arrow = (xs: readonly number[]): string => xs.join(' → ')

export const EXERCISES: readonly Exercise[] = [
  {
    id: 1,
    title: 'How many 1×1 convolutions per block?',
    question:
      'Each NiN block is a convolution followed by 1×1 "micro" convolutions that act as a small per-pixel MLP. How do 0, 1, 2 (d2l) or 3 of them per block change accuracy, parameters and compute?',
    approach:
      'Trains the network with 0–3 micro convs per block (everything else fixed) over several seeds and compares final test accuracy with d2l’s 2, next to each variant’s exact cost.',
    baseline: 'm2',
    measuresMemory: false,
    variants: () =>
      [0, 1, 2, 3].map((m) => ({
        key: `m${m}`,
        label: `${m} micro conv${m === 1 ? '' : 's'}`,
        set: { 'model.microConvs': m },
      })),
  },
  {
    id: 2,
    title: '1×1 or 3×3 micro convolutions?',
    question:
      'Replace the 1×1 micro convolutions with 3×3 ones. Does the extra spatial context buy accuracy, and at what price in parameters and MACs?',
    approach:
      'Trains d2l’s 2 micro convs per block as 1×1 (d2l) and as 3×3 (same padding) over several seeds.',
    baseline: 'k1',
    measuresMemory: false,
    variants: () =>
      [1, 3].map((k) => ({
        key: `k${k}`,
        label: `${k}×${k} micro convs`,
        set: { 'model.microKernel': k },
      })),
  },
  {
    id: 3,
    title: 'Global average pooling or fully connected layers?',
    question:
      'NiN ends in class maps averaged over space (GAP). What happens with a fully connected head instead: on the flattened class maps, on the last pooled features, or with a hidden layer?',
    approach:
      'Trains GAP (d2l), FC on the class maps, FC on the pooled features and FC with a 512-unit hidden layer, over several seeds; each is a different network, so each is its own group.',
    baseline: 'gap',
    measuresMemory: false,
    variants: () => [
      { key: 'gap', label: 'GAP (d2l)', set: { 'model.head': 'gap' } },
      {
        key: 'fc-maps',
        label: 'FC on class maps',
        set: { 'model.head': 'fc', 'model.fcFrom': 'classmaps', 'model.fcHidden': [] },
      },
      {
        key: 'fc-features',
        label: 'FC on pooled features',
        set: { 'model.head': 'fc', 'model.fcFrom': 'features', 'model.fcHidden': [] },
      },
      {
        key: 'fc-hidden',
        label: 'FC 512 + FC on features',
        set: { 'model.head': 'fc', 'model.fcFrom': 'features', 'model.fcHidden': [512] },
      },
    ],
  },
  {
    id: 4,
    title: 'What does NiN cost to train and to predict?',
    question:
      'Count NiN’s parameters and compute, and the memory it needs for training and for prediction. Where does the memory go, and does the engine agree with the count?',
    approach:
      'Gives the analytic count per layer at d2l’s scale, trains the network at the chosen scale for its accuracy, and measures peak memory for one training step and one prediction in the engine, beside the count.',
    baseline: 'd2l',
    measuresMemory: true,
    variants: () => [{ key: 'd2l', label: 'the d2l network', set: { 'model.microConvs': 2 } }],
  },
  {
    id: 5,
    title: 'Reduce 384 channels to 10 in one step or gradually?',
    question:
      'd2l’s last block goes straight from 384 channels to the 10 class maps. Does an extra NiN block or two that narrows the width gradually help?',
    approach:
      'Adds 0 (d2l), 1 or 2 NiN blocks (3×3 and micro convs, no pooling) that halve the last block’s width before the class block, over several seeds.',
    baseline: 'direct',
    measuresMemory: false,
    variants: (scale) => {
      const one = gradualReduction(scale, 1)
      const two = gradualReduction(scale, 2)
      const last = lastWidth(scale)
      const classes = scaleConfig(scale).model.numClasses
      return [
        { key: 'direct', label: `${last} → ${classes} (d2l)`, set: { 'model.headChannels': [] } },
        {
          key: 'one-step',
          label: arrow([last, ...one, classes]),
          set: { 'model.headChannels': one },
        },
        {
          key: 'two-steps',
          label: arrow([last, ...two, classes]),
          set: { 'model.headChannels': two },
        },
      ]
    },
  },
  {
    id: 6,
    title: 'A VGG-style NiN family',
    question:
      'Design a family of NiN networks the way VGG-11/16/19 form one: same recipe, growing depth. Here: five 3×3 blocks of widths 16-32-64-128-128 with 1, 2 or 3 micro convs each (nin-a, nin-b, nin-c). How do accuracy and cost grow with depth?',
    approach:
      'Trains nin-a, nin-b and nin-c at the chosen input size over several seeds; nin-b (2 micro convs, as in d2l) is the reference.',
    baseline: 'nin-b',
    measuresMemory: false,
    variants: () =>
      (['nin-a', 'nin-b', 'nin-c'] as const).map((preset, i) => ({
        key: preset,
        label: `${preset} (${i + 1} micro conv${i === 0 ? '' : 's'}, ${12 + 6 * i} convs)`,
        preset,
        set: { 'model.microConvs': i + 1 },
      })),
  },
]

export function exerciseById(id: number): Exercise | undefined {
  return EXERCISES.find((e) => e.id === id)
}

/** The experiment an exercise's runs at a scale belong to. */
export const exerciseExperiment = (ex: Exercise, scale: ExerciseScale): string =>
  `exercise ${ex.id} (${SCALE_PRESETS[scale]})`

/** Exercise 6's input size at a scale: the smallest multiple of 32 its presets accept, 96, 224. */
function familyInputSize(scale: ExerciseScale, preset: PresetName): number {
  if (scale === '96') return 96
  if (scale === '224') return 224
  const spec = parseExperimentConfig(presetInput(preset))
  const min = spec.ok ? (minimumInputSize({ ...spec.value.model, inputSize: 1 }) ?? 224) : 224
  return Math.ceil(min / 32) * 32
}

/** The config input a variant starts from at a scale (before seeds and --set). */
export function variantInput(scale: ExerciseScale, variant: ExerciseVariant): unknown {
  let input: unknown = mergeInput(
    defaultExperimentConfig(),
    presetInput(variant.preset ?? SCALE_PRESETS[scale]),
  )
  if (variant.preset !== undefined) {
    const size = familyInputSize(scale, variant.preset)
    input = applyOverride(input, { path: 'model.inputSize', value: size })
  }
  for (const [path, value] of Object.entries(variant.set)) {
    input = applyOverride(input, { path, value })
  }
  return input
}

function mustParse(input: unknown): ExperimentConfig {
  const parsed = parseExperimentConfig(input)
  if (!parsed.ok) throw new ConfigError(parsed.issues, 'exercise')
  return parsed.value
}

/** The scale's preset as a full config (exercises 1–5 start from it). */
export const scaleConfig = (scale: ExerciseScale): ExperimentConfig =>
  mustParse(mergeInput(defaultExperimentConfig(), presetInput(SCALE_PRESETS[scale])))

export const variantConfig = (scale: ExerciseScale, variant: ExerciseVariant): ExperimentConfig =>
  mustParse(variantInput(scale, variant))

export interface ExerciseRunPlan {
  readonly variant: string
  readonly configs: readonly ExperimentConfig[]
}

/**
 * The runs an exercise queues at a scale: each variant × `seeds` seeds, named
 * `ex<N>-<scale>-<variant>-s<seed>`. `sets` (`--set`) apply before each variant's own fields, and
 * one that names a field the exercise varies is refused: it would make the variants equal.
 */
export function exerciseRuns(
  ex: Exercise,
  scale: ExerciseScale,
  seeds: number,
  sets: readonly Override[] = [],
): ExerciseRunPlan[] {
  const variants = ex.variants(scale)
  const varied = new Set(variants.flatMap((v) => Object.keys(v.set)))
  const clashes: ConfigIssue[] = sets
    .filter((o) => varied.has(o.path) || o.path === 'model.inputSize' || o.path === 'name')
    .map((o) => ({
      path: o.path,
      message: `--set ${o.path}: exercise ${ex.id} sets this field itself (it varies ${[...varied].join(', ')}; the scale sets the input size): drop it, or use --scale`,
    }))
  if (clashes.length > 0) throw new ConfigError(clashes, 'exercise')
  return variants.map((variant) => {
    let input = variantInput(scale, variant)
    for (const o of sets) input = applyOverride(input, o)
    for (const [path, value] of Object.entries(variant.set)) {
      input = applyOverride(input, { path, value })
    }
    input = applyOverride(input, { path: 'name', value: `ex${ex.id}-${scale}-${variant.key}` })
    return { variant: variant.key, configs: expandGrid(input, [], seeds).configs }
  })
}

/** The value at a `--set` path of a config (a.b[0].c), or undefined. */
function valueAt(config: unknown, path: string): unknown {
  let node: unknown = config
  for (const part of path.split(/\.|\[(\d+)\]/).filter((p) => p !== undefined && p !== '')) {
    if (node === null || typeof node !== 'object') return undefined
    node = (node as Record<string, unknown>)[part]
  }
  return node
}

/** Which variant a run's config is (its `set` fields all match), or null. */
export function variantOfConfig(
  ex: Exercise,
  scale: ExerciseScale,
  config: ExperimentConfig,
): ExerciseVariant | null {
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)
  return (
    ex
      .variants(scale)
      .find((v) =>
        Object.entries(v.set).every(([path, value]) => same(valueAt(config, path), value)),
      ) ?? null
  )
}

// --- the analytic part ------------------------------------------------------------------------

export interface AnalyticRow {
  readonly variant: string
  readonly label: string
  readonly inputSize: number
  readonly batchSize: number
  /** C×H×W of the last pooled feature map (what the head sees). */
  readonly lastMap: string
  readonly params: number
  readonly macs: number
  readonly trainMemoryBytes: number
  readonly predictMemoryBytes: number
  readonly predictMemoryPerImageBytes: number
  /** What PyTorch's max pooling keeps for its backward pass (int64 indices), which the count leaves out. */
  readonly maxPoolIndexBytes: number
}

/** The last pooling layer's output shape, as C×H×W. */
function lastPooledMap(layers: readonly Layer[]): string {
  const pool = [...layers].reverse().find((l) => l.type === 'maxpool')
  return pool ? pool.outputShape.join('×') : '–'
}

/**
 * Bytes of the int64 argmax indices PyTorch's max pooling keeps for the backward pass: one per
 * pooled output value, 8 bytes each, for the whole batch. The cost model counts activations
 * only; at d2l's batch of 128 this is 108.75 MiB.
 */
export function maxPoolIndexBytes(layers: readonly Layer[], batchSize: number): number {
  const pooled = layers
    .filter((l) => l.type === 'maxpool')
    .reduce((n, l) => n + l.outputShape.reduce((a, b) => a * b, 1), 0)
  return pooled * 8 * batchSize
}

export function analyticRow(variant: ExerciseVariant, config: ExperimentConfig): AnalyticRow {
  const layers = layerTable(config.model)
  const cost: CostTotals = costTotals(layers, config.train)
  return {
    variant: variant.key,
    label: variant.label,
    inputSize: config.model.inputSize,
    batchSize: config.train.batchSize,
    lastMap: lastPooledMap(layers),
    params: cost.params,
    macs: cost.macs,
    trainMemoryBytes: cost.memory.training.total,
    predictMemoryBytes: cost.memory.prediction.batch,
    predictMemoryPerImageBytes: cost.memory.prediction.perImage,
    maxPoolIndexBytes: maxPoolIndexBytes(layers, config.train.batchSize),
  }
}

/** Each variant's analytic cost at a scale (the d2l scale is `224`). */
export const analyticRows = (ex: Exercise, scale: ExerciseScale): AnalyticRow[] =>
  ex.variants(scale).map((v) => analyticRow(v, variantConfig(scale, v)))

const signedInt = (n: number): string => (n >= 0 ? `+${int(n)}` : `−${int(-n)}`)

/**
 * What the chosen scale changes, in sentences computed from the layer tables: the input and the
 * last feature map, the training recipe where it differs from d2l's, and each variant's cost
 * against the baseline here and at d2l's scale (e.g. FC on class maps adds 410 parameters over
 * GAP at small-28, 2,510 at d2l).
 */
export function scaleNotes(ex: Exercise, scale: ExerciseScale): string[] {
  const here = analyticRows(ex, scale)
  const d2l = analyticRows(ex, '224')
  const base = here.find((r) => r.variant === ex.baseline) ?? here[0]
  const baseD2l = d2l.find((r) => r.variant === ex.baseline) ?? d2l[0]
  if (!base || !baseD2l) return []
  const notes: string[] = []
  const family = ex.variants(scale).some((v) => v.preset !== undefined)
  if (scale === '224') {
    notes.push(
      family
        ? 'This is d2l’s input size (224 px), with the family’s own presets and training recipe.'
        : 'This is d2l’s own scale: 224 px input, d2l’s network and training recipe.',
    )
  } else {
    notes.push(
      `Input ${base.inputSize} px (d2l: ${baseD2l.inputSize} px): the last pooled feature map is ${base.lastMap}, not ${baseD2l.lastMap}; ` +
        `${base.label} has ${int(base.params)} parameters and ${si(base.macs)} MACs per image (d2l scale: ${int(baseD2l.params)} and ${si(baseD2l.macs)}).`,
    )
  }
  const recipe = recipeNote(ex, scale)
  if (recipe) notes.push(recipe)
  for (const row of here) {
    if (row.variant === base.variant) continue
    const atD2l = d2l.find((r) => r.variant === row.variant)
    if (!atD2l) continue
    const dHere = row.params - base.params
    const dD2l = atD2l.params - baseD2l.params
    const macsHere = row.macs / base.macs
    const macsD2l = atD2l.macs / baseD2l.macs
    notes.push(
      `${row.label}: ${signedInt(dHere)} parameters and ×${macsHere.toFixed(2)} MACs against ${base.label}` +
        (scale === '224'
          ? '.'
          : ` here; at d2l’s scale ${signedInt(dD2l)} parameters and ×${macsD2l.toFixed(2)} MACs.`),
    )
  }
  return notes
}

/** The training recipe where the scale's preset differs from the d2l one, or null. */
function recipeNote(ex: Exercise, scale: ExerciseScale): string | null {
  const variant = ex.variants(scale)[0]
  if (!variant) return null
  const here = variantConfig(scale, variant).train
  const d2l = variantConfig('224', variant).train
  const recipe = (t: ExperimentConfig['train']): string =>
    `${t.optimizer} lr ${t.lr}${t.momentum > 0 ? ` momentum ${t.momentum}` : ''}, batch ${t.batchSize}, ${t.epochs} epochs`
  if (recipe(here) === recipe(d2l)) return null
  return `Trains with ${recipe(here)} (d2l scale: ${recipe(d2l)}), so accuracies are not d2l’s; the comparison between variants is what carries over.`
}
