/**
 * The API contract between the core and its clients: every request/response method and every
 * pushed event, declared once. Transports (in-process for the CLI, HTTP + WebSocket for web
 * mode, the Electron IPC relay) are generic over it; none of them knows a method by name.
 *
 * Each method's parameters are declared once, as data in the config schema language
 * (`API_PARAMS` below): the same declaration types them (`Params<M>`) and validates them at the
 * core boundary (`validateParams`), since they arrive from outside the process (a browser, the
 * renderer) as untrusted JSON. Results are the core's own output and are typed only.
 */
import {
  arrayOf,
  bool,
  int,
  num,
  oneOf,
  optional,
  checkField,
  object,
  required,
  str,
  unknownValue,
  type ConfigIssue,
  type Infer,
  type OptionalField,
  type Shape,
} from '../config/schema'
import { METRIC_NAMES, METRICS } from '../metrics'
import type { Comparison } from '../comparison'
import type { EpochMessage, EpochSummary, StepMessage } from '../protocol/trainer'
import type { BenchResult } from '../protocol/bench'
import type { ResolvedPrecision } from '../config/experiment'
import { RUN_STATUSES } from '../run-state'
import { EXERCISE_SCALES, type ExerciseScale } from '../exercises'
import type { ExerciseAnswer } from '../exercise-answer'
import type { WorkerBeat } from '../protocol/worker'
import type {
  Artifact,
  ExperimentSummary,
  MetricSample,
  QueueSettings,
  Run,
  RunEvent,
  SlotInfo,
} from './types'

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
  /** What it computes in, from its `started` message (null from a trainer that did not say). */
  readonly precision: ResolvedPrecision | null
}

export interface QueueState {
  readonly paused: boolean
  /** Whether a scheduler is running the queue (in this process or another). */
  readonly schedulerRunning: boolean
  /**
   * Why this process's scheduler stopped starting runs by itself (a full or read-only disk),
   * saying what to do; `resumeQueue` clears it. Null when it runs normally.
   */
  readonly halted: { readonly reason: string; readonly since: number } | null
  /** Running runs first, then queued ones in the order they will start (at most `limit`). */
  readonly runs: readonly Run[]
  /** All queued runs, including those past `limit`. */
  readonly queuedTotal: number
  readonly progress: Readonly<Record<string, RunProgress>>
}

export interface RunDetail {
  readonly run: Run
  readonly classNames: readonly string[] | null
  readonly perClassAccuracy: readonly number[] | null
  readonly confusion: readonly (readonly number[])[] | null
  readonly progress: RunProgress | null
  /**
   * When its latest attempt resumed from a checkpoint (the time of that attempt's `started`),
   * null when it never resumed; `run.startedAt` is the first attempt's start.
   */
  readonly resumedAt: number | null
  /** Why each faster backend was skipped, from the trainer's `started` message. */
  readonly skippedBackends: readonly { readonly backend: string; readonly reason: string }[]
  /** Why it computes in `run.precision` (auto's choice, or what was asked), from `started`. */
  readonly precisionReason: string | null
  /** One row per finished epoch, in order. */
  readonly epochs: readonly EpochSummary[]
  /** The run's folder on the machine that holds the database (checkpoints, model, logs). */
  readonly runDir: string
  /** Files the run produced: checkpoints and the final model. */
  readonly artifacts: readonly Artifact[]
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

/** What queueing an exercise's study would add, and how long it would take here. */
export interface ExerciseStudy {
  readonly exercise: number
  readonly scale: ExerciseScale
  readonly seeds: number
  /** The experiment its runs go to (and its answer is read from). */
  readonly experiment: string
  readonly runs: number
  readonly variants: readonly {
    readonly key: string
    readonly label: string
    readonly runs: number
  }[]
  /** Runs the experiment already holds (queueing again adds only what it lacks). */
  readonly alreadyInExperiment: number
  readonly estimate: {
    /** Every run's epochs × its estimated seconds per epoch, one after another; null: unknown. */
    readonly seconds: number | null
    readonly basis: EpochEstimate['basis']
    readonly detail: string
  }
}

/** A saved comparison view (`saveView`). */
export interface SavedView {
  readonly id: number
  readonly name: string
  readonly state: ViewState
  /** Unix ms. */
  readonly createdAt: number
  readonly updatedAt: number
}

/** The queue's settings, and how this process's scheduler applies them. */
export interface QueueSettingsView {
  /** As saved in the data folder (a Redis password masked as ****). */
  readonly saved: QueueSettings
  /** The scheduler in this process, when there is one: its slots and Redis as in force now. */
  readonly scheduler: {
    readonly slots: readonly SlotInfo[]
    /** Why the slots differ from the settings (e.g. --gpus auto found no GPU). */
    readonly note: string | null
    /** The Redis it dispatches to (password masked), and where that came from. */
    readonly redis: string | null
    readonly redisFrom: 'settings' | 'environment' | 'command line' | null
  } | null
}

export interface WorkersView {
  readonly workers: readonly WorkerBeat[]
  /** The Redis asked (password masked), or null when none is set. */
  readonly redis: string | null
  /** Why the fleet could not be read, if it could not. */
  readonly error: string | null
  /** Heartbeats ignored (not signed with this data folder's fleet key, malformed), and why. */
  readonly ignored?: readonly IgnoredBeat[]
}

/** A heartbeat the head ignored: the worker name its key gives (as given: hostile text), and why. */
export interface IgnoredBeat {
  readonly worker: string
  readonly why: string
}

export const REPORT_FORMATS = ['html', 'md', 'csv', 'json', 'pdf'] as const
export type ReportFormat = (typeof REPORT_FORMATS)[number]

/** One file of an exported report (Markdown and CSV exports are several files). */
export interface ExportedFile {
  readonly name: string
  readonly mimeType: string
  readonly base64: string
}

/**
 * A trained model out of NiN Lab (`nin-lab export-model`, Run detail → Download model). Torch
 * runs: ONNX (opset 17, dynamic batch), safetensors, TorchScript; tfjs runs: the TF.js format
 * (model.json + weights.bin) and safetensors. safetensors tensors are named after the layer
 * table in PyTorch's layouts, whichever engine trained the model, so either engine loads them.
 */
export const MODEL_FORMATS = ['onnx', 'safetensors', 'torchscript', 'tfjs'] as const
export type ModelFormat = (typeof MODEL_FORMATS)[number]
/** Which formats a run of each engine exports (the rest are refused, saying these). */
export const MODEL_FORMATS_BY_ENGINE: Readonly<Record<'torch' | 'tfjs', readonly ModelFormat[]>> = {
  torch: ['onnx', 'safetensors', 'torchscript'],
  tfjs: ['tfjs', 'safetensors'],
}

// --- parameters: declared once, as data ---------------------------------------------------

/** Longest list of run ids one call may name (a Compare of a whole study fits easily). */
export const MAX_IDS = 1000
/** Longest free text (notes). */
export const MAX_TEXT = 10_000
/**
 * Most runs one listRuns answer holds (a page; `total` counts them all, `next` continues). Sized
 * so a page is read and sent in well under 100 ms: 10,000 runs in one answer took 1.7–2.4 s
 * (14 MB) and held up every other call meanwhile.
 */
export const MAX_LIST = 200
/** Most runs one addRuns may queue: a study, not a denial of service. */
export const MAX_GRID_RUNS = 10_000
/** Above this many runs, addRuns needs `confirm: true` (the CLI's --yes, a dialog in the app). */
export const CONFIRM_GRID_RUNS = 200
/** Queued runs queueState lists by default (the rest are counted in queuedTotal). */
export const QUEUE_PAGE = 200

const runId = str({
  description: 'a run id',
  maxLength: 64,
  default: '',
  pattern: '[\\w-]{1,64}',
  patternDescription: 'a run id',
})
const text = (maxLength: number, description: string) =>
  str({ description, maxLength, default: '' })
const ids = (description: string) =>
  required(arrayOf(runId, { minItems: 0, maxItems: MAX_IDS, default: [], description }))
const config = unknownValue('an experiment config, validated by its own schema')

const gridAxis = object(
  {
    path: required(text(200, 'the config field the axis varies, e.g. model.microConvs')),
    values: required(
      arrayOf(unknownValue('one value of the field'), {
        minItems: 0,
        maxItems: 100,
        default: [],
        description: 'the values the field takes',
      }),
    ),
  },
  'one ablation axis',
)

/** Most charts one saved comparison view holds. */
export const MAX_VIEW_CHARTS = 12

/**
 * A saved comparison view: the Compare page's state under a name (`saveView`), reopened as it
 * was left and linked to as `#/compare/view/<id>`.
 */
export const viewState = object(
  {
    ids: ids('the runs compared'),
    charts: arrayOf(
      oneOf(METRIC_NAMES, { default: METRICS.testAcc, description: 'the metric of a chart' }),
      { minItems: 0, maxItems: MAX_VIEW_CHARTS, default: [], description: 'one chart per metric' },
    ),
    xMode: oneOf(['step', 'epoch', 'time'], { default: 'step', description: 'the x axis' }),
    smoothing: num({
      min: 0,
      max: 0.99,
      default: 0.6,
      description: 'EMA weight of per-step curves',
    }),
    logY: bool({ default: false, description: 'log y axes' }),
    groupBy: text(200, 'a config field to group runs by (mean ± std), or none'),
    filters: arrayOf(
      object(
        {
          path: required(text(200, 'a config field, e.g. model.head')),
          op: oneOf(['=', '!=', '<', '<=', '>', '>='], {
            default: '=',
            description: 'how the field compares with the values (= and != take any of them)',
          }),
          values: required(
            arrayOf(unknownValue('a value of the field'), {
              minItems: 0,
              maxItems: 100,
              default: [],
              description: 'the values shown',
            }),
          ),
        },
        'runs shown: those whose field has one of the values',
      ),
      { minItems: 0, maxItems: 20, default: [], description: 'config filters' },
    ),
    hidden: arrayOf(runId, {
      minItems: 0,
      maxItems: MAX_IDS,
      default: [],
      description: 'runs left out of the charts',
    }),
  },
  'a comparison view',
)
export type ViewState = Infer<typeof viewState>

/** The parameters naming an exercise study (exerciseStudy, queueExercise, exerciseAnswer). */
const exerciseParams = {
  exercise: required(int({ min: 1, max: 6, default: 1, description: 'd2l §8.3 exercise 1–6' })),
  scale: required(
    oneOf(EXERCISE_SCALES, { default: 'small', description: 'small (small-28), 96 or 224 (d2l)' }),
  ),
  set: optional(
    arrayOf(text(500, 'PATH=VALUE, as --set takes it'), {
      minItems: 0,
      maxItems: 50,
      default: [],
      description: 'config overrides for every run of the study',
    }),
  ),
} as const

/** Method name → the shape of its parameters. Unknown parameters are refused, not ignored. */
export const API_PARAMS = {
  listRuns: {
    status: optional(
      arrayOf(oneOf(RUN_STATUSES, { default: 'queued', description: 'a run status' }), {
        minItems: 0,
        maxItems: RUN_STATUSES.length,
        default: [],
        description: 'only runs in these states',
      }),
    ),
    experiment: optional(text(200, 'only runs of this experiment')),
    search: optional(text(200, 'only runs whose name contains this (any case)')),
    attention: optional(
      bool({
        default: false,
        description: 'only runs that need attention (run-state.ts: needsAttention), with status',
      }),
    ),
    order: optional(
      oneOf(['created', 'newest'], { default: 'created', description: 'oldest or newest first' }),
    ),
    offset: optional(int({ min: 0, max: 1e9, default: 0, description: 'runs skipped' })),
    // Up to 10,000 as before; an answer holds at most MAX_LIST of them and `next` goes on.
    limit: optional(
      int({ min: 1, max: 10_000, default: MAX_LIST, description: 'runs listed at most' }),
    ),
    cursor: optional(
      str({
        description: "where the previous page ended (its answer's `next`)",
        maxLength: 64,
        default: '',
        pattern: '\\d{1,16}\\.\\d{1,16}',
        patternDescription: "a listRuns answer's `next`",
      }),
    ),
  },
  getRun: { id: required(runId) },
  getMetrics: {
    ids: ids('the runs'),
    names: required(
      arrayOf(oneOf(METRIC_NAMES, { default: METRICS.testAcc, description: 'a metric name' }), {
        minItems: 0,
        maxItems: METRIC_NAMES.length,
        default: [],
        description: 'the metrics',
      }),
    ),
    /**
     * Downsample each series to about this many points: min and max per step bucket, the first
     * and last point kept exactly; each point then carries `n` and `mean` (src/shared/downsample.ts).
     */
    maxPoints: optional(
      int({ min: 4, max: 100_000, default: 500, description: 'points a series' }),
    ),
    /** Only the points of this step window (a zoomed chart asks for what it shows). */
    fromStep: optional(
      int({ min: 0, max: Number.MAX_SAFE_INTEGER, default: 0, description: 'from step' }),
    ),
    toStep: optional(
      int({ min: 0, max: Number.MAX_SAFE_INTEGER, default: 0, description: 'to step' }),
    ),
  },
  getEvents: {
    id: required(runId),
    afterSeq: optional(
      int({ min: 0, max: Number.MAX_SAFE_INTEGER, default: 0, description: 'events after this' }),
    ),
    limit: optional(int({ min: 1, max: 10_000, default: 1000, description: 'at most this many' })),
  },
  listExperiments: {},
  queueState: {
    limit: optional(
      int({ min: 0, max: MAX_GRID_RUNS, default: QUEUE_PAGE, description: 'queued runs listed' }),
    ),
  },
  addRuns: {
    experiment: required(text(200, 'the experiment the runs belong to (created if new)')),
    base: required(config),
    axes: required(
      arrayOf(gridAxis, { minItems: 0, maxItems: 10, default: [], description: 'ablation axes' }),
    ),
    seeds: required(int({ min: 1, max: 100, default: 1, description: 'seeds per grid point' })),
    priority: optional(
      int({ min: -1000, max: 1000, default: 0, description: 'higher runs start first' }),
    ),
    confirm: optional(
      bool({ default: false, description: `queue more than ${CONFIRM_GRID_RUNS} runs at once` }),
    ),
    // Runs whose config (all but name and experiment; engine and precision included) a
    // completed run of another experiment already trained: `ask` (default) answers
    // needs-confirmation naming them, one issue each, and queues nothing; `link` links them
    // (no training; they show that run's metrics); `train` trains them anew. Never silent.
    reuse: optional(
      oneOf(['ask', 'link', 'train'], {
        default: 'ask',
        description: 'runs matching a completed run elsewhere: ask, link it, or train anew',
      }),
    ),
  },
  pauseQueue: {},
  resumeQueue: {},
  reorderRun: {
    id: required(runId),
    index: required(int({ min: 0, max: 1_000_000, default: 0, description: '0 starts next' })),
  },
  cancelRun: { id: required(runId) },
  retryRun: { id: required(runId) },
  deleteRuns: { ids: ids('the runs to delete') },
  setNotes: { id: required(runId), notes: required(text(MAX_TEXT, 'the notes')) },
  setTags: {
    id: required(runId),
    tags: required(
      arrayOf(text(50, 'a tag'), { minItems: 0, maxItems: 50, default: [], description: 'tags' }),
    ),
  },
  estimateEpoch: { config: required(config) },
  /** Times a few training steps of the config in a trainer process (seconds to a minute). */
  measureEpoch: { config: required(config) },
  getQueueSettings: {},
  /** Saves the data folder's queue settings; a scheduler in this process applies them at once. */
  setQueueSettings: {
    concurrency: optional(
      int({
        min: 0,
        max: 64,
        default: 1,
        description: 'CPU slots (trainers at once without GPUs; 0: remote workers only)',
      }),
    ),
    gpus: optional(
      str({
        description: 'auto, none, or GPU indices like 0,1,3',
        maxLength: 200,
        default: 'none',
        pattern: 'auto|none|\\d{1,2}(,\\d{1,2})*',
        patternDescription: 'auto, none, or GPU indices like 0,1,3',
      }),
    ),
    redis: optional(
      str({
        description: 'a Redis URL for remote workers, or "" for none',
        maxLength: 500,
        default: '',
        pattern: '(rediss?://\\S+)?',
        patternDescription: 'redis://HOST:PORT, rediss://… (TLS), or "" for none',
      }),
    ),
  },
  /** The remote workers whose heartbeat is current (none without a Redis URL). */
  listWorkers: {},
  /** Training throughput of a config on this machine: `nin-lab bench`. */
  benchmark: {
    config: required(config),
    steps: optional(int({ min: 1, max: 1000, default: 5, description: 'timed steps' })),
    warmup: optional(int({ min: 0, max: 100, default: 2, description: 'untimed steps first' })),
  },
  /** What an exercise's study would queue, and its time estimate here (nothing is queued). */
  exerciseStudy: {
    ...exerciseParams,
    seeds: optional(int({ min: 1, max: 20, default: 2, description: 'seeds per variant' })),
  },
  /** Queues an exercise's study into its experiment (runs it already has are skipped). */
  queueExercise: {
    ...exerciseParams,
    seeds: optional(int({ min: 1, max: 20, default: 2, description: 'seeds per variant' })),
    // As addRuns' reuse: exercises share their baseline (d2l's 2 micro convs, 1×1, GAP), so a
    // second exercise at the same scale finds it trained. `train` stays the default here until
    // the Exercises page asks the question (the CLI asks: its default is `ask`).
    reuse: optional(
      oneOf(['ask', 'link', 'train'], {
        default: 'train',
        description: 'runs matching a completed run elsewhere: ask, link it, or train anew',
      }),
    ),
    priority: optional(
      int({ min: -1000, max: 1000, default: 0, description: 'higher runs start first' }),
    ),
  },
  /** An exercise's answer from its experiment's runs (exercise 4: optionally measure memory). */
  exerciseAnswer: {
    ...exerciseParams,
    measureMemory: optional(
      bool({ default: false, description: 'measure peak memory in the engine (exercise 4)' }),
    ),
  },
  /** An exercise's answer as a report (the report of its runs, the answer first). */
  exportExerciseAnswer: {
    exercise: exerciseParams.exercise,
    scale: exerciseParams.scale,
    format: required(oneOf(REPORT_FORMATS, { default: 'html', description: 'the format' })),
    fileName: optional(
      str({
        description: 'a file name',
        maxLength: 200,
        default: '',
        pattern: '[^/\\\\\\0]{1,200}',
        patternDescription: 'a file name without a folder',
      }),
    ),
  },
  listViews: {},
  /** Saves a view: a new one, or the one of that id (renamed too), or the one of that name. */
  saveView: {
    name: required(text(120, 'the view name')),
    state: required(viewState),
    id: optional(int({ min: 1, max: Number.MAX_SAFE_INTEGER, default: 1, description: 'a view' })),
  },
  deleteView: {
    id: required(int({ min: 1, max: Number.MAX_SAFE_INTEGER, default: 1, description: 'a view' })),
  },
  compareRuns: {
    ids: ids('the runs to compare'),
    by: optional(
      arrayOf(text(200, 'a config field, e.g. model.head'), {
        minItems: 0,
        maxItems: 20,
        default: [],
        description: 'the fields to group by (default: every field that varies)',
      }),
    ),
    averageOver: optional(
      arrayOf(text(200, 'a config field, e.g. model.fcFrom'), {
        minItems: 0,
        maxItems: 20,
        default: [],
        description: 'fields to average over on purpose (each group names what it mixes)',
      }),
    ),
    baseline: optional(
      object(
        {
          field: required(text(200, 'a grouping field, e.g. model.head')),
          value: required(unknownValue('its value in the baseline group, e.g. "gap"')),
        },
        'the group every other is compared with (default: the d2l setting, else the first)',
      ),
    ),
  },
  exportReport: {
    ids: ids('the runs to compare'),
    format: required(oneOf(REPORT_FORMATS, { default: 'html', description: 'the format' })),
    title: optional(text(200, 'the report title')),
    /**
     * The report's file name (no folder): Markdown and CSV name their sibling files after it.
     * Default: named after the runs' experiment, `<experiment>-report-<date>.<format>`
     * (src/shared/file-names.ts).
     */
    fileName: optional(
      str({
        description: 'a file name',
        maxLength: 200,
        default: '',
        pattern: '[^/\\\\\\0]{1,200}',
        patternDescription: 'a file name without a folder',
      }),
    ),
  },
  /** A run's trained model as files (the client saves them), in one of MODEL_FORMATS. */
  exportModel: {
    id: required(runId),
    format: required(oneOf(MODEL_FORMATS, { default: 'safetensors', description: 'the format' })),
  },
} as const satisfies Record<string, Shape>

export type MethodName = keyof typeof API_PARAMS

/** The parameters' TypeScript type: optional fields may be left out. */
type ParamsOf<S extends Shape> = {
  [K in keyof S as S[K] extends OptionalField ? never : K]: Infer<S[K]>
} & {
  [K in keyof S as S[K] extends OptionalField ? K : never]?: S[K] extends OptionalField<infer I>
    ? Infer<I>
    : never
}
type Simplify<T> = { [K in keyof T]: T[K] } & {}
export type Params<M extends MethodName> = Simplify<ParamsOf<(typeof API_PARAMS)[M]>>

export type GridAxisInput = Params<'addRuns'>['axes'][number]

/** Method name → result. */
export interface ApiResults {
  /**
   * A page of the matching runs, how many match in all, and the cursor of the page after it
   * (null, or absent, on the last page). Paging by cursor never skips or repeats a run when runs
   * are added or deleted between pages.
   */
  listRuns: { runs: Run[]; total: number; next?: string | null }
  getRun: RunDetail
  getMetrics: Record<string, Record<string, MetricSample[]>>
  getEvents: RunEvent[]
  listExperiments: ExperimentSummary[]
  queueState: QueueState
  /** `linked`: runs linked to a completed run (reuse: 'link'), not queued. */
  addRuns: { added: Run[]; skipped: number; linked: Run[] }
  pauseQueue: QueueState
  resumeQueue: QueueState
  reorderRun: QueueState
  cancelRun: Run
  retryRun: Run
  deleteRuns: { deleted: string[] }
  setNotes: Run
  setTags: Run
  estimateEpoch: EpochEstimate
  measureEpoch: EpochEstimate
  getQueueSettings: QueueSettingsView
  setQueueSettings: QueueSettingsView
  listWorkers: WorkersView
  benchmark: BenchResult
  /** The runs grouped and compared with a baseline (src/shared/comparison.ts). */
  compareRuns: Comparison
  exportReport: { files: ExportedFile[] }
  exportModel: { files: ExportedFile[] }
  exerciseStudy: ExerciseStudy
  queueExercise: { experiment: string; added: Run[]; skipped: number; linked: Run[] }
  exerciseAnswer: ExerciseAnswer
  exportExerciseAnswer: { files: ExportedFile[] }
  listViews: SavedView[]
  saveView: SavedView
  deleteView: { deleted: number }
}
export type Result<M extends MethodName> = ApiResults[M]

/** Method name → parameters and result, in one map. */
export type ApiMethods = { [M in MethodName]: { params: Params<M>; result: Result<M> } }

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

export const API_ERROR_CODES = [
  'invalid-params',
  'not-found',
  'illegal-state',
  'invalid-config',
  /** Allowed, but big enough to ask first: repeat the call with `confirm: true`. */
  'needs-confirmation',
  'unavailable',
  'internal',
] as const
export type ApiErrorCode = (typeof API_ERROR_CODES)[number]

/** A refused or failed request, as every transport carries it: code, message, config issues. */
export interface ApiErrorBody {
  readonly code: ApiErrorCode
  readonly message: string
  readonly issues?: readonly ConfigIssue[]
}

/** Whether a value that crossed a process boundary is an error body of this contract. */
export function isApiErrorBody(v: unknown): v is ApiErrorBody {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  const o = v as Record<string, unknown>
  return (
    typeof o['code'] === 'string' &&
    (API_ERROR_CODES as readonly string[]).includes(o['code']) &&
    typeof o['message'] === 'string'
  )
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

export const METHOD_NAMES = Object.keys(API_PARAMS) as MethodName[]

export const isMethodName = (name: string): name is MethodName => Object.hasOwn(API_PARAMS, name)

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** Checks untrusted parameters of `method` against its declared shape. */
export function validateParams<M extends MethodName>(method: M, params: unknown): Params<M> {
  const shape: Shape = API_PARAMS[method]
  const input = params === undefined || params === null ? {} : params
  if (!isObject(input)) {
    throw new ApiError(
      'invalid-params',
      `${method} takes an object of parameters (got ${typeof input})`,
    )
  }
  for (const key of Object.keys(input)) {
    if (!Object.hasOwn(shape, key)) {
      throw new ApiError(
        'invalid-params',
        `${method} takes no parameter "${key}" (it takes: ${Object.keys(shape).join(', ') || 'none'})`,
      )
    }
  }
  const parsed = checkField(object(shape), input)
  if (!parsed.ok) {
    throw new ApiError('invalid-params', parsed.issues.map((i) => i.message).join('; '))
  }
  return parsed.value as Params<M>
}
