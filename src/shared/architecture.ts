/**
 * The NiN architecture: one function from a model spec to the ordered layer list.
 *
 * Every engine builds its network from `layerTable(spec)` and nothing else, and the cost model
 * sums the same list, so parameter counts agree across engines and with the analytic numbers by
 * construction. Semantics (README, "The experiment config"; d2l.ai §8.3):
 *   block   = Conv(k, s, p)+ReLU, then microConvs × [Conv(microKernel, 1, same)+ReLU], MaxPool(3, 2)
 *             (a block's `micro` widths, when given, replace the microConvs convs of its width),
 *             then Dropout(block.dropout) when that is above 0 (the NiN paper's per-layer dropout)
 *   Dropout after the blocks
 *   headChannels: NiN blocks (kernel 3, pad 1, same micro convs, no pooling)
 *   head gap: class block (Conv(3, 1, 1) to numClasses + micro convs, or with classBlock
 *             conv1x1 a single Conv(1, 1, 0) to numClasses), global average pool
 *   head fc, fcFrom classmaps: the same class block, flatten, [Dense(h)+ReLU+Dropout]*, Dense(classes)
 *   head fc, fcFrom features: flatten the pooled features, the same dense stack
 * MACs: conv = output elements × kernel area × input channels; dense = in × out; pooling 0.
 */
import type { ConfigIssue } from './config/schema'
import type { ModelSpec } from './config/experiment'

/** [channels, height, width] for feature maps, [units] after flattening. */
export type TensorShape = readonly number[]

interface LayerBase {
  /** Stable, readable name, e.g. `block2.micro1`; engines use it to name weights. */
  readonly name: string
  readonly inputShape: TensorShape
  readonly outputShape: TensorShape
  readonly params: number
  readonly macs: number
}

export interface ConvLayer extends LayerBase {
  readonly type: 'conv'
  readonly filters: number
  readonly kernel: number
  readonly stride: number
  readonly padding: number
  readonly activation: 'relu'
}
export interface MaxPoolLayer extends LayerBase {
  readonly type: 'maxpool'
  readonly kernel: number
  readonly stride: number
}
export interface DropoutLayer extends LayerBase {
  readonly type: 'dropout'
  readonly rate: number
}
export interface GlobalAvgPoolLayer extends LayerBase {
  readonly type: 'gap'
}
export interface FlattenLayer extends LayerBase {
  readonly type: 'flatten'
}
export interface DenseLayer extends LayerBase {
  readonly type: 'dense'
  readonly units: number
  readonly activation: 'relu' | 'none'
}

export type Layer =
  ConvLayer | MaxPoolLayer | DropoutLayer | GlobalAvgPoolLayer | FlattenLayer | DenseLayer
export type LayerType = Layer['type']

/** Omit over each member of a union (plain Omit would collapse the union to its common keys). */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

export const POOL_KERNEL = 3
export const POOL_STRIDE = 2
/** The class block and headChannels blocks use a 3×3 conv with padding 1 (d2l's nin_block(10, 3, 1, 1)). */
const HEAD_KERNEL = 3
const HEAD_PADDING = 1
/** Largest input size searched for `minimumInputSize`; the schema caps inputSize at 1024. */
const MAX_SEARCH_SIZE = 1024

const convOut = (size: number, kernel: number, stride: number, padding: number): number =>
  Math.floor((size + 2 * padding - kernel) / stride) + 1

export class ArchitectureError extends Error {
  constructor(
    message: string,
    /** The layer at which the spatial size reaches zero. */
    readonly layer: string,
    /** The smallest square input this architecture accepts, or null when none up to 1024 does. */
    readonly minimumInputSize: number | null,
  ) {
    super(message)
    this.name = 'ArchitectureError'
  }
}

/** A spatial op in network order, used both to build the layers and to search for the minimum size. */
interface SpatialOp {
  readonly name: string
  readonly kernel: number
  readonly stride: number
  readonly padding: number
}

/** The spatial ops of the network in order (convs and pools; everything else keeps H×W). */
function spatialOps(spec: ModelSpec): SpatialOp[] {
  const ops: SpatialOp[] = []
  const micro = (prefix: string, count = spec.microConvs): void => {
    for (let j = 1; j <= count; j++) {
      ops.push({
        name: `${prefix}.micro${j}`,
        kernel: spec.microKernel,
        stride: 1,
        padding: (spec.microKernel - 1) / 2,
      })
    }
  }
  spec.blocks.forEach((b, i) => {
    ops.push({ name: `block${i + 1}.conv`, kernel: b.kernel, stride: b.stride, padding: b.padding })
    micro(`block${i + 1}`, microWidths(spec, b).length)
    ops.push({ name: `block${i + 1}.pool`, kernel: POOL_KERNEL, stride: POOL_STRIDE, padding: 0 })
  })
  spec.headChannels.forEach((_, i) => {
    ops.push({ name: `head${i + 1}.conv`, kernel: HEAD_KERNEL, stride: 1, padding: HEAD_PADDING })
    micro(`head${i + 1}`)
  })
  if (hasClassBlock(spec)) {
    if (spec.classBlock === 'conv1x1')
      ops.push({ name: 'classes.conv', kernel: 1, stride: 1, padding: 0 })
    else {
      ops.push({ name: 'classes.conv', kernel: HEAD_KERNEL, stride: 1, padding: HEAD_PADDING })
      micro('classes')
    }
  }
  return ops
}

/** The widths of a block's micro convs: its own list, else microConvs convs of its width. */
function microWidths(spec: ModelSpec, block: ModelSpec['blocks'][number]): number[] {
  // Configs stored before these fields existed lack them: read them as their defaults.
  const own = (block.micro as readonly number[] | undefined) ?? []
  return own.length > 0 ? [...own] : Array.from({ length: spec.microConvs }, () => block.channels)
}

const hasClassBlock = (spec: ModelSpec): boolean =>
  spec.head === 'gap' || spec.fcFrom === 'classmaps'

/** The first op at which a square input of `size` collapses to nothing, or null if none does. */
function collapsePoint(spec: ModelSpec, size: number): { op: SpatialOp; inSize: number } | null {
  let s = size
  for (const op of spatialOps(spec)) {
    const next = convOut(s, op.kernel, op.stride, op.padding)
    if (next < 1) return { op, inSize: s }
    s = next
  }
  return null
}

/**
 * The smallest square input the network accepts. Each op's output size is non-decreasing in its
 * input size, so the first size that survives every op is the minimum.
 */
export function minimumInputSize(spec: ModelSpec): number | null {
  for (let size = 1; size <= MAX_SEARCH_SIZE; size++) if (!collapsePoint(spec, size)) return size
  return null
}

/** The ordered layer list of a NiN variant; throws ArchitectureError when the input is too small. */
export function layerTable(spec: ModelSpec): Layer[] {
  refuseTooSmallInput(spec)
  const net = new LayerList(spec)
  spec.blocks.forEach((b, i) => {
    net.nin(`block${i + 1}`, b.channels, b.kernel, b.stride, b.padding, microWidths(spec, b))
    const [c = 0, h = 0, w = 0] = net.shape
    net.pass(
      { type: 'maxpool', name: `block${i + 1}.pool`, kernel: POOL_KERNEL, stride: POOL_STRIDE },
      [c, convOut(h, POOL_KERNEL, POOL_STRIDE, 0), convOut(w, POOL_KERNEL, POOL_STRIDE, 0)],
    )
    if (((b.dropout as number | undefined) ?? 0) > 0)
      net.pass({ type: 'dropout', name: `block${i + 1}.dropout`, rate: b.dropout }, net.shape)
  })
  net.pass({ type: 'dropout', name: 'dropout', rate: spec.dropout }, net.shape)
  spec.headChannels.forEach((channels, i) =>
    net.nin(`head${i + 1}`, channels, HEAD_KERNEL, 1, HEAD_PADDING),
  )
  if (hasClassBlock(spec)) {
    if (spec.classBlock === 'conv1x1') net.conv('classes.conv', spec.numClasses, 1, 1, 0)
    else net.nin('classes', spec.numClasses, HEAD_KERNEL, 1, HEAD_PADDING)
  }

  if (spec.head === 'gap') {
    net.pass({ type: 'gap', name: 'gap' }, [net.shape[0] ?? 0])
    return net.layers
  }
  net.pass({ type: 'flatten', name: 'flatten' }, [net.shape.reduce((a, b) => a * b, 1)])
  spec.fcHidden.forEach((units, i) => {
    net.dense(`fc${i + 1}`, units, 'relu')
    net.pass({ type: 'dropout', name: `fc${i + 1}.dropout`, rate: spec.dropout }, net.shape)
  })
  net.dense('output', spec.numClasses, 'none')
  return net.layers
}

/** Throws ArchitectureError naming the layer where the spatial size reaches 0, if one does. */
function refuseTooSmallInput(spec: ModelSpec): void {
  const collapse = collapsePoint(spec, spec.inputSize)
  if (!collapse) return
  const min = minimumInputSize(spec)
  const { op, inSize } = collapse
  throw new ArchitectureError(
    `model.inputSize ${spec.inputSize} is too small for this network: the spatial size reaches 0 at ` +
      `layer ${op.name} (${op.kernel}×${op.kernel}, stride ${op.stride}, padding ${op.padding} on ` +
      `${inSize}×${inSize}); ` +
      (min === null
        ? 'no input size up to 1024 works'
        : `the smallest input size that works is ${min}`),
    op.name,
    min,
  )
}

/** Layers appended in order, each taking the shape the last one gave (with params and MACs). */
class LayerList {
  readonly layers: Layer[] = []
  shape: TensorShape

  constructor(private readonly spec: ModelSpec) {
    this.shape = [spec.inputChannels, spec.inputSize, spec.inputSize]
  }

  conv(name: string, filters: number, kernel: number, stride: number, padding: number): void {
    const [c = 0, h = 0, w = 0] = this.shape
    const out = [
      filters,
      convOut(h, kernel, stride, padding),
      convOut(w, kernel, stride, padding),
    ] as const
    const outElements = out[0] * out[1] * out[2]
    this.layers.push({
      type: 'conv',
      name,
      filters,
      kernel,
      stride,
      padding,
      activation: 'relu',
      inputShape: this.shape,
      outputShape: out,
      params: kernel * kernel * c * filters + filters,
      macs: outElements * kernel * kernel * c,
    })
    this.shape = out
  }

  /** A NiN block: its conv, then a micro conv per width (the spec's kernel, same padding). */
  nin(
    prefix: string,
    filters: number,
    kernel: number,
    stride: number,
    padding: number,
    widths: readonly number[] = Array.from({ length: this.spec.microConvs }, () => filters),
  ): void {
    const micro = this.spec.microKernel
    this.conv(`${prefix}.conv`, filters, kernel, stride, padding)
    widths.forEach((width, j) =>
      this.conv(`${prefix}.micro${j + 1}`, width, micro, 1, (micro - 1) / 2),
    )
  }

  /** A layer without weights (pooling, dropout, flatten, GAP). */
  pass(
    layer: DistributiveOmit<Layer, 'inputShape' | 'outputShape' | 'params' | 'macs'>,
    out: TensorShape,
  ): void {
    this.layers.push({
      ...layer,
      inputShape: this.shape,
      outputShape: out,
      params: 0,
      macs: 0,
    } as Layer)
    this.shape = out
  }

  dense(name: string, units: number, activation: 'relu' | 'none'): void {
    const inUnits = this.shape[0] ?? 0
    this.layers.push({
      type: 'dense',
      name,
      units,
      activation,
      inputShape: this.shape,
      outputShape: [units],
      params: inUnits * units + units,
      macs: inUnits * units,
    })
    this.shape = [units]
  }
}

/** Config issues for a model spec whose fields are each valid (used by config validation). */
export function checkArchitecture(spec: ModelSpec): ConfigIssue[] {
  try {
    layerTable(spec)
    return []
  } catch (err) {
    if (err instanceof ArchitectureError) return [{ path: 'model.inputSize', message: err.message }]
    throw err
  }
}

/** Trainable parameters (weights + biases) of a layer list. */
export const countParams = (layers: readonly Layer[]): number =>
  layers.reduce((n, l) => n + l.params, 0)

/** A layer's row in summaries and reports: what it is, what it outputs, what it costs. */
export interface LayerSummary {
  readonly name: string
  readonly type: LayerType
  readonly outputShape: TensorShape
  readonly params: number
  readonly macs: number
}

export const layerSummary = (l: Layer): LayerSummary => ({
  name: l.name,
  type: l.type,
  outputShape: l.outputShape,
  params: l.params,
  macs: l.macs,
})
