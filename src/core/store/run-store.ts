/**
 * RunStore: the one SQLite database of a data folder (`<dataDir>/nin-lab.db`) holding
 * experiments, runs and their queue, metric points, trainer messages and artifacts.
 *
 * Several processes open the same file (the scheduler, a CLI that only enqueues, the app), so:
 * WAL (readers never block the writer), a busy timeout (a writer waits for another instead of
 * failing), and every read-modify-write in one IMMEDIATE transaction (it takes the write lock
 * up front; a deferred one that reads first can fail with SQLITE_BUSY when another process
 * commits in between, which no busy timeout retries).
 *
 * This class only composes: each aggregate is a class of its own over one shared StoreContext
 * (context.ts), and RunStore names their methods flat, so that a caller holds one handle and one
 * aggregate's write nests in another's transaction (addRuns creates its experiment in the same
 * transaction). Where a method lives: experiment-store.ts (experiments), run-catalog.ts (adding,
 * reading, listing, editing and deleting runs), run-lifecycle.ts (state moves, claims and
 * fencing attempts, queue order), run-history.ts (trainer messages → metrics → buckets, health),
 * view-store.ts, setting-store.ts, artifact-store.ts.
 */
import type Database from 'better-sqlite3'
import { ArtifactStore } from './artifact-store'
import { StoreContext } from './context'
import { toStoreError } from './errors'
import { ExperimentStore } from './experiment-store'
import { openDatabase, type RunStoreOptions } from './open-database'
import { RunCatalog } from './run-catalog'
import { RunHistory } from './run-history'
import { RunLifecycle } from './run-lifecycle'
import { SettingStore } from './setting-store'
import { ViewStore } from './view-store'

export { BUSY_TIMEOUT_MS, DB_FILE, type RunStoreOptions } from './open-database'
export { configHash, type AddRunsResult } from './run-catalog'
export { type AttemptFence, type FinalStatus, type StartInfo } from './run-lifecycle'
export { type TruncateResult } from './run-history'

/**
 * The aggregates over one connection. A base class so that RunStore's fields below, which bind
 * the aggregates' methods, are initialised after the aggregates exist (a subclass's fields are
 * set once its base constructor has returned).
 */
class StoreAggregates {
  protected readonly experimentStore: ExperimentStore
  protected readonly catalog: RunCatalog
  protected readonly lifecycle: RunLifecycle
  protected readonly history: RunHistory
  protected readonly viewStore: ViewStore
  protected readonly settingStore: SettingStore
  protected readonly artifactStore: ArtifactStore

  constructor(protected readonly ctx: StoreContext) {
    this.experimentStore = new ExperimentStore(ctx)
    this.catalog = new RunCatalog(ctx, this.experimentStore)
    this.lifecycle = new RunLifecycle(ctx)
    this.history = new RunHistory(ctx)
    this.viewStore = new ViewStore(ctx)
    this.settingStore = new SettingStore(ctx)
    this.artifactStore = new ArtifactStore(ctx)
  }
}

export class RunStore extends StoreAggregates {
  /** The raw connection, for diagnostics and tests; all writes go through the methods. */
  readonly connection: Database.Database = this.ctx.connection
  readonly dataDir = this.ctx.dataDir
  readonly file = this.ctx.file

  private constructor(ctx: StoreContext) {
    super(ctx)
  }

  /**
   * Opens (creating when needed) `<dataDir>/nin-lab.db` and brings its schema up to date
   * (open-database.ts says what it refuses); runs stored before health was judged are judged.
   */
  static open(dataDir: string, options: RunStoreOptions = {}): RunStore {
    const { db, dir, file, busyTimeoutMs } = openDatabase(dataDir, options)
    try {
      const ctx = new StoreContext(db, dir, file, busyTimeoutMs, options.now ?? Date.now)
      const store = new RunStore(ctx)
      if (!(options.readonly ?? false)) store.history.backfillHealth()
      return store
    } catch (err) {
      db.close()
      throw toStoreError(err, file, busyTimeoutMs)
    }
  }

  close(): void {
    if (this.connection.open) this.connection.close()
  }

  /** A run's folder: checkpoints, final model, messages.jsonl. */
  runDir(runId: string): string {
    return this.ctx.runDir(runId)
  }

  /** `PRAGMA integrity_check`: ['ok'] for a sound database, else SQLite's findings. */
  integrityCheck(): string[] {
    return this.ctx.guard(() =>
      this.connection.prepare<[], string>('PRAGMA integrity_check').pluck().all(),
    )
  }

  // Experiments (experiment-store.ts).
  readonly findExperiment = this.experimentStore.findExperiment.bind(this.experimentStore)
  readonly createExperiment = this.experimentStore.createExperiment.bind(this.experimentStore)
  readonly ensureExperiment = this.experimentStore.ensureExperiment.bind(this.experimentStore)
  readonly listExperiments = this.experimentStore.listExperiments.bind(this.experimentStore)

  // Runs: adding, reading, listing, editing, deleting (run-catalog.ts).
  readonly addRuns = this.catalog.addRuns.bind(this.catalog)
  readonly reusableRuns = this.catalog.reusableRuns.bind(this.catalog)
  readonly getRun = this.catalog.getRun.bind(this.catalog)
  readonly requireRun = this.catalog.requireRun.bind(this.catalog)
  readonly countRuns = this.catalog.countRuns.bind(this.catalog)
  readonly listRuns = this.catalog.listRuns.bind(this.catalog)
  readonly listRunsPage = this.catalog.listRunsPage.bind(this.catalog)
  readonly queue = this.catalog.queue.bind(this.catalog)
  readonly queuedCount = this.catalog.queuedCount.bind(this.catalog)
  readonly nextQueued = this.catalog.nextQueued.bind(this.catalog)
  readonly setPriority = this.catalog.setPriority.bind(this.catalog)
  readonly setNotes = this.catalog.setNotes.bind(this.catalog)
  readonly setTags = this.catalog.setTags.bind(this.catalog)
  readonly delete = this.catalog.delete.bind(this.catalog)

  // Runs: state moves, claims and fencing attempts, queue order (run-lifecycle.ts).
  readonly markStarted = this.lifecycle.markStarted.bind(this.lifecycle)
  readonly claim = this.lifecycle.claim.bind(this.lifecycle)
  readonly setOwner = this.lifecycle.setOwner.bind(this.lifecycle)
  readonly setTrainer = this.lifecycle.setTrainer.bind(this.lifecycle)
  readonly releaseOrphan = this.lifecycle.releaseOrphan.bind(this.lifecycle)
  readonly markFinished = this.lifecycle.markFinished.bind(this.lifecycle)
  readonly markInterrupted = this.lifecycle.markInterrupted.bind(this.lifecycle)
  readonly cancel = this.lifecycle.cancel.bind(this.lifecycle)
  readonly retry = this.lifecycle.retry.bind(this.lifecycle)
  readonly reorder = this.lifecycle.reorder.bind(this.lifecycle)

  // Trainer messages → metric points → buckets, and their reads (run-history.ts).
  readonly persistMessages = this.history.persistMessages.bind(this.history)
  readonly truncateAfterCheckpoint = this.history.truncateAfterCheckpoint.bind(this.history)
  readonly metricSeries = this.history.metricSeries.bind(this.history)
  readonly metricSeriesSampled = this.history.metricSeriesSampled.bind(this.history)
  readonly metricNames = this.history.metricNames.bind(this.history)
  readonly events = this.history.events.bind(this.history)
  readonly epochRows = this.history.epochRows.bind(this.history)
  readonly latestEvent = this.history.latestEvent.bind(this.history)

  // The queue's settings (setting-store.ts).
  readonly queuePaused = this.settingStore.queuePaused.bind(this.settingStore)
  readonly setQueuePaused = this.settingStore.setQueuePaused.bind(this.settingStore)
  readonly queueSettings = this.settingStore.queueSettings.bind(this.settingStore)
  readonly setQueueSettings = this.settingStore.setQueueSettings.bind(this.settingStore)

  // Saved comparison views (view-store.ts).
  readonly listViews = this.viewStore.listViews.bind(this.viewStore)
  readonly saveView = this.viewStore.saveView.bind(this.viewStore)
  readonly deleteView = this.viewStore.deleteView.bind(this.viewStore)

  // Artifacts (artifact-store.ts).
  readonly addArtifact = this.artifactStore.addArtifact.bind(this.artifactStore)
  readonly artifacts = this.artifactStore.artifacts.bind(this.artifactStore)
}
