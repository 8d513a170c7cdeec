/**
 * What crosses Redis between the head (the data folder that holds nin-lab.db) and remote
 * workers (`nin-lab worker`), through BullMQ queues — see docs/scale-out.md:
 *
 *   head ──RunJob──▶ queue "runs" ──▶ a worker (one BullMQ job per attempt of a run)
 *   head ◀──Report── queue "reports" ◀── every worker (in order: messages, files, the outcome)
 *
 * plus two kinds of plain keys: each run's current attempt (the head writes it; a worker stops a
 * run whose attempt is no longer current, e.g. cancelled or re-dispatched), and each worker's
 * heartbeat (the worker writes it with a TTL; the head reads the fleet from it).
 *
 * The head trusts nothing a worker sends: every report is checked here structurally, every
 * trainer message by checkTrainerMessage, every file name against the run's folder, and the
 * attempt against the run's current one (fencing) before anything is stored.
 */
import type { GpuInfo } from '../api/types'
import type { ExperimentConfig } from '../config/experiment'
import { checkTrainerMessage, type TrainerMessage } from './trainer'

/** BullMQ queue names (under the key prefix `nin-lab`). */
export const RUNS_QUEUE = 'runs'
export const REPORTS_QUEUE = 'reports'
export const KEY_PREFIX = 'nin-lab'

export const attemptKey = (runId: string): string => `${KEY_PREFIX}:attempt:${runId}`
export const workerKey = (name: string): string => `${KEY_PREFIX}:worker:${name}`
export const WORKER_KEY_PATTERN = `${KEY_PREFIX}:worker:*`
/** A run's attempt key holds this instead of a number once the run is cancelled. */
export const CANCELLED = 'cancelled'

/** How often a worker beats, and how long the head waits before it presumes the worker dead. */
export const HEARTBEAT_MS = 2000
export const HEARTBEAT_TTL_MS = 10_000

/** Largest file a report may carry (a checkpoint of the d2l NiN with Adam state is ≈ 24 MB). */
export const MAX_FILE_BYTES = 256 * 1024 * 1024
/** Most trainer messages in one `messages` report. */
export const MAX_MESSAGES_PER_REPORT = 10_000

/** One file of a checkpoint or model folder, relative to the run's folder. */
export interface ShippedFile {
  /** e.g. `checkpoints/epoch-0003/model.pt`: forward slashes, no `..`, not absolute. */
  readonly path: string
  readonly base64: string
  /** sha256 of the bytes, hex: checked by the receiver. */
  readonly sha256: string
}

/** The head's job for a worker: train one attempt of one run. */
export interface RunJob {
  readonly runId: string
  /** The attempt's fencing token: every report about this run carries it. */
  readonly attempt: number
  readonly config: ExperimentConfig
  /** The latest checkpoint the head holds (and the one before it), to resume from. */
  readonly checkpoint: readonly ShippedFile[]
  /** Resume from the checkpoint (false: a fresh start). */
  readonly resume: boolean
}

interface ReportBase {
  readonly runId: string
  readonly attempt: number
  /** The worker's name, as it registered, and the machine it runs on. */
  readonly worker: string
  readonly host: string
  /** The trainer's process id on that machine. */
  readonly pid: number
  /** The GPU the run trains on there (null: CPU). */
  readonly gpu: GpuInfo | null
}

/** Trainer messages, in the order the trainer sent them. */
export interface MessagesReport extends ReportBase {
  readonly kind: 'messages'
  readonly messages: readonly TrainerMessage[]
}

/** A checkpoint or the final model, sent before the message that names it. */
export interface FilesReport extends ReportBase {
  readonly kind: 'files'
  readonly files: readonly ShippedFile[]
}

/**
 * The attempt ended without a final trainer message: `handback` when the worker stopped it on
 * purpose (draining, or the attempt was no longer current), `crash` when its trainer died.
 */
export interface EndReport extends ReportBase {
  readonly kind: 'handback' | 'crash'
  readonly reason: string
}

export type Report = MessagesReport | FilesReport | EndReport

/** What a worker tells the fleet every HEARTBEAT_MS. */
export interface WorkerBeat {
  readonly name: string
  readonly host: string
  readonly pid: number
  readonly slots: number
  readonly gpus: readonly GpuInfo[]
  /** The runs it trains now. */
  readonly running: readonly string[]
  /** What `engine: auto` picks there, e.g. "torch cuda", "tfjs wasm". */
  readonly offers: string
  readonly version: string
  readonly startedAt: number
  readonly beatAt: number
  /** Draining (SIGTERM): it takes no new runs. */
  readonly draining: boolean
}

export class ReportError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ReportError'
  }
}

const RUN_ID = /^[\w-]{1,64}$/
const WORKER_NAME = /^[\w.@:-]{1,100}$/

/** A safe relative path inside a run's folder: what a worker may write there, and only that. */
export function isSafeRelativePath(path: string): boolean {
  if (path.length === 0 || path.length > 300 || path.includes('\0') || path.includes('\\'))
    return false
  if (path.startsWith('/')) return false
  const parts = path.split('/')
  return parts.every((p) => p !== '' && p !== '.' && p !== '..')
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

function checkFiles(v: unknown, what: string): ShippedFile[] {
  if (!Array.isArray(v) || v.length > 1000) throw new ReportError(`${what}: files must be a list`)
  return v.map((f, i) => {
    if (
      !isRecord(f) ||
      typeof f['path'] !== 'string' ||
      typeof f['base64'] !== 'string' ||
      typeof f['sha256'] !== 'string' ||
      !/^[0-9a-f]{64}$/.test(f['sha256'])
    ) {
      throw new ReportError(`${what}: file ${i} must be { path, base64, sha256 }`)
    }
    if (!isSafeRelativePath(f['path'])) {
      throw new ReportError(
        `${what}: file path ${JSON.stringify(f['path']).slice(0, 80)} leaves the run's folder`,
      )
    }
    if (f['base64'].length > Math.ceil(MAX_FILE_BYTES / 3) * 4) {
      throw new ReportError(`${what}: file ${f['path']} is larger than ${MAX_FILE_BYTES} bytes`)
    }
    return { path: f['path'], base64: f['base64'], sha256: f['sha256'] }
  })
}

function checkGpu(v: unknown): GpuInfo | null {
  if (!isRecord(v)) return null
  const { index, name, memoryMB } = v
  return Number.isInteger(index) && typeof name === 'string' && typeof memoryMB === 'number'
    ? { index: index as number, name: name.slice(0, 200), memoryMB }
    : null
}

/** Checks a report from a worker before anything of it is used. Throws ReportError. */
export function checkReport(raw: unknown): Report {
  if (!isRecord(raw)) throw new ReportError('a report must be an object')
  const { kind, runId, attempt, worker } = raw
  if (typeof runId !== 'string' || !RUN_ID.test(runId))
    throw new ReportError('a report needs a run id')
  if (!Number.isInteger(attempt) || (attempt as number) < 1)
    throw new ReportError(`a report of run ${runId} needs its attempt`)
  if (typeof worker !== 'string' || !WORKER_NAME.test(worker))
    throw new ReportError(`a report of run ${runId} needs a worker name`)
  const host = typeof raw['host'] === 'string' ? raw['host'].slice(0, 255) : ''
  const pid = Number.isInteger(raw['pid']) ? (raw['pid'] as number) : 0
  const base = { runId, attempt: attempt as number, worker, host, pid, gpu: checkGpu(raw['gpu']) }
  switch (kind) {
    case 'messages': {
      const list = raw['messages']
      if (!Array.isArray(list) || list.length > MAX_MESSAGES_PER_REPORT)
        throw new ReportError(`a messages report of run ${runId} needs a list of messages`)
      return { ...base, kind, messages: list.map((m) => checkTrainerMessage(m, runId)) }
    }
    case 'files':
      return { ...base, kind, files: checkFiles(raw['files'], `a files report of run ${runId}`) }
    case 'handback':
    case 'crash': {
      const reason = raw['reason']
      if (typeof reason !== 'string') throw new ReportError(`a ${kind} report needs a reason`)
      return { ...base, kind, reason: reason.slice(0, 2000) }
    }
    default:
      throw new ReportError(`unknown report kind ${JSON.stringify(kind)?.slice(0, 40)}`)
  }
}

/** Checks a job from the head on the worker (the head is trusted more, but not blindly). */
export function checkRunJob(raw: unknown): Omit<RunJob, 'config'> & { config: unknown } {
  if (!isRecord(raw)) throw new ReportError('a run job must be an object')
  const { runId, attempt, config, resume } = raw
  if (typeof runId !== 'string' || !RUN_ID.test(runId))
    throw new ReportError('a run job needs a valid run id')
  if (!Number.isInteger(attempt) || (attempt as number) < 1)
    throw new ReportError(`the job of run ${runId} needs its attempt`)
  return {
    runId,
    attempt: attempt as number,
    config,
    resume: resume === true,
    checkpoint: checkFiles(raw['checkpoint'] ?? [], `the job of run ${runId}`),
  }
}
