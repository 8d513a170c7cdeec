/** The run store: SQLite persistence of experiments, runs, the queue, metrics and logs. */
export {
  BUSY_TIMEOUT_MS,
  DB_FILE,
  RunStore,
  configHash,
  type AddRunsResult,
  type FinalStatus,
  type RunStoreOptions,
  type StartInfo,
  type TruncateResult,
} from './run-store'
export { StoreError, type StoreErrorCode } from './errors'
export type { Experiment, ExperimentSummary } from './experiments'
export { decodeCursor, encodeCursor, type ListCursor, type Run, type RunFilter } from './runs'
export type { MetricSample } from './metrics'
export type { RunEvent } from './events'
export { ARTIFACT_KINDS } from '@shared/api/types'
export type { Artifact, ArtifactKind, NewArtifact } from './artifacts'
export { LATEST_VERSION } from './migrations'
