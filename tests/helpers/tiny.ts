/**
 * The CLI flags of a tiny real run: the small-28 preset on 320 training and 100 test images of
 * the real Fashion-MNIST, batch 32 (10 steps an epoch). Add `--set train.epochs=N` and the rest.
 */
export const TINY_RUN: readonly string[] = [
  '--preset',
  'small-28',
  '--set',
  'data.trainLimit=320',
  '--set',
  'data.testLimit=100',
  '--set',
  'train.batchSize=32',
]
