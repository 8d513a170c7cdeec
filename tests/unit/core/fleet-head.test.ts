// The fleet's head in seconds (issue 22): the Fleet (src/core/queue/fleet.ts) against a real
// redis-server and a real SQLite store, with a stand-in worker (tests/helpers/stand-in-worker.ts:
// signed beats, jobs taken, signed reports, nothing trained) and a controllable clock — the time
// the head reads, the waits between its retries (no test sleeps through a backoff), and how long
// a run must look lost. The ticks are the test's: each `tick()` is one scheduling pass. The same
// behaviours with real workers and real training stay covered by tests/integration/fleet*.test.ts.
// The tests share one redis-server (flushed between them), so they run one after another.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { validateExperimentConfig } from '@shared/config/experiment'
import {
  attemptKey,
  CHUNK_BYTES,
  checkAttemptRecord,
  jobFilesKey,
  type AttemptRecord,
} from '@shared/protocol/worker'
import { Fleet } from '@core/queue/fleet'
import { Scheduler, type Halt } from '@core/queue/scheduler'
import { open, rotateFleetKey } from '@core/queue/fleet-key'
import { takeJobFiles } from '@core/queue/job-files'
import { redisOptions } from '@core/queue/redis'
import { RunStore, type Run } from '@core/store'
import { REDIS_SERVER, startRedis, type RedisServer } from '../../helpers/redis'
import { until } from '../../helpers/stand-in'
import { says, sha256, StandInWorker } from '../../helpers/stand-in-worker'

let redis: RedisServer
let client: Redis
let seeds = 0

beforeAll(async () => {
  if (!REDIS_SERVER) return
  redis = await startRedis()
  client = new Redis(redisOptions(redis.url))
})

afterAll(async () => {
  client?.disconnect()
  await redis?.stop()
})

/** What the head told the scheduler: halts, warnings. */
interface Heard {
  halts: string[]
  warnings: string[]
}

/** One head: its data folder, store, fleet key, a clock the test moves, and stand-in workers. */
interface Head {
  readonly dir: string
  readonly store: RunStore
  readonly key: string
  readonly fleet: Fleet
  readonly heard: Heard
  /** The time the head reads; the test moves it. */
  now: number
  /** The waits the head asked for between retries (none is slept). */
  readonly waits: number[]
  /** Called at each retry wait (e.g. to make room in Redis). */
  onWait: () => Promise<void>
  add(...names: string[]): Run[]
  tick(canStart?: () => boolean): Promise<void>
  worker(name: string, slots?: number): StandInWorker
  run(run: Run): Run
}

const LOST_AFTER_MS = 10_000
let heads: (() => Promise<void>)[] = []

function head(): Head {
  const dir = mkdtempSync(join(tmpdir(), 'nin-lab-fleet-head-'))
  const store = RunStore.open(dir)
  const key = rotateFleetKey(dir)
  const heard: Heard = { halts: [], warnings: [] }
  const workers: StandInWorker[] = []
  const h: Head = {
    dir,
    store,
    key,
    heard,
    now: 1_000_000,
    waits: [],
    onWait: async () => {},
    fleet: undefined as unknown as Fleet,
    add: (...names) =>
      store.addRuns(
        'fleet-test',
        names.map((name) =>
          validateExperimentConfig({ name, train: { epochs: 2, seed: ++seeds } }),
        ),
      ).added,
    tick: (canStart = () => h.heard.halts.length === 0) =>
      h.fleet.tick(() => store.nextQueued(), canStart),
    worker: (name, slots = 1) => {
      const w = new StandInWorker(client, redis.url, key, name, slots)
      workers.push(w)
      return w
    },
    run: (run) => store.getRun(run.id)!,
  }
  ;(h as { fleet: Fleet }).fleet = new Fleet(store, {
    redisUrl: redis.url,
    key: () => key,
    onMessage: () => {},
    onChange: () => {},
    onWarning: (m) => heard.warnings.push(m),
    onDiskProblem: (err) => heard.halts.push(String(err)),
    onRedisFull: (reason) => heard.halts.push(reason),
    maxAutoResumes: 2,
    clock: {
      now: () => h.now,
      sleep: async (ms) => {
        h.waits.push(ms)
        await h.onWait()
      },
      lostAfterMs: LOST_AFTER_MS,
    },
  })
  heads.push(async () => {
    for (const w of workers) await w.close()
    await h.fleet.close()
    store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return h
}

/** The signed attempt record of a run in Redis, checked with the head's key. */
async function attemptRecord(h: Head, runId: string): Promise<AttemptRecord | null> {
  const value = await client.get(attemptKey(runId))
  if (value === null) return null
  const opened = open([h.key], 'attempt', value, 1024)
  if ('error' in opened) throw new Error(opened.error)
  return checkAttemptRecord(JSON.parse(opened.body), runId)
}

/** Fills Redis under a tiny maxmemory with noeviction: every write is refused (OOM). */
async function fillRedis(): Promise<void> {
  await client.config('SET', 'maxmemory-policy', 'noeviction')
  await client.config('SET', 'maxmemory', '1mb')
  for (let i = 0; ; i++) {
    const ok = await client.set(`junk:${i}`, 'j'.repeat(64 * 1024)).then(
      () => true,
      () => false,
    )
    if (!ok) return
  }
}

const roomAgain = async (): Promise<void> => {
  await client.config('SET', 'maxmemory', '0')
}

const status = (h: Head, run: Run): string => h.run(run).status

beforeEach(() => {
  heads = []
})

afterEach(async () => {
  for (const close of heads) await close()
  await roomAgain()
  await client.flushall()
})

describe.skipIf(!REDIS_SERVER)('the fleet head', { timeout: 30_000 }, () => {
  it('claims a run per free slot: a new attempt, a signed job and attempt record; a worker with no slot left gets nothing more', async () => {
    const h = head()
    const [a, b] = h.add('a', 'b')
    const w = h.worker('w1')
    await w.beat()
    await h.tick()
    expect([status(h, a!), h.run(a!).attempt, status(h, b!)]).toEqual(['running', 1, 'queued'])
    expect(h.fleet.inFlight).toBe(1)
    expect(await attemptRecord(h, a!.id)).toEqual({ runId: a!.id, attempt: 1, ended: false })
    const taken = await w.take()
    expect(taken?.job.id).toBe(`${a!.id}.1`)
    expect(taken?.spec).toMatchObject({ runId: a!.id, attempt: 1, resume: false, checkpoint: [] })
    // Taken but not reported on yet: its slot stays taken (a 1000-slot claim proves nothing).
    await h.tick()
    expect(status(h, b!)).toBe('queued')
  })

  it('fencing: the first reporter holds the claim; another worker, another attempt and a replay are refused', async () => {
    const h = head()
    const [a] = h.add('a')
    const w = h.worker('w1')
    await w.beat()
    await h.tick()
    await w.take()
    await w.say(a!.id, 1, says.started(a!.id))
    await until(() => (h.run(a!).owner?.worker === 'w1' ? true : undefined), 'w1 holding a')
    const other = h.worker('w2')
    await other.say(a!.id, 1, says.epoch(a!.id, 1))
    await w.say(a!.id, 2, says.epoch(a!.id, 1))
    await w.report(a!.id, 1, { kind: 'crash', reason: 'replayed' }, { seq: 1 })
    await w.say(a!.id, 1, says.epoch(a!.id, 1))
    await until(() => (h.store.epochRows(a!.id).length === 1 ? true : undefined), 'epoch 1')
    const said = h.heard.warnings.join('\n')
    expect(said).toMatch(/from w2: the run's claim is held by w1/)
    expect(said).toMatch(/attempt 2 is not the run's current one \(1\)/)
    expect(said).toMatch(/report 1 comes after \d+: a replay/)
    expect([status(h, a!), h.run(a!).attempt]).toEqual(['running', 1])
    expect(h.store.epochRows(a!.id).map((e) => e.epoch)).toEqual([1])
  })

  it('a worker presumed dead: its beat gone, the run is queued first to resume and its attempt ended; one that lives but dropped the run is lost only after the grace', async () => {
    const h = head()
    const [a, b] = h.add('a', 'b')
    const w = h.worker('w1', 2)
    await w.beat()
    await h.tick()
    await w.take()
    await w.take()
    await w.say(a!.id, 1, says.started(a!.id))
    await w.say(b!.id, 1, says.started(b!.id))
    await until(() => (h.run(b!).owner?.worker === 'w1' ? true : undefined), 'w1 holding b')
    // It lives and trains b, but no longer lists a: a suspect until the grace has passed.
    await w.beat([b!.id])
    await h.tick(() => false)
    expect(status(h, a!)).toBe('running')
    h.now += LOST_AFTER_MS - 1
    await h.tick(() => false)
    expect(status(h, a!)).toBe('running')
    h.now += 1
    await h.tick(() => false)
    expect([status(h, a!), h.run(a!).attempt]).toEqual(['queued', 1])
    expect(h.store.nextQueued()?.id).toBe(a!.id)
    // Ended by a write the head does not wait for.
    for (let i = 0; i < 200 && !(await attemptRecord(h, a!.id))?.ended; i++)
      await new Promise((r) => setTimeout(r, 5))
    expect(await attemptRecord(h, a!.id)).toEqual({ runId: a!.id, attempt: 1, ended: true })
    // Its beat gone: at once.
    await w.die()
    await h.tick(() => false)
    expect(status(h, b!)).toBe('queued')
    expect(h.fleet.inFlight).toBe(0)
    expect(h.heard.halts).toEqual([])
  })

  it('retries: writes Redis refuses for a moment are retried with backoff and the dispatch goes through, no halt', async () => {
    const h = head()
    const [a] = h.add('a')
    const w = h.worker('w1')
    await w.beat()
    await fillRedis()
    h.onWait = async () => {
      if (h.waits.length === 3) await roomAgain()
    }
    await h.tick()
    expect(h.waits).toEqual([100, 200, 400])
    expect([status(h, a!), h.run(a!).attempt]).toEqual(['running', 1])
    expect(h.heard.halts).toEqual([])
    expect((await w.take())?.job.id).toBe(`${a!.id}.1`)
  })

  it('halts on a full Redis: a refused dispatch halts after its retries, the run waits first in the queue, runs no worker took are recalled, no attempt storm', async () => {
    const h = head()
    const [a, b] = h.add('a', 'b')
    const w = h.worker('w1', 2)
    await w.beat()
    await h.tick(() => h.fleet.inFlight === 0) // a only
    expect(status(h, a!)).toBe('running')
    await fillRedis()
    await h.tick()
    expect(h.waits).toEqual([100, 200, 400, 800, 1600])
    expect(h.heard.halts).toHaveLength(1)
    expect(h.heard.halts[0]).toMatch(
      /Redis refused to store the job of run .* \(OOM[^)]*\): it is full/,
    )
    // b could not be dispatched; a was, but no worker took it: both wait, a first, no attempt lost.
    expect([status(h, a!), status(h, b!)]).toEqual(['queued', 'queued'])
    expect([h.run(a!).attempt, h.run(b!).attempt]).toEqual([1, 1])
    expect(h.fleet.inFlight).toBe(0)
    for (let i = 0; i < 5; i++) await h.tick()
    expect([h.run(a!).attempt, h.run(b!).attempt]).toEqual([1, 1])
  })

  it('halts on a full Redis that no worker can beat into: the head writes a mark of its own, so it halts instead of waiting forever', async () => {
    const h = head()
    const [a] = h.add('a')
    await fillRedis()
    // No heartbeat reaches Redis: the head sees no worker, so it has no job to write …
    await h.tick()
    // … and before, it stopped there, every tick, forever (the Redis-full scenario's hang).
    expect(h.heard.halts).toHaveLength(1)
    expect(h.heard.halts[0]).toMatch(
      /Redis refused to store the head's mark \(OOM[^)]*\): it is full/,
    )
    expect(status(h, a!)).toBe('queued')
  })

  it('drain: a draining worker gets nothing; a run handed back waits first in the queue, its attempt kept for the next claim', async () => {
    const h = head()
    const [a] = h.add('a')
    const w = h.worker('w1')
    await w.beat([], true)
    await h.tick()
    expect(status(h, a!)).toBe('queued')
    await w.beat()
    await h.tick()
    await w.take()
    await w.say(a!.id, 1, says.started(a!.id))
    await w.report(a!.id, 1, { kind: 'handback', reason: 'the worker is shutting down' })
    await until(() => (status(h, a!) === 'queued' ? true : undefined), 'a handed back')
    expect(h.store.nextQueued()?.id).toBe(a!.id)
    expect(h.fleet.inFlight).toBe(0)
    await h.tick()
    expect(h.run(a!).attempt).toBe(2)
    expect(await attemptRecord(h, a!.id)).toEqual({ runId: a!.id, attempt: 2, ended: false })
    // The old attempt's late word is refused: the claim is attempt 2's.
    await w.say(a!.id, 1, says.epoch(a!.id, 1))
    await until(
      () =>
        h.heard.warnings.some((m) => /attempt 1 is not the run's current one \(2\)/.test(m))
          ? true
          : undefined,
      'the old attempt refused',
    )
    expect(h.store.epochRows(a!.id)).toEqual([])
  })

  it('a resumed run carries a checkpoint larger than one chunk: it arrives intact, and no Redis command carries more than one chunk', async () => {
    const h = head()
    const [a] = h.add('a')
    const w = h.worker('w1')
    await w.beat()
    await h.tick()
    await w.take()
    await w.say(a!.id, 1, says.started(a!.id), says.epoch(a!.id, 1))
    const weights = Buffer.alloc(2 * CHUNK_BYTES + 4321)
    for (let i = 0; i < weights.length; i++) weights[i] = (i * 7919) % 251
    const files = { 'checkpoint.json': Buffer.from('{"epoch":1}'), 'model.pt': weights }
    await w.ship(a!.id, 1, 'checkpoints/epoch-0001', files)
    await w.say(a!.id, 1, says.checkpoint(a!.id, 1))
    await w.report(a!.id, 1, { kind: 'crash', reason: 'killed' })
    await until(() => (status(h, a!) === 'queued' ? true : undefined), 'a queued to resume')
    expect(h.run(a!).lastCheckpointEpoch).toBe(1)

    // Every command Redis runs while the head dispatches the resume and the worker takes it.
    const monitor = await client.monitor()
    let longest = 0
    let commands = 0
    monitor.on('monitor', (_time: string, args: string[]) => {
      commands++
      for (const arg of args) longest = Math.max(longest, arg.length)
    })
    await h.tick()
    const taken = await w.take()
    expect(taken?.spec).toMatchObject({ attempt: 2, resume: true })
    const scratch = mkdtempSync(join(tmpdir(), 'nin-lab-fleet-worker-'))
    try {
      await takeJobFiles(client, String(taken!.job.id), taken!.spec.checkpoint, scratch)
      const landed = readFileSync(join(scratch, 'checkpoints', 'epoch-0001', 'model.pt'))
      expect(sha256(landed)).toBe(sha256(weights))
    } finally {
      rmSync(scratch, { recursive: true, force: true })
    }
    await new Promise((r) => setTimeout(r, 100)) // the monitor's last lines
    monitor.disconnect()
    expect(taken!.spec.checkpoint.map((f) => f.path)).toContain('checkpoints/epoch-0001/model.pt')
    expect(await client.exists(jobFilesKey(String(taken!.job.id)))).toBe(1)
    const piece = Math.ceil(CHUNK_BYTES / 3) * 4
    console.log(`dispatch and take: ${commands} commands, the longest argument ${longest} chars`)
    expect(longest).toBeGreaterThan(CHUNK_BYTES) // the pieces did go through this window …
    expect(longest).toBeLessThanOrEqual(piece) // … and none carried more than one chunk
  })

  it('a halted scheduler keeps following the runs workers train, and comes to rest once none is in flight', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nin-lab-fleet-scheduler-'))
    const store = RunStore.open(dir)
    const key = rotateFleetKey(dir)
    const [a, b] = store.addRuns(
      'fleet-test',
      ['a', 'b'].map((name) =>
        validateExperimentConfig({ name, train: { epochs: 2, seed: ++seeds } }),
      ),
    ).added
    const w = new StandInWorker(client, redis.url, key, 'w1')
    const s = new Scheduler(store, {
      dataDir: dir,
      slots: [],
      redisUrl: redis.url,
      pollMs: 10,
      fleetClock: { now: Date.now, sleep: async () => {} },
    })
    try {
      const halts: Halt[] = []
      let idle = 0
      s.on('halted', (halt) => halts.push(halt))
      s.on('idle', () => idle++)
      await w.beat()
      s.start()
      await until(() => (store.getRun(a!.id)?.status === 'running' ? true : undefined), 'a out')
      await w.take()
      await w.say(a!.id, 1, says.started(a!.id))
      await until(() => (store.getRun(a!.id)?.owner?.worker === 'w1' ? true : undefined), 'bound')
      await w.beat([a!.id])
      // Redis fills while w1 trains a and b waits: the head halts (its mark is refused) …
      await fillRedis()
      await until(() => (halts.length > 0 ? true : undefined), 'the halt')
      expect(halts[0]!.reason).toMatch(/Redis refused to store the head's mark \(OOM/)
      expect(s.isIdle()).toBe(false) // … with a in flight on w1
      // … and when w1 dies, a goes back to the queue: before, a halted scheduler stopped
      // ticking the fleet, so a stayed in flight and the queue never came to rest.
      idle = 0
      await w.die()
      await until(() => (idle > 0 && s.isIdle() ? true : undefined), 'idle after the halt', 20_000)
      expect([store.getRun(a!.id)?.status, store.getRun(b!.id)?.status]).toEqual([
        'queued',
        'queued',
      ])
      expect(store.nextQueued()?.id).toBe(a!.id)
    } finally {
      await s.stop()
      await w.close()
      store.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('cancel: the attempt record says ended, and the worker’s later reports are refused', async () => {
    const h = head()
    const [a] = h.add('a')
    const w = h.worker('w1')
    await w.beat()
    await h.tick()
    await w.take()
    await w.say(a!.id, 1, says.started(a!.id))
    await until(() => (h.run(a!).owner?.worker === 'w1' ? true : undefined), 'w1 holding a')
    h.store.cancel(a!.id)
    await h.fleet.cancel(a!.id)
    expect(await attemptRecord(h, a!.id)).toEqual({ runId: a!.id, attempt: 1, ended: true })
    await w.say(a!.id, 1, says.epoch(a!.id, 1))
    await until(
      () => (h.heard.warnings.some((m) => /refused a messages report/.test(m)) ? true : undefined),
      'the late report refused',
    )
    expect(h.store.epochRows(a!.id)).toEqual([])
  })
})
