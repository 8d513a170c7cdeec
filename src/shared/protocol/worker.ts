/**
 * What crosses Redis between the head (the data folder that holds nin-lab.db) and remote
 * workers (`nin-lab worker`), through BullMQ queues — see docs/scale-out.md:
 *
 *   head ──RunJob──▶ queue "runs" ──▶ a worker (one BullMQ job per attempt of a run)
 *   head ◀──Report── queue "reports" ◀── every worker (in order: messages, files, the outcome)
 *
 * (the reports travel through a plain Redis list, not BullMQ, so that the head can refuse an
 * oversized one inside Redis before a byte of it reaches the head: see report-channel.ts), plus
 * two kinds of plain keys: each run's current attempt (the head writes it; a worker stops a run
 * whose attempt is no longer current, e.g. cancelled or re-dispatched), and each worker's
 * heartbeat (the worker writes it with a TTL; the head reads the fleet from it).
 *
 * Every job, report and heartbeat is signed with the fleet key (src/core/queue/fleet-key.ts).
 * Beyond the signature the head trusts nothing a worker sends: every report is checked here
 * structurally and within bounds, every trainer message by checkTrainerMessage, every file name
 * against the names the head chose, and the attempt, worker and sequence against the run's
 * current claim before anything is stored.
 */
import type { GpuInfo } from '../api/types'
import type { ExperimentConfig } from '../config/experiment'
import { checkTrainerMessage, type TrainerMessage } from './trainer'

/** BullMQ queue names (under the key prefix `nin-lab`). */
export const RUNS_QUEUE = 'runs'
export const REPORTS_QUEUE = 'reports'
export const KEY_PREFIX = 'nin-lab'

/** The reports list (worker → head) and the one report the head is ingesting now. */
export const REPORTS_LIST = `${KEY_PREFIX}:reports:list`
export const INGESTING_LIST = `${KEY_PREFIX}:reports:ingesting`
export const attemptKey = (runId: string): string => `${KEY_PREFIX}:attempt:${runId}`
/** The pieces of the files a job (`<run>.<attempt>`) carries, head → worker. */
export const jobFilesKey = (jobId: string): string => `${KEY_PREFIX}:job-files:${jobId}`
export const workerKey = (name: string): string => `${KEY_PREFIX}:worker:${name}`
/** The head's mark: written while work waits and no worker can take it (see Fleet.tick). */
export const HEAD_KEY = `${KEY_PREFIX}:head`
export const WORKER_KEY_PATTERN = `${KEY_PREFIX}:worker:*`
/**
 * What a run's attempt key holds, signed with the fleet key (domain "attempt"): the attempt in
 * force, or that it ended (cancelled, re-dispatched, its worker presumed dead). A worker stops an
 * attempt only on a signed record that supersedes it, so a forged or replayed value (an older
 * attempt's record) cannot stop a run, and a late "ended" of an older attempt cannot stop a newer
 * one.
 */
export interface AttemptRecord {
  readonly runId: string
  readonly attempt: number
  readonly ended: boolean
}

/** The exact body the head signs for a run's attempt record. */
export const attemptBody = (record: AttemptRecord): string =>
  JSON.stringify({ runId: record.runId, attempt: record.attempt, ended: record.ended })

/** The longest attempt record (a signed envelope) a worker reads. */
export const MAX_ATTEMPT_CHARS = 1024

/** Checks an attempt record's body for `runId`. Throws ReportError. */
export function checkAttemptRecord(raw: unknown, runId: string): AttemptRecord {
  if (!isRecord(raw)) throw new ReportError('an attempt record must be an object')
  const { attempt, ended } = raw
  if (raw['runId'] !== runId) throw new ReportError(`it names another run than ${runId}`)
  if (!Number.isSafeInteger(attempt) || (attempt as number) < 1 || typeof ended !== 'boolean')
    throw new ReportError('it needs an attempt and whether it ended')
  return { runId, attempt: attempt as number, ended }
}

/** Whether a worker training `attempt` must stop, given the signed record in force. */
export const supersedes = (record: AttemptRecord, attempt: number): boolean =>
  record.attempt > attempt || (record.attempt === attempt && record.ended)

/** How often a worker beats, and how long the head waits before it presumes the worker dead. */
export const HEARTBEAT_MS = 2000
export const HEARTBEAT_TTL_MS = 10_000

/** Largest file a worker may ship (a checkpoint of the d2l NiN with Adam state is ≈ 24 MB). */
export const MAX_FILE_BYTES = 256 * 1024 * 1024
/**
 * Files travel in chunks of this many bytes, one report each, so that no Redis command carries
 * more than ≈ 1.4 MB: a big file never blocks Redis (and the heartbeats behind it) for long.
 */
export const CHUNK_BYTES = 1024 * 1024
/** Most trainer messages in one `messages` report. */
export const MAX_MESSAGES_PER_REPORT = 10_000
/** A worker closes a messages report at about this many characters of JSON. */
export const REPORT_TARGET_CHARS = 512 * 1024
/**
 * The longest signed report the head takes out of Redis (a chunk's base64 and its header, or a
 * batch of messages); a longer one is dropped inside Redis, unread, and logged.
 */
export const MAX_REPORT_CHARS = 4 * 1024 * 1024
/**
 * The longest job a worker reads: its config and the list of the checkpoint files it resumes
 * from (the files themselves travel in pieces: src/core/queue/job-files.ts).
 */
export const MAX_JOB_CHARS = 1024 * 1024
/** The longest heartbeat the head reads; the most slots a worker may claim. */
export const MAX_BEAT_CHARS = 64 * 1024
export const MAX_WORKER_SLOTS = 64

/**
 * The files a worker may ship, and only these: each checkpoint folder's and the final model's
 * files under the names the trainers write (src/trainer/engines/tfjs/checkpoint.ts,
 * nin_torch/checkpoint.py). Nothing else in the head's run folder (job.json, messages.jsonl,
 * trainer.log, a stray folder) can be written by a worker.
 */
const SHIPPED_NAMES = [
  'checkpoint.json',
  'weights.bin',
  'optimizer.bin',
  'model.pt',
  'optimizer.pt',
  'model.json',
  'SHA256SUMS',
]
const SHIPPED_PATH = new RegExp(
  `^(checkpoints/epoch-(\\d{4})|model)/(${SHIPPED_NAMES.map((n) => n.replace('.', '\\.')).join('|')})$`,
)

/** The folder (relative to the run's) a shipped file lands in, or null when it may not be shipped. */
export function shippedFolder(path: string, epochs: number): string | null {
  const m = SHIPPED_PATH.exec(path)
  if (!m) return null
  if (m[2] !== undefined) {
    const epoch = Number(m[2])
    if (epoch < 1 || epoch > epochs) return null
  }
  return m[1] ?? null
}

/** One file of a checkpoint folder a job carries, relative to the run's folder. */
export interface JobFile {
  /** e.g. `checkpoints/epoch-0003/model.pt`: forward slashes, no `..`, not absolute. */
  readonly path: string
  readonly size: number
  /** sha256 of the bytes, hex: checked by the receiver. */
  readonly sha256: string
}

/** The head's job for a worker: train one attempt of one run. */
export interface RunJob {
  readonly runId: string
  /** The attempt's fencing token: every report about this run carries it. */
  readonly attempt: number
  readonly config: ExperimentConfig
  /**
   * The latest checkpoint the head holds (and the one before it), to resume from: the files, in
   * the order their pieces wait in the attempt's list (`jobFilesKey`).
   */
  readonly checkpoint: readonly JobFile[]
  /** Resume from the checkpoint (false: a fresh start). */
  readonly resume: boolean
}

interface ReportBase {
  readonly runId: string
  readonly attempt: number
  /** The worker's name, as it registered, and the machine it runs on. */
  readonly worker: string
  /** A random id of the worker process: a restarted worker of the same name is another holder. */
  readonly session: string
  /** Rises with every report the worker process sends: a replayed report is refused. */
  readonly seq: number
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

/**
 * One chunk of a checkpoint's or the final model's file, sent in order before the message that
 * names the folder: bytes `offset` to `offset + CHUNK_BYTES` of a file of `size` bytes whose
 * sha256 (of the whole file) is `sha256`.
 */
export interface ChunkReport extends ReportBase {
  readonly kind: 'chunk'
  readonly path: string
  readonly offset: number
  readonly size: number
  readonly sha256: string
  readonly base64: string
}

/**
 * The attempt ended without a final trainer message: `handback` when the worker stopped it on
 * purpose (draining, or the attempt was no longer current), `crash` when its trainer died.
 */
export interface EndReport extends ReportBase {
  readonly kind: 'handback' | 'crash'
  readonly reason: string
}

export type Report = MessagesReport | ChunkReport | EndReport

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
export const WORKER_NAME = /^[\w.@:-]{1,100}$/
const SESSION = /^[\w-]{8,64}$/
const SHA256 = /^[0-9a-f]{64}$/

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

const isCount = (v: unknown, max: number): v is number =>
  Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= max

function checkFiles(v: unknown, what: string): JobFile[] {
  if (!Array.isArray(v) || v.length > 1000) throw new ReportError(`${what}: files must be a list`)
  return v.map((f, i) => {
    if (
      !isRecord(f) ||
      typeof f['path'] !== 'string' ||
      typeof f['sha256'] !== 'string' ||
      !SHA256.test(f['sha256'])
    ) {
      throw new ReportError(`${what}: file ${i} must be { path, size, sha256 }`)
    }
    if (!isSafeRelativePath(f['path'])) {
      throw new ReportError(
        `${what}: file path ${JSON.stringify(f['path']).slice(0, 80)} leaves the run's folder`,
      )
    }
    if (!isCount(f['size'], MAX_FILE_BYTES)) {
      throw new ReportError(`${what}: file ${f['path']} is larger than ${MAX_FILE_BYTES} bytes`)
    }
    return { path: f['path'], size: f['size'], sha256: f['sha256'] }
  })
}

function checkGpu(v: unknown): GpuInfo | null {
  if (!isRecord(v)) return null
  const { index, name, memoryMB } = v
  return isCount(index, 1024) && typeof name === 'string' && isCount(memoryMB, 1 << 30)
    ? { index, name: name.slice(0, 200), memoryMB }
    : null
}

function checkChunk(
  raw: Record<string, unknown>,
  runId: string,
): Omit<ChunkReport, keyof ReportBase | 'kind'> {
  const { path, offset, size, sha256, base64 } = raw
  if (typeof path !== 'string' || !isSafeRelativePath(path))
    throw new ReportError(`a chunk of run ${runId} names no safe path`)
  if (!isCount(size, MAX_FILE_BYTES))
    throw new ReportError(
      `${path} of run ${runId}: larger than ${MAX_FILE_BYTES} bytes (or no size)`,
    )
  if (!isCount(offset, size) || offset % CHUNK_BYTES !== 0)
    throw new ReportError(`a chunk of ${path} (run ${runId}) has no valid offset`)
  if (typeof sha256 !== 'string' || !SHA256.test(sha256))
    throw new ReportError(`a chunk of ${path} (run ${runId}) has no sha256`)
  const want = Math.min(CHUNK_BYTES, size - offset)
  if (typeof base64 !== 'string' || base64.length !== Math.ceil(want / 3) * 4)
    throw new ReportError(`a chunk of ${path} (run ${runId}) at ${offset} must hold ${want} bytes`)
  return { path, offset, size, sha256, base64 }
}

/**
 * Checks a report (the body of a signed envelope) before anything of it is used: the holder's
 * identity, the sequence, and the payload within bounds. Throws ReportError.
 */
export function checkReport(raw: unknown): Report {
  if (!isRecord(raw)) throw new ReportError('a report must be an object')
  const { kind, runId, attempt, worker, session, seq } = raw
  if (typeof runId !== 'string' || !RUN_ID.test(runId))
    throw new ReportError('a report needs a run id')
  if (!Number.isSafeInteger(attempt) || (attempt as number) < 1)
    throw new ReportError(`a report of run ${runId} needs its attempt`)
  if (typeof worker !== 'string' || !WORKER_NAME.test(worker))
    throw new ReportError(`a report of run ${runId} needs a worker name`)
  if (
    typeof session !== 'string' ||
    !SESSION.test(session) ||
    !isCount(seq, Number.MAX_SAFE_INTEGER)
  )
    throw new ReportError(`a report of run ${runId} needs the worker's session and sequence`)
  const host = typeof raw['host'] === 'string' ? raw['host'].slice(0, 255) : ''
  const pid = isCount(raw['pid'], 1 << 30) ? raw['pid'] : 0
  const base = {
    runId,
    attempt: attempt as number,
    worker,
    session,
    seq,
    host,
    pid,
    gpu: checkGpu(raw['gpu']),
  }
  switch (kind) {
    case 'messages': {
      const list = raw['messages']
      if (!Array.isArray(list) || list.length > MAX_MESSAGES_PER_REPORT)
        throw new ReportError(
          `a messages report of run ${runId} needs a list of at most ${MAX_MESSAGES_PER_REPORT} messages`,
        )
      return { ...base, kind, messages: list.map((m) => checkTrainerMessage(m, runId)) }
    }
    case 'chunk':
      return { ...base, kind, ...checkChunk(raw, runId) }
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

const boundedString = (v: unknown, max: number): string | null =>
  typeof v === 'string' && v.length <= max ? v : null

/**
 * Checks a heartbeat (the body of a signed envelope): every field of the right type and size.
 * The slots it claims are capped to what it proved: its GPUs when it lists any, and
 * MAX_WORKER_SLOTS at most. Throws ReportError naming the first bad field.
 */
export function checkBeat(raw: unknown): WorkerBeat {
  if (!isRecord(raw)) throw new ReportError('a heartbeat must be an object')
  const name = boundedString(raw['name'], 100)
  if (name === null || !WORKER_NAME.test(name))
    throw new ReportError('a heartbeat needs a worker name')
  const bad = (field: string): never => {
    throw new ReportError(`the heartbeat of ${name}: ${field} is missing or malformed`)
  }
  const host = boundedString(raw['host'], 255) ?? bad('host')
  const offers = boundedString(raw['offers'], 500) ?? bad('offers')
  const version = boundedString(raw['version'], 100) ?? bad('version')
  const { pid, slots, startedAt, beatAt, draining, gpus, running } = raw
  if (!isCount(pid, 1 << 30)) bad('pid')
  if (!isCount(slots, 1_000_000) || (slots as number) < 1) bad('slots')
  if (!isCount(startedAt, Number.MAX_SAFE_INTEGER)) bad('startedAt')
  if (!isCount(beatAt, Number.MAX_SAFE_INTEGER)) bad('beatAt')
  if (typeof draining !== 'boolean') bad('draining')
  if (!Array.isArray(gpus) || gpus.length > MAX_WORKER_SLOTS) bad('gpus')
  const gpuList = (gpus as unknown[]).map((g) => checkGpu(g) ?? bad('gpus'))
  if (!Array.isArray(running) || running.length > MAX_WORKER_SLOTS) bad('running')
  const runs = (running as unknown[]).map((r) =>
    typeof r === 'string' && RUN_ID.test(r) ? r : bad('running'),
  )
  const cap = gpuList.length > 0 ? gpuList.length : MAX_WORKER_SLOTS
  return {
    name,
    host,
    pid: pid as number,
    slots: Math.min(slots as number, cap),
    gpus: gpuList,
    running: runs,
    offers,
    version,
    startedAt: startedAt as number,
    beatAt: beatAt as number,
    draining: draining as boolean,
  }
}

/** Checks a job from the head on the worker (signed by the head, checked all the same). */
export function checkRunJob(raw: unknown): Omit<RunJob, 'config'> & { config: unknown } {
  if (!isRecord(raw)) throw new ReportError('a run job must be an object')
  const { runId, attempt, config, resume } = raw
  if (typeof runId !== 'string' || !RUN_ID.test(runId))
    throw new ReportError('a run job needs a valid run id')
  if (!Number.isSafeInteger(attempt) || (attempt as number) < 1)
    throw new ReportError(`the job of run ${runId} needs its attempt`)
  return {
    runId,
    attempt: attempt as number,
    config,
    resume: resume === true,
    checkpoint: checkFiles(raw['checkpoint'] ?? [], `the job of run ${runId}`),
  }
}
