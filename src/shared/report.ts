/**
 * The report of a comparison: what every export format (HTML, Markdown, CSV, JSON, PDF) is made
 * from, and — as is — the JSON export. `REPORT_SCHEMA_VERSION` changes whenever a field changes
 * meaning or goes away; `validateReport` checks a parsed document against the current version.
 */
import type { Ablation } from './ablation'
import type { LayerSummary } from './architecture'
import type { MetricSample, RunLink } from './api/types'
import type { ExperimentConfig } from './config/experiment'
import type { FieldDiff } from './config-diff'
import type { RunHealth } from './health'
import type { EpochSummary } from './protocol/trainer'
import type { ExerciseAnswer } from './exercise-answer'

/**
 * 2: `ablations` (one table per field, each averaging over every other field, Δ against the
 * first row) became `ablation` (groups keyed by every varying field, statistics against a
 * baseline: src/shared/ablation.ts); runs carry `health`.
 */
export const REPORT_SCHEMA_VERSION = 2

/** One row of a run's layer table. */
export type ReportLayer = LayerSummary

/** One row of a run's epoch table. */
export type ReportEpoch = EpochSummary

export interface ReportRun {
  readonly id: string
  readonly name: string
  readonly experiment: string
  readonly status: string
  readonly notes: string
  readonly tags: readonly string[]
  readonly config: ExperimentConfig
  readonly engine: string | null
  readonly backend: string | null
  /** What it computed in (fp32, bf16, fp16); null: not started, or trained before it was recorded. */
  readonly precision: string | null
  readonly host: string | null
  readonly versions: Readonly<Record<string, string>> | null
  readonly params: number
  readonly macs: number
  readonly trainMemoryBytes: number
  readonly predictionMemoryBytes: number
  readonly secondsPerEpoch: number | null
  readonly finalTestAcc: number | null
  readonly bestTestAcc: number | null
  /**
   * Whether its numbers answer anything (at chance, still improving; src/shared/health.ts); null
   * where unknown, absent in older JSON reports.
   */
  readonly health?: RunHealth | null
  /** A linked run: trained once, in another experiment (its epochs are that run's). */
  readonly linkedFrom?: RunLink | null
  readonly epochs: readonly ReportEpoch[]
  readonly classNames: readonly string[] | null
  readonly perClassAccuracy: readonly number[] | null
  readonly layers: readonly ReportLayer[]
  /** Every recorded metric series, by metric name (see src/shared/metrics.ts). */
  readonly metrics: Readonly<Record<string, readonly MetricSample[]>>
}

export interface Report {
  readonly schemaVersion: number
  readonly title: string
  /** ISO 8601. */
  readonly createdAt: string
  readonly generator: string
  readonly environment: {
    readonly engines: readonly string[]
    readonly backends: readonly string[]
    /** The precisions the runs computed in (absent in reports from before they were recorded). */
    readonly precisions?: readonly string[]
    readonly hosts: readonly string[]
    readonly versions: Readonly<Record<string, readonly string[]>>
  }
  readonly runs: readonly ReportRun[]
  /** Config fields that differ between the runs (values in `runs` order). */
  readonly configDiff: readonly FieldDiff[]
  /** The runs grouped and compared with a baseline, with each group's cost. */
  readonly ablation: Ablation
  /** An exercise's answer (`nin-lab exercise answer`), shown before everything else. */
  readonly answer?: ExerciseAnswer
}

/** Problems of a parsed report document against this schema version (empty when valid). */
export function validateReport(doc: unknown): string[] {
  const problems: string[] = []
  const isObj = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
  const need = (
    obj: Record<string, unknown>,
    key: string,
    type: string,
    where: string,
  ): unknown => {
    const v = obj[key]
    const actual = Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v
    if (!type.split('|').includes(actual))
      problems.push(`${where}.${key} must be ${type} (got ${actual})`)
    return v
  }
  if (!isObj(doc)) return ['the report must be an object']
  if (doc['schemaVersion'] !== REPORT_SCHEMA_VERSION) {
    problems.push(
      `schemaVersion must be ${REPORT_SCHEMA_VERSION} (got ${JSON.stringify(doc['schemaVersion'])})`,
    )
  }
  need(doc, 'title', 'string', 'report')
  need(doc, 'createdAt', 'string', 'report')
  need(doc, 'generator', 'string', 'report')
  const env = need(doc, 'environment', 'object', 'report')
  if (isObj(env))
    for (const k of ['engines', 'backends', 'hosts']) need(env, k, 'array', 'report.environment')
  need(doc, 'configDiff', 'array', 'report')
  const ablation = need(doc, 'ablation', 'object', 'report')
  if (isObj(ablation)) {
    const comparison = need(ablation, 'comparison', 'object', 'report.ablation')
    need(ablation, 'costs', 'array', 'report.ablation')
    if (isObj(comparison)) {
      for (const k of ['by', 'averagedOver', 'groups', 'comparisons'])
        need(comparison, k, 'array', 'report.ablation.comparison')
      need(comparison, 'noise', 'object|null', 'report.ablation.comparison')
    }
  }
  const runs = need(doc, 'runs', 'array', 'report')
  if (Array.isArray(runs)) {
    runs.forEach((run: unknown, i) => {
      const where = `report.runs[${i}]`
      if (!isObj(run)) return void problems.push(`${where} must be an object`)
      for (const k of ['id', 'name', 'experiment', 'status']) need(run, k, 'string', where)
      for (const k of ['params', 'macs', 'trainMemoryBytes', 'predictionMemoryBytes'])
        need(run, k, 'number', where)
      for (const k of ['secondsPerEpoch', 'finalTestAcc', 'bestTestAcc'])
        need(run, k, 'number|null', where)
      for (const k of ['epochs', 'layers', 'tags']) need(run, k, 'array', where)
      need(run, 'config', 'object', where)
      need(run, 'metrics', 'object', where)
    })
  }
  return problems
}
