// The fleet attacked (issue 23): a real redis-server shared by every scenario, a real head
// (`nin-lab queue start --redis …`) and real workers as processes, and an attacker that writes to
// Redis directly — without the fleet key (anyone who reaches Redis), or with it but not holding the
// run's claim, or holding the claim and misbehaving. Each attack must fail to change any stored
// run: after each scenario the runs have exactly the epochs, attempts, files and outcome that
// their real training gave them.
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { Worker as BullWorker, type Job } from 'bullmq'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { open, sign } from '@core/queue/fleet-key'
import { redisOptions } from '@core/queue/redis'
import { pushReport } from '@core/queue/report-channel'
import {
  attemptKey,
  CHUNK_BYTES,
  KEY_PREFIX,
  REPORTS_LIST,
  RUNS_QUEUE,
  workerKey,
} from '@shared/protocol/worker'
import { assertBuilt, waitFor } from '../helpers/cli'
import { FleetRig, makeFleetKey } from '../helpers/fleet'
import { REDIS_SERVER, startRedis, type RedisServer } from '../helpers/redis'

let redis: RedisServer
let client: Redis
let rig: FleetRig

const newHead = (): string => mkdtempSync(join(tmpdir(), 'nin-lab-attacked-head-'))
const count = (text: string, re: RegExp): number => text.match(new RegExp(re, 'g'))?.length ?? 0

/** The head's peak resident memory (VmHWM), in MB, or 0 once it has exited. */
function peakMB(pid: number | undefined): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : 0
  } catch {
    return 0
  }
}

/** Every file under a folder, relative to it. */
function filesIn(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort()
}

interface RunRow {
  id: string
  status: string
  attempt: number
  final_test_acc: number | null
}

beforeAll(async () => {
  if (!REDIS_SERVER) return
  assertBuilt()
  redis = await startRedis()
  client = new Redis(redisOptions(redis.url))
})

afterEach(async () => {
  await rig?.stopAll()
  await client?.config('SET', 'maxmemory', '0')
  await client?.flushall()
})

afterAll(async () => {
  client?.disconnect()
  await redis?.stop()
})

describe.skipIf(!REDIS_SERVER)('the fleet attacked through a real redis-server', () => {
  it('Redis access alone forges nothing: finished, epoch, crash ×3, a 150 MB log, 10,000 × 10 KB logs, bad heartbeats, 1000 slots', async () => {
    rig = new FleetRig(redis.url, newHead())
    const ids = rig.queueAdd(
      '--set',
      'data.trainLimit=640',
      '--set',
      'train.epochs=2',
      '--grid',
      'model.microConvs=1,2',
    )
    // A heartbeat without TTL that is not one, and one claiming 1000 slots, both unsigned.
    await client.set(workerKey('evil'), '{"name":"evil"}')
    const big = { name: 'big', host: 'x', pid: 1, slots: 1000, gpus: [], running: [] }
    await client.set(
      workerKey('big'),
      JSON.stringify({ ...big, offers: '', version: '', startedAt: 0, beatAt: 0, draining: false }),
    )
    const w1 = rig.startWorker('w1')
    await rig.fleetOf('w1')
    // `queue workers` lists the real worker and says why it ignored the others; it never crashes.
    const listed = rig.workers()
    expect(listed).toMatchObject({ status: 0, names: ['w1'] })
    expect(listed.ignored.join('\n')).toMatch(/worker:evil: not a signed envelope/)
    expect(listed.ignored.join('\n')).toMatch(/worker:big: not a signed envelope/)

    const head = rig.startHead()
    let peak = 0
    let mostRunning = 0
    const sampler = setInterval(() => {
      peak = Math.max(peak, peakMB(head.child.pid))
      const running = rig.query<{ n: number }>(
        `SELECT COUNT(*) AS n FROM runs WHERE status = 'running'`,
      )[0]!.n
      mostRunning = Math.max(mostRunning, running)
    }, 300)
    const [first] = ids as [string]
    // The attempt key rewritten the moment the head has written it (before the worker's first
    // look, or during its checks once a second): without the key, a newer attempt and a
    // signed-looking one. The worker trains on; before, it handed the run back (a delay).
    for (let i = 0; i < 2400 && (await client.get(attemptKey(first))) === null; i++)
      await new Promise((r) => setTimeout(r, 50))
    const record = (await client.get(attemptKey(first))) ?? ''
    await client.set(attemptKey(first), '2')
    await waitFor(
      () => (/ignored the attempt key of run/.test(w1.output().stderr) ? true : undefined),
      120_000,
      'the worker ignoring the forged attempt key',
    )
    await client.set(
      attemptKey(first),
      `v1.${'0'.repeat(64)}.${JSON.stringify({ runId: first, attempt: 2, ended: false })}`,
    )
    await waitFor(
      () =>
        rig.query(`SELECT 1 FROM run_events WHERE run_id = ? AND type = 'step'`, first).length > 0
          ? true
          : undefined,
      240_000,
      'the first run training on w1',
    )
    // The attacker read the run's current attempt, as the attack did (the record is signed,
    // not secret).
    const attempt = (JSON.parse(record.slice(68)) as { attempt: number }).attempt
    expect(attempt).toBe(1)
    const base = { runId: first, attempt, worker: 'w1', session: 'forged-session', seq: 1e9 }
    const who = { ...base, host: 'x', pid: 1, gpu: null }
    const time = Date.now()
    const finished = {
      type: 'finished',
      runId: first,
      time,
      epochs: 2,
      testAcc: 0.999,
      classNames: [],
      perClassAccuracy: [],
      confusion: [],
      modelPath: '/tmp/x',
    }
    const epoch = {
      type: 'epoch',
      runId: first,
      time,
      epoch: 1,
      step: 1,
      trainLoss: 0,
      trainAcc: 1,
      testLoss: 0,
      testAcc: 0.999,
      seconds: 1,
      examplesPerSec: 1,
      memory: { rss: 0, tensorBytes: 0, tensors: 0 },
    }
    const forged = [
      { ...who, kind: 'messages', messages: [finished] },
      { ...who, kind: 'messages', messages: [epoch] },
      { ...who, kind: 'crash', reason: 'forged' },
      { ...who, kind: 'crash', reason: 'forged' },
      { ...who, kind: 'crash', reason: 'forged' },
    ]
    for (const report of forged) {
      const body = JSON.stringify(report)
      await client.rpush(REPORTS_LIST, body)
      await client.rpush(REPORTS_LIST, `v1.${'0'.repeat(64)}.${body}`)
    }
    const log = (message: string): object => ({
      type: 'log',
      runId: first,
      time,
      level: 'info',
      message,
    })
    await client.rpush(
      REPORTS_LIST,
      JSON.stringify({ ...who, kind: 'messages', messages: [log('x'.repeat(150_000_000))] }),
    )
    const many = Array.from({ length: 10_000 }, () => log('y'.repeat(10_000)))
    await client.rpush(REPORTS_LIST, JSON.stringify({ ...who, kind: 'messages', messages: many }))

    expect(await head.exited, head.output().stderr).toBe(0)
    clearInterval(sampler)
    const stderr = head.output().stderr
    const rows = rig.query<RunRow>(
      'SELECT id, status, attempt, final_test_acc FROM runs ORDER BY created_at',
    )
    expect(rows.map((r) => [r.status, r.attempt])).toEqual(ids.map(() => ['completed', 1]))
    expect(rows.map((r) => r.final_test_acc)).not.toContain(0.999)
    for (const id of ids) {
      const epochs = rig.query<{ epoch: number }>(
        `SELECT epoch FROM run_events WHERE run_id = ? AND type = 'epoch' ORDER BY epoch`,
        id,
      )
      expect(epochs.map((e) => e.epoch)).toEqual([1, 2])
      expect(existsSync(join(rig.head, 'runs', id, 'model', 'SHA256SUMS'))).toBe(true)
    }
    const stored = rig.query<{ bytes: number }>(
      'SELECT COALESCE(SUM(LENGTH(json)), 0) AS bytes FROM run_events',
    )[0]!.bytes
    expect(stored).toBeLessThan(2_000_000)
    expect(stderr).not.toMatch(/xxxxxxxxxx|yyyyyyyyyy/)
    // Each kind of refusal said once, however often it came.
    expect(count(stderr, /refused a report: not a signed envelope/)).toBe(1)
    expect(count(stderr, /refused a report: its signature does not match the fleet key/)).toBe(1)
    expect(count(stderr, /dropped a report of \d+ characters unread/)).toBe(1)
    expect(count(stderr, /ignored a heartbeat: nin-lab:worker:evil/)).toBe(1)
    // The forged attempt keys: ignored, said once (the worker looks every second).
    expect(count(w1.output().stderr, /ignored the attempt key of run/)).toBe(1)
    // The 1000-slot heartbeat was never believed: one worker with one slot ran one run at a time.
    expect(mostRunning).toBe(1)
    // The 150 MB report never reached the head's memory (it held 1.16 GB before the fix).
    console.log(`head peak RSS ${peak.toFixed(0)} MB; run_events ${stored} bytes`)
    expect(peak).toBeGreaterThan(0)
    expect(peak).toBeLessThan(400)
  })

  it('a key holder that does not hold the claim, or holds it and misbehaves, still writes only checkpoint files under the names the head chose', async () => {
    rig = new FleetRig(redis.url, newHead())
    const ids = rig.queueAdd('--set', 'train.epochs=2', '--grid', 'model.microConvs=1,2,3')
    const key = makeFleetKey(rig.head)
    // A worker with one GPU claiming 1000 slots: it proved one, so it is given one run at a time.
    const beat = (): string =>
      sign(
        key,
        'beat',
        JSON.stringify({
          name: 'rogue',
          host: 'test',
          pid: process.pid,
          slots: 1000,
          gpus: [{ index: 0, name: 'Fake GPU', memoryMB: 1000 }],
          running: [],
          offers: 'test',
          version: 'test',
          startedAt: Date.now(),
          beatAt: Date.now(),
          draining: false,
        }),
      )
    await client.set(workerKey('rogue'), beat(), 'PX', 10_000)
    const beating = setInterval(
      () => void client.set(workerKey('rogue'), beat(), 'PX', 10_000),
      1000,
    )
    const head = rig.startHead()
    try {
      const job = await takeJob(redis.url)
      const opened = open([key], 'job', (job.data as { envelope: string }).envelope, 1 << 28)
      if ('error' in opened) throw new Error(opened.error)
      const { runId, attempt } = JSON.parse(opened.body) as { runId: string; attempt: number }
      expect(runId).toBe(ids[0])
      await new Promise((r) => setTimeout(r, 3000)) // the head had ticks to over-dispatch
      const running = rig.query<{ id: string }>(`SELECT id FROM runs WHERE status = 'running'`)
      expect(running.map((r) => r.id)).toEqual([runId])

      let seq = 0
      const who = { runId, attempt, worker: 'rogue', host: 'test', pid: 1, gpu: null }
      const send = (body: object, as: object = {}): Promise<void> =>
        pushReport(
          client,
          sign(
            key,
            'report',
            JSON.stringify({ ...who, session: 'rogue-session', seq: ++seq, ...body, ...as }),
          ),
        )
      const started = {
        type: 'started',
        runId,
        time: Date.now(),
        engine: 'torch',
        backend: 'cpu',
        skipped: [],
        threads: 1,
        versions: {},
        params: 1,
        trainCount: 1,
        testCount: 1,
        stepsPerEpoch: 1,
        epochs: 2,
        startEpoch: 0,
        pid: 1,
      }
      await send({ kind: 'messages', messages: [started] })
      await waitFor(
        () =>
          rig.query(`SELECT 1 FROM runs WHERE id = ? AND placement_json LIKE '%rogue%'`, runId)
            .length > 0
            ? true
            : undefined,
        60_000,
        'the rogue holding the claim',
      )
      const chunk = (path: string, data: Buffer, size = data.length, offset = 0): object => ({
        kind: 'chunk',
        path,
        offset,
        size,
        sha256: createHash('sha256').update(data).digest('hex'),
        base64: data.toString('base64'),
      })
      const small = Buffer.from('{"evil": true}')
      for (const path of [
        'job.json',
        'messages.jsonl',
        'trainer.log',
        'checkpoints/epoch-0099/model.pt',
        'checkpoints/epoch-0001/evil.sh',
        'checkpoints/epoch-0001/../../job.json',
        'model/model.pt/x',
      ])
        await send(chunk(path, small))
      // A 400 MB file: refused at its first chunk (no file may be over 256 MiB).
      await send(chunk('model/model.pt', Buffer.alloc(CHUNK_BYTES), 400_000_000))
      // A 20 MB file in 1 MiB chunks lands whole; Redis answers a PING between every chunk.
      const file = Buffer.alloc(20 * CHUNK_BYTES + 123, 7)
      const digest = createHash('sha256').update(file).digest('hex')
      let slowestPing = 0
      for (let offset = 0; offset < file.length; offset += CHUNK_BYTES) {
        const piece = file.subarray(offset, offset + CHUNK_BYTES)
        await send({
          ...chunk('checkpoints/epoch-0001/model.pt', piece),
          offset,
          size: file.length,
          sha256: digest,
        })
        const t0 = Date.now()
        await client.ping()
        slowestPing = Math.max(slowestPing, Date.now() - t0)
      }
      // Another key holder, not the claim's: refused. A replay of the rogue's own report: refused.
      await send(
        { kind: 'crash', reason: 'not mine' },
        { worker: 'w-other', session: 'other-session' },
      )
      const replay = sign(
        key,
        'report',
        JSON.stringify({
          ...who,
          session: 'rogue-session',
          seq: 1,
          kind: 'crash',
          reason: 'replayed',
        }),
      )
      await pushReport(client, replay)
      // A checkpoint whose files never came whole (SHA256SUMS missing): refused, the run resumes.
      await send({
        kind: 'messages',
        messages: [{ type: 'checkpoint', runId, time: Date.now(), epoch: 1, step: 1, path: '/x' }],
      })
      await waitFor(
        () => {
          const [row] = rig.query<RunRow>('SELECT status, attempt FROM runs WHERE id = ?', runId)
          return row && (row.attempt > attempt || row.status === 'queued') ? row : undefined
        },
        60_000,
        'the run queued again',
      )
      const stderr = head.output().stderr
      expect(count(stderr, /is not a file a worker may ship/)).toBe(6)
      expect(stderr).toMatch(/leaves the run's folder|names no safe path/)
      expect(stderr).toMatch(/larger than 268435456 bytes/)
      expect(stderr).toMatch(/from w-other: the run's claim is held by rogue/)
      expect(stderr).toMatch(/report 1 comes after \d+: a replay/)
      expect(stderr).toMatch(/checkpoint 1 never arrived whole on the head/)
      // What landed in the head's run folder: only the checkpoint file, whole, under its name.
      const runDir = join(rig.head, 'runs', runId)
      expect(filesIn(runDir)).toEqual([join('checkpoints', 'epoch-0001', 'model.pt')])
      const landed = readFileSync(join(runDir, 'checkpoints', 'epoch-0001', 'model.pt'))
      expect(createHash('sha256').update(landed).digest('hex')).toBe(digest)
      expect(rig.query(`SELECT * FROM artifacts WHERE run_id = ?`, runId)).toEqual([])
      const types = rig.query<{ type: string }>(
        `SELECT type FROM run_events WHERE run_id = ?`,
        runId,
      )
      expect(types.map((t) => t.type)).not.toContain('checkpoint')
      expect(types.map((t) => t.type)).not.toContain('finished')
      console.log(`slowest PING while a 20 MB file was shipped: ${slowestPing} ms`)
      expect(slowestPing).toBeLessThan(2000)
    } finally {
      clearInterval(beating)
    }
  })

  it('Redis full (maxmemory 16mb, noeviction): reports and dispatches retried, then the queue halts with a clear error; no run completes without its files, no attempt storm', async () => {
    rig = new FleetRig(redis.url, newHead())
    const ids = rig.queueAdd(
      '--set',
      'data.trainLimit=960',
      '--set',
      'train.epochs=3',
      '--grid',
      'model.microConvs=1,2',
    )
    const t0 = Date.now()
    rig.startWorker('w1')
    await rig.fleetOf('w1')
    const head = rig.startHead()
    await waitFor(
      () =>
        rig.query(`SELECT 1 FROM run_events WHERE type = 'step'`).length > 0 ? true : undefined,
      240_000,
      'training under way',
    )
    const t1 = Date.now()
    await client.config('SET', 'maxmemory-policy', 'noeviction')
    await client.config('SET', 'maxmemory', '16mb')
    // Fill it, and keep it full: whatever memory frees up is taken again at once.
    let filling = true
    // Small values, retried every few milliseconds: no write of a worker (a heartbeat is ≈ 600
    // bytes) finds room for long, so the fleet sees a Redis that stays full.
    const fill = async (): Promise<void> => {
      for (let i = 0; filling; i++) {
        await client.set(`junk:${i}`, 'j'.repeat(i < 200 ? 64 * 1024 : 512)).catch(async () => {
          await new Promise((r) => setTimeout(r, 5))
        })
      }
    }
    const filler = fill()
    // The halt is an event: the head exits once no run it dispatched is in flight — each run a
    // worker trains ends, or its worker dies or drops it; one no worker took is recalled at the
    // halt. The bound only turns a hang into a failure that shows where everything stood.
    const code = await rig.exitOf(head, 300_000, 'the head to halt and exit').finally(() => {
      filling = false
    })
    await filler
    console.log(
      `training under way after ${((t1 - t0) / 1000).toFixed(1)} s; the head halted and exited ` +
        `${((Date.now() - t1) / 1000).toFixed(1)} s after Redis was filled`,
    )
    expect(code, head.output().stderr).toBe(1)
    const stderr = head.output().stderr
    expect(stderr).toMatch(
      /queue halted: the queue stopped: Redis refused to store .* \(OOM[^)]*\): it is full\. Raise its maxmemory/,
    )
    const rows = rig.query<RunRow>('SELECT id, status, attempt FROM runs')
    // No attempt storm: at most the attempt that trained and the one that could not be dispatched.
    for (const r of rows) expect(r.attempt).toBeLessThanOrEqual(2)
    // Every checkpoint and model the store lists exists on the head.
    const artifacts = rig.query<{ path: string }>('SELECT path FROM artifacts')
    for (const a of artifacts) expect(existsSync(join(a.path, 'SHA256SUMS')), a.path).toBe(true)
    for (const r of rows.filter((row) => row.status === 'completed'))
      expect(existsSync(join(rig.head, 'runs', r.id, 'model', 'SHA256SUMS'))).toBe(true)
    expect(rows.map((r) => r.status).sort()).not.toContain('failed')
    expect(ids).toHaveLength(2)
  }, 480_000)
})

/** Takes the next run job from the head's queue as a worker would (BullMQ, a manual fetch). */
async function takeJob(redisUrl: string): Promise<Job> {
  const worker = new BullWorker(RUNS_QUEUE, null, {
    connection: redisOptions(redisUrl),
    prefix: KEY_PREFIX,
    autorun: false,
  })
  try {
    for (let i = 0; i < 120; i++) {
      const job = (await worker.getNextJob('rogue-token', { block: true })) as Job | undefined
      if (job) return job
    }
    throw new Error('no job was dispatched')
  } finally {
    await worker.close(true)
  }
}
