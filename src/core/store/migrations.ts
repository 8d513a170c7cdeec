/**
 * The database schema, as numbered migrations. `PRAGMA user_version` holds the number of the
 * last one applied; each applies in its own transaction, so a crash mid-upgrade leaves the
 * previous version intact. Migrations are history: never edit one that has shipped, add the next.
 */
import type Database from 'better-sqlite3'
import { StoreError } from './errors'

export interface Migration {
  readonly version: number
  readonly description: string
  readonly sql: string
}

/**
 * Marks the file as NiN Lab's (`PRAGMA application_id`, "NiNL"), so another program's SQLite
 * database is refused instead of having our tables added to it.
 */
export const APPLICATION_ID = 0x4e694e4c

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'experiments, runs, metric points, run events, artifacts',
    // The status list is spelled out, not generated from RUN_STATUSES: a shipped migration must
    // not change when the code does (a test checks that the two agree; a new status needs a
    // new migration).
    sql: `
      CREATE TABLE experiments (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        description TEXT NOT NULL DEFAULT '',
        created_at  INTEGER NOT NULL
      );

      CREATE TABLE runs (
        id                    TEXT PRIMARY KEY,
        experiment_id         INTEGER NOT NULL REFERENCES experiments(id),
        name                  TEXT NOT NULL,
        config_json           TEXT NOT NULL,
        config_hash           TEXT NOT NULL,
        status                TEXT NOT NULL CHECK (status IN
          ('queued', 'running', 'completed', 'failed', 'cancelled', 'diverged', 'interrupted')),
        priority              INTEGER NOT NULL DEFAULT 0,
        queue_position        INTEGER NOT NULL,
        engine                TEXT,
        backend               TEXT,
        versions_json         TEXT,
        seed                  INTEGER NOT NULL,
        host                  TEXT,
        pid                   INTEGER,
        created_at            INTEGER NOT NULL,
        queued_at             INTEGER NOT NULL,
        started_at            INTEGER,
        finished_at           INTEGER,
        error                 TEXT,
        last_checkpoint_epoch INTEGER NOT NULL DEFAULT 0,
        notes                 TEXT NOT NULL DEFAULT '',
        tags_json             TEXT NOT NULL DEFAULT '[]',
        params                INTEGER,
        final_test_acc        REAL,
        best_test_acc         REAL,
        epochs_done           INTEGER NOT NULL DEFAULT 0,
        -- One run per config in an experiment: enqueueing the same grid twice adds nothing, even
        -- when two processes enqueue at once.
        UNIQUE (experiment_id, config_hash)
      );
      CREATE INDEX runs_queue ON runs (status, priority DESC, queue_position);

      -- WITHOUT ROWID: the primary key is the one index a series query needs (one run's one
      -- metric, by step) and also what makes a replayed point replace, not duplicate.
      -- value NULL = NaN: SQLite cannot store NaN, and a diverging loss is worth keeping.
      CREATE TABLE metric_points (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        name   TEXT NOT NULL,
        step   INTEGER NOT NULL,
        epoch  INTEGER NOT NULL,
        time   INTEGER NOT NULL,
        value  REAL,
        PRIMARY KEY (run_id, name, step)
      ) WITHOUT ROWID;

      -- The trainer messages, as received: the run's log. digest (of the JSON) makes persisting
      -- the same message twice a no-op; epoch (where the message has one) lets a resumed run
      -- drop what came after its checkpoint.
      CREATE TABLE run_events (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        seq    INTEGER NOT NULL,
        time   INTEGER NOT NULL,
        type   TEXT NOT NULL,
        epoch  INTEGER,
        digest BLOB NOT NULL,
        json   TEXT NOT NULL,
        PRIMARY KEY (run_id, seq),
        UNIQUE (run_id, digest)
      );

      CREATE TABLE artifacts (
        id         INTEGER PRIMARY KEY,
        run_id     TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        kind       TEXT NOT NULL CHECK (kind IN ('checkpoint', 'model', 'export', 'log')),
        path       TEXT NOT NULL,
        bytes      INTEGER,
        created_at INTEGER NOT NULL,
        epoch      INTEGER,
        UNIQUE (run_id, path)
      );

      PRAGMA application_id = ${APPLICATION_ID};
    `,
  },
  {
    version: 2,
    description: 'settings (queue paused)',
    // State every process must see and that survives restarts: `nin-lab queue pause` in a
    // shell pauses the scheduler running in the app.
    sql: `
      CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    description: 'index of run events by type',
    // The core asks for a run's latest message of one type (its `started` for progress, its last
    // `epoch` for time estimates) on every queue refresh; without this it scans the run's log.
    sql: `CREATE INDEX run_events_type ON run_events (run_id, type, seq);`,
  },
  {
    version: 4,
    description: 'attempts: a fencing token and the owning process of each start of a run',
    // attempt counts the times a run was claimed to train; the owner of the current attempt
    // (host, pid and start time of the process that persists it) tells a live one from a dead one
    // without trusting a pid alone. Messages carrying an older attempt are refused.
    sql: `
      ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE runs ADD COLUMN owner_json TEXT;
    `,
  },
  {
    version: 5,
    description: 'placement: where a run trains (host, worker, GPU), kept after it ends',
    sql: `ALTER TABLE runs ADD COLUMN placement_json TEXT;`,
  },
  {
    version: 6,
    description: 'saved comparison views',
    // A view is the Compare page's state (runs, charts, axes, smoothing, grouping, filters) under
    // a name, so a study can be reopened as it was left, and linked to (#/compare/view/<id>).
    sql: `
      CREATE TABLE views (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE,
        state_json TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 7,
    description: 'metric buckets: count, sum, min and max point per series and step range',
    // What lets a chart of 100 runs × 10,000 steps read a few hundred rows per run and keep every
    // extreme (src/core/store/metric-buckets.ts). Widths 4, 16, 64, 256, 1024, 4096 steps; the
    // points already stored are bucketed here: count, sum and the smallest point by GROUP BY
    // (SQLite takes the bare columns from the row with the MIN), then the largest point.
    sql: `
      CREATE TABLE metric_buckets (
        run_id    TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        name      TEXT NOT NULL,
        width     INTEGER NOT NULL,
        bucket    INTEGER NOT NULL,
        n         INTEGER NOT NULL,
        total     REAL NOT NULL,
        min_step  INTEGER NOT NULL,
        min_epoch INTEGER NOT NULL,
        min_time  INTEGER NOT NULL,
        min_value REAL NOT NULL,
        max_step  INTEGER NOT NULL,
        max_epoch INTEGER NOT NULL,
        max_time  INTEGER NOT NULL,
        max_value REAL NOT NULL,
        PRIMARY KEY (run_id, name, width, bucket)
      ) WITHOUT ROWID;
      INSERT INTO metric_buckets (run_id, name, width, bucket, n, total,
        min_step, min_epoch, min_time, min_value, max_step, max_epoch, max_time, max_value)
      SELECT run_id, name, 4, step / 4, COUNT(value), TOTAL(value),
        step, epoch, time, MIN(value), 0, 0, 0, 0
      FROM metric_points WHERE value IS NOT NULL GROUP BY run_id, name, step / 4;
      INSERT INTO metric_buckets (run_id, name, width, bucket, n, total,
        min_step, min_epoch, min_time, min_value, max_step, max_epoch, max_time, max_value)
      SELECT run_id, name, 16, step / 16, COUNT(value), TOTAL(value),
        step, epoch, time, MIN(value), 0, 0, 0, 0
      FROM metric_points WHERE value IS NOT NULL GROUP BY run_id, name, step / 16;
      INSERT INTO metric_buckets (run_id, name, width, bucket, n, total,
        min_step, min_epoch, min_time, min_value, max_step, max_epoch, max_time, max_value)
      SELECT run_id, name, 64, step / 64, COUNT(value), TOTAL(value),
        step, epoch, time, MIN(value), 0, 0, 0, 0
      FROM metric_points WHERE value IS NOT NULL GROUP BY run_id, name, step / 64;
      INSERT INTO metric_buckets (run_id, name, width, bucket, n, total,
        min_step, min_epoch, min_time, min_value, max_step, max_epoch, max_time, max_value)
      SELECT run_id, name, 256, step / 256, COUNT(value), TOTAL(value),
        step, epoch, time, MIN(value), 0, 0, 0, 0
      FROM metric_points WHERE value IS NOT NULL GROUP BY run_id, name, step / 256;
      INSERT INTO metric_buckets (run_id, name, width, bucket, n, total,
        min_step, min_epoch, min_time, min_value, max_step, max_epoch, max_time, max_value)
      SELECT run_id, name, 1024, step / 1024, COUNT(value), TOTAL(value),
        step, epoch, time, MIN(value), 0, 0, 0, 0
      FROM metric_points WHERE value IS NOT NULL GROUP BY run_id, name, step / 1024;
      INSERT INTO metric_buckets (run_id, name, width, bucket, n, total,
        min_step, min_epoch, min_time, min_value, max_step, max_epoch, max_time, max_value)
      SELECT run_id, name, 4096, step / 4096, COUNT(value), TOTAL(value),
        step, epoch, time, MIN(value), 0, 0, 0, 0
      FROM metric_points WHERE value IS NOT NULL GROUP BY run_id, name, step / 4096;
      UPDATE metric_buckets SET (max_step, max_epoch, max_time, max_value) = (
        SELECT p.step, p.epoch, p.time, p.value FROM metric_points p
        WHERE p.run_id = metric_buckets.run_id AND p.name = metric_buckets.name
          AND p.step BETWEEN metric_buckets.bucket * metric_buckets.width
            AND metric_buckets.bucket * metric_buckets.width + metric_buckets.width - 1
          AND p.value IS NOT NULL
        ORDER BY p.value DESC, p.step LIMIT 1);
    `,
  },
  {
    version: 8,
    description: 'run health; runs linked to a finished run of another experiment',
    // health_json: the run's RunHealth (src/shared/health.ts), recomputed whenever an epoch or
    // a final message is stored; rows stored before it are judged from their epochs when the
    // database is next opened for writing (RunHistory.backfillHealth), NULL meanwhile.
    // linked_from: a run queued as a link to a completed run with the same config (issue 20,
    // reuse): it has no trainer, messages or metrics of its own; reads of them go to that run.
    sql: `
      ALTER TABLE runs ADD COLUMN health_json TEXT;
      ALTER TABLE runs ADD COLUMN linked_from TEXT REFERENCES runs(id);
      CREATE INDEX runs_linked_from ON runs (linked_from) WHERE linked_from IS NOT NULL;
      CREATE INDEX runs_config_hash ON runs (config_hash);
    `,
  },
]

/** The newest schema this code knows. */
export const LATEST_VERSION = MIGRATIONS.reduce((v, m) => Math.max(v, m.version), 0)

export const schemaVersion = (db: Database.Database): number =>
  db.pragma('user_version', { simple: true }) as number

/**
 * Refuses a database this code must not touch: another program's, or one from a newer NiN Lab
 * (whose tables this code would misread or damage). Reads only; call before any write.
 */
export function checkSchema(db: Database.Database, file: string): number {
  const version = schemaVersion(db)
  const appId = db.pragma('application_id', { simple: true }) as number
  const tables = db
    .prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM sqlite_schema WHERE type = 'table'")
    .get()
  if (appId !== APPLICATION_ID && (appId !== 0 || version !== 0 || (tables?.n ?? 0) > 0)) {
    throw new StoreError(
      'not-a-database',
      `${file} is a SQLite database, but not NiN Lab's; NiN Lab leaves it untouched: move it ` +
        'away, or use another --data-dir',
    )
  }
  if (version > LATEST_VERSION) {
    throw new StoreError(
      'newer-schema',
      `${file} was written by a newer NiN Lab (schema ${version}; this one knows up to ` +
        `${LATEST_VERSION}): upgrade NiN Lab, or use another --data-dir`,
    )
  }
  return version
}

/**
 * Applies the migrations the database lacks, each in its own IMMEDIATE transaction. The version
 * is read again inside the transaction: two processes opening a new data folder at once both
 * get here, and the second must find the work done rather than create the tables twice.
 */
export function migrate(db: Database.Database, file: string): void {
  for (const migration of MIGRATIONS) {
    db.transaction(() => {
      const current = checkSchema(db, file)
      if (current >= migration.version) return
      db.exec(migration.sql)
      db.pragma(`user_version = ${migration.version}`)
    }).immediate()
  }
}
