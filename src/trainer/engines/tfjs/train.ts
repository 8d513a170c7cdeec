/**
 * The TensorFlow.js training loop: d2l's recipe by default (Xavier-uniform init, SGD lr 0.05,
 * batch 128, softmax cross-entropy), with momentum, weight decay and Adam as options.
 *
 * Every random draw is a function of (seed, epoch, step) — the shuffle of an epoch and the
 * dropout masks of a step — so a run resumed from its epoch-end checkpoint continues exactly as
 * the uninterrupted run would have.
 */
import { availableParallelism, loadavg } from 'node:os'
import * as tf from '@tensorflow/tfjs-core'
// tfjs-core ships gradients separately from ops; the union package @tensorflow/tfjs imports them.
import 'tfjs-core-gradients'
import { layerTable } from '@shared/architecture'
import type { Precision, TrainSpec } from '@shared/config/experiment'
import { ENGINE_MEMORY_MODELS } from '@shared/memory-fit'
import type {
  MachineLoad,
  MemoryStats,
  SkippedBackend,
  TerminalMessage,
  TfjsBackendName,
  TrainerJob,
  TrainerMessage,
  Unstamped,
} from '@shared/protocol/trainer'
import {
  BatchIterator,
  checkDatasetFits,
  dataOptionsFor,
  loadDatasets,
  stratifiedSubset,
  type Batch,
  type ChannelStats,
  type Dataset,
} from '../../data'
import { CANCELLED_BEFORE_START, loadUnlessStopped, type Emit, type TrainControl } from '../control'
import { ramLimit, refuseIfTooBig } from '../memory'
import { selectBackend } from './backends'
import { restoreLatestCheckpoint, saveCheckpoint, saveModel } from './checkpoint'
import { buildNetwork, type Network } from './network'
import { WASM_HEAP_LIMIT } from '@shared/wasm-heap'

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * TensorFlow.js trains in fp32 on every backend here (wasm and cpu have no bf16 kernels; tfjs
 * exposes no mixed precision), so `train.precision` resolves to fp32 and the reason says what
 * was asked. The started message records it like the torch engine's choice.
 */
export function tfjsPrecision(asked: Precision): { precision: 'fp32'; reason: string } {
  if (asked === 'fp32') return { precision: 'fp32', reason: 'fp32, as asked' }
  if (asked === 'auto') return { precision: 'fp32', reason: 'auto: TensorFlow.js trains in fp32' }
  return {
    precision: 'fp32',
    reason: `train.precision ${asked} is not available on TensorFlow.js, which trains in fp32 only: training in fp32 (the torch engine has ${asked})`,
  }
}

/** A batch as an NHWC tensor; its channels follow from its length. */
const batchTensor = (batch: Batch, inputSize: number): tf.Tensor4D =>
  tf.tensor4d(batch.x, [
    batch.size,
    inputSize,
    inputSize,
    batch.x.length / (batch.size * inputSize * inputSize),
  ])

export function makeOptimizer(train: TrainSpec): tf.Optimizer {
  if (train.optimizer === 'adam') return tf.train.adam(train.lr)
  // tfjs' momentum optimizer is v = m·v + g; w -= lr·v — PyTorch's SGD with dampening 0.
  return train.momentum > 0 ? tf.train.momentum(train.lr, train.momentum) : tf.train.sgd(train.lr)
}

/**
 * Refuses, before anything is allocated, a run whose step will not fit where this backend
 * trains (src/shared/memory-fit.ts): the wasm heap and the RAM on wasm, the RAM on tfjs-node and
 * cpu. Returns a note when the memory cannot be checked: tfjs-node-gpu has no cheap query of
 * free GPU memory (TensorFlow's allocator takes it when the first kernel runs).
 */
export function checkTfjsMemory(
  backend: TfjsBackendName,
  layers: ReturnType<typeof layerTable>,
  train: TrainSpec,
  inputSize: number,
): string | null {
  if (backend === 'tfjs-node-gpu')
    return 'GPU memory is not checked before a tfjs-node-gpu run: TensorFlow.js has no cheap query of it'
  const fp32 = { ...train, precision: 'fp32' as const } // whatever is asked (tfjsPrecision)
  if (backend === 'wasm')
    refuseIfTooBig(layers, fp32, inputSize, ENGINE_MEMORY_MODELS.wasm, [
      WASM_HEAP_LIMIT,
      ramLimit(),
    ])
  else refuseIfTooBig(layers, fp32, inputSize, ENGINE_MEMORY_MODELS.tfjs, [ramLimit()])
  return null
}

/** The machine's load now, for the epoch message (see MachineLoad). */
export function machineLoad(): MachineLoad {
  return { loadAvg1: loadavg()[0] ?? 0, cpus: availableParallelism() }
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
    const x = batchTensor(batch, inputSize)
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
  normalize: ChannelStats | null = null,
): Promise<Evaluation> {
  const confusion = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0))
  let lossSum = 0
  let correct = 0
  for (const batch of new BatchIterator(data, {
    batchSize,
    inputSize,
    shuffle: false,
    normalize,
  })) {
    await yieldToEventLoop()
    const [lossT, predT] = tf.tidy(() => {
      const logits = net.forward(batchTensor(batch, inputSize), false)
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
  const precision = tfjsPrecision(train.precision)
  emit({
    type: 'log',
    level: train.precision === 'bf16' || train.precision === 'fp16' ? 'warn' : 'info',
    message: `precision ${precision.precision}: ${precision.reason}`,
  })

  const layers = layerTable(model)
  const unchecked = checkTfjsMemory(selection.backend, layers, train, model.inputSize)
  if (unchecked) emit({ type: 'log', level: 'info', message: unchecked })
  const loaded = await loadRunData(job, emit, control)
  if (loaded === null) return CANCELLED_BEFORE_START
  const { data, trainSet, testSet } = loaded

  tf.engine().startScope()
  const net = buildNetwork(layers, train.seed)
  const optimizer = makeOptimizer(train)
  try {
    const run: TfjsRun = {
      net,
      optimizer,
      trainSet,
      testSet,
      train,
      inputSize: model.inputSize,
      numClasses: model.numClasses,
      normalize: config.data.normalize === 'channel' ? data.stats : null,
      augment: { cropPadding: config.data.cropPadding, hflip: config.data.hflip },
      emit,
      control,
    }
    let { epoch, step } = await resumePoint(job, run)
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
      stepsPerEpoch: Math.ceil(trainSet.count / train.batchSize),
      epochs: train.epochs,
      startEpoch: epoch,
      pid: process.pid,
      precision: precision.precision,
      precisionReason: precision.reason,
    })

    let last: Evaluation | null = null
    while (epoch < train.epochs) {
      epoch++
      const done = await trainEpoch(run, epoch, step)
      if ('type' in done) return done
      step = done.step
      last = await evaluateTestSet(run)
      emit(epochMessage(epoch, step, done.totals, last))
      const path = await saveCheckpoint(job.runDir, { epoch, step }, net, optimizer)
      emit({ type: 'checkpoint', epoch, step, path })
    }
    // A run resumed after its last epoch has no evaluation yet: do it now.
    last ??= await evaluateTestSet(run)
    const modelPath = await saveModel(job.runDir, net, layers, config, epoch)
    return finishedMessage(epoch, last, data.train.classNames, modelPath)
  } finally {
    optimizer.dispose()
    tf.engine().endScope()
  }
}

/** The run's datasets, checked against the model and cut to its limits; null if stopped first. */
async function loadRunData(
  job: TrainerJob,
  emit: Emit,
  control: TrainControl,
): Promise<{ data: LoadedData; trainSet: Dataset; testSet: Dataset } | null> {
  const { config } = job
  const data = await loadUnlessStopped(control, (signal) =>
    loadDatasets({
      ...dataOptionsFor(config),
      dataDir: job.dataDir,
      log: (message) => emit({ type: 'log', level: 'info', message }),
      signal,
    }),
  )
  if (data === null) return null
  checkDatasetFits(data.train, config.model, `data.path ${config.data.path ?? '(embedded)'}`)
  const { seed } = config.train
  const trainSet = stratifiedSubset(data.train, config.data.trainLimit, seed)
  const testSet = stratifiedSubset(data.test, config.data.testLimit, seed)
  return { data, trainSet, testSet }
}

type LoadedData = Awaited<ReturnType<typeof loadDatasets>>

/** What every epoch of a run uses. */
interface TfjsRun {
  readonly net: Network
  readonly optimizer: tf.Optimizer
  readonly trainSet: Dataset
  readonly testSet: Dataset
  readonly train: TrainSpec
  readonly inputSize: number
  readonly numClasses: number
  readonly normalize: ChannelStats | null
  readonly augment: { readonly cropPadding: number; readonly hflip: boolean }
  readonly emit: Emit
  readonly control: TrainControl
}

/** What one epoch's steps add up to, for its `epoch` message. */
interface EpochTotals {
  seconds: number
  lossSum: number
  correctSum: number
  seen: number
}

/** Where a run starts: after its latest sound checkpoint when resumed, else at the beginning. */
async function resumePoint(
  job: TrainerJob,
  run: TfjsRun,
): Promise<{ epoch: number; step: number }> {
  if (!job.resume) return { epoch: 0, step: 0 }
  const restored = await restoreLatestCheckpoint(job.runDir, run.net, run.optimizer, (message) =>
    run.emit({ type: 'log', level: 'warn', message }),
  )
  if (!restored) return { epoch: 0, step: 0 }
  const { epoch, step } = restored
  run.emit({
    type: 'log',
    level: 'info',
    message: `resumed from ${restored.path} (epoch ${epoch}, step ${step})`,
  })
  return { epoch, step }
}

/**
 * One epoch's steps, each emitted; the totals and the last step's number, or the terminal
 * message of a run cancelled or diverged on the way.
 */
async function trainEpoch(
  run: TfjsRun,
  epoch: number,
  stepBefore: number,
): Promise<{ step: number; totals: EpochTotals } | Unstamped<TerminalMessage>> {
  const { train } = run
  const totals: EpochTotals = { seconds: 0, lossSum: 0, correctSum: 0, seen: 0 }
  let step = stepBefore
  let stepInEpoch = 0
  for (const batch of new BatchIterator(run.trainSet, {
    batchSize: train.batchSize,
    inputSize: run.inputSize,
    shuffle: true,
    seed: train.seed,
    epoch,
    normalize: run.normalize,
    augment: run.augment,
  })) {
    // On wasm and cpu a whole step resolves through promise microtasks alone, which would
    // starve the event loop: no signal handler, IPC disconnect or timer would ever run.
    await yieldToEventLoop()
    if (run.control.stopRequested()) return { type: 'cancelled', epoch, step }
    const t0 = performance.now()
    step++
    stepInEpoch++
    const r = await trainStep(
      run.net,
      run.optimizer,
      batch,
      run.inputSize,
      run.numClasses,
      train.weightDecay,
      train.seed * 1_000_003 + step,
    )
    const dt = (performance.now() - t0) / 1000
    if (!Number.isFinite(r.loss)) return { type: 'diverged', epoch, step, loss: String(r.loss) }
    totals.seconds += dt
    totals.lossSum += r.loss * batch.size
    totals.correctSum += r.correct
    totals.seen += batch.size
    run.emit({
      type: 'step',
      epoch,
      step,
      stepInEpoch,
      loss: r.loss,
      acc: r.correct / batch.size,
      examplesPerSec: batch.size / dt,
    })
  }
  return { step, totals }
}

const evaluateTestSet = (run: TfjsRun): Promise<Evaluation> =>
  evaluate(run.net, run.testSet, run.train.batchSize, run.inputSize, run.numClasses, run.normalize)

function epochMessage(
  epoch: number,
  step: number,
  totals: EpochTotals,
  test: Evaluation,
): Unstamped<Extract<TrainerMessage, { type: 'epoch' }>> {
  return {
    type: 'epoch',
    epoch,
    step,
    trainLoss: totals.lossSum / totals.seen,
    trainAcc: totals.correctSum / totals.seen,
    testLoss: test.loss,
    testAcc: test.acc,
    seconds: totals.seconds,
    examplesPerSec: totals.seen / totals.seconds,
    memory: memoryStats(),
    load: machineLoad(),
  }
}

function finishedMessage(
  epochs: number,
  last: Evaluation,
  classNames: readonly string[],
  modelPath: string,
): Unstamped<TerminalMessage> {
  return {
    type: 'finished',
    epochs,
    testAcc: last.acc,
    classNames,
    perClassAccuracy: last.confusion.map((row, i) => {
      const total = row.reduce((a, b) => a + b, 0)
      return total === 0 ? 0 : (row[i] ?? 0) / total
    }),
    confusion: last.confusion,
    modelPath,
  }
}
