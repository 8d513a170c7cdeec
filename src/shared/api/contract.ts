/**
 * The API contract between the core and its clients: every request/response method and every
 * pushed event, typed once. Transports (in-process for the CLI, HTTP + WebSocket for web mode,
 * the Electron IPC relay) are generic over this map; none of them knows a method by name.
 *
 * Each method's parameters are validated at the core boundary by `validateParams` below, since
 * they arrive from outside the process (a browser, the renderer) as untrusted JSON.
 */
import type { ConfigIssue } from '../config/schema'
import type { MetricName } from '../metrics'
import type { EpochMessage, StepMessage } from '../protocol/trainer'
import { RUN_STATUSES, type RunStatus } from '../run-state'
import type { ExperimentSummary, MetricSample, Run, RunEvent } from './types'

/** Live progress of a running run, for the queue view. */
export interface RunProgress {
  readonly epoch: number
  readonly epochs: number
  readonly stepInEpoch: number
  readonly stepsPerEpoch: number
  readonly loss: number | null
  readonly examplesPerSec: number | null
  /** Seconds left for the whole run, from the recent step rate; null until known. */
  readonly etaSeconds: number | null
  readonly backend: string | null
}

export interface QueueState {
  readonly paused: boolean
  /** Whether a scheduler is running the queue (in this process or another). */
  readonly schedulerRunning: boolean
  /** Running runs first, then queued ones in the order they will start. */
  readonly runs: readonly Run[]
  readonly progress: Readonly<Record<string, RunProgress>>
}

export interface RunDetail {
  readonly run: Run
  readonly classNames: readonly string[] | null
  readonly perClassAccuracy: readonly number[] | null
  readonly confusion: readonly (readonly number[])[] | null
  readonly progress: RunProgress | null
  /** Why each faster backend was skipped, from the trainer's `started` message. */
  readonly skippedBackends: readonly { readonly backend: string; readonly reason: string }[]
}

export interface GridAxisInput {
  readonly path: string
  readonly values: readonly unknown[]
}

export interface EpochEstimate {
  /** Estimated seconds per epoch of the full training set (or trainLimit); null: unknown. */
  readonly secondsPerEpoch: number | null
  readonly imagesPerSecond: number | null
  /**
   * `history`: scaled from earlier runs on this machine by training FLOPs; `measured`: a few
   * training steps just timed (`measureEpoch`); `none`: nothing to go on yet.
   */
  readonly basis: 'history' | 'measured' | 'none'
  readonly backend: string | null
  readonly detail: string
}

export const REPORT_FORMATS = ['html', 'md', 'csv', 'json', 'pdf'] as const
export type ReportFormat = (typeof REPORT_FORMATS)[number]

/** One file of an exported report (Markdown and CSV exports are several files). */
export interface ExportedFile {
  readonly name: string
  readonly mimeType: string
  readonly base64: string
}

type NoParams = Record<string, never>

/** Method name → parameters and result. */
export interface ApiMethods {
  listRuns: { params: { status?: RunStatus[]; experiment?: string }; result: Run[] }
  getRun: { params: { id: string }; result: RunDetail }
  getMetrics: {
    params: { ids: string[]; names: MetricName[] }
    result: Record<string, Record<string, MetricSample[]>>
  }
  getEvents: { params: { id: string; afterSeq?: number; limit?: number }; result: RunEvent[] }
  listExperiments: { params: NoParams; result: ExperimentSummary[] }
  queueState: { params: NoParams; result: QueueState }
  addRuns: {
    params: {
      experiment: string
      base: unknown
      axes: GridAxisInput[]
      seeds: number
      priority?: number
    }
    result: { added: Run[]; skipped: number }
  }
  pauseQueue: { params: NoParams; result: QueueState }
  resumeQueue: { params: NoParams; result: QueueState }
  reorderRun: { params: { id: string; index: number }; result: QueueState }
  cancelRun: { params: { id: string }; result: Run }
  retryRun: { params: { id: string }; result: Run }
  deleteRuns: { params: { ids: string[] }; result: { deleted: string[] } }
  setNotes: { params: { id: string; notes: string }; result: Run }
  setTags: { params: { id: string; tags: string[] }; result: Run }
  estimateEpoch: { params: { config: unknown }; result: EpochEstimate }
  /** Times a few training steps of the config in a trainer process (seconds to a minute). */
  measureEpoch: { params: { config: unknown }; result: EpochEstimate }
  exportReport: {
    params: { ids: string[]; format: ReportFormat; title?: string }
    result: { files: ExportedFile[] }
  }
}

export type MethodName = keyof ApiMethods
export type Params<M extends MethodName> = ApiMethods[M]['params']
export type Result<M extends MethodName> = ApiMethods[M]['result']

/** Event name → payload, pushed from the core to every client. */
export interface ApiEvents {
  runQueued: { runs: Run[] }
  runStarted: { run: Run }
  runProgress: { runId: string; progress: RunProgress; message: StepMessage | EpochMessage }
  runFinished: { run: Run }
  runChanged: { run: Run }
  queueChanged: { paused: boolean }
}
export type EventName = keyof ApiEvents

/** Every event name, for transports that subscribe to all of them. */
export const EVENT_NAMES = [
  'runQueued',
  'runStarted',
  'runProgress',
  'runFinished',
  'runChanged',
  'queueChanged',
] as const satisfies readonly EventName[]

/** The client's view of the API: one async function per method, the same on every transport. */
export type ApiClient = {
  [M in MethodName]: (params: Params<M>) => Promise<Result<M>>
}

export type ApiErrorCode =
  'invalid-params' | 'not-found' | 'illegal-state' | 'invalid-config' | 'unavailable' | 'internal'

/** A refused or failed request, as every transport carries it: code, message, config issues. */
export interface ApiErrorBody {
  readonly code: ApiErrorCode
  readonly message: string
  readonly issues?: readonly ConfigIssue[]
}

export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly issues?: readonly ConfigIssue[],
  ) {
    super(message)
    this.name = 'ApiError'
  }

  toBody(): ApiErrorBody {
    return {
      code: this.code,
      message: this.message,
      ...(this.issues ? { issues: this.issues } : {}),
    }
  }
}

// --- parameter validation ------------------------------------------------------------------

const MAX_IDS = 1000
const MAX_TEXT = 10_000

type Check = (value: unknown, path: string) => unknown
const fail = (path: string, expected: string, value: unknown): never => {
  throw new ApiError(
    'invalid-params',
    `${path} must be ${expected} (got ${JSON.stringify(value)?.slice(0, 60) ?? 'nothing'})`,
  )
}
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

const id: Check = (v, p) =>
  typeof v === 'string' && /^[\w-]{1,64}$/.test(v) ? v : fail(p, 'a run id', v)
const text =
  (max: number): Check =>
  (v, p) =>
    typeof v === 'string' && v.length <= max
      ? v
      : fail(p, `a string of at most ${max} characters`, v)
const int =
  (min: number, max: number): Check =>
  (v, p) =>
    Number.isInteger(v) && (v as number) >= min && (v as number) <= max
      ? v
      : fail(p, `an integer from ${min} to ${max}`, v)
const listOf =
  (item: Check, max: number): Check =>
  (v, p) =>
    Array.isArray(v) && v.length <= max
      ? v.map((x, i) => item(x, `${p}[${i}]`))
      : fail(p, `a list of at most ${max} items`, v)
const oneOf =
  (values: readonly string[]): Check =>
  (v, p) =>
    typeof v === 'string' && values.includes(v) ? v : fail(p, `one of ${values.join(', ')}`, v)
const anything: Check = (v) => v
const optional =
  (check: Check): Check =>
  (v, p) =>
    v === undefined ? undefined : check(v, p)
const axis: Check = (v, p) => {
  if (!isObject(v)) return fail(p, 'an object { path, values }', v)
  return {
    path: text(200)(v['path'], `${p}.path`),
    values: listOf(anything, 100)(v['values'], `${p}.values`),
  }
}

const SHAPES: { [M in MethodName]: Record<string, Check> } = {
  listRuns: {
    status: optional(listOf(oneOf(RUN_STATUSES), RUN_STATUSES.length)),
    experiment: optional(text(200)),
  },
  getRun: { id },
  getMetrics: { ids: listOf(id, MAX_IDS), names: listOf(text(100), 50) },
  getEvents: {
    id,
    afterSeq: optional(int(0, Number.MAX_SAFE_INTEGER)),
    limit: optional(int(1, 10_000)),
  },
  listExperiments: {},
  queueState: {},
  addRuns: {
    experiment: text(200),
    base: anything,
    axes: listOf(axis, 10),
    seeds: int(1, 100),
    priority: optional(int(-1000, 1000)),
  },
  pauseQueue: {},
  resumeQueue: {},
  reorderRun: { id, index: int(0, 1_000_000) },
  cancelRun: { id },
  retryRun: { id },
  deleteRuns: { ids: listOf(id, MAX_IDS) },
  setNotes: { id, notes: text(MAX_TEXT) },
  setTags: { id, tags: listOf(text(50), 50) },
  estimateEpoch: { config: anything },
  measureEpoch: { config: anything },
  exportReport: {
    ids: listOf(id, MAX_IDS),
    format: oneOf(REPORT_FORMATS),
    title: optional(text(200)),
  },
}

export const METHOD_NAMES = Object.keys(SHAPES) as MethodName[]

export const isMethodName = (name: string): name is MethodName => Object.hasOwn(SHAPES, name)

/** Checks untrusted parameters of `method`; unknown fields are refused, not ignored. */
export function validateParams<M extends MethodName>(method: M, params: unknown): Params<M> {
  const shape = SHAPES[method]
  const input = params === undefined || params === null ? {} : params
  if (!isObject(input)) return fail('params', 'an object', params)
  for (const key of Object.keys(input)) {
    if (!Object.hasOwn(shape, key)) {
      throw new ApiError(
        'invalid-params',
        `${method} takes no parameter "${key}" (it takes: ${Object.keys(shape).join(', ') || 'none'})`,
      )
    }
  }
  const out: Record<string, unknown> = {}
  for (const [key, check] of Object.entries(shape)) {
    const value = check(input[key], key)
    if (value !== undefined) out[key] = value
  }
  return out as Params<M>
}
