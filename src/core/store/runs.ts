/** The runs table: one row per training run, its config, queue place, state and summary. */
import type { Placement, Run, RunOwner } from '@shared/api/types'
import type Database from 'better-sqlite3'
import {
  LATER_TRAIN_DEFAULTS,
  type ExperimentConfig,
  type ResolvedPrecision,
} from '@shared/config/experiment'
import { METRICS } from '@shared/metrics'
import type { RunHealth } from '@shared/health'
import { NEEDS_ATTENTION_HEALTH, NEEDS_ATTENTION_STATUSES, type RunStatus } from '@shared/run-state'
import { prepare, preparePluck, type Statement } from './statement'

export interface RunRow {
  id: string
  experiment_id: number
  experiment_name: string
  name: string
  config_json: string
  config_hash: string
  status: RunStatus
  priority: number
  queue_position: number
  engine: string | null
  backend: string | null
  /** From the run's latest `started` message (SELECT_RUN), not a column. */
  precision: ResolvedPrecision | null
  /** The row's insertion order (SQLite's rowid): the tiebreak of runs created in one ms. */
  row_seq: number
  versions_json: string | null
  seed: number
  host: string | null
  pid: number | null
  attempt: number
  owner_json: string | null
  placement_json: string | null
  created_at: number
  queued_at: number
  started_at: number | null
  finished_at: number | null
  error: string | null
  last_checkpoint_epoch: number
  notes: string
  tags_json: string
  params: number | null
  final_test_acc: number | null
  best_test_acc: number | null
  epochs_done: number
  health_json: string | null
  /** A linked run's source run, and (SELECT_RUN) that run's experiment and finish time. */
  linked_from: string | null
  linked_experiment: string | null
  linked_finished_at: number | null
}

/**
 * A stored config as the current schema types it: written from a validated config by addRuns
 * and read back as is, except for fields added since, filled with their defaults.
 */
function storedConfig(json: string): ExperimentConfig {
  const config = JSON.parse(json) as ExperimentConfig
  const missing = Object.keys(LATER_TRAIN_DEFAULTS).some((key) => !(key in config.train))
  return missing ? { ...config, train: { ...LATER_TRAIN_DEFAULTS, ...config.train } } : config
}

export const toRun = (row: RunRow): Run => ({
  id: row.id,
  experimentId: row.experiment_id,
  experiment: row.experiment_name,
  name: row.name,
  config: storedConfig(row.config_json),
  configHash: row.config_hash,
  status: row.status,
  priority: row.priority,
  queuePosition: row.queue_position,
  engine: row.engine,
  backend: row.backend,
  precision: row.precision,
  versions:
    row.versions_json === null
      ? null
      : (JSON.parse(row.versions_json) as Readonly<Record<string, string>>),
  seed: row.seed,
  host: row.host,
  pid: row.pid,
  attempt: row.attempt,
  owner: row.owner_json === null ? null : (JSON.parse(row.owner_json) as RunOwner),
  placement: row.placement_json === null ? null : (JSON.parse(row.placement_json) as Placement),
  createdAt: row.created_at,
  queuedAt: row.queued_at,
  startedAt: row.started_at,
  finishedAt: row.finished_at,
  error: row.error,
  lastCheckpointEpoch: row.last_checkpoint_epoch,
  notes: row.notes,
  tags: JSON.parse(row.tags_json) as string[],
  params: row.params,
  finalTestAcc: row.final_test_acc,
  bestTestAcc: row.best_test_acc,
  epochsDone: row.epochs_done,
  health: row.health_json === null ? UNJUDGED : (JSON.parse(row.health_json) as RunHealth),
  linkedFrom:
    row.linked_from === null
      ? null
      : {
          runId: row.linked_from,
          experiment: row.linked_experiment ?? '',
          trainedAt: row.linked_finished_at,
        },
})

/** A row without a stored health: queued, or stored before migration 8 and not yet backfilled. */
const UNJUDGED: RunHealth = {
  status: 'pending',
  reason: 'no finished epoch yet to judge by',
  moreEpochs: null,
}

export interface RunFilter {
  readonly status?: RunStatus | readonly RunStatus[]
  /** Experiment name. */
  readonly experiment?: string
  /** Runs whose name contains this text (case-insensitive). */
  readonly search?: string
  /**
   * Only runs that need attention (`needsAttention` in src/shared/run-state.ts): a status that
   * stopped short, or a health that answers nothing (a link counts once, at its source).
   */
  readonly attention?: boolean
  /**
   * `queue`: the order runs start in (priority, then FIFO); `created` (default): oldest first;
   * `newest`: newest first.
   */
  readonly order?: 'queue' | 'created' | 'newest'
  /** A page of the result: skip `offset` runs, return at most `limit`. */
  readonly offset?: number
  readonly limit?: number
  /**
   * Only runs after this one in the `created` or `newest` order (keyset paging: a page costs the
   * same wherever it starts, and runs added or deleted meanwhile shift nothing).
   */
  readonly after?: ListCursor
}

/** Where a page ended: the last run's creation time and insertion order. */
export interface ListCursor {
  readonly createdAt: number
  readonly seq: number
}

/** The cursor as the API carries it: `<createdAt>.<seq>`. */
export const encodeCursor = (c: ListCursor): string => `${c.createdAt}.${c.seq}`

/** The cursor a listRuns answer gave, or null where the text is not one. */
export function decodeCursor(text: string): ListCursor | null {
  const match = /^(\d{1,16})\.(\d{1,16})$/.exec(text)
  if (!match) return null
  const createdAt = Number(match[1])
  const seq = Number(match[2])
  return Number.isSafeInteger(createdAt) && Number.isSafeInteger(seq) ? { createdAt, seq } : null
}

/**
 * A run with its experiment's name and the precision its latest `started` message reported
 * (kept in run_events as received; the run_events_type index makes it one seek per run), so
 * recording the precision needed no new column.
 */
export const SELECT_RUN = `SELECT r.*, r.rowid AS row_seq, e.name AS experiment_name,
    (SELECT json_extract(ev.json, '$.precision') FROM run_events ev
      WHERE ev.run_id = COALESCE(r.linked_from, r.id) AND ev.type = 'started'
      ORDER BY ev.seq DESC LIMIT 1) AS precision,
    se.name AS linked_experiment, src.finished_at AS linked_finished_at
  FROM runs r JOIN experiments e ON e.id = r.experiment_id
    LEFT JOIN runs src ON src.id = r.linked_from
    LEFT JOIN experiments se ON se.id = src.experiment_id`

const QUEUE_ORDER = 'r.priority DESC, r.queue_position ASC'

export interface NewRunRow {
  id: string
  experimentId: number
  name: string
  configJson: string
  configHash: string
  priority: number
  queuePosition: number
  seed: number
  now: number
}

export interface StartRow {
  id: string
  pid: number | null
  host: string | null
  engine: string | null
  backend: string | null
  versionsJson: string | null
  now: number
}

/** The rows themselves: added (or linked), read, edited, deleted. */
function runRowStatements(db: Database.Database) {
  return {
    /** Skips (changes = 0) a config already in the experiment: UNIQUE (experiment_id, config_hash). */
    insert: prepare<[NewRunRow]>(
      db,
      `INSERT INTO runs (id, experiment_id, name, config_json, config_hash, status, priority,
         queue_position, seed, created_at, queued_at)
       VALUES (@id, @experimentId, @name, @configJson, @configHash, 'queued', @priority,
         @queuePosition, @seed, @now, @now)
       ON CONFLICT (experiment_id, config_hash) DO NOTHING`,
    ),
    /**
     * A run queued as a link to `source` (a completed run of another experiment, same config
     * hash): completed at once, its summary, placement and health copied, its data read through
     * linked_from. Skipped like insert when the experiment already has the config.
     */
    insertLink: prepare<[NewRunRow & { source: string }]>(
      db,
      `INSERT INTO runs (id, experiment_id, name, config_json, config_hash, status, priority,
         queue_position, seed, created_at, queued_at, engine, backend, versions_json, host,
         started_at, finished_at, last_checkpoint_epoch, params, final_test_acc, best_test_acc,
         epochs_done, placement_json, health_json, linked_from)
       SELECT @id, @experimentId, @name, @configJson, @configHash, 'completed', @priority,
         @queuePosition, @seed, @now, @now, engine, backend, versions_json, host, started_at,
         finished_at, last_checkpoint_epoch, params, final_test_acc, best_test_acc, epochs_done,
         placement_json, health_json, id
       FROM runs WHERE id = @source
       ON CONFLICT (experiment_id, config_hash) DO NOTHING`,
    ),
    /**
     * The newest completed, trained (not itself linked) run with this config hash outside the
     * experiment: what a new run of that config could link to instead of training again.
     */
    reusable: prepare<[hash: string, experimentId: number], RunRow>(
      db,
      `${SELECT_RUN} WHERE r.config_hash = ? AND r.experiment_id != ? AND r.status = 'completed'
         AND r.linked_from IS NULL ORDER BY r.finished_at DESC LIMIT 1`,
    ),
    hasConfig: preparePluck<[experimentId: number, hash: string], number>(
      db,
      'SELECT 1 FROM runs WHERE experiment_id = ? AND config_hash = ?',
    ),
    /** Where a run's messages, metrics and files are: its own id, or a linked run's source. */
    dataId: preparePluck<[id: string], string>(
      db,
      'SELECT COALESCE(linked_from, id) FROM runs WHERE id = ?',
    ),
    /** Runs linked to one of these (which a deletion of theirs would leave without data). */
    linksTo: preparePluck<[id: string], string>(db, 'SELECT id FROM runs WHERE linked_from = ?'),
    byId: prepare<[id: string], RunRow>(db, `${SELECT_RUN} WHERE r.id = ?`),
    exists: preparePluck<[id: string], number>(db, 'SELECT 1 FROM runs WHERE id = ?'),
    setPriority: prepare<[priority: number, id: string]>(
      db,
      'UPDATE runs SET priority = ? WHERE id = ?',
    ),
    setNotes: prepare<[notes: string, id: string]>(db, 'UPDATE runs SET notes = ? WHERE id = ?'),
    setTags: prepare<[tagsJson: string, id: string]>(
      db,
      'UPDATE runs SET tags_json = ? WHERE id = ?',
    ),
    delete: prepare<[id: string]>(db, 'DELETE FROM runs WHERE id = ?'),
  }
}

/** The queue: its order, its places, what starts next. */
function queueStatements(db: Database.Database) {
  return {
    maxQueuePosition: preparePluck<[], number>(
      db,
      'SELECT COALESCE(MAX(queue_position), 0) FROM runs',
    ),
    minQueuedPosition: preparePluck<[], number | null>(
      db,
      "SELECT MIN(queue_position) FROM runs WHERE status = 'queued'",
    ),
    next: prepare<[], RunRow>(
      db,
      `${SELECT_RUN} WHERE r.status = 'queued' ORDER BY ${QUEUE_ORDER} LIMIT 1`,
    ),
    queue: prepare<[], RunRow>(
      db,
      `${SELECT_RUN} WHERE r.status = 'queued' ORDER BY ${QUEUE_ORDER}`,
    ),
    queuePage: prepare<[limit: number], RunRow>(
      db,
      `${SELECT_RUN} WHERE r.status = 'queued' ORDER BY ${QUEUE_ORDER} LIMIT ?`,
    ),
    queuedCount: preparePluck<[], number>(db, "SELECT COUNT(*) FROM runs WHERE status = 'queued'"),
    setQueuePlace: prepare<[priority: number, position: number, id: string]>(
      db,
      'UPDATE runs SET priority = ?, queue_position = ? WHERE id = ?',
    ),
  }
}

/** State moves: starts, claims and attempts (the fencing token), owners, ends, requeues. */
function lifecycleStatements(db: Database.Database) {
  return {
    start: prepare<[StartRow]>(
      db,
      `UPDATE runs SET status = 'running', pid = @pid, host = @host, engine = @engine,
         backend = @backend, versions_json = @versionsJson, started_at = @now,
         finished_at = NULL, error = NULL
       WHERE id = @id AND status = 'queued'`,
    ),
    /** queued → running as a new attempt held by `owner`; changes = 0 when it is not queued. */
    claim: prepare<
      [{ id: string; host: string; ownerJson: string; placementJson: string | null; now: number }]
    >(
      db,
      `UPDATE runs SET status = 'running', attempt = attempt + 1, owner_json = @ownerJson,
         placement_json = @placementJson, host = @host, pid = NULL,
         started_at = COALESCE(started_at, @now), finished_at = NULL, error = NULL
       WHERE id = @id AND status = 'queued'`,
    ),
    /** The owner (and placement) of the current attempt, once a remote worker has taken it. */
    setOwner: prepare<
      [{ id: string; attempt: number; host: string; ownerJson: string; placementJson: string }]
    >(
      db,
      `UPDATE runs SET owner_json = @ownerJson, placement_json = @placementJson, host = @host
       WHERE id = @id AND attempt = @attempt AND status = 'running'`,
    ),
    /** The trainer of the current attempt, once spawned. */
    setTrainer: prepare<[{ id: string; attempt: number; pid: number; engine: string }]>(
      db,
      `UPDATE runs SET pid = @pid, engine = @engine
       WHERE id = @id AND attempt = @attempt AND status = 'running'`,
    ),
    finish: prepare<[{ id: string; status: RunStatus; error: string | null; now: number }]>(
      db,
      `UPDATE runs SET status = @status, error = @error, finished_at = @now, owner_json = NULL
       WHERE id = @id`,
    ),
    /** A new attempt without a claim: whatever trainer the old one had may no longer write. */
    advanceAttempt: prepare<[id: string]>(db, 'UPDATE runs SET attempt = attempt + 1 WHERE id = ?'),
    requeue: prepare<[{ id: string; queuePosition: number; now: number }]>(
      db,
      `UPDATE runs SET status = 'queued', queue_position = @queuePosition, queued_at = @now,
         finished_at = NULL, error = NULL, pid = NULL, owner_json = NULL
       WHERE id = @id`,
    ),
  }
}

/** What a trainer's messages change on the run row: what it runs on, the summary, the checkpoint. */
function progressStatements(db: Database.Database) {
  return {
    /**
     * From a `started` message: what the trainer actually runs on. Only a queued run becomes
     * running here (a run started without markStarted, e.g. by `nin-lab run`); an interrupted
     * one stays so: its process is gone, this is late news from it.
     */
    started: prepare<
      [
        {
          id: string
          engine: string
          backend: string
          versionsJson: string
          params: number
          pid: number
          time: number
        },
      ]
    >(
      db,
      `UPDATE runs SET engine = @engine, backend = @backend, versions_json = @versionsJson,
         params = @params, pid = @pid,
         started_at = CASE WHEN status = 'queued' OR started_at IS NULL
           THEN @time ELSE started_at END,
         status = CASE WHEN status = 'queued' THEN 'running' ELSE status END
       WHERE id = @id`,
    ),
    /** From an `epoch` message. SET sees the old row, so the CASE compares with the old count. */
    epochDone: prepare<[{ id: string; epoch: number; acc: number | null }]>(
      db,
      `UPDATE runs SET
         final_test_acc = CASE WHEN @epoch >= epochs_done THEN @acc ELSE final_test_acc END,
         best_test_acc = CASE WHEN @acc IS NULL THEN best_test_acc
           ELSE MAX(COALESCE(best_test_acc, @acc), @acc) END,
         epochs_done = MAX(epochs_done, @epoch)
       WHERE id = @id`,
    ),
    checkpointed: prepare<[epoch: number, id: string]>(
      db,
      'UPDATE runs SET last_checkpoint_epoch = MAX(last_checkpoint_epoch, ?) WHERE id = ?',
    ),
    completedWith: prepare<[{ id: string; acc: number | null; epochs: number }]>(
      db,
      `UPDATE runs SET final_test_acc = COALESCE(@acc, final_test_acc),
         best_test_acc = CASE WHEN @acc IS NULL THEN best_test_acc
           ELSE MAX(COALESCE(best_test_acc, @acc), @acc) END,
         epochs_done = MAX(epochs_done, @epochs)
       WHERE id = @id`,
    ),
    /**
     * After dropping points past `checkpoint`: the checkpoint epoch and the summary columns
     * again, from the test accuracy that is left.
     */
    resummarize: prepare<[{ id: string; checkpoint: number; metric: string }]>(
      db,
      `UPDATE runs SET
         last_checkpoint_epoch = @checkpoint,
         epochs_done = COALESCE((SELECT MAX(epoch) FROM metric_points
           WHERE run_id = @id AND name = @metric), 0),
         final_test_acc = (SELECT value FROM metric_points
           WHERE run_id = @id AND name = @metric ORDER BY step DESC LIMIT 1),
         best_test_acc = (SELECT MAX(value) FROM metric_points
           WHERE run_id = @id AND name = @metric)
       WHERE id = @id`,
    ),
  }
}

/** Every statement on the runs table, grouped by what uses them (run-catalog.ts, run-lifecycle.ts,
 * run-history.ts). */
export function runStatements(db: Database.Database) {
  return {
    ...runRowStatements(db),
    ...queueStatements(db),
    ...lifecycleStatements(db),
    ...progressStatements(db),
  }
}

/** The metric the summary columns come from. */
export const SUMMARY_METRIC = METRICS.testAcc

export type RunStatements = ReturnType<typeof runStatements>

/**
 * A listing query for a filter. Prepared per distinct shape and cached: the filters are few,
 * and a prepared statement per shape keeps the SQL free of string-built values.
 */
export function listRunsQuery(
  db: Database.Database,
  cache: Map<string, Statement<unknown[], RunRow>>,
  filter: RunFilter,
): { statement: Statement<unknown[], RunRow>; params: unknown[] } {
  const { where, params } = whereOf(filter)
  const newest = filter.order === 'newest'
  const order =
    filter.order === 'queue'
      ? QUEUE_ORDER
      : newest
        ? 'r.created_at DESC, r.rowid DESC'
        : 'r.created_at, r.rowid'
  let keyset = ''
  if (filter.after !== undefined) {
    if (filter.order === 'queue')
      throw new Error('listRuns: a cursor pages the created orders only')
    keyset = `${where ? ' AND' : ' WHERE'} (r.created_at, r.rowid) ${newest ? '<' : '>'} (?, ?)`
    params.push(filter.after.createdAt, filter.after.seq)
  }
  const page = filter.limit !== undefined || filter.offset !== undefined ? ' LIMIT ? OFFSET ?' : ''
  if (page) params.push(filter.limit ?? -1, filter.offset ?? 0)
  if (!page)
    return { statement: cached(db, cache, `${SELECT_RUN}${where} ORDER BY ${order}`), params }
  // A page picks its rows first, sorting only the keys: sorting the full rows would compute
  // every matching run's columns (its config, its precision's subquery) to keep MAX_LIST of them
  // (10,000 runs: ~150 ms a page, against a few ms).
  const picked = `SELECT r.rowid FROM runs r JOIN experiments e ON e.id = r.experiment_id${where}${keyset} ORDER BY ${order}${page}`
  const sql = `${SELECT_RUN} WHERE r.rowid IN (${picked}) ORDER BY ${order}`
  return { statement: cached(db, cache, sql), params }
}

/** How many runs match the filter (its page ignored). */
export function countRunsQuery(
  db: Database.Database,
  cache: Map<string, Statement<unknown[], RunRow>>,
  filter: RunFilter,
): { statement: Statement<unknown[], RunRow>; params: unknown[] } {
  const { where, params } = whereOf(filter)
  const sql = `SELECT COUNT(*) AS n FROM runs r JOIN experiments e ON e.id = r.experiment_id${where}`
  return { statement: cached(db, cache, sql), params }
}

function cached(
  db: Database.Database,
  cache: Map<string, Statement<unknown[], RunRow>>,
  sql: string,
): Statement<unknown[], RunRow> {
  let statement = cache.get(sql)
  if (statement === undefined) {
    statement = prepare<unknown[], RunRow>(db, sql)
    cache.set(sql, statement)
  }
  return statement
}

function whereOf(filter: RunFilter): { where: string; params: unknown[] } {
  const where: string[] = []
  const params: unknown[] = []
  const statuses =
    filter.status === undefined
      ? []
      : typeof filter.status === 'string'
        ? [filter.status]
        : [...filter.status]
  if (filter.status !== undefined) {
    // An empty list of statuses matches no run (not every run).
    where.push(statuses.length === 0 ? '0' : `r.status IN (${statuses.map(() => '?').join(', ')})`)
    params.push(...statuses)
  }
  if (filter.attention === true) {
    const s = NEEDS_ATTENTION_STATUSES.map(() => '?').join(', ')
    const h = NEEDS_ATTENTION_HEALTH.map(() => '?').join(', ')
    where.push(
      `(r.status IN (${s}) OR (r.linked_from IS NULL AND ` +
        `json_extract(r.health_json, '$.status') IN (${h})))`,
    )
    params.push(...NEEDS_ATTENTION_STATUSES, ...NEEDS_ATTENTION_HEALTH)
  }
  if (filter.experiment !== undefined) {
    where.push('e.name = ?')
    params.push(filter.experiment)
  }
  if (filter.search !== undefined && filter.search !== '') {
    where.push("r.name LIKE ? ESCAPE '\\'")
    params.push(`%${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`)
  }
  return { where: where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '', params }
}

export type { Run }
