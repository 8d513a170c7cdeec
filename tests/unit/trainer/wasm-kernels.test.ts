/**
 * The wasm backend's conv gradients (ours: Conv2DBackpropFilter, stride-1 Conv2DBackpropInput)
 * against the pure-JS cpu backend, on every conv shape NiN trains; our MaxPoolGrad and
 * leading-axes Sum against the cpu backend's on every NiN pool and bias shape; plus the threaded
 * setup.
 *
 * Gradients are taken with a random upstream gradient dy by running the kernels directly, with
 * the attributes tfjs-core's conv2d gradient passes (numeric pad, NHWC): that is exactly what
 * `tf.grads` would run, without depending on gradient registrations.
 *
 * The cpu backend's Conv2DBackpropFilter is a scalar loop at ~10 M MAC/s (the 26×26×96 k5 layer
 * alone takes 40 s), so on cpu dW is computed for a subset of input and output channels:
 * dW[:, :, c, o] depends only on x[..., c] and dy[..., o], so the subset is computed exactly,
 * and compared with the same entries of the full wasm result.
 */
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import { SeededRandom } from '@shared/random'
import {
  initWasmBackend,
  registerWasmTrainingKernels,
  shutdownWasm,
  WASM_TRAINING_KERNELS,
  wasmThreadsUnavailableReason,
} from '@trainer/engines/tfjs/wasm'

type Pad = number | 'same' | 'valid'

interface ConvCase {
  name: string
  batch: number
  h: number
  w: number
  cin: number
  k: number
  stride: number
  pad: Pad
  cout: number
}

function conv(
  name: string,
  batch: number,
  hw: number,
  cin: number,
  k: number,
  stride: number,
  pad: Pad,
  cout: number,
): ConvCase {
  return { name, batch, h: hw, w: hw, cin, k, stride, pad, cout }
}

const CASES: ConvCase[] = [
  // d2l NiN at 96 px
  conv('96px block 1 conv 11×11/4', 2, 96, 1, 11, 4, 0, 96),
  conv('96px block 1 1×1', 2, 22, 96, 1, 1, 0, 96),
  conv('96px block 2 conv 5×5', 2, 10, 96, 5, 1, 2, 256),
  conv('96px block 2 1×1', 2, 10, 256, 1, 1, 0, 256),
  conv('96px block 3 conv 3×3', 2, 4, 256, 3, 1, 1, 384),
  conv('96px block 3 1×1', 2, 4, 384, 1, 1, 0, 384),
  conv('96px block 4 conv 3×3', 2, 1, 384, 3, 1, 1, 10),
  conv('96px block 4 1×1', 2, 1, 10, 1, 1, 0, 10),
  // d2l at 224 px, first layers
  conv('224px block 1 conv 11×11/4', 1, 224, 1, 11, 4, 0, 96),
  conv('224px block 2 conv 5×5', 1, 26, 96, 5, 1, 2, 256),
  // 3×3 micro convs (microKernel 3)
  conv('micro 3×3', 2, 10, 256, 3, 1, 1, 256),
  // small 28 px net
  conv('28px conv 5×5', 2, 28, 1, 5, 1, 2, 32),
  conv('28px 1×1', 2, 28, 32, 1, 1, 0, 32),
  conv('28px conv 3×3 a', 2, 13, 32, 3, 1, 1, 64),
  conv('28px conv 3×3 b', 2, 6, 64, 3, 1, 1, 128),
  conv('28px conv 3×3 c', 2, 2, 128, 3, 1, 1, 10),
  // Not in NiN, but reachable through the kernels' attrs: asymmetric 'same' padding with a
  // stride, a 'valid' stride that drops input rows, a non-square input, a padded 1×1.
  conv("'same' 3×3/2", 2, 9, 8, 3, 2, 'same', 16),
  conv("'same' 4×4/1 pads 1|2", 2, 7, 8, 4, 1, 'same', 16),
  conv("'valid' 3×3/2 drops a row", 2, 10, 8, 3, 2, 'valid', 16),
  {
    name: 'non-square 5×3 input, 3×3',
    batch: 2,
    h: 5,
    w: 3,
    cin: 8,
    k: 3,
    stride: 1,
    pad: 1,
    cout: 8,
  },
  conv('1×1 with pad 1', 2, 4, 8, 1, 1, 1, 8),
]

const TOLERANCE = 1e-4
/** Channels of each side the cpu dW reference is computed for. */
const CPU_CIN = 8
const CPU_COUT = 16

/** max|a − b| / max|b|: relative to the reference's scale, so near-zero entries don't blow up. */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length)
  let diff = 0
  let scale = 0
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs((actual[i] ?? NaN) - (expected[i] ?? NaN)))
    scale = Math.max(scale, Math.abs(expected[i] ?? NaN))
  }
  return scale === 0 ? diff : diff / scale
}

/** Up to n indices spread over [0, size), always including the first and the last. */
function spread(size: number, n: number): number[] {
  if (size <= n) return Array.from({ length: size }, (_, i) => i)
  return Array.from({ length: n }, (_, i) => Math.round((i * (size - 1)) / (n - 1)))
}

function randomArray(size: number, rng: SeededRandom): Float32Array {
  const out = new Float32Array(size)
  for (let i = 0; i < size; i++) out[i] = rng.next() * 2 - 1
  return out
}

interface CaseData {
  xShape: [number, number, number, number]
  wShape: [number, number, number, number]
  dyShape: [number, number, number, number]
  x: Float32Array
  w: Float32Array
  dy: Float32Array
}

interface Grads {
  y: Float32Array
  dx: Float32Array
  dW: Float32Array
}

function makeData(c: ConvCase, seed: number): CaseData {
  const rng = new SeededRandom(seed)
  const xShape: CaseData['xShape'] = [c.batch, c.h, c.w, c.cin]
  const wShape: CaseData['wShape'] = [c.k, c.k, c.cin, c.cout]
  const info = tf.backend_util.computeConv2DInfo(xShape, wShape, c.stride, 1, c.pad)
  const dyShape = info.outShape
  const size = (s: number[]): number => s.reduce((a, b) => a * b, 1)
  return {
    xShape,
    wShape,
    dyShape,
    x: randomArray(size(xShape), rng),
    w: randomArray(size(wShape), rng),
    dy: randomArray(size(dyShape), rng),
  }
}

function attrsOf(c: ConvCase): tf.NamedAttrMap {
  return { strides: c.stride, pad: c.pad, dataFormat: 'NHWC' } as unknown as tf.NamedAttrMap
}

function runKernel(name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap): tf.Tensor {
  return tf.engine().runKernel(name, inputs, attrs) as tf.Tensor
}

/**
 * Reads tensors made inside `make` and disposes them. Not `tf.tidy(() => t.dataSync())`: tidy
 * walks its return value looking for tensors, element by element for a typed array (0.3 s for a
 * NiN filter gradient).
 */
function read<K extends string>(make: () => Record<K, tf.Tensor>): Record<K, Float32Array> {
  const tensors = tf.tidy(make)
  const out = {} as Record<K, Float32Array>
  for (const key of Object.keys(tensors) as K[]) {
    out[key] = tensors[key].dataSync() as Float32Array
    tensors[key].dispose()
  }
  return out
}

/** Forward, dx and (unless skipped: see the file comment) dW on the active backend. */
function gradients(c: ConvCase, d: CaseData, withFilterGrad = true): Grads {
  const out = read(() => {
    const x = tf.tensor4d(d.x, d.xShape)
    const w = tf.tensor4d(d.w, d.wShape)
    const dy = tf.tensor4d(d.dy, d.dyShape)
    const attrs = attrsOf(c)
    return {
      y: tf.conv2d(x, w, c.stride, c.pad),
      dx: runKernel(tf.Conv2DBackpropInput, { dy, filter: w }, { ...attrs, inputShape: d.xShape }),
      dW: withFilterGrad
        ? runKernel(tf.Conv2DBackpropFilter, { x, dy }, { ...attrs, filterShape: d.wShape })
        : tf.zeros([0]),
    }
  })
  return out
}

/** dW on cpu for the chosen input/output channels only (see the file comment). */
function cpuFilterGradSubset(
  c: ConvCase,
  d: CaseData,
  cin: number[],
  cout: number[],
): Float32Array {
  return read(() => {
    const x = tf.gather(tf.tensor4d(d.x, d.xShape), cin, 3)
    const dy = tf.gather(tf.tensor4d(d.dy, d.dyShape), cout, 3)
    const filterShape = [c.k, c.k, cin.length, cout.length]
    return { dW: runKernel(tf.Conv2DBackpropFilter, { x, dy }, { ...attrsOf(c), filterShape }) }
  }).dW
}

/** Bitwise equality of two float arrays (vitest's toEqual goes element by element: slow). */
function sameBits(a: Float32Array | undefined, b: Float32Array | undefined): boolean {
  if (!a || !b || a.length !== b.length) return false
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  )
}

/** The same [k, k, cin, cout] entries picked out of a full dW. */
function pickFilterEntries(
  c: ConvCase,
  dW: Float32Array,
  cin: number[],
  cout: number[],
): Float32Array {
  const out = new Float32Array(c.k * c.k * cin.length * cout.length)
  let i = 0
  for (let a = 0; a < c.k; a++) {
    for (let b = 0; b < c.k; b++) {
      for (const ci of cin) {
        for (const co of cout) out[i++] = dW[((a * c.k + b) * c.cin + ci) * c.cout + co] ?? NaN
      }
    }
  }
  return out
}

interface Row {
  name: string
  dx: number
  dW: number
  y: number
}

const singleThread = new Map<string, Grads>()
const rows: Row[] = []

describe('wasm conv gradient kernels vs the cpu backend', () => {
  beforeAll(async () => {
    const info = await initWasmBackend({ threads: 1 })
    expect(info).toMatchObject({ backend: 'wasm', threads: 1 })
  })

  afterAll(() => {
    // The numbers for the record (max relative error per case).
    const fmt = (v: number): string => v.toExponential(1)
    const table = rows.map(
      (r) => `${r.name.padEnd(28)} dx ${fmt(r.dx)}  dW ${fmt(r.dW)}  y ${fmt(r.y)}`,
    )
    console.log(`max relative error, wasm vs cpu:\n${table.join('\n')}`)
  })

  it('registers idempotently, only for wasm', () => {
    registerWasmTrainingKernels()
    const first = WASM_TRAINING_KERNELS.map((name) => tf.getKernel(name, 'wasm')?.kernelFunc)
    registerWasmTrainingKernels()
    const second = WASM_TRAINING_KERNELS.map((name) => tf.getKernel(name, 'wasm')?.kernelFunc)
    expect(second).toEqual(first)
    expect(first.every((f) => typeof f === 'function')).toBe(true)
    const mark = Symbol.for('nin-lab.wasm-training-kernel')
    expect(first.map((f) => (f as unknown as Record<symbol, unknown>)[mark])).toEqual(
      WASM_TRAINING_KERNELS.map(() => true),
    )
    // The cpu backend keeps its own kernels (they are the reference below).
    expect(tf.getKernel(tf.Conv2DBackpropFilter, 'cpu')?.kernelFunc).not.toBe(first[0])
  })

  it.each(CASES.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c, i) => {
    const d = makeData(c, 1000 + i)
    await tf.setBackend('wasm')
    // Intermediates live below the engine (TensorInfos), so count the backend's buffers.
    const buffers = tf.backend().numDataIds()
    const wasm = gradients(c, d)
    expect(tf.backend().numDataIds()).toBe(buffers)
    singleThread.set(c.name, wasm)

    await tf.setBackend('cpu')
    const cpu = gradients(c, d, false)
    const cin = spread(c.cin, CPU_CIN)
    const cout = spread(c.cout, CPU_COUT)
    const cpuDW = cpuFilterGradSubset(c, d, cin, cout)
    const row: Row = {
      name: c.name,
      dx: relativeError(wasm.dx, cpu.dx),
      dW: relativeError(pickFilterEntries(c, wasm.dW, cin, cout), cpuDW),
      y: relativeError(wasm.y, cpu.y),
    }
    rows.push(row)
    expect(row.dx).toBeLessThanOrEqual(TOLERANCE)
    expect(row.dW).toBeLessThanOrEqual(TOLERANCE)
  })
})

interface PoolCase {
  name: string
  shape: [number, number, number, number]
  k: number
  stride: number
  pad: 'valid' | 'same' | number
  /** ReLU the input first: windows of zeros, the ties a NiN pool sees after every block. */
  relu: boolean
}

const POOLS: PoolCase[] = [
  { name: '96px block 1 pool', shape: [2, 22, 22, 96], k: 3, stride: 2, pad: 'valid', relu: true },
  { name: '96px block 2 pool', shape: [2, 10, 10, 256], k: 3, stride: 2, pad: 'valid', relu: true },
  { name: '96px block 3 pool', shape: [2, 4, 4, 384], k: 3, stride: 2, pad: 'valid', relu: true },
  { name: '224px block 1 pool', shape: [1, 54, 54, 96], k: 3, stride: 2, pad: 'valid', relu: true },
  {
    name: '28px pool, no ties',
    shape: [2, 28, 28, 32],
    k: 3,
    stride: 2,
    pad: 'valid',
    relu: false,
  },
  // Not in NiN, reachable through the attrs: padding, a window wider than its stride's share.
  { name: "'same' 3×3/2, odd size", shape: [2, 9, 7, 8], k: 3, stride: 2, pad: 'same', relu: true },
  { name: 'pad 1, 2×2/1', shape: [2, 5, 5, 4], k: 2, stride: 1, pad: 1, relu: false },
]

/** dx of a max pool for upstream gradient dy, through MaxPoolGrad as tfjs' gradient calls it. */
function poolGrad(c: PoolCase, x: Float32Array, dyValues: (size: number) => Float32Array) {
  return read(() => {
    let input: tf.Tensor4D = tf.tensor4d(x, c.shape)
    if (c.relu) input = tf.relu(input)
    const output = tf.maxPool(input, c.k, c.stride, c.pad)
    const dy = tf.tensor4d(dyValues(output.size), output.shape as [number, number, number, number])
    const attrs = { filterSize: c.k, strides: c.stride, pad: c.pad } as unknown as tf.NamedAttrMap
    return { dx: runKernel(tf.MaxPoolGrad, { dy, input, output }, attrs) }
  }).dx
}

describe('wasm MaxPoolGrad, Sum and Identity vs the cpu backend', () => {
  beforeAll(async () => {
    await initWasmBackend({ threads: 1 })
  })

  it.each(POOLS.map((c, i) => [c.name, c, i] as const))('MaxPoolGrad, %s', async (_n, c, i) => {
    const rng = new SeededRandom(2000 + i)
    const x = randomArray(
      c.shape.reduce((a, b) => a * b, 1),
      rng,
    )
    const dyRng = (seed: number) => (size: number) => randomArray(size, new SeededRandom(seed))
    await tf.setBackend('wasm')
    const buffers = tf.backend().numDataIds()
    const wasm = poolGrad(c, x, dyRng(3000 + i))
    expect(tf.backend().numDataIds()).toBe(buffers)
    await tf.setBackend('cpu')
    const cpu = poolGrad(c, x, dyRng(3000 + i))
    // The same windows, summed in the same order; the cpu backend rounds the sum once (it adds
    // in float64), ours after each window: equal to float32 rounding, ties and all.
    expect(relativeError(wasm, cpu)).toBeLessThanOrEqual(1e-6)
    const routed = (a: Float32Array) => a.reduce((n, v) => n + (v !== 0 ? 1 : 0), 0)
    expect(routed(wasm)).toBe(routed(cpu)) // every window's gradient went to the same element
  })

  const SUMS: { name: string; shape: number[]; axis: number[]; keepDims: boolean }[] = [
    { name: 'bias gradient of a conv', shape: [2, 22, 22, 96], axis: [0, 1, 2], keepDims: false },
    { name: 'bias gradient of a dense layer', shape: [128, 10], axis: [0], keepDims: false },
    { name: 'leading axes, kept', shape: [3, 4, 5], axis: [1, 0], keepDims: true },
    { name: 'not leading (wasm’s own kernel)', shape: [2, 6, 6, 8], axis: [1, 2], keepDims: false },
    { name: 'every axis (wasm’s own kernel)', shape: [4, 5], axis: [0, 1], keepDims: false },
  ]
  it.each(SUMS.map((c, i) => [c.name, c, i] as const))('Sum, %s', async (_n, c, i) => {
    const values = randomArray(
      c.shape.reduce((a, b) => a * b, 1),
      new SeededRandom(4000 + i),
    )
    const sum = () => read(() => ({ s: tf.sum(tf.tensor(values, c.shape), c.axis, c.keepDims) })).s
    const shape = () => tf.tidy(() => tf.sum(tf.tensor(values, c.shape), c.axis, c.keepDims).shape)
    await tf.setBackend('wasm')
    const wasm = sum()
    const wasmShape = shape()
    await tf.setBackend('cpu')
    expect(wasmShape).toEqual(shape())
    // Other summation orders (ours adds in float64): equal to float32 rounding.
    expect(relativeError(wasm, sum())).toBeLessThanOrEqual(1e-6)
  })

  it('Identity shares the buffer, which outlives whichever of the two is disposed first', async () => {
    await tf.setBackend('wasm')
    const buffers = tf.backend().numDataIds()
    const x = tf.tensor([1, 2, 3, 4, 5, 6], [2, 3])
    const y = tf.clone(x) // the Identity tfjs runs on every tensor it saves for the gradient
    expect(tf.backend().numDataIds()).toBe(buffers + 1) // no second buffer
    x.dispose()
    expect(y.dataSync()).toEqual(new Float32Array([1, 2, 3, 4, 5, 6]))
    expect(y.shape).toEqual([2, 3])
    // A kernel run on the clone writes a buffer of its own; the shared one is left as it was.
    const z = tf.clone(y)
    const doubled = tf.mul(z, 2)
    expect(y.dataSync()).toEqual(new Float32Array([1, 2, 3, 4, 5, 6]))
    expect(doubled.dataSync()).toEqual(new Float32Array([2, 4, 6, 8, 10, 12]))
    tf.dispose([y, z, doubled])
    expect(tf.backend().numDataIds()).toBe(buffers) // freed once the last holder went
  })
})

describe('wasm with 2 threads', () => {
  const listenerCounts = (): number[] => [
    process.listenerCount('uncaughtException'),
    process.listenerCount('unhandledRejection'),
  ]

  it('is available (Node 20+, tfjs-backend-wasm 4.22.0)', () => {
    // Not a skip condition: after a tfjs upgrade this fails until the hook is re-checked.
    expect(wasmThreadsUnavailableReason()).toBeNull()
  })

  it('runs 2 pthreads with results bitwise equal to 1 thread', async () => {
    const listeners = listenerCounts()
    const info = await initWasmBackend({ threads: 2 })
    expect(info.threads).toBe(2)
    expect(info.simd).toBe(true)
    expect(info.notes.filter((n) => !n.startsWith('restarted'))).toEqual([])
    // The emscripten glue's rethrowing process listeners are removed again.
    expect(listenerCounts()).toEqual(listeners)

    expect(singleThread.size).toBe(CASES.length)
    CASES.forEach((c, i) => {
      const threaded = gradients(c, makeData(c, 1000 + i))
      const reference = singleThread.get(c.name)
      // XNNPACK splits the output between threads; every sum keeps its order.
      expect(sameBits(threaded.y, reference?.y), `${c.name} y`).toBe(true)
      expect(sameBits(threaded.dx, reference?.dx), `${c.name} dx`).toBe(true)
      expect(sameBits(threaded.dW, reference?.dW), `${c.name} dW`).toBe(true)
    })

    await shutdownWasm()
    expect('wasm' in tf.engine().registry).toBe(false)
    // tfjs's dispose removes every listener present at its init (a bug); they are put back.
    expect(listenerCounts()).toEqual(listeners)
    await shutdownWasm() // a second call is a no-op
  })

  it.each([
    ['after shutdownWasm()', []],
    ["without shutdownWasm() (the workers are unref'ed)", ['--no-shutdown']],
  ])('lets a Node process exit %s', (_name, args) => {
    const child = spawnSync(
      process.execPath,
      [path.resolve(__dirname, '../../fixtures/wasm/threads-child.mjs'), ...args],
      { encoding: 'utf8', timeout: 30_000 },
    )
    expect(child.error, child.stderr).toBeUndefined()
    expect(child.status, child.stderr).toBe(0)
    const last = child.stdout.trim().split('\n').at(-1) ?? ''
    const result = JSON.parse(last) as { threads: number; notes: string[]; sum: number }
    expect(result.threads).toBe(2)
    expect(result.notes).toEqual([])
    expect(Number.isFinite(result.sum)).toBe(true)
  })
})
