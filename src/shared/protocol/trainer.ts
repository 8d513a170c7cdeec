/**
 * What crosses the boundary between a trainer process (one per run, any engine) and its parent
 * (the `nin-lab run` command, later the scheduler). One typed message stream: the parent writes
 * each message to the run's log as is and derives metric points from it with `metricPoints`, so
 * a run's history can be rebuilt from its messages alone.
 */
import { PRECISIONS, type ExperimentConfig, type ResolvedPrecision } from '../config/experiment'
import type { RunStatus } from '../run-state'

/** TensorFlow.js backends, fastest first (the ladder `train.backend: "auto"` walks). */
export const TFJS_BACKEND_LADDER = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] as const
export type TfjsBackendName = (typeof TFJS_BACKEND_LADDER)[number]

/** The work a trainer process is given (as a JSON file, `--job PATH`). */
export interface TrainerJob {
  readonly runId: string
  readonly config: ExperimentConfig
  /** Holds dataset caches (datasets/). */
  readonly dataDir: string
  /** The run's own folder: checkpoints/, model/, messages.jsonl. */
  readonly runDir: string
  /** Continue from the newest sound checkpoint in runDir (its SHA256SUMS verified), if any. */
  readonly resume: boolean
}

export interface SkippedBackend {
  readonly backend: string
  readonly reason: string
}

export interface MemoryStats {
  /** Resident set size of the trainer process. */
  readonly rssBytes: number
  /** Bytes held by the framework's live tensors. */
  readonly tensorBytes: number
  readonly tensors: number
}

/**
 * The machine's load when an epoch ended: the 1-minute load average (runnable processes,
 * `os.loadavg()[0]` / Python's `os.getloadavg()[0]`) and the CPU count. Wall-clock epoch times
 * measured in different sittings depend on what else the machine ran; this says how busy it was,
 * so a slow epoch can be told from a slow variant. (Windows has no load average: 0.)
 */
export interface MachineLoad {
  readonly loadAvg1: number
  readonly cpus: number
}

interface Base {
  readonly runId: string
  /** Unix time in milliseconds. */
  readonly time: number
}

export interface StartedMessage extends Base {
  readonly type: 'started'
  readonly engine: 'tfjs' | 'torch'
  readonly backend: string
  /** Why each faster backend was not used. */
  readonly skipped: readonly SkippedBackend[]
  readonly threads: number | null
  readonly versions: Readonly<Record<string, string>>
  readonly params: number
  readonly trainCount: number
  readonly testCount: number
  readonly stepsPerEpoch: number
  readonly epochs: number
  /** The checkpoint epoch training continues after, or 0 for a fresh start. */
  readonly startEpoch: number
  readonly pid: number
  /**
   * What the run computes in (train.precision resolved on this device) and why. Every trainer
   * of this version sends both; a trainer from before train.precision sent neither (fp32).
   */
  readonly precision?: ResolvedPrecision
  readonly precisionReason?: string
}

export interface StepMessage extends Base {
  readonly type: 'step'
  readonly epoch: number
  /** Global step, counting from 1 over the whole run. */
  readonly step: number
  /** Step within the epoch, from 1 to stepsPerEpoch. */
  readonly stepInEpoch: number
  readonly loss: number
  readonly acc: number
  readonly examplesPerSec: number
}

export interface EpochMessage extends Base {
  readonly type: 'epoch'
  readonly epoch: number
  readonly step: number
  readonly trainLoss: number
  readonly trainAcc: number
  readonly testLoss: number
  readonly testAcc: number
  /** Seconds spent in training steps this epoch (evaluation excluded). */
  readonly seconds: number
  /** Training examples / seconds. */
  readonly examplesPerSec: number
  readonly memory: MemoryStats
  /** The machine's load as the epoch ended; absent from trainers before it was recorded. */
  readonly load?: MachineLoad
  /**
   * Seconds this epoch waited for torch.compile (`train.compile`): its first compiled training
   * step's and evaluation batch's excess over uncompiled ones. Kept out of `seconds`, so
   * `examplesPerSec` is the compiled speed; absent when the run is not compiled.
   */
  readonly compileSeconds?: number
}

/** One row of a run's epoch table: its `epoch` message without the memory detail. */
export type EpochSummary = Pick<
  EpochMessage,
  | 'epoch'
  | 'trainLoss'
  | 'trainAcc'
  | 'testLoss'
  | 'testAcc'
  | 'seconds'
  | 'examplesPerSec'
  | 'load'
  | 'compileSeconds'
>

export const epochSummary = (m: EpochMessage): EpochSummary => ({
  epoch: m.epoch,
  trainLoss: m.trainLoss,
  trainAcc: m.trainAcc,
  testLoss: m.testLoss,
  testAcc: m.testAcc,
  seconds: m.seconds,
  examplesPerSec: m.examplesPerSec,
  ...(m.load ? { load: m.load } : {}),
  ...(m.compileSeconds !== undefined ? { compileSeconds: m.compileSeconds } : {}),
})

export interface CheckpointMessage extends Base {
  readonly type: 'checkpoint'
  readonly epoch: number
  readonly step: number
  readonly path: string
}

export interface LogMessage extends Base {
  readonly type: 'log'
  readonly level: 'info' | 'warn'
  readonly message: string
}

export interface FinishedMessage extends Base {
  readonly type: 'finished'
  readonly epochs: number
  readonly testAcc: number
  readonly classNames: readonly string[]
  /** Test accuracy of each class, in class order. */
  readonly perClassAccuracy: readonly number[]
  /** confusion[true][predicted] counts on the test set. */
  readonly confusion: readonly (readonly number[])[]
  readonly modelPath: string
}

export interface FailedMessage extends Base {
  readonly type: 'failed'
  readonly error: string
}

export interface DivergedMessage extends Base {
  readonly type: 'diverged'
  readonly epoch: number
  readonly step: number
  /** "NaN", "Infinity" or "-Infinity": JSON cannot carry these as numbers. */
  readonly loss: string
}

export interface CancelledMessage extends Base {
  readonly type: 'cancelled'
  readonly epoch: number
  readonly step: number
}

export type TrainerMessage =
  | StartedMessage
  | StepMessage
  | EpochMessage
  | CheckpointMessage
  | LogMessage
  | FinishedMessage
  | FailedMessage
  | DivergedMessage
  | CancelledMessage

/** A message before the channel stamps it with the run id and the time. */
export type Unstamped<T extends TrainerMessage> = T extends unknown
  ? Omit<T, 'runId' | 'time'>
  : never

export type TerminalMessage = FinishedMessage | FailedMessage | DivergedMessage | CancelledMessage

export const isTerminal = (m: TrainerMessage): m is TerminalMessage =>
  m.type === 'finished' || m.type === 'failed' || m.type === 'diverged' || m.type === 'cancelled'

/** The run status a terminal message leaves the run in. */
export const statusAfter = (m: TerminalMessage): RunStatus =>
  m.type === 'finished' ? 'completed' : m.type === 'cancelled' ? 'cancelled' : m.type

// --- the structural check where messages enter the core -----------------------------------

type FieldType = 'number' | 'string' | 'array' | 'object'

/**
 * The fields each message type must carry, by JSON type. Numbers may arrive as null: JSON (and
 * Node's IPC) turn NaN and ±Infinity into null, and a diverging run does report a NaN loss.
 */
const MESSAGE_FIELDS: {
  readonly [T in TrainerMessage['type']]: Readonly<Record<string, FieldType>>
} = {
  started: {
    engine: 'string',
    backend: 'string',
    skipped: 'array',
    versions: 'object',
    params: 'number',
    trainCount: 'number',
    testCount: 'number',
    stepsPerEpoch: 'number',
    epochs: 'number',
    startEpoch: 'number',
    pid: 'number',
  },
  step: {
    epoch: 'number',
    step: 'number',
    stepInEpoch: 'number',
    loss: 'number',
    acc: 'number',
    examplesPerSec: 'number',
  },
  epoch: {
    epoch: 'number',
    step: 'number',
    trainLoss: 'number',
    trainAcc: 'number',
    testLoss: 'number',
    testAcc: 'number',
    seconds: 'number',
    examplesPerSec: 'number',
    memory: 'object',
  },
  checkpoint: { epoch: 'number', step: 'number', path: 'string' },
  log: { level: 'string', message: 'string' },
  finished: {
    epochs: 'number',
    testAcc: 'number',
    classNames: 'array',
    perClassAccuracy: 'array',
    confusion: 'array',
    modelPath: 'string',
  },
  failed: { error: 'string' },
  diverged: { epoch: 'number', step: 'number', loss: 'string' },
  cancelled: { epoch: 'number', step: 'number' },
}

/** The largest message the core accepts from a trainer (a finished message with a 100-class
 * confusion matrix is ≈ 60 KB). */
export const MAX_MESSAGE_BYTES = 1 << 20

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ProtocolError'
  }
}

const typeOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v)

/**
 * A cheap structural check of a message from another process (a trainer, the Python engine, a
 * remote worker): its type is known, it names the expected run, and each field the type needs
 * is there with the right JSON type. It does not deep-check arrays; the store only reads them.
 * Throws ProtocolError saying what is wrong.
 */
export function checkTrainerMessage(raw: unknown, expectedRunId?: string): TrainerMessage {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ProtocolError(`a trainer message must be an object (got ${typeOf(raw)})`)
  }
  const m = raw as Record<string, unknown>
  const type = m['type']
  if (typeof type !== 'string' || !Object.hasOwn(MESSAGE_FIELDS, type)) {
    throw new ProtocolError(`unknown trainer message type ${JSON.stringify(type)?.slice(0, 40)}`)
  }
  if (typeof m['runId'] !== 'string') throw new ProtocolError(`a ${type} message has no runId`)
  if (expectedRunId !== undefined && m['runId'] !== expectedRunId) {
    throw new ProtocolError(
      `a ${type} message names run ${String(m['runId']).slice(0, 40)}, not ${expectedRunId}`,
    )
  }
  if (typeof m['time'] !== 'number' || !Number.isFinite(m['time']))
    throw new ProtocolError(`a ${type} message has no valid time`)
  for (const [key, want] of Object.entries(MESSAGE_FIELDS[type as TrainerMessage['type']])) {
    const got = typeOf(m[key])
    if (got !== want && !(want === 'number' && got === 'null')) {
      throw new ProtocolError(`a ${type} message's ${key} must be a ${want} (got ${got})`)
    }
  }
  if (type === 'started') checkPrecision(m)
  if (type === 'epoch') {
    checkLoad(m)
    checkCompileSeconds(m)
  }
  if (type === 'log') return { ...m, message: truncateText(m['message'] as string) } as LogMessage
  if (type === 'failed') return { ...m, error: truncateText(m['error'] as string) } as FailedMessage
  return m as unknown as TrainerMessage
}

/** The longest log line or error kept whole; the rest is cut, with a marker saying how much. */
export const MAX_TEXT_CHARS = 10_000

/** `text` at most MAX_TEXT_CHARS long (plus the marker), never split inside a surrogate pair. */
export function truncateText(text: string, max = MAX_TEXT_CHARS): string {
  if (text.length <= max) return text
  const cut = /[\uD800-\uDBFF]/.test(text.charAt(max - 1)) ? max - 1 : max
  return `${text.slice(0, cut)} … [truncated: ${text.length - cut} more characters]`
}

/** The started message's optional precision fields: absent (an older trainer), or well-formed. */
function checkPrecision(m: Record<string, unknown>): void {
  const precision = m['precision']
  if (
    precision !== undefined &&
    (precision === 'auto' || !(PRECISIONS as readonly unknown[]).includes(precision))
  ) {
    throw new ProtocolError(
      `a started message's precision must be fp32, bf16 or fp16 (got ${JSON.stringify(precision)?.slice(0, 20)})`,
    )
  }
  const reason = m['precisionReason']
  if (reason !== undefined && typeof reason !== 'string') {
    throw new ProtocolError(
      `a started message's precisionReason must be a string (got ${typeOf(reason)})`,
    )
  }
}

/** The epoch message's optional compileSeconds: absent, or a finite number of at least 0. */
function checkCompileSeconds(m: Record<string, unknown>): void {
  const s = m['compileSeconds']
  if (s === undefined) return
  if (typeof s !== 'number' || !Number.isFinite(s) || s < 0) {
    throw new ProtocolError(
      `an epoch message's compileSeconds must be a number of at least 0 (got ${JSON.stringify(s)?.slice(0, 20)})`,
    )
  }
}

/** The epoch message's optional load: absent (an older trainer), or two finite numbers. */
function checkLoad(m: Record<string, unknown>): void {
  const load = m['load']
  if (load === undefined) return
  const o = typeof load === 'object' && load !== null ? (load as Record<string, unknown>) : null
  const ok = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0
  if (o === null || Array.isArray(load) || !ok(o['loadAvg1']) || !ok(o['cpus'])) {
    throw new ProtocolError(
      "an epoch message's load must be { loadAvg1, cpus }, two numbers of at least 0",
    )
  }
}
