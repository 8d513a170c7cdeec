/**
 * Metric series downsampled fast: the metric_buckets table keeps, for every series and each of a
 * few fixed step widths (4, 16, … 4096), the count, sum, smallest and largest point of the steps
 * in each bucket, updated as points are stored. A chart of 100 runs × 10,000 steps then reads a
 * few hundred bucket rows per run instead of every point, and still shows every spike and dip
 * (min/max per bucket, src/shared/downsample.ts). Zoomed in far enough, a query reads the raw
 * points: the raw data is one zoom away.
 *
 * Non-finite values (stored as NULL) are not counted in buckets; a query always returns the
 * window's first and last point as they are.
 */
import type { MetricSample } from '@shared/api/types'
import { bucketOf, downsample, mergeBuckets, type Bucket } from '@shared/downsample'
import type Database from 'better-sqlite3'
import { toSample } from './metrics'
import { prepare, preparePluck, type Statement } from './statement'

/** Bucket widths in steps, finest first (each 4× the last: a query reads at most ~4 rows a group). */
export const BUCKET_WIDTHS = [4, 16, 64, 256, 1024, 4096] as const

interface PointRow {
  step: number
  epoch: number
  time: number
  value: number | null
}

/** bucket, n, total, min step/epoch/time/value, max step/epoch/time/value (a raw row: fast). */
type BucketRow = [
  bucket: number,
  n: number,
  total: number,
  minStep: number,
  minEpoch: number,
  minTime: number,
  minValue: number,
  maxStep: number,
  maxEpoch: number,
  maxTime: number,
  maxValue: number,
]

/** One bucket's new finite points, named: what `add` merges into the stored bucket. */
interface BucketAdd {
  runId: string
  name: string
  width: number
  bucket: number
  n: number
  total: number
  minStep: number
  minEpoch: number
  minTime: number
  minValue: number
  maxStep: number
  maxEpoch: number
  maxTime: number
  maxValue: number
}

/** The metric_buckets table: buckets merged, written, dropped and read. */
function bucketTableStatements(db: Database.Database) {
  return {
    /** New finite points of one bucket (their count, sum and extremes) added to it. */
    add: prepare<[BucketAdd]>(
      db,
      `INSERT INTO metric_buckets (run_id, name, width, bucket, n, total,
         min_step, min_epoch, min_time, min_value, max_step, max_epoch, max_time, max_value)
       VALUES (@runId, @name, @width, @bucket, @n, @total,
         @minStep, @minEpoch, @minTime, @minValue, @maxStep, @maxEpoch, @maxTime, @maxValue)
       ON CONFLICT (run_id, name, width, bucket) DO UPDATE SET
         n = n + excluded.n, total = total + excluded.total,
         min_step = CASE WHEN excluded.min_value < min_value THEN excluded.min_step ELSE min_step END,
         min_epoch = CASE WHEN excluded.min_value < min_value THEN excluded.min_epoch ELSE min_epoch END,
         min_time = CASE WHEN excluded.min_value < min_value THEN excluded.min_time ELSE min_time END,
         min_value = MIN(min_value, excluded.min_value),
         max_step = CASE WHEN excluded.max_value > max_value THEN excluded.max_step ELSE max_step END,
         max_epoch = CASE WHEN excluded.max_value > max_value THEN excluded.max_epoch ELSE max_epoch END,
         max_time = CASE WHEN excluded.max_value > max_value THEN excluded.max_time ELSE max_time END,
         max_value = MAX(max_value, excluded.max_value)`,
    ),
    /** A bucket written whole (recomputed from its points). */
    put: prepare<[runId: string, name: string, width: number, ...bucket: BucketRow]>(
      db,
      `INSERT OR REPLACE INTO metric_buckets (run_id, name, width, bucket, n, total,
         min_step, min_epoch, min_time, min_value, max_step, max_epoch, max_time, max_value)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    drop: prepare<[runId: string, name: string, width: number, bucket: number]>(
      db,
      'DELETE FROM metric_buckets WHERE run_id = ? AND name = ? AND width = ? AND bucket = ?',
    ),
    /** Buckets that reach step `from` or later (a resumed run replaces what came after). */
    dropFrom: prepare<[runId: string, from: number]>(
      db,
      'DELETE FROM metric_buckets WHERE run_id = ? AND (bucket + 1) * width > ?',
    ),
    range: db
      .prepare<[runId: string, name: string, width: number, lo: number, hi: number], BucketRow>(
        `SELECT bucket, n, total, min_step, min_epoch, min_time, min_value,
           max_step, max_epoch, max_time, max_value
         FROM metric_buckets WHERE run_id = ? AND name = ? AND width = ? AND bucket BETWEEN ? AND ?
         ORDER BY bucket`,
      )
      .raw() as unknown as Statement<
      [runId: string, name: string, width: number, lo: number, hi: number],
      BucketRow
    >,
    /** The run's series that have buckets (the coarsest width has the fewest rows). */
    names: preparePluck<[runId: string], string>(
      db,
      `SELECT DISTINCT name FROM metric_buckets WHERE run_id = ? AND width = ${BUCKET_WIDTHS[BUCKET_WIDTHS.length - 1]}`,
    ),
  }
}

/** The raw points (metric_points) a bucket is recomputed from and a query's ends are read from. */
function pointStatements(db: Database.Database) {
  return {
    exists: preparePluck<[runId: string, name: string, step: number], number>(
      db,
      'SELECT 1 FROM metric_points WHERE run_id = ? AND name = ? AND step = ?',
    ),
    points: prepare<[runId: string, name: string, lo: number, hi: number], PointRow>(
      db,
      `SELECT step, epoch, time, value FROM metric_points
       WHERE run_id = ? AND name = ? AND step BETWEEN ? AND ? ORDER BY step`,
    ),
    firstFrom: prepare<[runId: string, name: string, lo: number], PointRow>(
      db,
      `SELECT step, epoch, time, value FROM metric_points
       WHERE run_id = ? AND name = ? AND step >= ? ORDER BY step LIMIT 1`,
    ),
    lastUpTo: prepare<[runId: string, name: string, hi: number], PointRow>(
      db,
      `SELECT step, epoch, time, value FROM metric_points
       WHERE run_id = ? AND name = ? AND step <= ? ORDER BY step DESC LIMIT 1`,
    ),
    firstStepAfterEpoch: preparePluck<[runId: string, epoch: number], number | null>(
      db,
      'SELECT MIN(step) FROM metric_points WHERE run_id = ? AND epoch > ?',
    ),
  }
}

export function bucketStatements(db: Database.Database) {
  return { ...bucketTableStatements(db), ...pointStatements(db) }
}

export type BucketStatements = ReturnType<typeof bucketStatements>

const bucketIndex = (step: number, width: number): number => Math.floor(step / width)

interface Pending {
  name: string
  width: number
  bucket: number
  n: number
  total: number
  min: MetricSample
  max: MetricSample
}

/**
 * Keeps the buckets of a batch of points that are being stored: new finite points are summed per
 * bucket in memory and added to their buckets once per batch (`finish`); a point that replaces
 * one already stored (a replayed step) has its buckets recomputed from the points instead, since a
 * sum cannot take a value back.
 */
export class BucketWriter {
  private readonly pending = new Map<string, Pending>()
  private readonly stale = new Map<string, { name: string; width: number; bucket: number }>()

  constructor(
    private readonly sql: BucketStatements,
    private readonly runId: string,
  ) {}

  /** Call before the point is upserted into metric_points. */
  point(name: string, step: number, epoch: number, time: number, value: number | null): void {
    const replaces = this.sql.exists.get(this.runId, name, step) !== undefined
    if (!replaces && value === null) return
    const sample: MetricSample = { step, epoch, time, value: value ?? NaN }
    for (const width of BUCKET_WIDTHS) {
      const bucket = bucketIndex(step, width)
      const key = `${name}\n${width}\n${bucket}`
      if (replaces) {
        this.stale.set(key, { name, width, bucket })
        continue
      }
      const p = this.pending.get(key)
      if (p === undefined) {
        this.pending.set(key, {
          name,
          width,
          bucket,
          n: 1,
          total: sample.value,
          min: sample,
          max: sample,
        })
        continue
      }
      p.n++
      p.total += sample.value
      if (sample.value < p.min.value) p.min = sample
      if (sample.value > p.max.value) p.max = sample
    }
  }

  /** Writes the batch's buckets (after its points were stored). */
  finish(): void {
    for (const [key, p] of this.pending) {
      if (this.stale.has(key)) continue
      this.sql.add.run({
        runId: this.runId,
        name: p.name,
        width: p.width,
        bucket: p.bucket,
        n: p.n,
        total: p.total,
        minStep: p.min.step,
        minEpoch: p.min.epoch,
        minTime: p.min.time,
        minValue: p.min.value,
        maxStep: p.max.step,
        maxEpoch: p.max.epoch,
        maxTime: p.max.time,
        maxValue: p.max.value,
      })
    }
    for (const { name, width, bucket } of this.stale.values()) {
      recomputeBucket(this.sql, this.runId, name, width, bucket)
    }
    this.pending.clear()
    this.stale.clear()
  }
}

function recomputeBucket(
  sql: BucketStatements,
  runId: string,
  name: string,
  width: number,
  bucket: number,
): void {
  const lo = bucket * width
  const b = bucketOf(sql.points.all(runId, name, lo, lo + width - 1).map(toSample))
  if (b.n === 0 || !b.min || !b.max) {
    sql.drop.run(runId, name, width, bucket)
    return
  }
  sql.put.run(
    runId,
    name,
    width,
    bucket,
    b.n,
    b.total,
    b.min.step,
    b.min.epoch,
    b.min.time,
    b.min.value,
    b.max.step,
    b.max.epoch,
    b.max.time,
    b.max.value,
  )
}

/**
 * Before the points of epochs after `epoch` are deleted (a resumed run replaces them): drops
 * their buckets. Call `rebuildAfterTruncate` with the returned step once the points are gone.
 */
export function truncateBuckets(
  sql: BucketStatements,
  runId: string,
  epoch: number,
): { from: number; names: string[] } | null {
  const from = sql.firstStepAfterEpoch.get(runId, epoch) ?? null
  if (from === null) return null
  const names = sql.names.all(runId)
  sql.dropFrom.run(runId, from)
  return { from, names }
}

/** Recomputes the buckets that held both kept points and deleted ones (one per width and name). */
export function rebuildAfterTruncate(
  sql: BucketStatements,
  runId: string,
  { from, names }: { from: number; names: readonly string[] },
): void {
  for (const name of names) {
    for (const width of BUCKET_WIDTHS) {
      if (from % width !== 0) recomputeBucket(sql, runId, name, width, bucketIndex(from, width))
    }
  }
}

export interface SeriesWindow {
  /** Only points from this step on / up to this step (default: the whole series). */
  readonly fromStep?: number
  readonly toStep?: number
  /** Downsample to about this many points (min and max per bucket, first and last kept). */
  readonly maxPoints: number
}

/**
 * One series over a step window in at most about `maxPoints` points: the raw points when the
 * window holds no more than that, else min/max per bucket from the coarsest stored width that
 * still gives enough buckets (the window's edge buckets counted from their raw points).
 */
export function sampledSeries(
  sql: BucketStatements,
  runId: string,
  name: string,
  window: SeriesWindow,
): MetricSample[] {
  const firstRow = sql.firstFrom.get(runId, name, window.fromStep ?? Number.MIN_SAFE_INTEGER)
  const lastRow = sql.lastUpTo.get(runId, name, window.toStep ?? Number.MAX_SAFE_INTEGER)
  if (!firstRow || !lastRow || lastRow.step < firstRow.step) return []
  const first = toSample(firstRow)
  const last = toSample(lastRow)
  const lo = first.step
  const hi = last.step
  const maxPoints = Math.max(4, Math.floor(window.maxPoints))
  const groups = Math.max(1, Math.floor((maxPoints - 2) / 2))
  const need = (hi - lo + 1) / groups
  const raw = (): MetricSample[] =>
    downsample(sql.points.all(runId, name, lo, hi).map(toSample), maxPoints)
  // Too few steps for the finest buckets: the raw points (at most a few per group).
  if (need < (BUCKET_WIDTHS[0] as number)) return raw()
  // The width nearest the one the groups need (in ratio): up to ~2× fewer groups than asked for,
  // or ~2× more rows to read, whichever is nearer; every extreme is kept either way.
  const width = BUCKET_WIDTHS.reduce((best, w) =>
    Math.abs(Math.log(w / need)) < Math.abs(Math.log(best / need)) ? w : best,
  )
  const rows = sql.range.all(runId, name, width, bucketIndex(lo, width), bucketIndex(hi, width))
  let count = 0
  for (const r of rows) count += r[1]
  if (count <= maxPoints) return raw()
  // A bucket reaching past the window holds points outside it only where the window cuts the
  // series: with no fromStep there is no point before the first one, with no toStep none after
  // the last, so a whole-series query (Compare's first draw) reads no raw points at all.
  const cutBelow = window.fromStep !== undefined
  const cutAbove = window.toStep !== undefined
  const buckets: Bucket[] = []
  for (const r of rows) {
    const start = r[0] * width
    const end = start + width - 1
    // An edge bucket reaching past a cut: counted from its points inside the window.
    if ((cutBelow && start < lo) || (cutAbove && end > hi)) {
      const inside = sql.points.all(runId, name, Math.max(lo, start), Math.min(hi, end))
      const b = bucketOf(inside.map(toSample))
      if (b.n > 0) buckets.push({ ...b, start: Math.max(lo, start) })
      continue
    }
    buckets.push({
      start: Math.max(lo, start),
      end: Math.min(hi, end),
      n: r[1],
      total: r[2],
      min: { step: r[3], epoch: r[4], time: r[5], value: r[6] },
      max: { step: r[7], epoch: r[8], time: r[9], value: r[10] },
    })
  }
  return mergeBuckets(buckets, Math.min(groups, buckets.length), { first, last })
}
