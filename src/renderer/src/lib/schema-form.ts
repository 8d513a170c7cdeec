/**
 * Helpers that turn the declarative experiment schema into form controls and axis choices, so
 * the New experiment form is generated from `experimentSchema` rather than listing fields.
 */
import { DATASETS, datasetShape, experimentSchema, type DataSpec } from '@shared/config/experiment'
import { applyOverride } from '@shared/config/overrides'
import { fieldAt, splitPath, type Field } from '@shared/config/schema'

/** Labels where the field name alone reads poorly; every other label comes from the name. */
const LABELS: Readonly<Record<string, string>> = {
  'model.microConvs': 'micro convs per block',
  'model.microKernel': 'micro kernel',
  'model.inputSize': 'input size (px)',
  'model.fcFrom': 'FC head input',
  'model.fcHidden': 'FC hidden units',
  'model.headChannels': 'head channels',
  'data.trainLimit': 'train images',
  'data.testLimit': 'test images',
  'train.lr': 'learning rate',
  'train.batchSize': 'batch size',
  'train.weightDecay': 'weight decay',
}

/** A config path without its section, for a column header: `train.lr` → `lr`. */
export const shortPath = (path: string): string => path.replace(/^(model|data|train)\./, '')

/** A config field for a person, with its short path: `learning rate (lr)`. */
export const fieldName = (path: string): string => `${fieldLabel(path)} (${shortPath(path)})`

/** Reads a value of the draft by path (the form's labels and rules depend on other fields). */
export type ValueAt = (path: string) => unknown

/**
 * "microConvs" → "micro convs"; known paths get their hand-written label. Given the draft, a
 * label follows the fields it names: with 3×3 micro kernels, "3×3 convs per block".
 */
export function fieldLabel(path: string, at?: ValueAt): string {
  if (path === 'model.microConvs' && at) {
    const k = at('model.microKernel')
    const size = typeof k === 'number' && Number.isInteger(k) ? k : 1
    return `${size}×${size} convs per block`
  }
  const known = LABELS[path.replace(/\[\d+\]/g, '')]
  if (known) return known
  const parts = splitPath(path)
  const last = [...parts].reverse().find((p) => !/^\d+$/.test(p)) ?? path
  return last.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()
}

/** How an enum or small-int choice is shown on its button: 1 → "1×1" for kernels, gap → "GAP". */
export function choiceLabel(path: string, value: unknown): string {
  if (path === 'model.microKernel' && typeof value === 'number') return `${value}×${value}`
  if (path === 'model.head' && typeof value === 'string') return value.toUpperCase()
  return String(value)
}

/**
 * The choices of a field that is best shown as segmented buttons (a handful of values): enums
 * with at most four values and integers with at most four; undefined for anything else.
 */
export function segmentChoices(field: Field): readonly (string | number)[] | undefined {
  if (field.kind === 'enum' && field.values.length <= 4 && field.values.length > 1) {
    return field.values
  }
  if (field.kind === 'int' && field.max - field.min <= 3) {
    return Array.from({ length: field.max - field.min + 1 }, (_, i) => field.min + i)
  }
  return undefined
}

/**
 * Why a field does nothing with the rest of the draft as it is (the form disables it and says
 * so), or null when it applies: FC settings under the GAP head, momentum under Adam, a
 * TensorFlow.js backend for the torch engine, a micro kernel with no micro convs.
 */
export function inapplicable(path: string, at: ValueAt): string | null {
  switch (path) {
    case 'model.fcFrom':
    case 'model.fcHidden':
      return at('model.head') === 'fc' ? null : 'only for the FC head (the head is GAP)'
    case 'train.momentum':
      return at('train.optimizer') === 'adam'
        ? 'SGD only: Adam keeps its own moment estimates'
        : null
    case 'train.backend':
      return at('engine') === 'torch'
        ? 'TensorFlow.js only: the torch engine has no backends'
        : null
    case 'model.microKernel':
      return at('model.microConvs') === 0 ? 'no micro convs (0 per block) to size' : null
    default:
      return null
  }
}

/** The value at a path of a JSON value, or undefined. */
export function getAt(root: unknown, path: string): unknown {
  let node: unknown = root
  for (const part of splitPath(path)) {
    if (Array.isArray(node) && /^\d+$/.test(part)) node = node[Number(part)]
    else if (typeof node === 'object' && node !== null) {
      node = (node as Record<string, unknown>)[part]
    } else return undefined
  }
  return node
}

/**
 * The value a model field takes from the draft's dataset (model.inputChannels always,
 * model.numClasses unless the dataset is an image folder), or undefined: the form shows such a
 * field read-only. Undefined too while the dataset fields are not valid yet.
 */
export function derivedFromDataset(draft: unknown, path: string): number | undefined {
  if (path !== 'model.inputChannels' && path !== 'model.numClasses') return undefined
  const dataset = getAt(draft, 'data.dataset')
  if (!(DATASETS as readonly unknown[]).includes(dataset)) return undefined
  const labels = getAt(draft, 'data.labels') === 'coarse' ? 'coarse' : 'fine'
  const color = getAt(draft, 'data.color') === 'grayscale' ? 'grayscale' : 'rgb'
  const shape = datasetShape({ dataset: dataset as DataSpec['dataset'], labels, color })
  const value = path === 'model.inputChannels' ? shape.channels : shape.numClasses
  return value ?? undefined
}

/** The draft with model.inputChannels and model.numClasses set from its dataset. */
export function followDatasetInDraft(draft: unknown): unknown {
  let out = draft
  for (const path of ['model.inputChannels', 'model.numClasses']) {
    const value = derivedFromDataset(out, path)
    if (value !== undefined && getAt(out, path) !== value) out = applyOverride(out, { path, value })
  }
  return out
}

export interface AxisChoice {
  readonly path: string
  readonly label: string
  readonly field: Field
  /** The picker's group: "common", "model", "data", "training", "blocks", "other". */
  readonly group: string
}

/** The axis picker's groups, in order, with their headings. */
export const AXIS_GROUPS: readonly { readonly id: string; readonly label: string }[] = [
  { id: 'common', label: 'Common' },
  { id: 'model', label: 'Model' },
  { id: 'blocks', label: 'Blocks' },
  { id: 'training', label: 'Training' },
  { id: 'data', label: 'Data' },
  { id: 'other', label: 'Other' },
]

/** Fields that make no ablation: one possible value, or a folder. */
const NOT_AXES = ['name', 'model.family', 'data.path']

const groupOf = (path: string): string =>
  path.startsWith('model.')
    ? 'model'
    : path.startsWith('train.')
      ? 'training'
      : path.startsWith('data.')
        ? 'data'
        : 'other'

/** Fields people sweep most, listed first in the axis picker. */
const COMMON_AXES = [
  'model.microConvs',
  'model.head',
  'model.microKernel',
  'model.inputSize',
  'model.dropout',
  'train.lr',
  'train.optimizer',
  'train.batchSize',
]

function leafPaths(field: Field, prefix: string, out: AxisChoice[]): void {
  if (field.kind === 'object') {
    for (const [key, sub] of Object.entries(field.fields)) {
      leafPaths(sub, prefix ? `${prefix}.${key}` : key, out)
    }
    return
  }
  // Lists of objects (blocks) are swept per item field, by index, below.
  if (field.kind === 'array' && field.item.kind === 'object') return
  out.push({ path: prefix, label: fieldLabel(prefix), field, group: groupOf(prefix) })
}

/**
 * Every config field an ablation axis can sweep: the scalar fields of the schema (common ones
 * first), lists of numbers as whole values, and each field of each current block by index.
 */
export function axisChoices(blockCount: number): AxisChoice[] {
  const all: AxisChoice[] = []
  leafPaths(experimentSchema, '', all)
  const leaves = all.filter((c) => !NOT_AXES.includes(c.path))
  const common = COMMON_AXES.map((p) => leaves.find((c) => c.path === p))
    .filter((c): c is AxisChoice => c !== undefined)
    .map((c) => ({ ...c, group: 'common' }))
  const rest = leaves.filter((c) => !COMMON_AXES.includes(c.path))
  const blocks: AxisChoice[] = []
  for (let i = 0; i < blockCount; i++) {
    for (const key of ['channels', 'kernel', 'stride', 'padding']) {
      const path = `model.blocks[${i}].${key}`
      const field = fieldAt(experimentSchema, path)
      if (field) blocks.push({ path, label: `block ${i + 1} ${key}`, field, group: 'blocks' })
    }
  }
  return [...common, ...rest, ...blocks]
}

/** The values an axis starts with: every choice of a small enum or int, else the current value. */
export function defaultAxisText(field: Field, current: unknown): string {
  const inner = field.kind === 'nullable' ? field.inner : field
  const choices = segmentChoices(inner)
  if (choices) return choices.join(',')
  if (inner.kind === 'enum') return inner.values.join(',')
  if (current === undefined) return ''
  return typeof current === 'string' ? current : JSON.stringify(current)
}
