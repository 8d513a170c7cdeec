/**
 * The throughput measurement's result, as both engines print it: one line `RESULT {json}` on
 * stdout (the trainer's `--bench` mode, the Python trainer's `--bench`, and the PyTorch peer
 * benchmark all share this format). Defined once here with its printer and its parser, for the
 * trainer that prints it and the core and benchmarks that read it.
 */
import type { MachineLoad } from './trainer'

export interface BenchResult {
  readonly engine: 'tfjs' | 'torch'
  readonly backend: string
  readonly threads: number | null
  readonly inputSize: number
  readonly batch: number
  readonly params: number
  /** Each timed step, seconds (warm-up steps excluded). */
  readonly stepTimesS: readonly number[]
  readonly medianStepS: number
  /** batch / medianStepS. */
  readonly imgPerS: number
  /** Peak resident set size of the measuring process. */
  readonly peakRssMB: number
  /** PyTorch on CUDA: peak allocated GPU memory. */
  readonly peakGpuMB?: number
  /** PyTorch: the device's name and whether channels-last was used. */
  readonly device?: string
  readonly channelsLast?: boolean
  /** What the engine computed in (train.precision resolved: fp32, bf16, fp16) and why. */
  readonly precision?: string
  readonly precisionReason?: string
  readonly versions?: Readonly<Record<string, string>>
  /** The machine's load as the measurement ended (MachineLoad); absent from older engines. */
  readonly load?: MachineLoad
  /** PyTorch with train.compile on: compiled from the first step, whose wait is compileSeconds. */
  readonly compiled?: boolean
  readonly compileSeconds?: number
  /** …and the median of the same steps uncompiled, interleaved with the compiled ones. */
  readonly eagerMedianStepS?: number
  /** With `--memory`: the peak memory of one prediction and one training step (d2l exercise 4). */
  readonly memory?: BenchMemory
}

/**
 * Peak memory the engine measured at the config's batch size. `source` says what was measured:
 * `tfjs-tensors` — tf.profile's peak of live tensor bytes (weights and optimizer state included,
 * the wasm heap's own slack not); `cuda-allocator` — torch.cuda.max_memory_allocated; `rss` —
 * the process's peak resident memory above what it held before the model was built (PyTorch on
 * the CPU has no allocator statistics), an upper bound that includes the allocator's caching.
 */
export interface BenchMemory {
  readonly source: 'tfjs-tensors' | 'cuda-allocator' | 'rss'
  /** A forward pass of one batch in inference mode (the weights included). */
  readonly predictPeakBytes: number
  /** One training step: forward, backward and the optimizer's update (everything it holds). */
  readonly trainPeakBytes: number
}

const PREFIX = 'RESULT '

export const formatBenchLine = (result: BenchResult): string =>
  `${PREFIX}${JSON.stringify(result)}\n`

export class BenchOutputError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'BenchOutputError'
  }
}

const num = (o: Record<string, unknown>, key: string): number => {
  const v = o[key]
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new BenchOutputError(`the benchmark's result has no valid "${key}" (got ${String(v)})`)
  }
  return v
}

/**
 * The result in a benchmark's stdout: its `RESULT {json}` line, checked field by field (the
 * output comes from another process, possibly another language). `engine` fills in a result
 * that does not name its engine (the PyTorch peer's).
 */
export function parseBenchOutput(stdout: string, engine?: BenchResult['engine']): BenchResult {
  const line = stdout.split('\n').find((l) => l.startsWith(PREFIX))
  if (line === undefined) throw new BenchOutputError('the benchmark printed no RESULT line')
  let raw: unknown
  try {
    raw = JSON.parse(line.slice(PREFIX.length))
  } catch {
    throw new BenchOutputError(`the benchmark's RESULT line is not JSON: ${line.slice(0, 120)}`)
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new BenchOutputError("the benchmark's RESULT is not an object")
  }
  const o = raw as Record<string, unknown>
  const named = o['engine']
  const theEngine = named === 'tfjs' || named === 'torch' ? named : engine
  if (theEngine === undefined) throw new BenchOutputError("the benchmark's RESULT names no engine")
  const times = o['stepTimesS']
  return {
    ...(o as Partial<BenchResult>),
    engine: theEngine,
    backend: typeof o['backend'] === 'string' ? o['backend'] : 'unknown',
    threads: typeof o['threads'] === 'number' ? o['threads'] : null,
    inputSize: num(o, 'inputSize'),
    batch: num(o, 'batch'),
    params: num(o, 'params'),
    stepTimesS: Array.isArray(times) ? times.filter((t): t is number => typeof t === 'number') : [],
    medianStepS: num(o, 'medianStepS'),
    imgPerS: num(o, 'imgPerS'),
    peakRssMB: typeof o['peakRssMB'] === 'number' ? o['peakRssMB'] : 0,
    memory: benchMemory(o['memory']),
    load: benchLoad(o['load']),
  }
}

/** The optional load: two non-negative numbers, else left out (it only annotates). */
function benchLoad(raw: unknown): MachineLoad | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined
  const { loadAvg1, cpus } = raw as Record<string, unknown>
  return typeof loadAvg1 === 'number' && typeof cpus === 'number' && loadAvg1 >= 0 && cpus >= 0
    ? { loadAvg1, cpus }
    : undefined
}

const MEMORY_SOURCES = ['tfjs-tensors', 'cuda-allocator', 'rss'] as const

/** The optional memory block, checked (undefined when absent). */
function benchMemory(raw: unknown): BenchMemory | undefined {
  if (raw === undefined || raw === null) return undefined
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new BenchOutputError("the benchmark's memory is not an object")
  }
  const o = raw as Record<string, unknown>
  const source = o['source']
  if (!(MEMORY_SOURCES as readonly unknown[]).includes(source)) {
    throw new BenchOutputError(`the benchmark's memory.source is unknown (got ${String(source)})`)
  }
  return {
    source: source as BenchMemory['source'],
    predictPeakBytes: num(o, 'predictPeakBytes'),
    trainPeakBytes: num(o, 'trainPeakBytes'),
  }
}
