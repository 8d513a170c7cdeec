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
import { buildNetwork } from './network'
import { checkTfjsMemory, makeOptimizer, tfjsPrecision, trainStep } from './train'

export type ThroughputResult = BenchResult & { readonly engine: 'tfjs' }

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2
}

export async function measureThroughput(
  config: ExperimentConfig,
  opts: { steps: number; warmup: number },
): Promise<ThroughputResult> {
  const selection = await selectBackend(config.train.backend)
  const { model, train } = config
  const layers = layerTable(model)
  checkTfjsMemory(selection.backend, layers, train, model.inputSize)
  const net = buildNetwork(layers, train.seed)
  const optimizer = makeOptimizer(train)
  const rng = new SeededRandom(train.seed)
  const size = train.batchSize * model.inputSize * model.inputSize * model.inputChannels
  const batch: Batch = {
    x: Float32Array.from({ length: size }, () => rng.next()),
    y: Int32Array.from({ length: train.batchSize }, () => rng.int(model.numClasses)),
    size: train.batchSize,
    index: 0,
  }
  const times: number[] = []
  for (let i = 0; i < opts.warmup + opts.steps; i++) {
    const t0 = performance.now()
    await trainStep(net, optimizer, batch, model.inputSize, model.numClasses, train.weightDecay, i)
    if (i >= opts.warmup) times.push((performance.now() - t0) / 1000)
  }
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
  }
}
