/**
 * Training throughput of one config on the backend the trainer would pick: the median time of
 * real training steps (the trainer's own `trainStep`) on random images, after warm-up steps that
 * compile kernels and size the heap. Random data leaves data loading out, as the plain PyTorch
 * peer that `npm run bench` runs beside it ($NIN_LAB_PEER) does, so the numbers compare like
 * with like.
 */
import { layerTable } from '@shared/architecture'
import type { ExperimentConfig } from '@shared/config/experiment'
import type { BenchResult } from '@shared/protocol/bench'
import { SeededRandom } from '@shared/random'
import type { Batch } from '../../data'
import { selectBackend } from './backends'
import * as tf from '@tensorflow/tfjs-core'
import { buildNetwork, type Network } from './network'
import { checkTfjsMemory, machineLoad, makeOptimizer, tfjsPrecision, trainStep } from './train'

export type ThroughputResult = BenchResult & { readonly engine: 'tfjs' }

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2
}

/** A batch of random images at the config's size, and random labels. */
function batchOf(config: ExperimentConfig): Batch {
  const { model, train } = config
  const rng = new SeededRandom(train.seed)
  const size = train.batchSize * model.inputSize * model.inputSize * model.inputChannels
  return {
    x: Float32Array.from({ length: size }, () => rng.next()),
    y: Int32Array.from({ length: train.batchSize }, () => rng.int(model.numClasses)),
    size: train.batchSize,
    index: 0,
  }
}

/** The most tensor bytes alive at once while `fn` runs (tf.profile; weights included). */
async function peakBytes(fn: () => unknown): Promise<number> {
  const info = await tf.profile(async () => {
    await fn()
  })
  return info.peakBytes
}

/** One inference-mode forward pass of a batch, its tensors freed. */
function predictOnce(net: Network, config: ExperimentConfig): void {
  const { inputSize, inputChannels } = config.model
  const batch = batchOf(config)
  tf.tidy(() => {
    const x = tf.tensor4d(batch.x, [batch.size, inputSize, inputSize, inputChannels])
    net.forward(x, false).dataSync()
  })
}

export async function measureThroughput(
  config: ExperimentConfig,
  opts: { steps: number; warmup: number; memory?: boolean },
): Promise<ThroughputResult> {
  const selection = await selectBackend(config.train.backend)
  const { model, train } = config
  const layers = layerTable(model)
  checkTfjsMemory(selection.backend, layers, train, model.inputSize)
  const net = buildNetwork(layers, train.seed)
  const predictPeak = opts.memory ? await peakBytes(() => predictOnce(net, config)) : 0
  const optimizer = makeOptimizer(train)
  const batch = batchOf(config)
  const times: number[] = []
  for (let i = 0; i < opts.warmup + opts.steps; i++) {
    const t0 = performance.now()
    await trainStep(net, optimizer, batch, model.inputSize, model.numClasses, train.weightDecay, i)
    if (i >= opts.warmup) times.push((performance.now() - t0) / 1000)
  }
  // After the timed steps, so the optimizer's state exists already, as in every later step.
  const trainPeak = opts.memory
    ? await peakBytes(() =>
        trainStep(net, optimizer, batch, model.inputSize, model.numClasses, train.weightDecay, 0),
      )
    : 0
  const params = net.countParams()
  optimizer.dispose()
  net.dispose()
  const med = median(times)
  const precision = tfjsPrecision(train.precision)
  return {
    engine: 'tfjs',
    backend: selection.backend,
    threads: selection.threads,
    precision: precision.precision,
    precisionReason: precision.reason,
    inputSize: model.inputSize,
    batch: train.batchSize,
    params,
    stepTimesS: times.map((t) => Math.round(t * 1000) / 1000),
    medianStepS: Math.round(med * 1000) / 1000,
    imgPerS: Math.round((train.batchSize / med) * 100) / 100,
    // maxRSS is in kilobytes.
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    load: machineLoad(),
    ...(opts.memory
      ? {
          memory: {
            source: 'tfjs-tensors' as const,
            predictPeakBytes: predictPeak,
            trainPeakBytes: trainPeak,
          },
        }
      : {}),
  }
}
