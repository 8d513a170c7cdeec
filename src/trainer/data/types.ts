import type { DataSpec } from '@shared/config/experiment'

/**
 * The datasets NiN Lab can train on: MNIST and Fashion-MNIST (28×28 gray, 10 classes), CIFAR-10
 * and CIFAR-100 (32×32 RGB, 10 or 100/20 classes) and an image folder (any size, RGB or gray).
 */
export type DatasetName = DataSpec['dataset']

/**
 * A labelled image set held as raw bytes. Pixels stay uint8 (55 MB for all of Fashion-MNIST
 * instead of 220 MB as float32); batches are converted and resized on the fly.
 */
export interface Dataset {
  name: string
  /**
   * count × channels × height × width bytes, 0–255: image after image, each its channel planes
   * in order (R, G, B, as CIFAR stores them), each plane row-major.
   */
  images: Uint8Array
  /** count bytes, each < numClasses. */
  labels: Uint8Array
  count: number
  /** 1 (gray) or 3 (RGB). */
  channels: number
  height: number
  width: number
  numClasses: number
  classNames: string[]
}

/** Fashion-MNIST's class names in label order (from the dataset's own documentation). */
export const FASHION_MNIST_CLASS_NAMES: readonly string[] = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
])

export const MNIST_CLASS_NAMES: readonly string[] = Object.freeze(
  Array.from({ length: 10 }, (_, i) => String(i)),
)

/** CIFAR-10's classes in label order (batches.meta.txt of the binary version). */
export const CIFAR10_CLASS_NAMES: readonly string[] = Object.freeze([
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
])

/** CIFAR-100's 20 superclasses in coarse-label order (coarse_label_names.txt). */
export const CIFAR100_COARSE_CLASS_NAMES: readonly string[] = Object.freeze(
  (
    'aquatic_mammals fish flowers food_containers fruit_and_vegetables ' +
    'household_electrical_devices household_furniture insects large_carnivores ' +
    'large_man-made_outdoor_things large_natural_outdoor_scenes ' +
    'large_omnivores_and_herbivores medium_mammals non-insect_invertebrates people reptiles ' +
    'small_mammals trees vehicles_1 vehicles_2'
  ).split(' '),
)

/** CIFAR-100's 100 classes in fine-label order (fine_label_names.txt: alphabetical). */
export const CIFAR100_FINE_CLASS_NAMES: readonly string[] = Object.freeze(
  (
    'apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus ' +
    'butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach ' +
    'couch crab crocodile cup dinosaur dolphin elephant flatfish forest fox girl hamster ' +
    'house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree ' +
    'motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear ' +
    'pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray road ' +
    'rocket rose sea seal shark shrew skunk skyscraper snail snake spider squirrel ' +
    'streetcar sunflower sweet_pepper table tank telephone television tiger tractor train ' +
    'trout tulip turtle wardrobe whale willow_tree wolf woman worm'
  ).split(' '),
)

/** The class names of a dataset whose classes are fixed (not of an image folder: []). */
export function classNamesFor(dataset: DatasetName, labels: 'fine' | 'coarse' = 'fine'): string[] {
  switch (dataset) {
    case 'fashion-mnist':
      return [...FASHION_MNIST_CLASS_NAMES]
    case 'mnist':
      return [...MNIST_CLASS_NAMES]
    case 'cifar10':
      return [...CIFAR10_CLASS_NAMES]
    case 'cifar100':
      return [...(labels === 'coarse' ? CIFAR100_COARSE_CLASS_NAMES : CIFAR100_FINE_CLASS_NAMES)]
    case 'folder':
      return []
  }
}

/**
 * A problem with the user's data or data settings (a missing folder, a corrupt IDX file, a
 * package that is not what we expect). The message names the file and what to do about it, so
 * callers can show it to the user as is.
 */
export class DataError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'DataError'
  }
}
