/**
 * The JSON shape of one run on the command line (`run --json`, `show --json`):
 * {"id","name","status","engine","backend","precision","params","createdAt","startedAt","finishedAt",
 * "epochs":[{"epoch","trainLoss","trainAcc","testLoss","testAcc","seconds","examplesPerSec"}],
 * "health":{"status","reason"}|null,"placement":{"host","worker","gpu"}|null,
 * "linkedFrom":{"runId","experiment","trainedAt"}|null},
 * epochs numbered from 1, times as ISO 8601 (null when not yet).
 */
import type { RunDetail } from '@shared/api/contract'
import type { Placement, Run } from '@shared/api/types'
import { healthOf } from '@shared/comparison'
import type { EpochSummary } from '@shared/protocol/trainer'

export interface RunJson {
  readonly id: string
  readonly name: string
  readonly status: Run['status']
  readonly engine: string | null
  readonly backend: string | null
  /** What it computed in (fp32, bf16, fp16); null before it started or if its trainer did not say. */
  readonly precision: Run['precision']
  readonly params: number | null
  readonly createdAt: string
  readonly startedAt: string | null
  readonly finishedAt: string | null
  readonly epochs: readonly EpochSummary[]
  /** Whether its numbers answer anything (at chance, still improving); null where unknown. */
  readonly health: RunHealthJson | null
  /** Where its latest attempt trains or trained (this machine or a worker, and the GPU). */
  readonly placement: Placement | null
  /** A linked run's source run (trained once, in another experiment); null otherwise. */
  readonly linkedFrom: { runId: string; experiment: string; trainedAt: string | null } | null
  readonly error?: string
}

export interface RunHealthJson {
  readonly status: string
  readonly reason: string
}

/** A run's health as the CLI's JSON carries it: `{status, reason}`, or null before it is known. */
export function healthJson(run: Run): RunHealthJson | null {
  const h = healthOf(run)
  return h ? { status: h.status, reason: h.reason } : null
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString())

export function runJson({ run, epochs }: RunDetail): RunJson {
  return {
    id: run.id,
    name: run.name,
    status: run.status,
    engine: run.engine,
    backend: run.backend,
    precision: run.precision,
    params: run.params,
    createdAt: new Date(run.createdAt).toISOString(),
    startedAt: iso(run.startedAt),
    finishedAt: iso(run.finishedAt),
    epochs,
    health: healthJson(run),
    placement: run.placement,
    linkedFrom: linkJson(run.linkedFrom),
    ...(run.error ? { error: run.error } : {}),
  }
}

export const linkJson = (link: Run['linkedFrom']): RunJson['linkedFrom'] =>
  link === null ? null : { ...link, trainedAt: iso(link.trainedAt) }
