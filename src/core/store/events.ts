/** The run_events table: each trainer message as received, in order (a run's log). */
import type { RunEvent } from '@shared/api/types'
import { createHash } from 'node:crypto'
import type Database from 'better-sqlite3'
import type { TrainerMessage } from '@shared/protocol/trainer'
import { prepare, preparePluck } from './statement'

interface EventRow {
  seq: number
  time: number
  type: TrainerMessage['type']
  json: string
}

export const toEvent = (row: EventRow): RunEvent => ({
  seq: row.seq,
  time: row.time,
  type: row.type,
  message: JSON.parse(row.json) as TrainerMessage,
})

/** Identifies a message by its content, so persisting it a second time is a no-op. */
export const messageDigest = (json: string): Buffer =>
  createHash('sha256').update(json).digest().subarray(0, 16)

/** The epoch a message belongs to, where it names one. */
export const messageEpoch = (m: TrainerMessage): number | null =>
  'epoch' in m && typeof m.epoch === 'number' ? m.epoch : null

/**
 * Messages that describe progress a resumed run redoes: dropped after its checkpoint. The
 * others (started, log, failed, …) stay: they are the history of why the run was resumed.
 */
export const REPLAYED_TYPES = ['step', 'epoch', 'checkpoint'] as const

export function eventStatements(db: Database.Database) {
  return {
    insert: prepare<
      [
        runId: string,
        seq: number,
        time: number,
        type: string,
        epoch: number | null,
        digest: Buffer,
        json: string,
      ]
    >(
      db,
      `INSERT INTO run_events (run_id, seq, time, type, epoch, digest, json)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, digest) DO NOTHING`,
    ),
    maxSeq: preparePluck<[runId: string], number>(
      db,
      'SELECT COALESCE(MAX(seq), 0) FROM run_events WHERE run_id = ?',
    ),
    page: prepare<[runId: string, afterSeq: number, limit: number], EventRow>(
      db,
      `SELECT seq, time, type, json FROM run_events WHERE run_id = ? AND seq > ?
       ORDER BY seq LIMIT ?`,
    ),
    latestOfType: prepare<[runId: string, type: string], EventRow>(
      db,
      `SELECT seq, time, type, json FROM run_events WHERE run_id = ? AND type = ?
       ORDER BY seq DESC LIMIT 1`,
    ),
    deleteAfterEpoch: prepare<[runId: string, epoch: number]>(
      db,
      `DELETE FROM run_events WHERE run_id = ? AND epoch > ?
       AND type IN (${REPLAYED_TYPES.map((t) => `'${t}'`).join(', ')})`,
    ),
  }
}

export type EventStatements = ReturnType<typeof eventStatements>

export type { RunEvent }
