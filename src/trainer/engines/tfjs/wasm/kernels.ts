/**
 * Training kernels for the tfjs `wasm` backend (4.22).
 *
 * The wasm backend ships everything NiN's forward pass needs, but training also needs the two
 * convolution gradients:
 *
 * - `Conv2DBackpropFilter` (dW) is not implemented at all, so `tf.grads` through a conv fails.
 * - `Conv2DBackpropInput` (dx) exists, but is a plain scalar C++ loop: it is single-threaded,
 *   not SIMD, and was the largest single cost of a training step.
 *
 * Both gradients are convolutions themselves, so we express them with kernels the backend
 * runs through XNNPACK (SIMD and, with threads.ts, multithreaded): Conv2D, plus cheap
 * Transpose / Reverse / Slice / Reshape / BatchMatMul around it.
 *
 * Three more of a training step's kernels are replaced because wasm's own do far more work than
 * needed (`MaxPoolGrad`, `Sum` over leading axes: a bias gradient, and `Identity`, which copies
 * every tensor tfjs saves for the backward pass); see each below. Everything here works on
 * TensorInfos and calls the registered wasm kernel functions directly, as the backends' own
 * composite kernels do, so nothing is recorded on the gradient tape and every intermediate is
 * freed with `backend.disposeData` (which also frees XNNPACK operators cached per filter id).
 *
 * Notation (NHWC): x [N, H, W, Ci], W [kh, kw, Ci, Co], dy [N, OH, OW, Co],
 *   y[n, i, j, o] = Σ_{a, b, c} x[n, i·sh + a − pt, j·sw + b − pl, c] · W[a, b, c, o]
 */
import '@tensorflow/tfjs-backend-wasm'
import {
  backend_util,
  BatchMatMul,
  Conv2D,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  getKernel,
  Identity,
  MaxPoolGrad,
  registerKernel,
  Reshape,
  Reverse,
  Slice,
  Sum,
  Transpose,
  unregisterKernel,
  util,
} from '@tensorflow/tfjs-core'
import type {
  Conv2DBackpropFilterAttrs,
  Conv2DBackpropInputAttrs,
  MaxPoolGradAttrs,
  SumAttrs,
  DataId,
  KernelConfig,
  KernelFunc,
  NamedAttrMap,
  NamedTensorInfoMap,
  TensorInfo,
} from '@tensorflow/tfjs-core'

const BACKEND = 'wasm'

type Shape4 = [number, number, number, number]
type Pads = [[number, number], [number, number], [number, number], [number, number]]

/** The slice of a kernel backend these kernels use (BackendWasm has it, typed as `{}`). */
interface DisposingBackend {
  disposeData(dataId: DataId, force?: boolean): boolean
}

/** BackendWasm's reference counts on its buffers, as its own Reshape kernel uses them. */
interface RefCountingBackend {
  incRef(dataId: DataId): void
}

function hasRefCounts(backend: object): backend is RefCountingBackend {
  return typeof (backend as Partial<RefCountingBackend>).incRef === 'function'
}

/** BackendWasm's heap access, as its own Slice kernel uses it. */
interface HeapBackend {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo
  typedArrayFromHeap(info: TensorInfo): ArrayLike<number> & {
    set(values: ArrayLike<number>, offset: number): void
    subarray(begin: number, end: number): ArrayLike<number>
  }
}

function hasHeapAccess(backend: object): backend is HeapBackend {
  const b = backend as Partial<HeapBackend>
  return typeof b.makeOutput === 'function' && typeof b.typedArrayFromHeap === 'function'
}

/**
 * Marks our kernel functions. `Symbol.for` (not a module-local Symbol or WeakSet) because the
 * kernel registry is process-global while this module may be instantiated more than once
 * (vitest isolates modules per test file, a bundle may contain a second copy): the mark is
 * how a second call recognises the first one's work and stays idempotent.
 */
const MARK = Symbol.for('nin-lab.wasm-training-kernel')
/** On our Conv2DBackpropInput: the wasm backend's own kernel, used for what we don't cover. */
const ORIGINAL = Symbol.for('nin-lab.wasm-training-kernel.original')

type MarkedKernelFunc = KernelFunc & { [MARK]?: true; [ORIGINAL]?: KernelConfig }

function isOurs(config: KernelConfig | undefined): boolean {
  return config !== undefined && (config.kernelFunc as MarkedKernelFunc)[MARK] === true
}

/** Runs a registered wasm kernel on TensorInfos and returns its single output. */
function run(
  kernelName: string,
  inputs: NamedTensorInfoMap,
  attrs: object,
  backend: object,
): TensorInfo {
  const config = getKernel(kernelName, BACKEND)
  if (config === undefined) {
    throw new Error(`wasm training kernels: the wasm backend has no ${kernelName} kernel`)
  }
  const out = config.kernelFunc({ inputs, backend, attrs: attrs as NamedAttrMap })
  if (Array.isArray(out))
    throw new Error(`wasm training kernels: ${kernelName} gave several outputs`)
  return out
}

function dispose(backend: object, ...infos: TensorInfo[]): void {
  for (const info of infos) (backend as DisposingBackend).disposeData(info.dataId)
}

function shape4(info: TensorInfo, what: string): Shape4 {
  const s = info.shape
  if (s.length !== 4) throw new Error(`wasm training kernels: ${what} must be rank 4, got [${s}]`)
  return [s[0] ?? 0, s[1] ?? 0, s[2] ?? 0, s[3] ?? 0]
}

function explicitPads(top: number, bottom: number, left: number, right: number): Pads {
  return [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ]
}

function requireChannelsLast(dataFormat: 'NHWC' | 'NCHW', kernel: string): void {
  if (backend_util.convertConv2DDataFormat(dataFormat) !== 'channelsLast') {
    // The wasm backend's Conv2D is NHWC-only too, so there is nothing to fall back to.
    throw new Error(`wasm ${kernel} supports only dataFormat 'NHWC'`)
  }
}

/**
 * dW[a, b, c, o] = Σ_{n, i, j} x[n, i·sh + a − pt, j·sw + b − pl, c] · dy[n, i, j, o]
 *
 * Read with c as the batch, n as the channel and (i, j) as filter taps, that is a convolution:
 * input xᵀ = x transposed to [Ci, H, W, N], filter dyᵀ = dy transposed to [OH, OW, N, Co],
 * stride 1 and the forward strides as dilations; its output [Ci, ≥kh, ≥kw, Co] transposed back
 * is dW. XNNPACK does this at the same cost as the forward conv. The conv trick is exact
 * (same sums, other order); a Conv3DBackpropFilterV2-based shim was tried before and gave
 * wrong gradients on the stride-4 layer, so don't go that way.
 */
function conv2DBackpropFilter(args: Parameters<KernelFunc>[0]): TensorInfo {
  const { inputs, backend } = args
  const attrs = args.attrs as unknown as Conv2DBackpropFilterAttrs
  const x = inputs['x']
  const dy = inputs['dy']
  if (x === undefined || dy === undefined) {
    throw new Error('wasm Conv2DBackpropFilter needs inputs x and dy')
  }
  requireChannelsLast(attrs.dataFormat, Conv2DBackpropFilter)
  const info = backend_util.computeConv2DInfo(
    shape4(x, 'x'),
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  )
  const [, outH, outW] = shape4(dy, 'dy')
  if (outH !== info.outHeight || outW !== info.outWidth) {
    throw new Error(
      `wasm Conv2DBackpropFilter: dy is [${dy.shape}] but the conv gives ` +
        `${info.outHeight}×${info.outWidth}`,
    )
  }
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info
  const { padInfo } = info
  const noPad =
    padInfo.top === 0 && padInfo.bottom === 0 && padInfo.left === 0 && padInfo.right === 0
  if (kh === 1 && kw === 1 && sh === 1 && sw === 1 && noPad) {
    return pointwiseBackpropFilter(x, dy, info, backend)
  }

  const xT = run(Transpose, { x }, { perm: [3, 1, 2, 0] }, backend)
  const dyT = run(Transpose, { x: dy }, { perm: [1, 2, 0, 3] }, backend)
  // The dilated "filter" dyᵀ spans (OH−1)·sh + 1 rows; to produce exactly kh output rows the
  // padded input needs kh + (OH−1)·sh rows, so that fixes the bottom padding. When the forward
  // conv dropped input rows (H + pt + pb − kh not a multiple of sh, e.g. 96 px, k11, s4) that
  // padding would be negative: pad 0 instead and slice the extra output rows off below.
  // The top/left padding is the forward one. The same holds for columns.
  const padBottom = Math.max(0, kh + (outH - 1) * sh - info.inHeight - padInfo.top)
  const padRight = Math.max(0, kw + (outW - 1) * sw - info.inWidth - padInfo.left)
  const full = run(
    Conv2D,
    { x: xT, filter: dyT },
    {
      strides: [1, 1],
      pad: explicitPads(padInfo.top, padBottom, padInfo.left, padRight),
      dataFormat: 'NHWC',
      dilations: [sh, sw],
      dimRoundingMode: undefined,
    },
    backend,
  )
  dispose(backend, xT, dyT)
  const [ci, fullH, fullW, co] = shape4(full, 'conv output')
  let cropped = full
  if (fullH !== kh || fullW !== kw) {
    cropped = run(Slice, { x: full }, { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] }, backend)
    dispose(backend, full)
  }
  const dW = run(Transpose, { x: cropped }, { perm: [1, 2, 0, 3] }, backend)
  dispose(backend, cropped)
  return dW
}

/**
 * 1×1, stride 1, no padding: dW[c, o] = Σ_m xᵀ[c, m] · dy[m, o] with m over N·H·W — one
 * matrix product. The xᵀ is materialised because the wasm BatchMatMul only reaches XNNPACK
 * (instead of a naive loop) without transpose flags and with batch 1.
 */
function pointwiseBackpropFilter(
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
  backend: object,
): TensorInfo {
  const m = info.batchSize * info.inHeight * info.inWidth
  const x2 = run(Reshape, { x }, { shape: [m, info.inChannels] }, backend)
  const xT = run(Transpose, { x: x2 }, { perm: [1, 0] }, backend)
  dispose(backend, x2)
  const a = run(Reshape, { x: xT }, { shape: [1, info.inChannels, m] }, backend)
  const b = run(Reshape, { x: dy }, { shape: [1, m, info.outChannels] }, backend)
  dispose(backend, xT)
  const prod = run(BatchMatMul, { a, b }, { transposeA: false, transposeB: false }, backend)
  dispose(backend, a, b)
  const dW = run(
    Reshape,
    { x: prod },
    { shape: [1, 1, info.inChannels, info.outChannels] },
    backend,
  )
  dispose(backend, prod)
  return dW
}

/**
 * W[a, b, c, o] → W[kh − 1 − a, kw − 1 − b, c, o]. The (a, b) taps are the rows of a
 * [kh·kw, Ci·Co] matrix and the flip reverses their order (row r ↦ kh·kw − 1 − r), so it is
 * kh·kw block copies on the wasm heap. The backend's Reverse (and Gather) kernels go element by
 * element: 30–45 ms per NiN-sized filter on every step, more than the convolution itself.
 */
function flipSpatially(filter: TensorInfo, backend: object): TensorInfo {
  if (!hasHeapAccess(backend) || filter.dtype !== 'float32') {
    return run(Reverse, { x: filter }, { dims: [0, 1] }, backend)
  }
  const [kh, kw, ci, co] = shape4(filter, 'filter')
  const out = backend.makeOutput([kh, kw, ci, co], 'float32')
  // Views only after makeOutput: allocating may grow (and so replace) the heap's buffer.
  const src = backend.typedArrayFromHeap(filter)
  const dst = backend.typedArrayFromHeap(out)
  const taps = kh * kw
  const row = ci * co
  for (let r = 0; r < taps; r++) dst.set(src.subarray(r * row, (r + 1) * row), (taps - 1 - r) * row)
  return out
}

/**
 * dx for stride 1: dx[n, i, j, c] = Σ_{a, b, o} dy[n, i + pt − a, j + pl − b, o] · W[a, b, c, o],
 * a convolution of dy with W flipped in both spatial axes and with in/out channels swapped
 * ([kh, kw, Co, Ci]), padded kh − 1 − pt on top and kh − 1 − pb below (likewise for columns).
 * Strided convs (only NiN's first layer, whose dx is never needed for training) and paddings
 * larger than the kernel go to the backend's own kernel.
 */
function makeConv2DBackpropInput(original: KernelConfig): MarkedKernelFunc {
  const kernelFunc: MarkedKernelFunc = (args) => {
    const { inputs, backend } = args
    const attrs = args.attrs as unknown as Conv2DBackpropInputAttrs
    const dy = inputs['dy']
    const filter = inputs['filter']
    if (dy === undefined || filter === undefined) {
      throw new Error('wasm Conv2DBackpropInput needs inputs dy and filter')
    }
    requireChannelsLast(attrs.dataFormat, Conv2DBackpropInput)
    const info = backend_util.computeConv2DInfo(
      attrs.inputShape,
      shape4(filter, 'filter'),
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      'channelsLast',
    )
    const { filterHeight: kh, filterWidth: kw, padInfo } = info
    const top = kh - 1 - padInfo.top
    const left = kw - 1 - padInfo.left
    // Rows: OH + top + bottom − kh + 1 must equal H (and it is kh − 1 − pb for floor rounding).
    const bottom = info.inHeight - info.outHeight + kh - 1 - top
    const right = info.inWidth - info.outWidth + kw - 1 - left
    if (
      info.strideHeight !== 1 ||
      info.strideWidth !== 1 ||
      Math.min(top, left, bottom, right) < 0
    ) {
      return original.kernelFunc(args)
    }
    let flipped = filter
    if (kh > 1 || kw > 1) flipped = flipSpatially(filter, backend)
    const swapped = run(Transpose, { x: flipped }, { perm: [0, 1, 3, 2] }, backend)
    if (flipped !== filter) dispose(backend, flipped)
    const dx = run(
      Conv2D,
      { x: dy, filter: swapped },
      {
        strides: [1, 1],
        pad: explicitPads(top, bottom, left, right),
        dataFormat: 'NHWC',
        dilations: [1, 1],
        dimRoundingMode: undefined,
      },
      backend,
    )
    dispose(backend, swapped)
    return dx
  }
  kernelFunc[MARK] = true
  kernelFunc[ORIGINAL] = original
  return kernelFunc
}

/**
 * dx of a max pool (NHWC): each window's upstream gradient goes to the first position (in
 * row-major window order) holding the window's maximum — the cpu backend's rule, ties and NaNs
 * included (a window with no value above −∞ passes nothing on). One pass over the windows with
 * the channels innermost, on the wasm heap: wasm's own kernel loops, for every input element,
 * over every window that contains it and costs ~10× more, single-threaded either way. Windows
 * are visited in (row, column) order, so each dx element sums its windows in the cpu backend's
 * order (in float32: the cpu backend adds in float64 and rounds once, so the two agree to float32
 * rounding). Dilated pools (not in NiN) and non-float32 tensors go to wasm's kernel.
 */
function makeMaxPoolGrad(original: KernelConfig): MarkedKernelFunc {
  const kernelFunc: MarkedKernelFunc = (args) => {
    const { inputs, backend } = args
    const attrs = args.attrs as unknown as MaxPoolGradAttrs
    const dy = inputs['dy']
    const input = inputs['input']
    if (dy === undefined || input === undefined) {
      throw new Error('wasm MaxPoolGrad needs inputs dy and input')
    }
    const info = backend_util.computePool2DInfo(
      shape4(input, 'input'),
      attrs.filterSize,
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
    )
    if (
      !hasHeapAccess(backend) ||
      input.dtype !== 'float32' ||
      dy.dtype !== 'float32' ||
      info.dilationHeight !== 1 ||
      info.dilationWidth !== 1
    ) {
      return original.kernelFunc(args)
    }
    const { batchSize, inHeight: H, inWidth: W, inChannels: C, outHeight, outWidth } = info
    const { effectiveFilterHeight: kh, effectiveFilterWidth: kw } = info
    const { strideHeight: sh, strideWidth: sw } = info
    const dxInfo = backend.makeOutput([batchSize, H, W, C], 'float32')
    // Views only after makeOutput: allocating may grow (and so replace) the heap's buffer.
    const x = backend.typedArrayFromHeap(input) as Float32Array
    const g = backend.typedArrayFromHeap(dy) as Float32Array
    const dx = backend.typedArrayFromHeap(dxInfo) as Float32Array
    dx.fill(0)
    const best = new Float32Array(C)
    const at = new Int32Array(C)
    for (let n = 0; n < batchSize; n++) {
      for (let oh = 0; oh < outHeight; oh++) {
        const top = oh * sh - info.padInfo.top
        const h0 = Math.max(0, top)
        const h1 = Math.min(H, top + kh)
        for (let ow = 0; ow < outWidth; ow++) {
          const left = ow * sw - info.padInfo.left
          const w0 = Math.max(0, left)
          const w1 = Math.min(W, left + kw)
          best.fill(Number.NEGATIVE_INFINITY)
          at.fill(-1)
          for (let h = h0; h < h1; h++) {
            for (let w = w0; w < w1; w++) {
              const base = ((n * H + h) * W + w) * C
              for (let c = 0; c < C; c++) {
                const v = x[base + c] as number
                if (v > (best[c] as number)) {
                  best[c] = v
                  at[c] = base + c
                }
              }
            }
          }
          const gBase = ((n * outHeight + oh) * outWidth + ow) * C
          for (let c = 0; c < C; c++) {
            const i = at[c] as number
            if (i >= 0) dx[i] = (dx[i] as number) + (g[gBase + c] as number)
          }
        }
      }
    }
    return dxInfo
  }
  kernelFunc[MARK] = true
  kernelFunc[ORIGINAL] = original
  return kernelFunc
}

/**
 * Sum over leading axes, keeping the innermost ones (a bias gradient: dy [N, H, W, C] summed to
 * [C]): rows added into a float64 accumulator in one sequential pass. wasm's own kernel first
 * transposes the whole tensor to put the summed axes innermost, then sums, single-threaded;
 * that was 5–8% of a d2l training step. Every other reduction goes to wasm's kernel.
 */
function makeSum(original: KernelConfig): MarkedKernelFunc {
  const kernelFunc: MarkedKernelFunc = (args) => {
    const { inputs, backend } = args
    const attrs = args.attrs as unknown as SumAttrs
    const x = inputs['x']
    if (x === undefined) throw new Error('wasm Sum needs input x')
    const axes = util.parseAxisParam(attrs.axis, x.shape).sort((a, b) => a - b)
    const leading = axes.length > 0 && axes.every((a, i) => a === i) && axes.length < x.shape.length
    if (!leading || x.dtype !== 'float32' || !hasHeapAccess(backend)) {
      return original.kernelFunc(args)
    }
    const kept = x.shape.slice(axes.length)
    const inner = util.sizeFromShape(kept)
    const rows = util.sizeFromShape(x.shape.slice(0, axes.length))
    const outShape = attrs.keepDims ? [...axes.map(() => 1), ...kept] : kept
    const out = backend.makeOutput(outShape, 'float32')
    const src = backend.typedArrayFromHeap(x) as Float32Array
    const dst = backend.typedArrayFromHeap(out) as Float32Array
    const acc = new Float64Array(inner)
    for (let r = 0; r < rows; r++) {
      const base = r * inner
      for (let j = 0; j < inner; j++) acc[j] = (acc[j] as number) + (src[base + j] as number)
    }
    dst.set(acc)
    return out
  }
  kernelFunc[MARK] = true
  kernelFunc[ORIGINAL] = original
  return kernelFunc
}

/**
 * Identity without a copy: the output shares the input's buffer, its reference count raised, as
 * wasm's own Reshape kernel (and the cpu backend's Identity) do. tfjs clones every tensor it saves
 * for the backward pass (a conv's input, a ReLU's, a pool's input and output) through Identity,
 * and wasm's copies the buffer: 88 ms of a d2l NiN step at 96 px, batch 128, and a second copy of
 * every saved activation on the heap. Sharing is safe because no wasm kernel writes into its
 * inputs (each writes a buffer of its own, from makeOutput), and a variable's assign swaps buffers.
 * Strings (kept outside the heap) go to wasm's kernel.
 */
function makeIdentity(original: KernelConfig): MarkedKernelFunc {
  const kernelFunc: MarkedKernelFunc = (args) => {
    const x = args.inputs['x']
    if (x === undefined) throw new Error('wasm Identity needs input x')
    if (x.dtype === 'string' || !hasRefCounts(args.backend)) return original.kernelFunc(args)
    args.backend.incRef(x.dataId)
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype }
  }
  kernelFunc[MARK] = true
  kernelFunc[ORIGINAL] = original
  return kernelFunc
}

/** Kernel names this module registers or replaces on the wasm backend. */
export const WASM_TRAINING_KERNELS: readonly string[] = [
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  MaxPoolGrad,
  Sum,
  Identity,
]

/**
 * Replaces wasm's kernel `name` by `make(original)`, keeping the original's setupFunc (which
 * binds the C++ function the replacement falls back to) and disposeFunc. Idempotent.
 */
function replaceKernel(name: string, make: (original: KernelConfig) => MarkedKernelFunc): void {
  const existing = getKernel(name, BACKEND)
  if (existing === undefined) {
    throw new Error(`the wasm backend has no ${name} kernel to fall back to`)
  }
  if (isOurs(existing)) return
  unregisterKernel(name, BACKEND)
  const replacement: KernelConfig = {
    kernelName: name,
    backendName: BACKEND,
    kernelFunc: make(existing),
  }
  if (existing.setupFunc !== undefined) replacement.setupFunc = existing.setupFunc
  if (existing.disposeFunc !== undefined) replacement.disposeFunc = existing.disposeFunc
  registerKernel(replacement)
}

/**
 * Registers Conv2DBackpropFilter on the wasm backend and replaces its stride-1
 * Conv2DBackpropInput, its MaxPoolGrad, its leading-axes Sum and its Identity with the versions
 * above.
 * Idempotent: a second call (from this or another copy of the module) sees its own mark and
 * does nothing. Works before or after the backend is initialised: each replaced kernel keeps
 * the original's setupFunc, which is what binds the C++ function it falls back to.
 */
export function registerWasmTrainingKernels(): void {
  const filterKernel = getKernel(Conv2DBackpropFilter, BACKEND)
  if (filterKernel === undefined || !isOurs(filterKernel)) {
    // Should wasm ever ship its own, ours still wins: it is the one this module tests.
    if (filterKernel !== undefined) unregisterKernel(Conv2DBackpropFilter, BACKEND)
    const kernelFunc = conv2DBackpropFilter as MarkedKernelFunc
    kernelFunc[MARK] = true
    registerKernel({ kernelName: Conv2DBackpropFilter, backendName: BACKEND, kernelFunc })
  }
  replaceKernel(Conv2DBackpropInput, makeConv2DBackpropInput)
  replaceKernel(MaxPoolGrad, makeMaxPoolGrad)
  replaceKernel(Sum, makeSum)
  replaceKernel(Identity, makeIdentity)
}
