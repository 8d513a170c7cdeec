/**
 * The experiment config: its schema (the single source of truth), its TypeScript types, and
 * its validation. `{}` validates to the d2l NiN (d2l.ai §8.3, d2l 1.0 hyper-parameters).
 */
import { checkArchitecture } from '../architecture'
import {
  arrayOf,
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
export const D2L_BLOCKS = [
  { channels: 96, kernel: 11, stride: 4, padding: 0 },
  { channels: 256, kernel: 5, stride: 1, padding: 2 },
  { channels: 384, kernel: 3, stride: 1, padding: 1 },
] as const

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
    inputChannels: int({ min: 1, max: 4, default: 1, description: 'Channels of the input images' }),
    numClasses: int({ min: 2, max: 1000, default: 10, description: 'Number of classes' }),
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

export const DATASETS = ['fashion-mnist', 'mnist'] as const

export const dataSchema = object(
  {
    dataset: oneOf(DATASETS, { default: 'fashion-mnist', description: 'Dataset' }),
    path: nullable(
      str({ maxLength: 4096, default: '', description: 'Folder' }),
      'Folder with the official IDX files; null = the embedded Fashion-MNIST',
    ),
    trainLimit: nullable(
      int({ min: 10, max: 60000, default: 60000, description: 'Images' }),
      'Train on a stratified subset of this many images; null = all 60,000',
    ),
    testLimit: nullable(
      int({ min: 10, max: 10000, default: 10000, description: 'Images' }),
      'Evaluate on a stratified subset of this many images; null = all 10,000',
    ),
  },
  'The data',
)

export const BACKENDS = ['auto', 'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] as const

/**
 * What a run computes in: `auto` picks bf16 autocast (fp32 master weights) where the hardware
 * runs bf16 natively — a CPU with AVX512_BF16 or AMX-BF16, a CUDA GPU of capability 8.0 or
 * later — and fp32 elsewhere; fp16 (with a grad scaler) is CUDA only. TensorFlow.js trains in
 * fp32 whatever is asked. The rules: resources/engines/torch/nin_torch/precision.py.
 */
export const PRECISIONS = ['auto', 'fp32', 'bf16', 'fp16'] as const
export type Precision = (typeof PRECISIONS)[number]
/** The precision a run actually computes in (the started message's). */
export type ResolvedPrecision = Exclude<Precision, 'auto'>

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
        'Compute precision (torch engine); auto = bf16 where the hardware has it natively, else fp32',
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
export type ExperimentInput = PartialInput<typeof experimentSchema>
export type ModelSpec = ExperimentConfig['model']
export type BlockSpec = ModelSpec['blocks'][number]
export type DataSpec = ExperimentConfig['data']
export type TrainSpec = ExperimentConfig['train']

/** Classes and channels of the datasets the data layer can read. */
const DATASET_SHAPE: Record<DataSpec['dataset'], { numClasses: number; channels: number }> = {
  'fashion-mnist': { numClasses: 10, channels: 1 },
  mnist: { numClasses: 10, channels: 1 },
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
  const shape = DATASET_SHAPE[config.data.dataset]
  if (config.model.numClasses !== shape.numClasses) {
    issues.push({
      path: 'model.numClasses',
      message: `model.numClasses must be ${shape.numClasses} for dataset ${config.data.dataset} (got ${config.model.numClasses})`,
    })
  }
  if (config.model.inputChannels !== shape.channels) {
    issues.push({
      path: 'model.inputChannels',
      message: `model.inputChannels must be ${shape.channels} for dataset ${config.data.dataset} (got ${config.model.inputChannels})`,
    })
  }
  if (config.data.dataset === 'mnist' && config.data.path === null) {
    issues.push({
      path: 'data.path',
      message:
        'data.path must name a folder with the MNIST IDX files: only Fashion-MNIST is embedded (got null)',
    })
  }
  if (issues.length === 0) issues.push(...checkArchitecture(config.model))
  return issues
}

/** Validates a parsed JSON value as an experiment config; every problem is reported at once. */
export function parseExperimentConfig(input: unknown): ParseResult<ExperimentConfig> {
  const parsed = parseField(experimentSchema, input)
  if (!parsed.ok) return parsed
  const issues = crossFieldIssues(parsed.value)
  return issues.length === 0 ? parsed : { ok: false, issues }
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
