/**
 * RunStore: the one SQLite database of a data folder (`<dataDir>/nin-lab.db`) holding
 * experiments, runs and their queue, metric points, trainer messages and artifacts.
 *
 * Several processes open the same file (the scheduler, a CLI that only enqueues, the app), so:
 * WAL (readers never block the writer), a busy timeout (a writer waits for another instead of
 * failing), and every read-modify-write in one IMMEDIATE transaction (it takes the write lock
 * up front; a deferred one that reads first can fail with SQLITE_BUSY when another process
 * commits in between, which no busy timeout retries).
 */
import { createHash, randomInt } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import Database from 'better-sqlite3'
import {
  DEFAULT_QUEUE_SETTINGS,
  type Placement,
  type QueueSettings,
  type RunOwner,
} from '@shared/api/types'
import { validateExperimentConfig, type ExperimentConfig } from '@shared/config/experiment'
import { configIdentity } from '@shared/grid'
import { metricPoints } from '@shared/metrics'
import {
  epochSummary,
  statusAfter,
  type EpochSummary,
  type TrainerMessage,
} from '@shared/protocol/trainer'
import {
  canDelete,
  canMove,
  canReorder,
  isOpen,
  orList,
  statusesThatCanBecome,
  type RunStatus,
} from '@shared/run-state'
import {
  artifactStatements,
  toArtifact,
  type Artifact,
  type ArtifactStatements,
  type NewArtifact,
} from './artifacts'
import { runDirOf } from '../paths'
import { StoreError, toStoreError } from './errors'
import type { Statement } from './statement'
import {
  eventStatements,
  messageDigest,
  messageEpoch,
  toEvent,
  type EventStatements,
  type RunEvent,
} from './events'
import {
  experimentStatements,
  toExperiment,
  type Experiment,
  type ExperimentStatements,
  type ExperimentSummary,
} from './experiments'
import { metricStatements, toSample, type MetricSample, type MetricStatements } from './metrics'
import { checkSchema, LATEST_VERSION, migrate } from './migrations'
import {
  checkDataFolder,
  checkTablesSound,
  isEmptyDatabaseFile,
  openReadOnly,
  refuseOrphaningRuns,
} from './open-checks'
import { makeDataFolderPrivate } from './privacy'
import {
  countRunsQuery,
  listRunsQuery,
  runStatements,
  SUMMARY_METRIC,
  toRun,
  type ListCursor,
  type Run,
  type RunFilter,
  type RunRow,
  type RunStatements,
} from './runs'
import { SETTING_KEYS, settingStatements, type SettingStatements } from './settings'
import {
  BucketWriter,
  bucketStatements,
  rebuildAfterTruncate,
  sampledSeries,
  truncateBuckets,
  type BucketStatements,
  type SeriesWindow,
} from './metric-buckets'
import { toView, viewStatements, type ViewStatements } from './views'
import { healthStatements, refreshHealth, type HealthStatements } from './health'
import type { SavedView, ViewState } from '@shared/api/contract'

// better-sqlite3 reads SQLITE_USE_URI once, when its native addon loads (at the first
// `new Database`). URI file names are how a WAL database is read where no -shm file can be
// created (`file:…?immutable=1`, see openReadOnly); plain paths, all NiN Lab passes otherwise,
// mean the same either way. A value the user set is left alone.
process.env['SQLITE_USE_URI'] ??= '1'

export const DB_FILE = 'nin-lab.db'
export const BUSY_TIMEOUT_MS = 5000

export interface RunStoreOptions {
  /** Open without writing anything (no folder, no migration); writes fail with a StoreError. */
  readonly readonly?: boolean
  /** How long to wait for another process's write lock before giving up. */
  readonly busyTimeoutMs?: number
  /** The clock for created/queued/started/finished times (tests pin it). */
  readonly now?: () => number
}

/** What the scheduler knows when it spawns a run's trainer. */
export interface StartInfo {
  readonly pid: number
  readonly host: string
  readonly engine: string
  /** Often unknown until the trainer's `started` message (`auto` walks a ladder). */
  readonly backend?: string | null
  readonly versions?: Readonly<Record<string, string>> | null
}

export type FinalStatus = Exclude<RunStatus, 'queued' | 'running'>

export interface AddRunsResult {
  readonly added: Run[]
  /** Configs whose identity (config hash) the experiment already had, or given twice. */
  readonly skipped: number
  /** With `reuse: 'link'`: runs linked to a completed run of the same config, not queued. */
  readonly linked: Run[]
}

export interface TruncateResult {
  readonly points: number
  readonly events: number
}

/** Only for this attempt of the run: a write about an older one is a no-op (see claim). */
export interface AttemptFence {
  readonly attempt?: number
}

const isStale = (row: RunRow, fence: AttemptFence): boolean =>
  fence.attempt !== undefined && fence.attempt !== row.attempt

/** sha256 of the config's identity (all but its name, keys sorted): what dedupes runs. */
export const configHash = (config: ExperimentConfig): string =>
  createHash('sha256').update(configIdentity(config)).digest('hex')

// Run ids: 'r' + 6 characters without look-alikes (0/o, 1/l/i), e.g. `r7k2q9x`. Short enough to
// type after `nin-lab show`, random so that a recreated database never reuses a leftover
// runs/<id>/ folder (integers 1, 2, 3 would), and 31^6 ≈ 8.9e8 values, checked for collisions.
const ID_ALPHABET = '23456789abcdefghjkmnpqrstuvwxyz'
const ID_LENGTH = 6

const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null)

/** Messages after which a run's health is judged again (src/core/store/health.ts). */
const JUDGED_AFTER: ReadonlySet<TrainerMessage['type']> = new Set([
  'started',
  'epoch',
  'finished',
  'failed',
  'diverged',
  'cancelled',
])

export class RunStore {
  private readonly experimentsSql: ExperimentStatements
  private readonly runsSql: RunStatements
  private readonly metricsSql: MetricStatements
  private readonly eventsSql: EventStatements
  private readonly artifactsSql: ArtifactStatements
  private readonly settingsSql: SettingStatements
  private readonly bucketsSql: BucketStatements
  private readonly viewsSql: ViewStatements
  private readonly healthSql: HealthStatements
  private readonly listCache = new Map<string, Statement<unknown[], RunRow>>()

  private constructor(
    /** The raw connection, for diagnostics and tests; all writes go through the methods. */
    readonly connection: Database.Database,
    readonly dataDir: string,
    readonly file: string,
    private readonly busyTimeoutMs: number,
    private readonly now: () => number,
  ) {
    this.experimentsSql = experimentStatements(connection)
    this.runsSql = runStatements(connection)
    this.metricsSql = metricStatements(connection)
    this.eventsSql = eventStatements(connection)
    this.artifactsSql = artifactStatements(connection)
    this.settingsSql = settingStatements(connection)
    this.bucketsSql = bucketStatements(connection)
    this.viewsSql = viewStatements(connection)
    this.healthSql = healthStatements(connection)
  }

  /**
   * Opens (creating when needed) `<dataDir>/nin-lab.db` and brings its schema up to date.
   * Refuses, without writing anything, a file that is not a NiN Lab database and one written by
   * a newer NiN Lab; file-system and SQLite failures become StoreErrors that say what to do.
   */
  static open(dataDir: string, options: RunStoreOptions = {}): RunStore {
    const dir = resolve(dataDir)
    const file = join(dir, DB_FILE)
    const busyTimeoutMs = options.busyTimeoutMs ?? BUSY_TIMEOUT_MS
    const readonly = options.readonly ?? false
    const fail = (err: unknown): never => {
      throw toStoreError(err, file, busyTimeoutMs)
    }
    try {
      checkDataFolder(dir)
      if (!readonly) {
        // Before SQLite creates anything: a fresh database must not orphan existing runs.
        if (isEmptyDatabaseFile(file)) refuseOrphaningRuns(dir, file)
      }
      const tightened = makeDataFolderPrivate(dir, file, { create: !readonly })
      if (tightened !== null) console.error(`nin-lab: ${tightened}`)
    } catch (err) {
      fail(err)
    }
    if (readonly && !existsSync(file)) {
      refuseOrphaningRuns(dir, file)
      throw new StoreError(
        'cannot-open',
        `no NiN Lab database at ${file}: check the --data-dir (opening read-only creates nothing)`,
      )
    }
    let db: Database.Database
    try {
      db = readonly
        ? openReadOnly(file, busyTimeoutMs)
        : new Database(file, { timeout: busyTimeoutMs })
    } catch (err) {
      return fail(err)
    }
    try {
      db.pragma(`busy_timeout = ${busyTimeoutMs}`)
      // Read-only checks first: a database we must refuse is left exactly as it was.
      const version = checkSchema(db, file)
      if (version === 0) {
        if (readonly) {
          // Run folders without the database that listed them say "lost", read-only or not.
          refuseOrphaningRuns(dir, file)
          throw new StoreError(
            'cannot-open',
            `${file} holds no NiN Lab data yet (it is empty); check the --data-dir`,
          )
        }
        refuseOrphaningRuns(dir, file)
      } else checkTablesSound(db, file)
      if (readonly) {
        if (version < LATEST_VERSION) {
          throw new StoreError(
            'illegal-state',
            `${file} has schema ${version}, older than this NiN Lab's ${LATEST_VERSION}: open ` +
              'it once with write access so that it can be upgraded',
          )
        }
      } else {
        const mode = db.pragma('journal_mode = WAL', { simple: true })
        if (mode !== 'wal') {
          throw new StoreError(
            'cannot-open',
            `${file}: SQLite could not switch it to WAL journaling (it stays ${String(mode)}); ` +
              'a network file system can cause this: use a local --data-dir',
          )
        }
      }
      db.pragma('foreign_keys = ON')
      // NORMAL in WAL mode: a power cut may lose the last commits, never corrupt the file.
      db.pragma('synchronous = NORMAL')
      if (!readonly) migrate(db, file)
      const store = new RunStore(db, dir, file, busyTimeoutMs, options.now ?? Date.now)
      if (!readonly) store.backfillHealth()
      return store
    } catch (err) {
      db.close()
      return fail(err)
    }
  }

  close(): void {
    if (this.connection.open) this.connection.close()
  }

  /** A run's folder: checkpoints, final model, messages.jsonl. */
  runDir(runId: string): string {
    return runDirOf(this.dataDir, runId)
  }

  /** `PRAGMA integrity_check`: ['ok'] for a sound database, else SQLite's findings. */
  integrityCheck(): string[] {
    return this.guard(() =>
      this.connection.prepare<[], string>('PRAGMA integrity_check').pluck().all(),
    )
  }

  // --- experiments ------------------------------------------------------------------------

  findExperiment(name: string): Experiment | undefined {
    return this.guard(() => {
      const row = this.experimentsSql.byName.get(name)
      return row === undefined ? undefined : toExperiment(row)
    })
  }

  createExperiment(name: string, description = ''): Experiment {
    return this.write(() => {
      const clean = this.checkExperimentName(name)
      if (this.experimentsSql.byName.get(clean) !== undefined) {
        throw new StoreError('invalid', `experiment "${clean}" already exists`)
      }
      return this.insertExperiment(clean, description)
    })
  }

  /** The experiment of that name, created when it does not exist yet. */
  ensureExperiment(name: string, description = ''): Experiment {
    return this.write(() => {
      const clean = this.checkExperimentName(name)
      const row = this.experimentsSql.byName.get(clean)
      return row === undefined ? this.insertExperiment(clean, description) : toExperiment(row)
    })
  }

  listExperiments(): ExperimentSummary[] {
    return this.guard(() =>
      this.experimentsSql.all.all().map((row) => ({ ...toExperiment(row), runs: row.runs })),
    )
  }

  // --- runs and the queue ---------------------------------------------------------------------

  /**
   * Queues configs as runs of an experiment (created if needed), at the end of the queue, in
   * order. A config the experiment already has (same config hash: names and key order do not
   * count) is skipped, so queueing a grid twice adds only what is new. One transaction: all or
   * nothing.
   */
  addRuns(
    experimentName: string,
    configs: readonly ExperimentConfig[],
    options: { readonly priority?: number; readonly reuse?: 'link' | 'train' } = {},
  ): AddRunsResult {
    const priority = options.priority ?? 0
    this.checkInteger(priority, 'priority')
    const rows = this.configRows(configs)
    return this.write(() => {
      const experiment = this.ensureExperiment(experimentName)
      let position = (this.runsSql.maxQueuePosition.get() ?? 0) + 1
      const added: string[] = []
      const linked: string[] = []
      for (const { config, json, hash } of rows) {
        const id = this.newRunId()
        const row = {
          id,
          experimentId: experiment.id,
          name: config.name,
          configJson: json,
          configHash: hash,
          priority,
          queuePosition: position,
          seed: config.train.seed,
          now: this.now(),
        }
        const source =
          options.reuse === 'link' ? this.runsSql.reusable.get(hash, experiment.id) : undefined
        if (source !== undefined) {
          if (this.runsSql.insertLink.run({ ...row, source: source.id }).changes === 1) {
            linked.push(id)
          }
        } else if (this.runsSql.insert.run(row).changes === 1) {
          added.push(id)
          position++
        }
      }
      return {
        added: added.map((id) => this.requireRun(id)),
        skipped: rows.length - added.length - linked.length,
        linked: linked.map((id) => this.requireRun(id)),
      }
    })
  }

  /**
   * The configs that addRuns would queue in this experiment (it lacks them) and that a
   * completed run elsewhere already trained with the same config, engine and precision (the
   * config hash covers all three): each with the newest such run.
   */
  reusableRuns(
    experimentName: string,
    configs: readonly ExperimentConfig[],
  ): { readonly name: string; readonly source: Run }[] {
    const rows = this.configRows(configs)
    return this.guard(() => {
      const experimentId = this.experimentsSql.byName.get(experimentName.trim())?.id ?? -1
      const seen = new Set<string>()
      const out: { name: string; source: Run }[] = []
      for (const { config, hash } of rows) {
        if (seen.has(hash)) continue
        seen.add(hash)
        if (this.runsSql.hasConfig.get(experimentId, hash) !== undefined) continue
        const source = this.runsSql.reusable.get(hash, experimentId)
        if (source !== undefined) out.push({ name: config.name, source: toRun(source) })
      }
      return out
    })
  }

  /** Validated here too: the store is a boundary, and reads trust config_json as it is. */
  private configRows(configs: readonly ExperimentConfig[]) {
    return configs.map((c, i) => {
      const config = validateExperimentConfig(c, `run ${i + 1} of ${configs.length}`)
      return { config, json: JSON.stringify(config), hash: configHash(config) }
    })
  }

  getRun(runId: string): Run | undefined {
    return this.guard(() => {
      const row = this.runsSql.byId.get(runId)
      return row === undefined ? undefined : toRun(row)
    })
  }

  /** Like getRun, but a missing run is a StoreError ('not-found'). */
  requireRun(runId: string): Run {
    return this.guard(() => toRun(this.requireRow(runId)))
  }

  /** How many runs match the filter (its offset and limit ignored). */
  countRuns(filter: RunFilter = {}): number {
    return this.guard(() => {
      const { statement, params } = countRunsQuery(this.connection, this.listCache, filter)
      return (statement.get(...params) as unknown as { n: number } | undefined)?.n ?? 0
    })
  }

  listRuns(filter: RunFilter = {}): Run[] {
    return this.guard(() => {
      const { statement, params } = listRunsQuery(this.connection, this.listCache, filter)
      return statement.all(...params).map(toRun)
    })
  }

  /**
   * At most `limit` runs in the `created` or `newest` order from `after` on, and the cursor of
   * the page after them (null when none follows).
   */
  listRunsPage(
    filter: Omit<RunFilter, 'offset' | 'limit'> & {
      readonly limit: number
      readonly offset?: number
    },
  ): { runs: Run[]; next: ListCursor | null } {
    return this.guard(() => {
      // One row more than asked says whether another page follows, without a second query.
      const query = { ...filter, limit: filter.limit + 1 }
      const { statement, params } = listRunsQuery(this.connection, this.listCache, query)
      const rows = statement.all(...params)
      const more = rows.length > filter.limit
      const kept = more ? rows.slice(0, filter.limit) : rows
      const last = kept[kept.length - 1]
      const next = more && last ? { createdAt: last.created_at, seq: last.row_seq } : null
      return { runs: kept.map(toRun), next }
    })
  }

  /** The queued runs in the order they will start. */
  queue(options: { readonly limit?: number } = {}): Run[] {
    return this.guard(() =>
      (options.limit === undefined
        ? this.runsSql.queue.all()
        : this.runsSql.queuePage.all(options.limit)
      ).map(toRun),
    )
  }

  /** How many runs wait in the queue. */
  queuedCount(): number {
    return this.guard(() => this.runsSql.queuedCount.get() ?? 0)
  }

  /** The run to start next: highest priority, then first queued. */
  nextQueued(): Run | undefined {
    return this.guard(() => {
      const row = this.runsSql.next.get()
      return row === undefined ? undefined : toRun(row)
    })
  }

  /**
   * queued → running. Conditional on the run still being queued, so two schedulers (should the
   * data-folder lock ever fail) cannot both start it: the second gets a StoreError.
   */
  markStarted(runId: string, info: StartInfo): Run {
    return this.write(() => {
      const row = this.requireRow(runId)
      this.checkTransition(row, 'running', 'start', 'started')
      this.runsSql.start.run({
        id: runId,
        pid: info.pid,
        host: info.host,
        engine: info.engine,
        backend: info.backend ?? null,
        versionsJson: info.versions == null ? null : JSON.stringify(info.versions),
        now: this.now(),
      })
      return this.requireRun(runId)
    })
  }

  /**
   * Claims a queued run for a new attempt held by `owner`: queued → running, attempt + 1 (the
   * attempt's fencing token). Returns null, changing nothing, when the run is no longer queued
   * (another process cancelled, deleted or claimed it since it was picked): a race the queue
   * allows, not an error.
   */
  claim(runId: string, owner: RunOwner, placement: Placement | null = null): Run | null {
    return this.write(() => {
      const changed = this.runsSql.claim.run({
        id: runId,
        host: owner.host,
        ownerJson: JSON.stringify(owner),
        placementJson: placement === null ? null : JSON.stringify(placement),
        now: this.now(),
      }).changes
      return changed === 1 ? this.requireRun(runId) : null
    })
  }

  /** The worker that took a run's current attempt, and where it trains (no-op if stale). */
  setOwner(runId: string, attempt: number, owner: RunOwner, placement: Placement): boolean {
    return this.write(
      () =>
        this.runsSql.setOwner.run({
          id: runId,
          attempt,
          host: owner.host,
          ownerJson: JSON.stringify(owner),
          placementJson: JSON.stringify(placement),
        }).changes === 1,
    )
  }

  /** Records the trainer process of a run's current attempt (no-op for an older attempt). */
  setTrainer(runId: string, attempt: number, trainer: { pid: number; engine: string }): void {
    this.write(() => {
      this.runsSql.setTrainer.run({ id: runId, attempt, ...trainer })
    })
  }

  /**
   * A running run whose owner is gone (`ownerAlive` says false: its process died, e.g. killed
   * while the disk was full, so nothing could record the end) becomes interrupted, so that it can
   * be retried. Runs in any other state, and runs whose owner lives or cannot be checked, are left
   * alone; returns whether it changed the run.
   */
  releaseOrphan(runId: string, ownerAlive: (owner: RunOwner) => boolean | null): boolean {
    return this.write(() => {
      const run = toRun(this.requireRow(runId))
      if (run.status !== 'running') return false
      if (run.owner !== null && ownerAlive(run.owner) !== false) return false
      this.runsSql.finish.run({
        id: runId,
        status: 'interrupted',
        error: 'the process that trained this run is gone',
        now: this.now(),
      })
      return true
    })
  }

  /**
   * Ends a run (e.g. its process exited without a final message: failed). Asking for the state
   * the run is already in is a no-op, so the scheduler may confirm what a message already did.
   */
  markFinished(
    runId: string,
    status: FinalStatus,
    error: string | null = null,
    options: AttemptFence = {},
  ): Run {
    return this.write(() => {
      const row = this.requireRow(runId)
      if (row.status === status || isStale(row, options)) return toRun(row)
      this.checkTransition(row, status, `mark`, `marked ${status}`)
      this.runsSql.finish.run({ id: runId, status, error, now: this.now() })
      return this.requireRun(runId)
    })
  }

  /**
   * running → interrupted for runs whose process vanished (found at startup, or by a watchdog).
   * Runs in other states are left alone; returns the runs changed.
   */
  markInterrupted(
    runIds: readonly string[],
    reason = 'its trainer process ended without a final message',
    options: AttemptFence = {},
  ): Run[] {
    return this.write(() => {
      const changed: string[] = []
      for (const id of new Set(runIds)) {
        const row = this.runsSql.byId.get(id)
        if (row?.status !== 'running' || isStale(row, options)) continue
        this.runsSql.finish.run({ id, status: 'interrupted', error: reason, now: this.now() })
        changed.push(id)
      }
      return changed.map((id) => this.requireRun(id))
    })
  }

  /**
   * Cancels a queued, running or interrupted run. For a running run this only records the
   * decision: the scheduler that owns its process sees the status and stops it; the trainer's own
   * last words (its `cancelled`, a crash on SIGTERM) are kept as history, and the first final state
   * wins. A retry of the cancelled run advances the attempt (see retry).
   */
  cancel(runId: string): Run {
    return this.write(() => {
      const row = this.requireRow(runId)
      if (row.status === 'cancelled') return toRun(row)
      this.checkTransition(row, 'cancelled', 'cancel', 'cancelled')
      this.runsSql.finish.run({ id: runId, status: 'cancelled', error: null, now: this.now() })
      return this.requireRun(runId)
    })
  }

  /**
   * failed / cancelled / interrupted / diverged → queued, at the end of its priority's queue
   * (`front: true`: first, e.g. for runs a crash interrupted). The checkpoint stays, so the run
   * resumes from it; what was recorded after the checkpoint is dropped now, since the resumed
   * run records it again.
   */
  retry(runId: string, options: { readonly front?: boolean } = {}): Run {
    return this.write(() => {
      const row = this.requireRow(runId)
      this.checkTransition(row, 'queued', 'retry', 'retried')
      // A cancelled run's trainer may still be on its way out (cancel only records the decision):
      // a new attempt, so nothing it says from now on (a crash on SIGTERM, a late `failed`) can
      // decide the run queued again. Cancel then retry ends exactly "queued again".
      if (row.status === 'cancelled') this.runsSql.advanceAttempt.run(runId)
      const position = options.front
        ? (this.runsSql.minQueuedPosition.get() ?? (this.runsSql.maxQueuePosition.get() ?? 0) + 1) -
          1
        : (this.runsSql.maxQueuePosition.get() ?? 0) + 1
      this.runsSql.requeue.run({ id: runId, queuePosition: position, now: this.now() })
      this.truncate(runId, row.last_checkpoint_epoch)
      return this.requireRun(runId)
    })
  }

  /**
   * Moves a queued run to `index` (0 = starts next) in the queue as `queue()` lists it. Priority
   * ranks first, so a run moved among runs of another priority takes on the priority it needs
   * to stay where it was put (dragged to the top, it runs next).
   */
  reorder(runId: string, index: number): Run {
    this.checkInteger(index, 'queue index', 0)
    return this.write(() => {
      const row = this.requireRow(runId)
      if (!canReorder(row.status)) {
        throw new StoreError(
          'illegal-state',
          `cannot move run ${runId} in the queue: it is ${row.status}, not queued`,
        )
      }
      const queue = this.runsSql.queue.all().filter((r) => r.id !== runId)
      const at = Math.min(index, queue.length)
      const above = queue[at - 1]
      const below = queue[at]
      let priority = row.priority
      if (above !== undefined && priority > above.priority) priority = above.priority
      if (below !== undefined && priority < below.priority) priority = below.priority
      queue.splice(at, 0, { ...row, priority })
      // Renumber from the smallest position: stays below max + 1, where new runs are appended.
      const base = Math.min(...queue.map((r) => r.queue_position))
      queue.forEach((r, k) => this.runsSql.setQueuePlace.run(r.priority, base + k, r.id))
      return this.requireRun(runId)
    })
  }

  setPriority(runId: string, priority: number): Run {
    this.checkInteger(priority, 'priority')
    return this.write(() => {
      this.requireRow(runId)
      this.runsSql.setPriority.run(priority, runId)
      return this.requireRun(runId)
    })
  }

  setNotes(runId: string, notes: string): Run {
    return this.write(() => {
      this.requireRow(runId)
      this.runsSql.setNotes.run(notes, runId)
      return this.requireRun(runId)
    })
  }

  /** Replaces a run's tags (trimmed, empty ones and repeats dropped, order kept). */
  setTags(runId: string, tags: readonly string[]): Run {
    const clean = [...new Set(tags.map((t) => t.trim()).filter((t) => t.length > 0))]
    return this.write(() => {
      this.requireRow(runId)
      this.runsSql.setTags.run(JSON.stringify(clean), runId)
      return this.requireRun(runId)
    })
  }

  /**
   * Deletes runs with their points, events and artifact rows (all or none; a running run is
   * refused: cancel it first). Returns the run folders for the caller to remove: files are not
   * the database's to delete, and a failed removal must not undo the deletion.
   */
  delete(runIds: readonly string[]): string[] {
    return this.write(() => {
      const ids = [...new Set(runIds)]
      for (const id of ids) {
        const row = this.requireRow(id)
        if (!canDelete(row.status)) {
          throw new StoreError(
            'illegal-state',
            `cannot delete run ${id}: it is ${row.status}; cancel it first`,
          )
        }
        // A linked run reads its metrics from this one: deleting it alone would empty them.
        const links = this.runsSql.linksTo.all(id).filter((l) => !ids.includes(l))
        if (links.length > 0) {
          throw new StoreError(
            'illegal-state',
            `cannot delete run ${id}: ${links.length === 1 ? 'run' : 'runs'} ${links.join(', ')} ` +
              `of other experiments ${links.length === 1 ? 'is a link' : 'are links'} to it and ` +
              'read its metrics from it; delete them in the same call, or keep it',
          )
        }
      }
      // Links first: they reference their source.
      ids.sort(
        (a, b) =>
          Number(this.requireRow(b).linked_from !== null) -
          Number(this.requireRow(a).linked_from !== null),
      )
      for (const id of ids) this.runsSql.delete.run(id)
      return ids.map((id) => this.runDir(id))
    })
  }

  /** Whether the queue is paused: queued runs wait; running ones go on. Shared by all processes. */
  queuePaused(): boolean {
    return this.guard(() => this.settingsSql.get.get(SETTING_KEYS.queuePaused) === 'true')
  }

  /** The queue's saved settings (slots, GPUs, Redis), defaults filled in. */
  queueSettings(): QueueSettings {
    return this.guard(() => {
      const raw = this.settingsSql.get.get(SETTING_KEYS.queue)
      if (raw === undefined) return DEFAULT_QUEUE_SETTINGS
      try {
        return { ...DEFAULT_QUEUE_SETTINGS, ...(JSON.parse(raw) as Partial<QueueSettings>) }
      } catch {
        return DEFAULT_QUEUE_SETTINGS
      }
    })
  }

  setQueueSettings(settings: QueueSettings): void {
    this.write(() => {
      this.settingsSql.set.run(SETTING_KEYS.queue, JSON.stringify(settings))
    })
  }

  setQueuePaused(paused: boolean): void {
    this.write(() => {
      this.settingsSql.set.run(SETTING_KEYS.queuePaused, JSON.stringify(paused))
    })
  }

  // --- trainer messages -----------------------------------------------------------------------

  /**
   * Records a batch of trainer messages in one transaction: each appended to the run's log,
   * its metric points upserted, and the run updated (status on a final message, summary on
   * `epoch`, checkpoint epoch on `checkpoint`, engine/backend/params on `started`). A message
   * already recorded (same content) is skipped whole, so replaying a log is harmless. A
   * `started` message that resumes from epoch E drops what was recorded after E.
   * Returns how many messages were new.
   */
  persistMessages(
    runId: string,
    messages: readonly TrainerMessage[],
    options: { readonly attempt?: number } = {},
  ): number {
    if (messages.length === 0) return 0
    return this.write(() => {
      const row = this.requireRow(runId)
      // Fencing: a trainer of an older attempt (presumed dead, then back) must not write.
      if (options.attempt !== undefined && options.attempt !== row.attempt) {
        throw new StoreError(
          'stale-attempt',
          `refused ${messages.length} message(s) of run ${runId} from attempt ${options.attempt}: ` +
            `its current attempt is ${row.attempt}`,
        )
      }
      let status = row.status
      let seq = this.eventsSql.maxSeq.get(runId) ?? 0
      let stored = 0
      let judge = false
      const buckets = new BucketWriter(this.bucketsSql, runId)
      for (const m of messages) {
        if (m.runId !== runId) {
          throw new StoreError('invalid', `a message of run ${m.runId} was given for run ${runId}`)
        }
        const json = JSON.stringify(m)
        const epoch = messageEpoch(m)
        const digest = messageDigest(json)
        const inserted = this.eventsSql.insert.run(
          runId,
          seq + 1,
          m.time,
          m.type,
          epoch,
          digest,
          json,
        )
        if (inserted.changes === 0) continue
        seq++
        stored++
        for (const p of metricPoints(m)) {
          const value = finiteOrNull(p.value)
          buckets.point(p.name, p.step, p.epoch, p.time, value)
          this.metricsSql.upsert.run(runId, p.name, p.step, p.epoch, p.time, value)
        }
        status = this.applyMessage(runId, status, m)
        judge ||= JUDGED_AFTER.has(m.type)
      }
      buckets.finish()
      if (judge) refreshHealth(this.healthSql, { id: runId, config: toRun(row).config, status })
      return stored
    })
  }

  /**
   * Drops the metric points and progress events (step, epoch, checkpoint) after the run's last
   * checkpoint, and recomputes its summary: a resumed run then replaces, never duplicates, what
   * happened after that checkpoint. Log lines and final messages stay as history.
   */
  truncateAfterCheckpoint(runId: string): TruncateResult {
    return this.write(() => this.truncate(runId, this.requireRow(runId).last_checkpoint_epoch))
  }

  metricSeries(runId: string, name: string): MetricSample[] {
    return this.guard(() => this.metricsSql.series.all(this.dataId(runId), name).map(toSample))
  }

  /**
   * One series downsampled to about `window.maxPoints` points over an optional step window: min
   * and max per bucket from the metric buckets, the raw points when the window holds few enough.
   */
  metricSeriesSampled(runId: string, name: string, window: SeriesWindow): MetricSample[] {
    return this.guard(() => sampledSeries(this.bucketsSql, this.dataId(runId), name, window))
  }

  metricNames(runId: string): string[] {
    return this.guard(() => this.metricsSql.names.all(this.dataId(runId)))
  }

  /** The run's log from `afterSeq` on (0: from the start), at most `limit` events. */
  events(
    runId: string,
    options: { readonly afterSeq?: number; readonly limit?: number } = {},
  ): RunEvent[] {
    return this.guard(() =>
      this.eventsSql.page
        .all(this.dataId(runId), options.afterSeq ?? 0, options.limit ?? 100_000)
        .map(toEvent),
    )
  }

  /**
   * One row per epoch, from the run's log, in epoch order. A resumed run's replaced epochs are
   * already gone from the log (see truncateAfterCheckpoint), so each epoch appears once.
   */
  epochRows(runId: string): EpochSummary[] {
    const rows = new Map<number, EpochSummary>()
    for (const { message: m } of this.events(runId))
      if (m.type === 'epoch') rows.set(m.epoch, epochSummary(m))
    return [...rows.values()].sort((a, b) => a.epoch - b.epoch)
  }

  /** The newest message of one type in the run's log (e.g. its last `step`), if any. */
  latestEvent<T extends TrainerMessage['type']>(
    runId: string,
    type: T,
  ): (RunEvent & { message: Extract<TrainerMessage, { type: T }> }) | undefined {
    return this.guard(() => {
      const row = this.eventsSql.latestOfType.get(this.dataId(runId), type)
      return row === undefined
        ? undefined
        : (toEvent(row) as RunEvent & { message: Extract<TrainerMessage, { type: T }> })
    })
  }

  // --- saved comparison views ----------------------------------------------------------------

  listViews(): SavedView[] {
    return this.guard(() => this.viewsSql.all.all().map(toView))
  }

  /**
   * Saves a view's state: over the view `id` (renaming it to `name`), else over the view named
   * `name`, else as a new view. A rename onto another view's name is refused.
   */
  saveView(name: string, state: ViewState, id?: number): SavedView {
    const clean = name.trim()
    if (clean.length === 0 || clean.length > 120) {
      throw new StoreError(
        'invalid',
        `a view name must have 1 to 120 characters (got ${JSON.stringify(name)})`,
      )
    }
    const stateJson = JSON.stringify(state)
    return this.write(() => {
      const named = this.viewsSql.byName.get(clean)
      const now = this.now()
      if (id !== undefined) {
        if (this.viewsSql.byId.get(id) === undefined) {
          throw new StoreError('not-found', `no saved view ${id}`)
        }
        if (named !== undefined && named.id !== id) {
          throw new StoreError('invalid', `a view named "${clean}" already exists`)
        }
        this.viewsSql.update.run({ id, name: clean, stateJson, now })
        return this.requireView(id)
      }
      if (named !== undefined) {
        this.viewsSql.update.run({ id: named.id, name: clean, stateJson, now })
        return toView({ ...named, state_json: stateJson, updated_at: now })
      }
      const newId = Number(
        this.viewsSql.insert.run({ name: clean, stateJson, now }).lastInsertRowid,
      )
      return toView(
        this.viewsSql.byId.get(newId) as NonNullable<ReturnType<typeof this.viewsSql.byId.get>>,
      )
    })
  }

  private requireView(id: number): SavedView {
    const row = this.viewsSql.byId.get(id)
    if (row === undefined) throw new StoreError('not-found', `no saved view ${id}`)
    return toView(row)
  }

  deleteView(id: number): void {
    this.write(() => {
      if (this.viewsSql.delete.run(id).changes === 0) {
        throw new StoreError('not-found', `no saved view ${id}`)
      }
    })
  }

  // --- artifacts ------------------------------------------------------------------------------

  addArtifact(runId: string, artifact: NewArtifact): Artifact[] {
    return this.write(() => {
      this.requireRow(runId)
      this.artifactsSql.upsert.run(
        runId,
        artifact.kind,
        artifact.path,
        artifact.bytes ?? null,
        this.now(),
        artifact.epoch ?? null,
      )
      return this.artifactsSql.forRun.all(runId).map(toArtifact)
    })
  }

  artifacts(runId: string): Artifact[] {
    return this.guard(() => this.artifactsSql.forRun.all(this.dataId(runId)).map(toArtifact))
  }

  // --- internals ------------------------------------------------------------------------------

  /**
   * Judges the runs stored before migration 8 from their epochs (once: each then has a health).
   * A database that another process holds busy is left for the next open: nothing depends on it.
   */
  private backfillHealth(): void {
    const ids = this.guard(() => this.healthSql.unjudged.all())
    if (ids.length === 0) return
    try {
      this.write(() => {
        for (const id of ids) refreshHealth(this.healthSql, toRun(this.requireRow(id)))
      })
    } catch (err) {
      // Busy: another process writes right now; these rows read as not judged until next time.
      if (!(err instanceof StoreError && err.code === 'busy')) throw err
    }
  }

  /** Applies one new message's effect on the run row; returns the run's status after it. */
  private applyMessage(runId: string, status: RunStatus, m: TrainerMessage): RunStatus {
    switch (m.type) {
      case 'started':
        if (isOpen(status)) this.truncate(runId, m.startEpoch)
        this.runsSql.started.run({
          id: runId,
          engine: m.engine,
          backend: m.backend,
          versionsJson: JSON.stringify(m.versions),
          params: m.params,
          pid: m.pid,
          time: m.time,
        })
        return status === 'queued' ? 'running' : status
      case 'epoch':
        this.runsSql.epochDone.run({ id: runId, epoch: m.epoch, acc: finiteOrNull(m.testAcc) })
        return status
      case 'checkpoint':
        this.runsSql.checkpointed.run(m.epoch, runId)
        this.artifactsSql.upsert.run(runId, 'checkpoint', m.path, null, m.time, m.epoch)
        return status
      case 'finished':
      case 'failed':
      case 'diverged':
      case 'cancelled': {
        // The first final state wins: a run the user cancelled stays cancelled even if its
        // trainer reports something else on the way out.
        if (!isOpen(status)) return status
        const next = statusAfter(m)
        const error =
          m.type === 'failed'
            ? m.error
            : m.type === 'diverged'
              ? `the loss became ${m.loss} at epoch ${m.epoch}, step ${m.step}: lower train.lr and retry`
              : null
        this.runsSql.finish.run({ id: runId, status: next, error, now: m.time })
        if (m.type === 'finished') {
          this.runsSql.completedWith.run({
            id: runId,
            acc: finiteOrNull(m.testAcc),
            epochs: m.epochs,
          })
          this.artifactsSql.upsert.run(runId, 'model', m.modelPath, null, m.time, null)
        }
        return next
      }
      default:
        return status
    }
  }

  private truncate(runId: string, epoch: number): TruncateResult {
    const dropped = truncateBuckets(this.bucketsSql, runId, epoch)
    const points = this.metricsSql.deleteAfterEpoch.run(runId, epoch).changes
    if (dropped !== null) rebuildAfterTruncate(this.bucketsSql, runId, dropped)
    const events = this.eventsSql.deleteAfterEpoch.run(runId, epoch).changes
    this.artifactsSql.deleteCheckpointsAfter.run(runId, epoch)
    this.runsSql.resummarize.run({ id: runId, checkpoint: epoch, metric: SUMMARY_METRIC })
    const run = toRun(this.requireRow(runId))
    refreshHealth(this.healthSql, run)
    return { points, events }
  }

  /**
   * Where a run's messages, metrics and artifacts are stored: its own id, or for a linked run
   * its source's (a linked run has none of its own). An unknown id reads as itself (no rows).
   */
  private dataId(runId: string): string {
    return this.runsSql.dataId.get(runId) ?? runId
  }

  private requireRow(runId: string): RunRow {
    const row = this.runsSql.byId.get(runId)
    if (row === undefined) throw new StoreError('not-found', `no run ${runId} in ${this.file}`)
    return row
  }

  private checkTransition(row: RunRow, to: RunStatus, verb: string, participle: string): void {
    if (canMove(row.status, to)) return
    const from = statusesThatCanBecome(to)
    throw new StoreError(
      'illegal-state',
      `cannot ${verb} run ${row.id}: it is ${row.status} (only ${orList(from)} runs can be ${participle})`,
    )
  }

  private checkExperimentName(name: string): string {
    const clean = name.trim()
    if (clean.length === 0 || clean.length > 120) {
      throw new StoreError(
        'invalid',
        `an experiment name must have 1 to 120 characters (got ${JSON.stringify(name)})`,
      )
    }
    return clean
  }

  private checkInteger(value: number, what: string, min = -1_000_000): void {
    if (!Number.isInteger(value) || value < min || value > 1_000_000) {
      throw new StoreError(
        'invalid',
        `${what} must be an integer from ${min} to 1000000 (got ${value})`,
      )
    }
  }

  private insertExperiment(name: string, description: string): Experiment {
    const id = this.experimentsSql.insert.run({
      name,
      description,
      createdAt: this.now(),
    }).lastInsertRowid
    const row = this.experimentsSql.byId.get(Number(id))
    if (row === undefined) throw new Error(`experiment ${name} vanished after insert`)
    return toExperiment(row)
  }

  private newRunId(): string {
    for (;;) {
      let id = 'r'
      for (let i = 0; i < ID_LENGTH; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)]
      if (this.runsSql.exists.get(id) === undefined && !existsSync(this.runDir(id))) return id
    }
  }

  /** Runs `fn` translating SQLite and file-system errors into StoreErrors. */
  private guard<T>(fn: () => T): T {
    try {
      return fn()
    } catch (err) {
      throw toStoreError(err, this.file, this.busyTimeoutMs)
    }
  }

  /** Runs `fn` in one IMMEDIATE transaction (nested calls become savepoints). */
  private write<T>(fn: () => T): T {
    return this.guard(() => this.connection.transaction(fn).immediate())
  }
}
