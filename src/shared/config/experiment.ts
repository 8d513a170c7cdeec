/**
 * The experiment config: its schema (the single source of truth), its TypeScript types, and
 * its validation. `{}` validates to the d2l NiN (d2l.ai §8.3, d2l 1.0 hyper-parameters).
 */
import { checkArchitecture } from '../architecture'
import {
  arrayOf,
  bool,
  ConfigError,
  int,
  type ConfigIssue,
  type Infer,
  type ParseResult,
  type PartialInput,
  nullable,
  num,
  object,
  oneOf,
  parseField,
  str,
  defaultsOf,
} from './schema'

/**
 * The d2l NiN's three feature blocks: nin_block(96,11,4,0), (256,5,1,2), (384,3,1,1)
 * (docs/engines.md, "One model, every engine").
 */
export const D2L_BLOCKS: {
  channels: number
  kernel: number
  stride: number
  padding: number
  micro: number[]
  dropout: number
}[] = [
  { channels: 96, kernel: 11, stride: 4, padding: 0, micro: [], dropout: 0 },
  { channels: 256, kernel: 5, stride: 1, padding: 2, micro: [], dropout: 0 },
  { channels: 384, kernel: 3, stride: 1, padding: 1, micro: [], dropout: 0 },
]

export const blockSchema = object({
  channels: int({ min: 1, max: 4096, default: 96, description: 'Output channels of the block' }),
  kernel: int({
    min: 1,
    max: 15,
    default: 3,
    description: 'Kernel size of the block’s first conv',
  }),
  stride: int({ min: 1, max: 8, default: 1, description: 'Stride of the block’s first conv' }),
  padding: int({
    min: 0,
    max: 7,
    default: 0,
    description: 'Zero padding of the block’s first conv',
  }),
  micro: arrayOf(int({ min: 1, max: 4096, default: 96, description: 'Channels' }), {
    minItems: 0,
    maxItems: 3,
    default: [],
    description:
      'Widths of this block’s micro convs (the NiN paper’s 192-160-96); empty = model.microConvs convs of the block’s width',
  }),
  dropout: num({
    min: 0,
    max: 0.95,
    default: 0,
    description: 'Dropout after this block’s pooling (0 = none; the NiN paper: 0.5)',
  }),
})

export const modelSchema = object(
  {
    family: oneOf(['nin'], { default: 'nin', description: 'Network family' }),
    inputSize: int({
      min: 1,
      max: 1024,
      default: 224,
      description: 'Images are resized to inputSize × inputSize pixels',
    }),
    inputChannels: int({
      min: 1,
      max: 4,
      default: 1,
      description: 'Channels of the input images (from the dataset: 1 gray, 3 RGB)',
    }),
    numClasses: int({
      min: 2,
      max: 1000,
      default: 10,
      description: 'Number of classes (from the dataset; an image folder: its class folders)',
    }),
    blocks: arrayOf(blockSchema, {
      minItems: 1,
      maxItems: 8,
      default: D2L_BLOCKS,
      description: 'NiN blocks: conv(kernel, stride, padding) + micro convs + MaxPool(3, 2)',
    }),
    microConvs: int({
      min: 0,
      max: 3,
      default: 2,
      description: 'Micro convs (the "MLP" of mlpconv) after each block’s first conv',
    }),
    microKernel: oneOf([1, 3], {
      default: 1,
      description: 'Kernel of the micro convs: 1×1 as in NiN, or 3×3 (d2l exercise 2)',
    }),
    dropout: num({ min: 0, max: 0.95, default: 0.5, description: 'Dropout rate after the blocks' }),
    head: oneOf(['gap', 'fc'], {
      default: 'gap',
      description: 'Global average pooling of class maps, or fully connected layers',
    }),
    classBlock: oneOf(['nin', 'conv1x1'], {
      default: 'nin',
      description:
        'The class block: d2l’s nin_block(classes, 3, 1, 1), or one 1×1 conv to the classes (the NiN paper’s last layer)',
    }),
    fcFrom: oneOf(['classmaps', 'features'], {
      default: 'classmaps',
      description: 'FC head input: the flattened class maps, or the last pooled features',
    }),
    fcHidden: arrayOf(int({ min: 1, max: 16384, default: 256, description: 'Units' }), {
      minItems: 0,
      maxItems: 4,
      default: [],
      description: 'Hidden dense layers of the FC head (ReLU + dropout each)',
    }),
    headChannels: arrayOf(int({ min: 1, max: 4096, default: 128, description: 'Channels' }), {
      minItems: 0,
      maxItems: 4,
      default: [],
      description: 'Extra NiN blocks (3×3, no pooling) before the class block (d2l exercise 5)',
    }),
  },
  'The network',
)

export const DATASETS = ['fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'folder'] as const

export const dataSchema = object(
  {
    dataset: oneOf(DATASETS, {
      default: 'fashion-mnist',
      description: 'Dataset (folder = an image folder: train/<class>/*.png|jpg, test/<class>/…)',
    }),
    path: nullable(
      str({ maxLength: 4096, default: '', description: 'Folder' }),
      'Folder (or CIFAR .tar.gz) with the dataset’s official files; null = the embedded Fashion-MNIST',
    ),
    labels: oneOf(['fine', 'coarse'], {
      default: 'fine',
      description: 'CIFAR-100: the 100 fine or the 20 coarse labels',
    }),
    color: oneOf(['rgb', 'grayscale'], {
      default: 'rgb',
      description: 'Image folder: decode as RGB (3 channels) or grayscale (1)',
    }),
    imageSize: nullable(
      int({ min: 4, max: 1024, default: 32, description: 'Pixels' }),
      'Image folder: resize each image once (centre crop to square) to this side for the cache; null = model.inputSize',
    ),
    trainLimit: nullable(
      int({ min: 10, max: 10_000_000, default: 60000, description: 'Images' }),
      'Train on a stratified subset of this many images; null = the whole training set',
    ),
    testLimit: nullable(
      int({ min: 10, max: 10_000_000, default: 10000, description: 'Images' }),
      'Evaluate on a stratified subset of this many images; null = the whole test set',
    ),
    normalize: oneOf(['none', 'channel'], {
      default: 'none',
      description:
        'Pixels in [0, 1], or standardised per channel with the training set’s mean and std (stored in the cache)',
    }),
    cropPadding: int({
      min: 0,
      max: 16,
      default: 0,
      description:
        'Augmentation: random crop after zero padding by this many pixels (0 = off; CIFAR: 4)',
    }),
    hflip: bool({ default: false, description: 'Augmentation: random horizontal flip' }),
  },
  'The data',
)

export const BACKENDS = ['auto', 'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] as const

/**
 * What a run computes in: `auto` would pick bf16 autocast (fp32 master weights) where the
 * hardware runs bf16 natively — a CPU with AVX512_BF16 or AMX-BF16, a CUDA GPU of capability 8.0
 * or later — but stays fp32 while bf16's accuracy parity with fp32 is not shown (it was not:
 * BF16_PARITY); fp16 (with a grad scaler) is CUDA only. TensorFlow.js trains in
 * fp32 whatever is asked. The rules: src/torch-engine/nin_torch/precision.py.
 */
export const PRECISIONS = ['auto', 'fp32', 'bf16', 'fp16'] as const
export type Precision = (typeof PRECISIONS)[number]
/** The precision a run actually computes in (the started message's). */
export type ResolvedPrecision = Exclude<Precision, 'auto'>

/** `train.onChance`: what a run does after an epoch at chance (docs/health.md). */
export const ON_CHANCE = ['keep', 'stop'] as const

/**
 * `train.compile` (torch engine): whether the network runs through `torch.compile`. `auto`
 * compiles only where it was measured to pay back within the run; the rules and the evidence:
 * src/torch-engine/nin_torch/compile.py, docs/engines.md.
 */
export const COMPILE = ['auto', 'on', 'off'] as const

/**
 * Training fields added after runs were first stored, with the value every earlier run had. A
 * stored config without them reads as these (src/core/store/runs.ts), and at these values they
 * stay out of a config's identity (`configIdentity`), so re-adding an old grid adds nothing.
 */
export const LATER_TRAIN_DEFAULTS = {
  precision: 'auto',
  onChance: 'keep',
  compile: 'auto',
} as const

export const trainSchema = object(
  {
    epochs: int({ min: 1, max: 1000, default: 10, description: 'Passes over the training set' }),
    batchSize: int({ min: 1, max: 4096, default: 128, description: 'Images per step' }),
    optimizer: oneOf(['sgd', 'adam'], { default: 'sgd', description: 'Optimizer' }),
    lr: num({ min: 0, exclusiveMin: true, max: 10, default: 0.05, description: 'Learning rate' }),
    momentum: num({ min: 0, max: 0.999, default: 0, description: 'SGD momentum (0 = plain SGD)' }),
    weightDecay: num({ min: 0, max: 1, default: 0, description: 'L2 weight decay' }),
    seed: int({
      min: 0,
      max: 2147483647,
      default: 0,
      description: 'Seed for init, shuffling, dropout',
    }),
    backend: oneOf(BACKENDS, {
      default: 'auto',
      description: 'TensorFlow.js backend; auto = the fastest that loads',
    }),
    precision: oneOf(PRECISIONS, {
      default: 'auto',
      description:
        'Compute precision (torch engine); auto = fp32 until bf16 is shown to match its accuracy (it was not: README, Precision)',
    }),
    compile: oneOf(COMPILE, {
      default: 'auto',
      description:
        'torch.compile the network (torch engine, PyTorch 2); auto = only where it pays back within the run',
    }),
    // What to do when an epoch ends at chance (src/shared/health.ts, `atChance`): `stop` ends
    // the run as failed, saying so, instead of spending its remaining epochs on the plateau.
    onChance: oneOf(ON_CHANCE, {
      default: 'keep',
      description: 'At chance after an epoch (loss ≈ ln K, accuracy ≈ 1/K): keep training, or stop',
    }),
  },
  'Training',
)

export const experimentSchema = object({
  name: str({ maxLength: 120, default: 'nin', description: 'A name for the run' }),
  engine: oneOf(['auto', 'tfjs', 'torch'], {
    default: 'auto',
    description: 'Training engine; auto = PyTorch where it is installed, else TensorFlow.js',
  }),
  model: modelSchema,
  data: dataSchema,
  train: trainSchema,
})

export type ExperimentConfig = Infer<typeof experimentSchema>

/**
 * The precision a config will train in as far as the config alone tells: TensorFlow.js trains in
 * fp32 whatever is asked; otherwise what `train.precision` says (`auto` stays auto: only the
 * engine on its machine resolves it). The cost model's memory figures follow this.
 */
export function plannedPrecision(config: {
  readonly engine: ExperimentConfig['engine']
  readonly train: { readonly precision: Precision }
}): Precision {
  return config.engine === 'tfjs' ? 'fp32' : config.train.precision
}
export type ExperimentInput = PartialInput<typeof experimentSchema>
export type ModelSpec = ExperimentConfig['model']
export type BlockSpec = ModelSpec['blocks'][number]
export type DataSpec = ExperimentConfig['data']
export type TrainSpec = ExperimentConfig['train']

/**
 * The input channels and classes a dataset fixes (numClasses null where only the data can say:
 * an image folder has as many classes as class folders, which the trainer checks).
 */
export function datasetShape(data: Pick<DataSpec, 'dataset' | 'labels' | 'color'>): {
  channels: number
  numClasses: number | null
} {
  switch (data.dataset) {
    case 'fashion-mnist':
    case 'mnist':
      return { channels: 1, numClasses: 10 }
    case 'cifar10':
      return { channels: 3, numClasses: 10 }
    case 'cifar100':
      return { channels: 3, numClasses: data.labels === 'coarse' ? 20 : 100 }
    case 'folder':
      return { channels: data.color === 'grayscale' ? 1 : 3, numClasses: null }
  }
}

/** Official train/test sizes (null: an image folder, known only from its files). */
export function datasetSize(dataset: DataSpec['dataset']): { train: number; test: number } | null {
  if (dataset === 'folder') return null
  return dataset.startsWith('cifar')
    ? { train: 50_000, test: 10_000 }
    : { train: 60_000, test: 10_000 }
}

/** What data.path must hold, per dataset, for messages. */
export const DATASET_FILES: Record<DataSpec['dataset'], string> = {
  'fashion-mnist': 'the Fashion-MNIST IDX files',
  mnist: 'the MNIST IDX files',
  cifar10: 'the CIFAR-10 binary version (data_batch_1.bin …, or cifar-10-binary.tar.gz)',
  cifar100: 'the CIFAR-100 binary version (train.bin, test.bin, or cifar-100-binary.tar.gz)',
  folder: 'train/<class>/ and test/<class>/ image folders',
}

const DEFAULT_CHANNELS = modelSchema.fields.inputChannels.default
const DEFAULT_CLASSES = modelSchema.fields.numClasses.default

/**
 * model.inputChannels and model.numClasses follow the dataset: a value still at its schema
 * default (1 channel, 10 classes, which every complete config starts from) takes the dataset's
 * value, so `--set data.dataset=cifar100` alone gives a 3-channel, 100-class network. Any other
 * value must equal the dataset's (crossFieldIssues says so).
 */
function followDataset(config: ExperimentConfig): ExperimentConfig {
  const shape = datasetShape(config.data)
  const { inputChannels, numClasses } = config.model
  const channels = inputChannels === DEFAULT_CHANNELS ? shape.channels : inputChannels
  const classes =
    shape.numClasses !== null && numClasses === DEFAULT_CLASSES ? shape.numClasses : numClasses
  if (channels === inputChannels && classes === numClasses) return config
  return { ...config, model: { ...config.model, inputChannels: channels, numClasses: classes } }
}

/** Checks that need more than one field: they run only on a config whose fields are each valid. */
function crossFieldIssues(config: ExperimentConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = []
  config.model.blocks.forEach((b, i) => {
    const maxPad = Math.floor(b.kernel / 2)
    if (b.padding > maxPad) {
      const path = `model.blocks[${i}].padding`
      issues.push({
        path,
        message: `${path} must be at most ${maxPad} for a ${b.kernel}×${b.kernel} kernel (got ${b.padding})`,
      })
    }
  })
  const shape = datasetShape(config.data)
  const what = `dataset ${config.data.dataset}${config.data.dataset === 'cifar100' ? ` (${config.data.labels} labels)` : config.data.dataset === 'folder' ? ` (${config.data.color})` : ''}`
  if (shape.numClasses !== null && config.model.numClasses !== shape.numClasses) {
    issues.push({
      path: 'model.numClasses',
      message: `model.numClasses must be ${shape.numClasses} for ${what} (got ${config.model.numClasses}): it follows the dataset, leave it at its default`,
    })
  }
  if (config.model.inputChannels !== shape.channels) {
    issues.push({
      path: 'model.inputChannels',
      message: `model.inputChannels must be ${shape.channels} for ${what} (got ${config.model.inputChannels}): it follows the dataset, leave it at its default`,
    })
  }
  // data.path null for a dataset that is not embedded is not refused here: such a config still
  // has a cost summary and a layer table (a preset like nin-cifar10 names no folder); the trainer
  // refuses it before training, saying what to set (DATASET_FILES).
  // The network's own check needs a sound model section, not a sound config: an input too small
  // is said under model.inputSize even while another section has a problem.
  if (!issues.some(isModelIssue)) issues.push(...checkArchitecture(config.model))
  return issues
}

const isModelIssue = (issue: ConfigIssue): boolean =>
  issue.path === 'model' || issue.path.startsWith('model.')

/**
 * The architecture's issues of a config that failed elsewhere (a bad batch size, say), when its
 * model section alone is sound: so every problem is reported at once, each under its field.
 */
function architectureIssuesAlone(input: unknown, issues: readonly ConfigIssue[]): ConfigIssue[] {
  if (issues.some(isModelIssue) || issues.some((i) => i.path === '')) return []
  const modelInput =
    typeof input === 'object' && input !== null ? (input as { model?: unknown }).model : undefined
  const model = parseField(modelSchema, modelInput ?? {}, 'model')
  return model.ok ? checkArchitecture(model.value) : []
}

/** Validates a parsed JSON value as an experiment config; every problem is reported at once. */
export function parseExperimentConfig(input: unknown): ParseResult<ExperimentConfig> {
  const parsed = parseField(experimentSchema, input)
  if (!parsed.ok) {
    return {
      ok: false,
      issues: [...parsed.issues, ...architectureIssuesAlone(input, parsed.issues)],
    }
  }
  const value = followDataset(parsed.value)
  const issues = crossFieldIssues(value)
  return issues.length === 0 ? { ok: true, value } : { ok: false, issues }
}

// Thrown with every problem of a config, a grid or a path; defined beside the validator.
export { ConfigError }

/** Like parseExperimentConfig, but throws a ConfigError listing every problem. */
export function validateExperimentConfig(input: unknown, source = 'config'): ExperimentConfig {
  const result = parseExperimentConfig(input)
  if (!result.ok) throw new ConfigError(result.issues, source)
  return result.value
}

/** The d2l NiN: every default. */
export const defaultExperimentConfig = (): ExperimentConfig => defaultsOf(experimentSchema)
