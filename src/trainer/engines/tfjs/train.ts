/**
 * The TensorFlow.js training loop: d2l's recipe by default (Xavier-uniform init, SGD lr 0.05,
 * batch 128, softmax cross-entropy), with momentum, weight decay and Adam as options.
 *
 * Every random draw is a function of (seed, epoch, step) — the shuffle of an epoch and the
 * dropout masks of a step — so a run resumed from its epoch-end checkpoint continues exactly as
 * the uninterrupted run would have.
 */
import * as tf from '@tensorflow/tfjs-core'
// tfjs-core ships gradients separately from ops; the union package @tensorflow/tfjs imports them.
import 'tfjs-core-gradients'
import { layerTable } from '@shared/architecture'
import type { TrainSpec } from '@shared/config/experiment'
import type {
  MemoryStats,
  SkippedBackend,
  TerminalMessage,
  TrainerJob,
  TrainerMessage,
  Unstamped,
} from '@shared/protocol/trainer'
import { BatchIterator, loadDatasets, stratifiedSubset, type Batch, type Dataset } from '../../data'
import { selectBackend } from './backends'
import { restoreLatestCheckpoint, saveCheckpoint, saveModel } from './checkpoint'
import { buildNetwork, type Network } from './network'
import { checkWasmHeap, heapErrorMessage } from '@shared/wasm-heap'

export type Emit = (message: Unstamped<TrainerMessage>) => void

export interface TrainControl {
  /** True once the parent asked the run to stop (SIGTERM); checked before every step. */
  readonly stopRequested: () => boolean
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

export function makeOptimizer(train: TrainSpec): tf.Optimizer {
  if (train.optimizer === 'adam') return tf.train.adam(train.lr)
  // tfjs' momentum optimizer is v = m·v + g; w -= lr·v — PyTorch's SGD with dampening 0.
  return train.momentum > 0 ? tf.train.momentum(train.lr, train.momentum) : tf.train.sgd(train.lr)
}

export function memoryStats(): MemoryStats {
  const m = tf.memory()
  return { rssBytes: process.memoryUsage().rss, tensorBytes: m.numBytes, tensors: m.numTensors }
}

interface StepResult {
  loss: number
  correct: number
}

/**
 * One optimisation step. The loss is cross-entropy alone; weight decay (PyTorch semantics:
 * grad += wd·w for every parameter) enters as wd/2·Σw² in the minimised cost.
 */
export async function trainStep(
  net: Network,
  optimizer: tf.Optimizer,
  batch: Batch,
  inputSize: number,
  numClasses: number,
  weightDecay: number,
  dropoutSeed: number,
): Promise<StepResult> {
  let loss: tf.Tensor | undefined
  let correct: tf.Tensor | undefined
  tf.tidy(() => {
    const x = tf.tensor4d(batch.x, [batch.size, inputSize, inputSize, 1])
    const labels = tf.tensor1d(batch.y, 'int32')
    const onehot = tf.oneHot(labels, numClasses)
    optimizer.minimize(
      () => {
        const logits = net.forward(x, true, dropoutSeed)
        const ce = tf.losses.softmaxCrossEntropy(onehot, logits) as tf.Scalar
        loss = tf.keep(ce.clone())
        correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32')))
        if (weightDecay <= 0) return ce
        const l2 = tf.addN(net.variables.map((v) => tf.sum(tf.square(v))))
        return tf.add(ce, tf.mul(weightDecay / 2, l2)) as tf.Scalar
      },
      false,
      net.variables,
    )
  })
  if (!loss || !correct) throw new Error('internal: the step produced no loss')
  const [l, c] = await Promise.all([loss.data(), correct.data()])
  loss.dispose()
  correct.dispose()
  return { loss: l[0] ?? Number.NaN, correct: c[0] ?? 0 }
}

export interface Evaluation {
  loss: number
  acc: number
  /** confusion[true][predicted] */
  confusion: number[][]
}

export async function evaluate(
  net: Network,
  data: Dataset,
  batchSize: number,
  inputSize: number,
  numClasses: number,
): Promise<Evaluation> {
  const confusion = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0))
  let lossSum = 0
  let correct = 0
  for (const batch of new BatchIterator(data, { batchSize, inputSize, shuffle: false })) {
    await yieldToEventLoop()
    const [lossT, predT] = tf.tidy(() => {
      const logits = net.forward(tf.tensor4d(batch.x, [batch.size, inputSize, inputSize, 1]), false)
      const onehot = tf.oneHot(tf.tensor1d(batch.y, 'int32'), numClasses)
      const l = tf.losses.softmaxCrossEntropy(
        onehot,
        logits,
        undefined,
        undefined,
        tf.Reduction.SUM,
      )
      return [l, tf.argMax(logits, 1)]
    })
    const [l, p] = await Promise.all([lossT.data(), predT.data()])
    lossT.dispose()
    predT.dispose()
    lossSum += l[0] ?? 0
    for (let i = 0; i < batch.size; i++) {
      const truth = batch.y[i] ?? 0
      const pred = p[i] ?? 0
      const row = confusion[truth]
      if (row) row[pred] = (row[pred] ?? 0) + 1
      if (truth === pred) correct++
    }
  }
  return { loss: lossSum / data.count, acc: correct / data.count, confusion }
}

/** Trains the job's run to completion, cancellation or divergence; returns the final message. */
export async function trainTfjs(
  job: TrainerJob,
  emit: Emit,
  control: TrainControl,
  /** Engines passed over before this one (engine: auto), for the started message. */
  engineSkipped: readonly SkippedBackend[] = [],
): Promise<Unstamped<TerminalMessage>> {
  const { config } = job
  const { model, train } = config
  const selection = await selectBackend(train.backend)
  for (const note of selection.notes) emit({ type: 'log', level: 'info', message: note })

  const layers = layerTable(model)
  if (selection.backend === 'wasm') {
    const heap = checkWasmHeap(layers, train)
    if (!heap.fits) throw new Error(heapErrorMessage(heap, train, model.inputSize))
  }
  const data = await loadDatasets({
    dataset: config.data.dataset,
    path: config.data.path,
    dataDir: job.dataDir,
    log: (message) => emit({ type: 'log', level: 'info', message }),
  })
  const trainSet = stratifiedSubset(data.train, config.data.trainLimit, train.seed)
  const testSet = stratifiedSubset(data.test, config.data.testLimit, train.seed)

  tf.engine().startScope()
  const net = buildNetwork(layers, train.seed)
  const optimizer = makeOptimizer(train)
  try {
    let epoch = 0
    let step = 0
    if (job.resume) {
      const restored = await restoreLatestCheckpoint(job.runDir, net, optimizer)
      if (restored) {
        ;({ epoch, step } = restored)
        emit({
          type: 'log',
          level: 'info',
          message: `resumed from ${restored.path} (epoch ${epoch}, step ${step})`,
        })
      }
    }
    const stepsPerEpoch = Math.ceil(trainSet.count / train.batchSize)
    emit({
      type: 'started',
      engine: 'tfjs',
      backend: selection.backend,
      skipped: [...engineSkipped, ...selection.skipped],
      threads: selection.threads,
      versions: selection.versions,
      params: net.countParams(),
      trainCount: trainSet.count,
      testCount: testSet.count,
      stepsPerEpoch,
      epochs: train.epochs,
      startEpoch: epoch,
      pid: process.pid,
    })

    let last: Evaluation | null = null
    while (epoch < train.epochs) {
      epoch++
      let seconds = 0
      let lossSum = 0
      let correctSum = 0
      let seen = 0
      let stepInEpoch = 0
      for (const batch of new BatchIterator(trainSet, {
        batchSize: train.batchSize,
        inputSize: model.inputSize,
        shuffle: true,
        seed: train.seed,
        epoch,
      })) {
        // On wasm and cpu a whole step resolves through promise microtasks alone, which would
        // starve the event loop: no signal handler, IPC disconnect or timer would ever run.
        await yieldToEventLoop()
        if (control.stopRequested()) return { type: 'cancelled', epoch, step }
        const t0 = performance.now()
        step++
        stepInEpoch++
        const r = await trainStep(
          net,
          optimizer,
          batch,
          model.inputSize,
          model.numClasses,
          train.weightDecay,
          train.seed * 1_000_003 + step,
        )
        const dt = (performance.now() - t0) / 1000
        if (!Number.isFinite(r.loss)) return { type: 'diverged', epoch, step, loss: String(r.loss) }
        seconds += dt
        lossSum += r.loss * batch.size
        correctSum += r.correct
        seen += batch.size
        emit({
          type: 'step',
          epoch,
          step,
          stepInEpoch,
          loss: r.loss,
          acc: r.correct / batch.size,
          examplesPerSec: batch.size / dt,
        })
      }
      last = await evaluate(net, testSet, train.batchSize, model.inputSize, model.numClasses)
      emit({
        type: 'epoch',
        epoch,
        step,
        trainLoss: lossSum / seen,
        trainAcc: correctSum / seen,
        testLoss: last.loss,
        testAcc: last.acc,
        seconds,
        examplesPerSec: seen / seconds,
        memory: memoryStats(),
      })
      const path = await saveCheckpoint(job.runDir, { epoch, step }, net, optimizer)
      emit({ type: 'checkpoint', epoch, step, path })
    }
    // A run resumed after its last epoch has no evaluation yet: do it now.
    last ??= await evaluate(net, testSet, train.batchSize, model.inputSize, model.numClasses)
    const modelPath = await saveModel(job.runDir, net, layers, config)
    return {
      type: 'finished',
      epochs: epoch,
      testAcc: last.acc,
      classNames: data.train.classNames,
      perClassAccuracy: last.confusion.map((row, i) => {
        const total = row.reduce((a, b) => a + b, 0)
        return total === 0 ? 0 : (row[i] ?? 0) / total
      }),
      confusion: last.confusion,
      modelPath,
    }
  } finally {
    optimizer.dispose()
    tf.engine().endScope()
  }
}
