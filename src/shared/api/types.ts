/**
 * The records the core hands out — runs, experiments, metric samples, log events — shared by
 * the store that produces them and every client (CLI, web, Electron) that shows them.
 */
import type { ExperimentConfig, ResolvedPrecision } from '../config/experiment'
import type { TrainerMessage } from '../protocol/trainer'
import type { RunHealth } from '../health'
import type { RunStatus } from '../run-state'

export interface Run {
  /** Short and readable (`r7k2q9x`): typed in the CLI, used as the run's folder name. */
  readonly id: string
  readonly experimentId: number
  readonly experiment: string
  readonly name: string
  readonly config: ExperimentConfig
  /** sha256 of `configIdentity(config)`: the same experiment whatever its name or key order. */
  readonly configHash: string
  readonly status: RunStatus
  /** Higher runs first. */
  readonly priority: number
  /** FIFO order within a priority; smaller first. */
  readonly queuePosition: number
  /** What it trained on, once started (null before). */
  readonly engine: string | null
  readonly backend: string | null
  /**
   * What it computed in (train.precision as its trainer resolved it), once started; null before,
   * and for runs trained before NiN Lab recorded it (those trained in fp32).
   */
  readonly precision: ResolvedPrecision | null
  readonly versions: Readonly<Record<string, string>> | null
  readonly seed: number
  readonly host: string | null
  /** The trainer process of the current attempt (informational: never signalled by it alone). */
  readonly pid: number | null
  /**
   * How many times the run was claimed to train: the fencing token of its current attempt.
   * Messages from an older attempt (a trainer presumed dead that comes back) are refused.
   */
  readonly attempt: number
  /** The process that trains (and persists) the current attempt, while it is running. */
  readonly owner: RunOwner | null
  /** Where its latest attempt trains or trained: kept after the run ends. */
  readonly placement: Placement | null
  /** Unix times in milliseconds. */
  readonly createdAt: number
  readonly queuedAt: number
  readonly startedAt: number | null
  readonly finishedAt: number | null
  readonly error: string | null
  /** The epoch of the newest checkpoint (0 = none): a resumed run continues after it. */
  readonly lastCheckpointEpoch: number
  readonly notes: string
  readonly tags: readonly string[]
  readonly params: number | null
  readonly finalTestAcc: number | null
  readonly bestTestAcc: number | null
  readonly epochsDone: number
  /**
   * Whether its numbers can answer a question (at chance, still improving, fine), recomputed as
   * its epochs arrive (src/shared/health.ts). A linked run carries its source run's.
   */
  readonly health: RunHealth
  /**
   * Set on a run queued as a link to a completed run with the same config, engine and
   * precision in another experiment: it was not trained again, and its metrics, log and files
   * are that run's (read through this run's id).
   */
  readonly linkedFrom: RunLink | null
}

/** The run a linked run stands for: where and when it was trained. */
export interface RunLink {
  readonly runId: string
  readonly experiment: string
  /** When the source run finished (Unix ms). */
  readonly trainedAt: number | null
}

/** One GPU, as the torch probe reports it. */
export interface GpuInfo {
  readonly index: number
  readonly name: string
  readonly memoryMB: number
}

/** Where a run trains: this machine or a remote worker, on a GPU or not. */
export interface Placement {
  readonly host: string
  /** A remote worker's name; null on the head's own machine. */
  readonly worker: string | null
  readonly gpu: GpuInfo | null
}

/** Who holds a running run: a scheduler, a foreground `nin-lab run`, or a remote worker. */
export interface RunOwner {
  readonly kind: 'scheduler' | 'run' | 'worker'
  readonly host: string
  readonly pid: number
  /** The process's start time as its OS reports it (with the pid, its identity); null: unknown. */
  readonly start: string | null
  /** A remote worker's name. */
  readonly worker?: string
}

export interface MetricSample {
  readonly step: number
  readonly epoch: number
  /** Unix time in milliseconds. */
  readonly time: number
  /** NaN where the trainer measured NaN (a diverging loss); SQLite stores it as NULL. */
  readonly value: number
  /**
   * Only in a downsampled series (src/shared/downsample.ts): how many raw points this point
   * stands for, and their mean — what a smoothing of the series weighs it by.
   */
  readonly n?: number
  readonly mean?: number
}

export interface RunEvent {
  /** Position in the run's log, from 1. */
  readonly seq: number
  readonly time: number
  readonly type: TrainerMessage['type']
  /** The message as the trainer sent it (non-finite numbers read back as null, as in JSON). */
  readonly message: TrainerMessage
}

export interface Experiment {
  readonly id: number
  readonly name: string
  readonly description: string
  /** Unix time in milliseconds. */
  readonly createdAt: number
}

export interface ExperimentSummary extends Experiment {
  readonly runs: number
}

/** Files a run produced: checkpoints, the final model, exports, logs. */
export const ARTIFACT_KINDS = ['checkpoint', 'model', 'export', 'log'] as const
export type ArtifactKind = (typeof ARTIFACT_KINDS)[number]

export interface Artifact {
  readonly id: number
  readonly runId: string
  readonly kind: ArtifactKind
  readonly path: string
  /** Size when known (the trainer's messages do not carry it). */
  readonly bytes: number | null
  readonly createdAt: number
  /** The epoch a checkpoint was taken after; null for other kinds. */
  readonly epoch: number | null
}

/**
 * How the data folder's queue runs, as saved in its settings (the app's Queue view, or
 * `queue start --concurrency/--gpus/--redis`, which override them for one process).
 */
export interface QueueSettings {
  /** Trainers at once on this machine when it uses no GPUs (0: remote workers only). */
  readonly concurrency: number
  /** One trainer per listed GPU (CUDA_VISIBLE_DEVICES), every GPU PyTorch sees (`auto`), or none. */
  readonly gpus: 'auto' | readonly number[] | null
  /** Remote workers through this Redis (redis:// or rediss://), or none. */
  readonly redis: string | null
}

export const DEFAULT_QUEUE_SETTINGS: QueueSettings = { concurrency: 1, gpus: null, redis: null }

/** One local training slot: a CPU slot, or one GPU. */
export interface SlotInfo {
  readonly id: string
  readonly gpu: GpuInfo | null
}

/**
 * `--gpus` as text: `auto` (every GPU PyTorch sees), `none`, or indices `0,1,3`. Returns the
 * setting, or a message saying what is wrong.
 */
export function parseGpuList(text: string): QueueSettings['gpus'] | { readonly error: string } {
  const t = text.trim().toLowerCase()
  if (t === 'auto') return 'auto'
  if (t === 'none' || t === '') return null
  const parts = t.split(',').map((p) => p.trim())
  if (parts.every((p) => /^\d{1,2}$/.test(p))) {
    const indices = [...new Set(parts.map(Number))]
    return indices
  }
  return {
    error: `gpus must be auto, none, or GPU indices like 0,1,3 (got ${JSON.stringify(text)})`,
  }
}

/** The setting as text, the way parseGpuList reads it. */
export const gpuListText = (gpus: QueueSettings['gpus']): string =>
  gpus === null ? 'none' : gpus === 'auto' ? 'auto' : gpus.join(',')
