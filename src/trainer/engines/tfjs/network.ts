/**
 * The NiN network in TensorFlow.js, built from the shared layer table (src/shared/architecture)
 * and nothing else: weights are created per table row and the forward pass walks the rows, so
 * this engine cannot drift from the cost model or the other engines.
 *
 * Layout is NHWC (TensorFlow.js' native format); flattening transposes to NCHW first so that a
 * dense layer's weight rows are in the same (C, H, W) order as PyTorch's nn.Flatten.
 */
import * as tf from '@tensorflow/tfjs-core'
import type { Layer } from '@shared/architecture'
import { SeededRandom } from '@shared/random'

export interface LayerWeights {
  readonly kernel: tf.Variable
  readonly bias: tf.Variable
}

export interface Network {
  readonly layers: readonly Layer[]
  /** Weights by layer name, for the layers that have any (conv, dense). */
  readonly weights: ReadonlyMap<string, LayerWeights>
  /** Every trainable variable, in layer order (kernel, then bias). */
  readonly variables: tf.Variable[]
  /** The same variables under stable names (`block1.conv/kernel`), for checkpoints and exports. */
  readonly named: readonly { readonly name: string; readonly variable: tf.Variable }[]
  /**
   * Logits [B, classes] for an NHWC batch. `dropoutSeed` makes the dropout masks of a training
   * step reproducible; omit it (or pass training=false) for evaluation.
   */
  forward(x: tf.Tensor4D, training: boolean, dropoutSeed?: number): tf.Tensor2D
  countParams(): number
  dispose(): void
}

let nextNetworkId = 0

/** Xavier/Glorot uniform bound, with PyTorch's fan definitions (fan = channels × kernel area). */
const xavierLimit = (fanIn: number, fanOut: number): number => Math.sqrt(6 / (fanIn + fanOut))

function uniform(size: number, limit: number, rng: SeededRandom): Float32Array {
  const out = new Float32Array(size)
  for (let i = 0; i < size; i++) out[i] = (rng.next() * 2 - 1) * limit
  return out
}

/**
 * Creates the network with d2l's initialisation (Xavier-uniform weights, zero biases), drawn from
 * a generator seeded by `seed`, so the same seed gives the same initial weights on every backend.
 */
export function buildNetwork(layers: readonly Layer[], seed: number): Network {
  // tfjs variable names are global to the process; a per-network prefix lets networks coexist.
  const { weights, variables, named } = initialWeights(layers, seed, `net${nextNetworkId++}/`)

  function forward(x: tf.Tensor4D, training: boolean, dropoutSeed?: number): tf.Tensor2D {
    return tf.tidy(() => {
      let y: tf.Tensor = x
      let dropoutIndex = 0
      for (const layer of layers) {
        if (layer.type !== 'dropout') {
          y = applyLayer(layer, y, weights)
          continue
        }
        if (training && layer.rate > 0) {
          const seed = dropoutSeed === undefined ? undefined : dropoutSeed * 31 + dropoutIndex
          y = tf.dropout(y, layer.rate, undefined, seed)
        }
        dropoutIndex++
      }
      return y as tf.Tensor2D
    })
  }

  return {
    layers,
    weights,
    variables,
    named,
    forward,
    countParams: () => variables.reduce((n, v) => n + v.size, 0),
    dispose: () => variables.forEach((v) => v.dispose()),
  }
}

/** A conv or dense layer's kernel shape (NHWC: [k, k, in, out]; [in, out]) and its fans. */
function kernelOf(layer: Layer): { shape: number[]; fanIn: number; fanOut: number } | null {
  if (layer.type === 'conv') {
    const inChannels = layer.inputShape[0] ?? 0
    const area = layer.kernel * layer.kernel
    return {
      shape: [layer.kernel, layer.kernel, inChannels, layer.filters],
      fanIn: inChannels * area,
      fanOut: layer.filters * area,
    }
  }
  if (layer.type === 'dense') {
    const inUnits = layer.inputShape[0] ?? 0
    return { shape: [inUnits, layer.units], fanIn: inUnits, fanOut: layer.units }
  }
  return null
}

/** Every weighted layer's kernel (Xavier-uniform, in layer order from one generator) and bias. */
function initialWeights(
  layers: readonly Layer[],
  seed: number,
  prefix: string,
): Pick<Network, 'variables' | 'named'> & { weights: Map<string, LayerWeights> } {
  const rng = new SeededRandom(seed)
  const weights = new Map<string, LayerWeights>()
  const variables: tf.Variable[] = []
  const named: { name: string; variable: tf.Variable }[] = []
  for (const layer of layers) {
    const k = kernelOf(layer)
    if (k === null) continue
    const size = k.shape.reduce((a, b) => a * b, 1)
    const outUnits = k.shape[k.shape.length - 1] ?? 0
    const kernel = tf.variable(
      tf.tensor(uniform(size, xavierLimit(k.fanIn, k.fanOut), rng), k.shape),
      true,
      `${prefix}${layer.name}/kernel`,
    )
    const bias = tf.variable(tf.zeros([outUnits]), true, `${prefix}${layer.name}/bias`)
    weights.set(layer.name, { kernel, bias })
    variables.push(kernel, bias)
    named.push(
      { name: `${layer.name}/kernel`, variable: kernel },
      { name: `${layer.name}/bias`, variable: bias },
    )
  }
  return { weights, variables, named }
}

/** One layer of the forward pass other than dropout (which needs the step's seed). */
function applyLayer(
  layer: Exclude<Layer, { type: 'dropout' }>,
  y: tf.Tensor,
  weights: ReadonlyMap<string, LayerWeights>,
): tf.Tensor {
  const weightsOf = (name: string): LayerWeights => {
    const w = weights.get(name)
    if (!w) throw new Error(`internal: no weights for layer ${name}`)
    return w
  }
  switch (layer.type) {
    case 'conv': {
      const w = weightsOf(layer.name)
      // fused.conv2d runs conv + bias + ReLU as one kernel for inference; while gradients
      // are recorded tfjs splits it into differentiable ops by itself.
      return tf.fused.conv2d({
        x: y as tf.Tensor4D,
        filter: w.kernel as tf.Tensor4D,
        strides: layer.stride,
        pad: layer.padding,
        bias: w.bias,
        activation: 'relu',
      })
    }
    case 'maxpool':
      return tf.maxPool(y as tf.Tensor4D, layer.kernel, layer.stride, 'valid')
    case 'gap':
      return tf.mean(y, [1, 2])
    case 'flatten': {
      const nchw = y.rank === 4 ? tf.transpose(y, [0, 3, 1, 2]) : y
      return tf.reshape(nchw, [nchw.shape[0] ?? -1, -1])
    }
    case 'dense': {
      const w = weightsOf(layer.name)
      return tf.fused.matMul({
        a: y as tf.Tensor2D,
        b: w.kernel as tf.Tensor2D,
        bias: w.bias,
        activation: layer.activation === 'relu' ? 'relu' : 'linear',
      })
    }
  }
}
