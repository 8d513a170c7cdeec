/** The datasets NiN Lab can train on. Both are 28×28 grayscale with 10 classes. */
export type DatasetName = 'fashion-mnist' | 'mnist'

/**
 * A labelled image set held as raw bytes. Pixels stay uint8 (55 MB for all of Fashion-MNIST
 * instead of 220 MB as float32); batches are converted and resized on the fly.
 */
export interface Dataset {
  name: string
  /** count × height × width bytes, row-major, 0–255 (0 = background). */
  images: Uint8Array
  /** count bytes, each < numClasses. */
  labels: Uint8Array
  count: number
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

export function classNamesFor(dataset: DatasetName): string[] {
  return [...(dataset === 'mnist' ? MNIST_CLASS_NAMES : FASHION_MNIST_CLASS_NAMES)]
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
