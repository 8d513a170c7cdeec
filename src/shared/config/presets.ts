/**
 * Named starting points. Each preset is a partial config over the schema defaults (the d2l NiN),
 * so it states only what differs; `--set` and the UI form refine it further.
 */
import type { ExperimentInput } from './experiment'

/**
 * VGG-style NiN family (d2l §8.3 exercise 6). VGG-11/16/19 keep one recipe — five stages of
 * 3×3 convs, channels doubling, each stage halving the resolution — and grow only in depth.
 * The NiN analogue keeps that recipe for the block convs (3×3, stride 1, padding 1, five blocks
 * with d2l's narrow VGG widths 16-32-64-128-128) and grows depth the NiN way, with more 1×1
 * micro convs per block: nin-a / nin-b / nin-c have 1 / 2 / 3 micro convs and one 1×1 conv to the
 * classes, i.e. 11 / 16 / 21 conv layers, next to VGG's 11 / 16 / 19 weight layers, and keep
 * NiN's GAP head (no FC).
 */
const VGG_STYLE_BLOCKS = [16, 32, 64, 128, 128].map((channels) => ({
  channels,
  kernel: 3,
  stride: 1,
  padding: 1,
}))

/**
 * Their head and optimizer. At d2l's SGD lr 0.05 all three sat on the ln 10 plateau (loss 2.3026,
 * test accuracy 10%): with Xavier init and no normalisation each of their 12–24 ReLU convs
 * shrinks the signal (logits at init ≈ 3e-3 for nin-a, 1e-5 for nin-c; measured), so plain SGD's
 * steps are too small to leave it. Adam scales each step to the lr whatever the gradient's size;
 * but with the d2l class block (3×3 conv to the classes plus micro convs, each with a ReLU) Adam
 * killed nin-c's class conv in its first steps (every ReLU closed for every input: no gradient
 * below it ever again). One 1×1 conv to the classes (the NiN paper's last layer) leaves it one
 * ReLU to close. Measured (docs/health.md), 64 px, 3,000 / 1,000 Fashion-MNIST images: nin-c
 * reached 41.0% after 3 epochs with it (2.3026 / 10.0% with the d2l class block at Adam lr
 * 0.001–0.003), nin-a and nin-b left the plateau in their first epoch.
 */
const VGG_STYLE_MODEL = { blocks: VGG_STYLE_BLOCKS, classBlock: 'conv1x1' } as const
const VGG_STYLE_TRAIN = { optimizer: 'adam', lr: 0.001 } as const

/**
 * The NiN paper's CIFAR-10 network (Lin, Chen & Yan, "Network In Network", ICLR 2014, §4.1–4.2;
 * the layer widths of the authors' released Caffe model): three mlpconv layers —
 * 5×5 conv 192 + 1×1 convs 160, 96; 5×5 conv 192 + 1×1 convs 192, 192; 3×3 conv 192 + 1×1 conv
 * 192 + 1×1 conv to the classes — max pooling (3, stride 2) after the first two, dropout 0.5
 * after each of those, and global average pooling. In NiN Lab's terms: two blocks with their own
 * micro widths, a head block (3×3, one micro conv) and a 1×1 class conv.
 */
const NIN_PAPER_MODEL: NonNullable<ExperimentInput['model']> = {
  inputSize: 32,
  blocks: [
    { channels: 192, kernel: 5, stride: 1, padding: 2, micro: [160, 96], dropout: 0.5 },
    { channels: 192, kernel: 5, stride: 1, padding: 2, micro: [192, 192], dropout: 0 },
  ],
  microConvs: 1,
  dropout: 0.5,
  headChannels: [192],
  classBlock: 'conv1x1',
}

/**
 * The paper's training recipe as far as NiN Lab has it: SGD with momentum 0.9, weight decay
 * 1e-4 (the released solver), mini-batches of 128. The paper lowers the learning rate tenfold
 * twice when training accuracy stalls; NiN Lab has no schedule, so lr stays at 0.01.
 */
const NIN_PAPER_TRAIN: NonNullable<ExperimentInput['train']> = {
  epochs: 100,
  batchSize: 128,
  optimizer: 'sgd',
  lr: 0.01,
  momentum: 0.9,
  weightDecay: 0.0001,
}

export const PRESETS = {
  d2l: {
    description: 'The d2l NiN (§8.3) at 224 px, lr 0.05, batch 128, 10 epochs (d2l 1.0)',
    config: { name: 'd2l' },
  },
  'd2l-96': {
    description: 'The same network at 96 px: about 7× cheaper, for CPUs',
    config: { name: 'd2l-96', model: { inputSize: 96 } },
  },
  'small-28': {
    description: 'A narrow NiN for native 28 px input (Adam), cheap enough for a 2-core CPU',
    config: {
      name: 'small-28',
      model: {
        inputSize: 28,
        blocks: [
          { channels: 32, kernel: 5, stride: 1, padding: 2 },
          { channels: 64, kernel: 3, stride: 1, padding: 1 },
          { channels: 128, kernel: 3, stride: 1, padding: 1 },
        ],
      },
      // SGD at lr 0.05 (d2l's recipe) sits on the NiN loss plateau (ln 10 ≈ 2.303) for the first
      // few hundred steps at this size; Adam leaves it within the first epoch, which is what a
      // quick CPU study needs. The d2l presets keep d2l's SGD.
      train: { optimizer: 'adam', lr: 0.002 },
    },
  },
  'nin-a': {
    description: 'VGG-style NiN, VGG-11 analogue: five 3×3 blocks, 1 micro conv each (11 convs)',
    config: {
      name: 'nin-a',
      model: { ...VGG_STYLE_MODEL, microConvs: 1 },
      train: VGG_STYLE_TRAIN,
    },
  },
  'nin-b': {
    description: 'VGG-style NiN, VGG-16 analogue: five 3×3 blocks, 2 micro convs each (16 convs)',
    config: {
      name: 'nin-b',
      model: { ...VGG_STYLE_MODEL, microConvs: 2 },
      train: VGG_STYLE_TRAIN,
    },
  },
  'nin-c': {
    description: 'VGG-style NiN, VGG-19 analogue: five 3×3 blocks, 3 micro convs each (21 convs)',
    config: {
      name: 'nin-c',
      model: { ...VGG_STYLE_MODEL, microConvs: 3 },
      train: VGG_STYLE_TRAIN,
    },
  },
  'nin-cifar10': {
    description:
      'The NiN paper’s CIFAR-10 network (mlpconv 192-160-96, 192-192-192, 192-192-10, dropout, GAP), SGD momentum 0.9; paper: 10.41% test error',
    config: {
      name: 'nin-cifar10',
      model: NIN_PAPER_MODEL,
      data: { dataset: 'cifar10', normalize: 'channel' },
      train: NIN_PAPER_TRAIN,
    },
  },
  'nin-cifar10-aug': {
    description:
      'nin-cifar10 with the paper’s augmentation (random crops of the 4-px zero-padded image, horizontal flips); paper: 8.81%',
    config: {
      name: 'nin-cifar10-aug',
      model: NIN_PAPER_MODEL,
      data: { dataset: 'cifar10', normalize: 'channel', cropPadding: 4, hflip: true },
      train: NIN_PAPER_TRAIN,
    },
  },
  'nin-cifar100': {
    description:
      'The same network on CIFAR-100 (fine labels, 100 classes); paper: 35.68% test error',
    config: {
      name: 'nin-cifar100',
      model: NIN_PAPER_MODEL,
      data: { dataset: 'cifar100', normalize: 'channel' },
      train: NIN_PAPER_TRAIN,
    },
  },
} as const satisfies Record<string, { description: string; config: ExperimentInput }>

export type PresetName = keyof typeof PRESETS
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[]

export const isPresetName = (name: string): name is PresetName => Object.hasOwn(PRESETS, name)

/** A deep copy of the preset's partial config (callers may mutate it). */
export function presetInput(name: PresetName): ExperimentInput {
  return structuredClone(PRESETS[name].config) as ExperimentInput
}
