/** Gathers a report (src/shared/report.ts) for some runs from the store. */
import { hostname } from 'node:os'
import { ablation } from '@shared/ablation'
import type { CompareOptions } from '@shared/comparison'
import { healthOf } from '@shared/comparison'
import { layerSummary, layerTable } from '@shared/architecture'
import { differingFields } from '@shared/config-diff'
import { plannedPrecision } from '@shared/config/experiment'
import { costTotals } from '@shared/cost'
import {
  REPORT_SCHEMA_VERSION,
  type Report,
  type ReportEpoch,
  type ReportRun,
} from '@shared/report'
import type { RunStore } from '../store'
import type { ExerciseAnswer } from '@shared/exercise-answer'

const unique = (xs: readonly (string | null)[]): string[] =>
  [...new Set(xs.filter((x): x is string => x !== null))].sort()

export function buildReport(
  store: RunStore,
  ids: readonly string[],
  opts: { title?: string; compare?: CompareOptions; answer?: ExerciseAnswer } = {},
): Report {
  if (ids.length === 0) throw new Error('a report needs at least one run')
  const runs = [...new Set(ids)].map((id) => reportRun(store, id))
  const versions: Record<string, string[]> = {}
  for (const r of runs) {
    for (const [k, v] of Object.entries(r.versions ?? {}))
      versions[k] = unique([...(versions[k] ?? []), v])
  }
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    title: opts.title ?? `NiN ablation: ${unique(runs.map((r) => r.experiment)).join(', ')}`,
    createdAt: new Date().toISOString(),
    generator: `NiN Lab on ${hostname()}`,
    environment: {
      engines: unique(runs.map((r) => r.engine)),
      backends: unique(runs.map((r) => r.backend)),
      precisions: unique(runs.map((r) => r.precision)),
      hosts: unique(runs.map((r) => r.host)),
      versions,
    },
    runs,
    configDiff: differingFields(runs.map((r) => r.config)),
    ablation: ablation(
      runs.map((r) => ({ ...r, health: r.health?.status ?? null })),
      opts.compare,
    ),
    ...(opts.answer ? { answer: opts.answer } : {}),
  }
}

/** One run as a report holds it: its config, cost, epochs, result, layers and metric series. */
function reportRun(store: RunStore, id: string): ReportRun {
  const run = store.requireRun(id)
  const layers = layerTable(run.config.model)
  // The memory figures in the precision the run computed in (else the one its config plans).
  const cost = costTotals(layers, {
    ...run.config.train,
    precision: run.precision ?? plannedPrecision(run.config),
  })
  const { rows, finished } = epochsAndResult(store, id)
  return {
    id: run.id,
    name: run.name,
    experiment: run.experiment,
    status: run.status,
    notes: run.notes,
    tags: run.tags,
    config: run.config,
    engine: run.engine,
    backend: run.backend,
    precision: run.precision,
    host: run.host,
    versions: run.versions,
    params: cost.params,
    macs: cost.macs,
    trainMemoryBytes: cost.memory.training.total,
    predictionMemoryBytes: cost.memory.prediction.batch,
    secondsPerEpoch:
      rows.length === 0 ? null : rows.reduce((s, e) => s + e.seconds, 0) / rows.length,
    finalTestAcc: run.finalTestAcc,
    linkedFrom: run.linkedFrom,
    bestTestAcc: run.bestTestAcc,
    health: healthOf(run),
    epochs: rows,
    classNames: finished?.classNames ?? null,
    perClassAccuracy: finished?.perClassAccuracy ?? null,
    layers: layers.map(layerSummary),
    metrics: Object.fromEntries(
      store.metricNames(id).map((name) => [name, store.metricSeries(id, name)]),
    ),
  }
}

type FinishedClasses = { classNames: readonly string[]; perClassAccuracy: readonly number[] }

/** A run's epoch rows (one per epoch, in order) and its `finished` message's classes, from its log. */
function epochsAndResult(
  store: RunStore,
  id: string,
): { rows: ReportEpoch[]; finished: FinishedClasses | null } {
  const epochs = new Map<number, ReportEpoch>()
  let finished: FinishedClasses | null = null
  for (const { message: m } of store.events(id)) {
    if (m.type === 'epoch') {
      const { epoch, trainLoss, trainAcc, testLoss, testAcc, seconds, examplesPerSec } = m
      epochs.set(epoch, {
        epoch,
        trainLoss,
        trainAcc,
        testLoss,
        testAcc,
        seconds,
        examplesPerSec,
      })
    } else if (m.type === 'finished') finished = m
  }
  const rows = [...epochs.values()].sort((a, b) => a.epoch - b.epoch)
  return { rows, finished }
}
