/**
 * Throughput of one SGD training step of the d2l NiN (docs/engines.md) at 96 px, batch 128, random
 * data, on the tfjs wasm backend with our kernels (src/trainer/engines/tfjs/wasm), for
 * 1 and 2 threads. A measurement, not a test: timings depend on the machine and its load.
 *
 *   node bench/wasm-step.mjs [--threads 1,2] [--rounds 1] [--steps 5] [--batch 128] [--size 96]
 *                            [--profile]
 *
 * Each thread count runs in its own child process (a clean wasm heap, no restart in between);
 * with --rounds N the thread counts alternate N times. Before each run a probe measures how many
 * cores' worth of CPU two busy threads actually get: on shared VMs it varies from minute to
 * minute (we have seen 2 vCPUs deliver anything between 1 and 2 cores), and with ~1 core two
 * threads cannot beat one, so read the img/s next to it.
 * The model is built from raw ops as the trainer's network does it (conv2d + bias + ReLU,
 * max-pool 3/2, global average pool, softmax cross-entropy); dropout is left out (cheap and
 * random). tfjs-core's Node bundle registers no gradients (they live in the @tensorflow/tfjs
 * union package), so the few this model needs are registered here, following tfjs's own
 * definitions; the conv gradient is lazy, as tfjs's is, so the first layer's dx is never run.
 */
import { spawnSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { Worker } from 'node:worker_threads'
import tf from '@tensorflow/tfjs-core'
import { loadWasmEngine } from '../tests/fixtures/wasm/load-wasm-engine.mjs'

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '1,2' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    batch: { type: 'string', default: '128' },
    size: { type: 'string', default: '96' },
    rounds: { type: 'string', default: '1' },
    profile: { type: 'boolean', default: false },
    child: { type: 'boolean', default: false },
  },
})

/** Busy-loop iterations in `ms` milliseconds. */
function spin(ms) {
  const end = performance.now() + ms
  let n = 0
  while (performance.now() < end) n++
  return n
}

/** Cores' worth of CPU two busy threads get right now (2 on two free cores, 1 on one). */
async function parallelCapacity(ms = 700) {
  const solo = spin(ms)
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads')
     parentPort.once('message', () => parentPort.postMessage((${spin})(workerData)))`,
    { eval: true, workerData: ms },
  )
  await new Promise((resolve) => worker.once('online', resolve))
  worker.postMessage('go')
  const theirs = new Promise((resolve) => worker.once('message', resolve))
  const mine = spin(ms)
  const total = mine + (await theirs)
  await worker.terminate()
  return total / solo
}

if (!args.child) {
  const rows = []
  const counts = args.threads.split(',').map(Number)
  const order = Array.from({ length: Number(args.rounds) }, () => counts).flat()
  for (const threads of order) {
    const forwarded = process.argv
      .slice(2)
      .filter((a, i, all) => a !== '--threads' && all[i - 1] !== '--threads')
    const capacity = await parallelCapacity()
    const run = spawnSync(
      process.execPath,
      [new URL(import.meta.url).pathname, ...forwarded, '--threads', String(threads), '--child'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    )
    const lines = run.stdout.trim().split('\n')
    for (const line of lines.slice(0, -1)) console.log(line)
    if (run.status !== 0) throw new Error(`child for ${threads} threads failed (${run.status})`)
    rows.push({ ...JSON.parse(lines.at(-1)), capacity })
  }
  console.log('\nd2l NiN, SGD step, random data, tfjs wasm (median over steps)')
  for (const r of rows) {
    console.log(
      `${r.size} px batch ${r.batch}  threads ${r.threads} (simd ${r.simd})  ` +
        `cpu capacity ${r.capacity.toFixed(1)}  ` +
        `${r.medianStepS.toFixed(3)} s/step  ${r.imagesPerS.toFixed(1)} img/s  ` +
        `steps ${r.stepsS.map((s) => s.toFixed(2)).join(' ')}  peak RSS ${r.peakRssMB} MB`,
    )
  }
  process.exit(0)
}

// ---- child: one thread count ----------------------------------------------------------------

registerBenchGradients()
const engine = await loadWasmEngine()
const info = await engine.initWasmBackend({ threads: Number(args.threads) })
const batch = Number(args.batch)
const size = Number(args.size)

const model = buildNin()
const optimizer = tf.train.sgd(0.05)
const x = tf.randomUniform([batch, size, size, 1], 0, 1, 'float32', 1)
const labels = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32', 2), 10)

const stepsS = []
let peakRss = 0
const total = Number(args.warmup) + Number(args.steps)
for (let step = 0; step < total; step++) {
  const t0 = performance.now()
  const loss = optimizer.minimize(() => crossEntropy(model.forward(x), labels), true)
  const value = (await loss.data())[0]
  loss.dispose()
  const seconds = (performance.now() - t0) / 1000
  peakRss = Math.max(peakRss, process.memoryUsage().rss)
  if (step >= Number(args.warmup)) stepsS.push(seconds)
  console.log(
    `threads ${info.threads} step ${step} ${seconds.toFixed(3)} s loss ${value.toFixed(4)}`,
  )
}

if (args.profile) {
  const profile = await tf.profile(() => {
    const loss = optimizer.minimize(() => crossEntropy(model.forward(x), labels), true)
    loss.dataSync()
    loss.dispose()
  })
  const byKernel = new Map()
  for (const k of profile.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0
    byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + ms)
  }
  const sorted = [...byKernel].sort((a, b) => b[1] - a[1]).slice(0, 12)
  console.log(`threads ${info.threads} profile (ms per step by kernel):`)
  for (const [name, ms] of sorted) console.log(`  ${name.padEnd(24)} ${ms.toFixed(0)}`)
}

const sorted = [...stepsS].sort((a, b) => a - b)
const median = sorted[Math.floor((sorted.length - 1) / 2)]
await engine.shutdownWasm()
console.log(
  JSON.stringify({
    threads: info.threads,
    simd: info.simd,
    notes: info.notes,
    batch,
    size,
    stepsS,
    medianStepS: median,
    imagesPerS: batch / median,
    peakRssMB: Math.round(peakRss / 2 ** 20),
  }),
)

// ---- model ----------------------------------------------------------------------------------

function buildNin() {
  // nin_block(out, k, stride, pad) = conv k×k + ReLU, then two 1×1 convs + ReLU (d2l §8.3).
  const blocks = [
    [96, 11, 4, 0],
    [256, 5, 1, 2],
    [384, 3, 1, 1],
    [10, 3, 1, 1],
  ]
  const convs = []
  let inChannels = 1
  for (const [out, k, stride, pad] of blocks) {
    convs.push(convLayer(k, inChannels, out, stride, pad))
    convs.push(convLayer(1, out, out, 1, 0))
    convs.push(convLayer(1, out, out, 1, 0))
    inChannels = out
  }
  return {
    forward(input) {
      let y = input
      convs.forEach((conv, i) => {
        y = tf.relu(tf.add(tf.conv2d(y, conv.w, conv.stride, conv.pad), conv.b))
        // Max-pool 3/2 after blocks 1–3 (each block is 3 convs).
        if (i % 3 === 2 && i < 9) y = tf.maxPool(y, 3, 2, 'valid')
      })
      return tf.mean(y, [1, 2]) // global average pool: [batch, 10]
    },
  }
}

function convLayer(k, cin, cout, stride, pad) {
  // Xavier-uniform, as d2l.init_cnn.
  const limit = Math.sqrt(6 / (k * k * cin + k * k * cout))
  return {
    w: tf.variable(tf.randomUniform([k, k, cin, cout], -limit, limit)),
    b: tf.variable(tf.zeros([cout])),
    stride,
    pad,
  }
}

/** Mean softmax cross-entropy with its analytic gradient (softmax − onehot) / batch. */
function crossEntropy(logits, onehot) {
  const f = tf.customGrad((z, save) => {
    const logProbs = tf.logSoftmax(z)
    save([logProbs])
    const value = tf.neg(tf.mean(tf.sum(tf.mul(onehot, logProbs), 1)))
    return {
      value,
      gradFunc: (dy, [saved]) => tf.mul(dy, tf.div(tf.sub(tf.exp(saved), onehot), z.shape[0])),
    }
  })
  return f(logits)
}

function registerBenchGradients() {
  const runKernel = (name, inputs, attrs) => tf.engine().runKernel(name, inputs, attrs)
  tf.registerGradient({
    kernelName: tf.Conv2D,
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, [x, filter], attrs) => {
      const common = {
        strides: attrs.strides,
        pad: attrs.pad,
        dataFormat: attrs.dataFormat,
        dimRoundingMode: attrs.dimRoundingMode,
      }
      return {
        x: () =>
          runKernel(tf.Conv2DBackpropInput, { dy, filter }, { ...common, inputShape: x.shape }),
        filter: () =>
          runKernel(tf.Conv2DBackpropFilter, { x, dy }, { ...common, filterShape: filter.shape }),
      }
    },
  })
  tf.registerGradient({
    kernelName: tf.Add,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]) => {
      // Sum dy over the axes an input was broadcast along.
      const reduceTo = (shape) => {
        const axes = tf.backend_util.getReductionAxes(shape, dy.shape)
        return tf.reshape(axes.length > 0 ? tf.sum(dy, axes) : dy, shape)
      }
      return { a: () => reduceTo(a.shape), b: () => reduceTo(b.shape) }
    },
  })
  tf.registerGradient({
    kernelName: tf.Relu,
    inputsToSave: ['x'],
    gradFunc: (dy, [x]) => ({ x: () => tf.mul(dy, tf.step(x)) }),
  })
  tf.registerGradient({
    kernelName: tf.MaxPool,
    inputsToSave: ['x'],
    outputsToSave: [true],
    gradFunc: (dy, [x, y], attrs) => ({
      x: () =>
        runKernel(
          tf.MaxPoolGrad,
          { dy, input: x, output: y },
          {
            filterSize: attrs.filterSize,
            strides: attrs.strides,
            pad: attrs.pad,
            dimRoundingMode: attrs.dimRoundingMode,
          },
        ),
    }),
  })
  tf.registerGradient({
    kernelName: tf.Mean,
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => {
      const axes = tf.util.parseAxisParam(attrs.axis, x.shape)
      const count = axes.reduce((n, axis) => n * x.shape[axis], 1)
      const kept = tf.backend_util.expandShapeToKeepDim(dy.shape, axes)
      return { x: () => tf.div(tf.mul(tf.reshape(dy, kept), tf.ones(x.shape)), count) }
    },
  })
}
