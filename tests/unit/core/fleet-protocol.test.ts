// The fleet's trust at its smallest (issue 23): signed envelopes, heartbeats checked and their
// slots capped, the names a worker may ship, reports and log lines bounded. The attacks on real
// processes are in tests/integration/fleet-attacks.test.ts.
import { chmodSync, mkdtempSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  fleetKeyPath,
  loadFleetKey,
  open,
  rotateFleetKey,
  sign,
  workerFleetKey,
} from '@core/queue/fleet-key'
import { isRefusedWrite, refusedWriteAdvice } from '@core/queue/report-channel'
import { checkTrainerMessage, MAX_TEXT_CHARS } from '@shared/protocol/trainer'
import {
  attemptBody,
  checkAttemptRecord,
  checkBeat,
  checkReport,
  CHUNK_BYTES,
  supersedes,
  MAX_FILE_BYTES,
  shippedFolder,
} from '@shared/protocol/worker'

const KEY = 'k'.repeat(43)

describe('signed envelopes', () => {
  it('opens only what the key signed, for that domain, unchanged', () => {
    const env = sign(KEY, 'report', '{"a":1}')
    expect(open([KEY], 'report', env, 1000)).toEqual({ body: '{"a":1}' })
    expect(open([KEY], 'beat', env, 1000)).toMatchObject({ error: /signature/ })
    expect(open(['x'.repeat(43)], 'report', env, 1000)).toMatchObject({ error: /signature/ })
    expect(open([KEY], 'report', env.replace('"a":1', '"a":2'), 1000)).toMatchObject({
      error: /signature/,
    })
    expect(open([KEY], 'report', '{"a":1}', 1000)).toMatchObject({ error: /not a signed/ })
    expect(open([KEY], 'report', env, 10)).toMatchObject({ error: /over the limit/ })
    expect(open([KEY], 'report', 42, 1000)).toMatchObject({ error: /not a signed/ })
  })

  it('keeps the key in a 0600 file, replaces one others can read, and never takes it from argv', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nin-lab-fleet-key-'))
    const made = loadFleetKey(dir)
    expect(made.created).toMatch(/new fleet key/)
    expect(statSync(fleetKeyPath(dir)).mode & 0o777).toBe(0o600)
    expect(loadFleetKey(dir)).toEqual({ key: made.key, created: null })
    chmodSync(fleetKeyPath(dir), 0o644)
    const replaced = loadFleetKey(dir)
    expect(replaced.created).toMatch(/readable by other users/)
    expect(replaced.key).not.toBe(made.key)
    expect(rotateFleetKey(dir)).not.toBe(replaced.key)
    expect(workerFleetKey(fleetKeyPath(dir), {})).toBe(loadFleetKey(dir).key)
    expect(workerFleetKey(undefined, { NIN_LAB_FLEET_KEY: KEY })).toBe(KEY)
    expect(() => workerFleetKey(undefined, {})).toThrow(/--fleet-key-file PATH, or set/)
    expect(() => workerFleetKey(undefined, { NIN_LAB_FLEET_KEY: 'short' })).toThrow(
      /does not hold a fleet key/,
    )
  })
})

const beat = {
  name: 'w1',
  host: 'h',
  pid: 1,
  slots: 1000,
  gpus: [],
  running: [],
  offers: 'tfjs wasm',
  version: '1',
  startedAt: 1,
  beatAt: 2,
  draining: false,
}

describe('attempt records', () => {
  it('stop a worker only when signed, for its run, and newer or ended: a replayed older one stops nothing', () => {
    const record = (attempt: number, ended: boolean): string =>
      sign(KEY, 'attempt', attemptBody({ runId: 'r1', attempt, ended }))
    const read = (envelope: string, runId = 'r1') => {
      const opened = open([KEY], 'attempt', envelope, 1024)
      if ('error' in opened) return opened.error
      return checkAttemptRecord(JSON.parse(opened.body), runId)
    }
    expect(read(record(2, false))).toEqual({ runId: 'r1', attempt: 2, ended: false })
    expect(read('2')).toMatch(/not a signed envelope/)
    expect(
      read(`v1.${'0'.repeat(64)}.${attemptBody({ runId: 'r1', attempt: 2, ended: true })}`),
    ).toMatch(/signature does not match/)
    expect(
      read(sign(KEY, 'report', attemptBody({ runId: 'r1', attempt: 2, ended: true }))),
    ).toMatch(/signature does not match/)
    expect(() => read(record(2, false), 'r2')).toThrow(/names another run/)
    const at = (attempt: number, ended: boolean) => ({ runId: 'r1', attempt, ended })
    // A worker on attempt 2: a newer attempt or its own ended stop it; its own current, an older
    // one (replayed, or the head's late "ended" of attempt 1) do not.
    expect(supersedes(at(3, false), 2)).toBe(true)
    expect(supersedes(at(2, true), 2)).toBe(true)
    expect(supersedes(at(2, false), 2)).toBe(false)
    expect(supersedes(at(1, true), 2)).toBe(false)
  })
})

describe('heartbeats', () => {
  it('caps the slots to the GPUs it lists, else to 64', () => {
    expect(checkBeat(beat).slots).toBe(64)
    const gpus = [{ index: 0, name: 'A', memoryMB: 1 }]
    expect(checkBeat({ ...beat, gpus }).slots).toBe(1)
    expect(checkBeat({ ...beat, slots: 2 }).slots).toBe(2)
  })

  it('refuses a malformed one naming the field, never throwing a TypeError', () => {
    expect(() => checkBeat({ name: 'evil' })).toThrow(/heartbeat of evil: host/)
    expect(() => checkBeat({ ...beat, gpus: 'x' })).toThrow(/gpus/)
    expect(() => checkBeat({ ...beat, running: [{}] })).toThrow(/running/)
    expect(() => checkBeat({ ...beat, slots: 0 })).toThrow(/slots/)
    expect(() => checkBeat(null)).toThrow(/must be an object/)
  })
})

describe('what a worker may ship', () => {
  it('only checkpoint and model files under the trainers’ names, epochs within the run', () => {
    expect(shippedFolder('checkpoints/epoch-0002/model.pt', 3)).toBe('checkpoints/epoch-0002')
    expect(shippedFolder('model/SHA256SUMS', 3)).toBe('model')
    for (const path of [
      'job.json',
      'messages.jsonl',
      'trainer.log',
      'checkpoints/epoch-0004/model.pt',
      'checkpoints/epoch-0000/model.pt',
      'checkpoints/epoch-0001/evil.sh',
      'model/model.pt/x',
      'model/../job.json',
    ])
      expect(shippedFolder(path, 3), path).toBeNull()
  })

  it('chunks of exactly CHUNK_BYTES, files of at most MAX_FILE_BYTES', () => {
    const base = { runId: 'r1', attempt: 1, worker: 'w1', session: 'session-1', seq: 1 }
    const chunk = {
      ...base,
      kind: 'chunk',
      path: 'model/model.pt',
      offset: 0,
      size: CHUNK_BYTES + 3,
      sha256: '0'.repeat(64),
      base64: Buffer.alloc(CHUNK_BYTES).toString('base64'),
    }
    expect(checkReport(chunk).kind).toBe('chunk')
    expect(() => checkReport({ ...chunk, size: MAX_FILE_BYTES + 1 })).toThrow(/larger than/)
    expect(() => checkReport({ ...chunk, base64: 'AAAA' })).toThrow(/must hold/)
    expect(() => checkReport({ ...chunk, offset: 5 })).toThrow(/offset/)
    expect(() => checkReport({ ...chunk, session: undefined })).toThrow(/session and sequence/)
  })
})

describe('log lines', () => {
  it('are cut with a marker saying how much', () => {
    const m = checkTrainerMessage({
      type: 'log',
      runId: 'r1',
      time: 1,
      level: 'info',
      message: 'x'.repeat(150_000),
    })
    expect(m.type === 'log' && m.message.length).toBeLessThan(MAX_TEXT_CHARS + 60)
    expect(m.type === 'log' && m.message).toMatch(/… \[truncated: 140000 more characters\]$/)
  })
})

describe('writes Redis refuses', () => {
  it('are told apart from lost connections, each with what to do', () => {
    const oom = new Error("OOM command not allowed when used memory > 'maxmemory'.")
    expect(isRefusedWrite(oom)).toBe(true)
    expect(refusedWriteAdvice(oom)).toMatch(/full\. Raise its maxmemory/)
    expect(
      refusedWriteAdvice(new Error("READONLY You can't write against a read only replica.")),
    ).toMatch(/primary/)
    expect(refusedWriteAdvice(new Error('NOPERM this user has no permissions'))).toMatch(/ACL/)
    expect(isRefusedWrite(new Error('Connection is closed.'))).toBe(false)
    expect(isRefusedWrite(new Error('connect ECONNREFUSED 127.0.0.1:6379'))).toBe(false)
  })
})
