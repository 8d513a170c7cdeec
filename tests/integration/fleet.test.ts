// Remote workers through BullMQ on a real redis-server (started here on a free loopback port),
// with real processes: a head (`nin-lab queue start --redis … --concurrency 0`) and workers
// (`nin-lab worker`), each in its own folder — they share nothing but Redis. Runs are tiny
// (PyTorch, a few hundred real Fashion-MNIST images). After each scenario: every run ran exactly
// as often as it should, no epoch or metric point is duplicated, the checkpoints and the final
// model are on the head, and the head's database is sound.
import { existsSync, mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { assertBuilt, runCli, waitFor } from '../helpers/cli'
import { datasetCache, seededTempDir } from '../helpers/datasets'
import { fleetKeyArgs, FleetRig, type Proc } from '../helpers/fleet'
import { REDIS_SERVER, startRedis, type RedisServer } from '../helpers/redis'

// One redis-server for the whole file, emptied (FLUSHALL) after each group of scenarios, as a
// fresh server would be: a killed worker's heartbeat and a drained queue never reach the next.
let redis: RedisServer
let rig: FleetRig

interface RunRow {
  id: string
  status: string
  attempt: number
  error: string | null
  placement_json: string | null
}

const query = <T>(sql: string, ...params: unknown[]): T[] => rig.query<T>(sql, ...params)
/** The runs with these ids, in the order queued (a shared head also holds earlier scenarios'). */
const runs = (ids: readonly string[]): RunRow[] =>
  query<RunRow>(
    `SELECT id, status, attempt, error, placement_json FROM runs
     WHERE id IN (${ids.map(() => '?').join(', ')}) ORDER BY created_at`,
    ...ids,
  )
const startsOf = (id: string): number[] =>
  query<{ json: string }>(
    `SELECT json FROM run_events WHERE run_id = ? AND type = 'started' ORDER BY seq`,
    id,
  ).map((r) => (JSON.parse(r.json) as { startEpoch: number }).startEpoch)
const epochsOf = (id: string): number[] =>
  query<{ epoch: number }>(
    `SELECT epoch FROM run_events WHERE run_id = ? AND type = 'epoch' ORDER BY epoch`,
    id,
  ).map((r) => r.epoch)
const stepsOf = (ids: readonly string[]): number =>
  query(
    `SELECT 1 FROM run_events WHERE type = 'step' AND run_id IN (${ids.map(() => '?').join(', ')})`,
    ...ids,
  ).length

/** Whether the head has stored a message of this type for the run (in this epoch, if given). */
const hasEvent = (id: string, type: string, epoch?: number): boolean =>
  query(
    `SELECT 1 FROM run_events WHERE run_id = ? AND type = ?${epoch === undefined ? '' : ' AND epoch = ?'}`,
    ...[id, type, ...(epoch === undefined ? [] : [epoch])],
  ).length > 0

const queueAdd = (...args: string[]): string[] => rig.queueAdd(...args)
const startHead = (): Proc => rig.startHead()
/**
 * A worker in its own folder, the dataset cache already there (tests/helpers/datasets.ts): each
 * worker trains in a fresh folder, and building the cache there is not what these tests check.
 */
const startWorker = async (name: string, env: NodeJS.ProcessEnv = {}): Promise<Proc> =>
  rig.startWorker(name, env, await seededTempDir(`nin-lab-${name}-`))
/** Waits until the workers are in the fleet (their first heartbeat). */
const fleetOf = (...names: string[]): Promise<void> => rig.fleetOf(...names)
/** One 3-epoch run on 1,600 images queued, worker w1 in the fleet, and a head dispatching it. */
async function oneRunOnW1(): Promise<{ id: string; w1: Proc; h: Proc }> {
  const [id] = queueAdd('--set', 'data.trainLimit=1600', '--set', 'train.epochs=3')
  const w1 = await startWorker('w1')
  await fleetOf('w1')
  return { id: id!, w1, h: startHead() }
}
/** A head data folder of its own (and its fleet key); the head never trains. */
const newRig = (): FleetRig => new FleetRig(redis.url, mkdtempSync(join(tmpdir(), 'nin-lab-head-')))

function assertSound(ids: readonly string[]): void {
  expect(
    query(
      `SELECT run_id, epoch FROM run_events WHERE type = 'epoch' GROUP BY run_id, epoch HAVING COUNT(*) > 1`,
    ),
  ).toEqual([])
  expect(
    query(`SELECT run_id FROM metric_points GROUP BY run_id, name, step HAVING COUNT(*) > 1`),
  ).toEqual([])
  expect(query('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }])
  for (const id of ids) {
    const dir = join(rig.head, 'runs', id)
    expect(existsSync(join(dir, 'model', 'SHA256SUMS')), `${id}: final model on the head`).toBe(
      true,
    )
    expect(readdirSync(join(dir, 'checkpoints')).length, `${id}: checkpoints`).toBeGreaterThan(0)
  }
}

const workerOf = (row: RunRow): string | null =>
  row.placement_json === null
    ? null
    : (JSON.parse(row.placement_json) as { worker: string | null }).worker

/** Stops every process of the scenario (or group) and empties Redis for the next. */
async function cleanUp(): Promise<void> {
  await rig?.stopAll()
  // A scenario that stopped Redis and failed before restarting it leaves nothing to flush.
  try {
    redis.flushAll()
  } catch {
    await redis.stop()
    await redis.start()
  }
}

beforeAll(async () => {
  if (!REDIS_SERVER) return
  assertBuilt()
  redis = await startRedis()
  await datasetCache()
})

afterAll(async () => {
  await redis?.stop()
})

describe.skipIf(!REDIS_SERVER)('remote workers through BullMQ on a real redis-server', () => {
  // Three scenarios that keep both workers alive share one head folder and one pair of workers
  // (started once: each start is a process, a Redis connection and a first heartbeat to wait
  // for). Each scenario checks its own runs; assertSound checks the whole database each time.
  describe('one head folder and the same two workers, w1 and w2', () => {
    beforeAll(async () => {
      if (!REDIS_SERVER) return
      rig = newRig()
      await startWorker('w1')
      await startWorker('w2')
      await fleetOf('w1', 'w2')
    })
    afterAll(cleanUp)

    // Also the same-name refusal, on this scenario's fleet: a worker start-up saved (~35 s loaded).
    it('a grid on a head and two workers completes, every run exactly once; a second worker of the same name is refused', async () => {
      // Four runs on two workers: each worker trains more than one, and the head dispatches as
      // each frees; six showed nothing more (the test took 131 s with six at load ~20).
      const ids = queueAdd(
        '--set',
        'train.epochs=2',
        '--grid',
        'model.microConvs=1,2',
        '--grid',
        'model.head=gap,fc',
      )
      expect(ids).toHaveLength(4) // a shared head folder: each scenario's runs are new ones
      // The fleet must tell its workers apart: a twin of w1 is refused before it takes any work.
      const twin = runCli([
        'worker',
        '--redis',
        redis.url,
        '--name',
        'w1',
        '--work-dir',
        rig.head,
        ...fleetKeyArgs(rig.head),
      ])
      expect(twin.status).toBe(2)
      expect(twin.stderr).toMatch(/a worker named "w1" is already running .*another --name/)
      const h = startHead()
      expect(await h.exited, h.output().stderr).toBe(0)
      const rows = runs(ids)
      expect(rows.map((r) => r.status)).toEqual(ids.map(() => 'completed'))
      expect(rows.map((r) => r.attempt)).toEqual(ids.map(() => 1))
      for (const id of ids) {
        expect(startsOf(id)).toEqual([0])
        expect(epochsOf(id)).toEqual([1, 2])
      }
      expect(new Set(rows.map(workerOf))).toEqual(new Set(['w1', 'w2']))
      assertSound(ids)
    })

    it('kill -9 of the head mid-queue: a new head reconciles with the runs still training and ingests their messages', async () => {
      const ids = queueAdd(
        '--set',
        'data.trainLimit=960',
        '--set',
        'train.epochs=3',
        '--grid',
        'model.microConvs=1,2',
      )
      expect(ids).toHaveLength(2)
      const h1 = startHead()
      await waitFor(() => (stepsOf(ids) >= 2 ? true : undefined), 180_000, 'both runs training')
      h1.child.kill('SIGKILL')
      await h1.exited
      // The workers train on meanwhile, their reports waiting in Redis.
      await new Promise((r) => setTimeout(r, 3000))
      const h2 = startHead()
      expect(await h2.exited, h2.output().stderr).toBe(0)
      const rows = runs(ids)
      expect(rows.map((r) => r.status)).toEqual(['completed', 'completed'])
      // Never re-dispatched: the workers were alive all along.
      expect(rows.map((r) => r.attempt)).toEqual([1, 1])
      for (const id of ids) expect(epochsOf(id)).toEqual([1, 2, 3])
      assertSound(ids)
    })

    it('a redis-server restart: head and workers reconnect and the queue completes', async () => {
      const ids = queueAdd(
        '--set',
        'data.trainLimit=960',
        '--set',
        'train.epochs=3',
        '--grid',
        'model.microConvs=1,2',
        // Another seed than the scenario before: the head folder is shared, and the store adds
        // no second run of a config it already has.
        '--set',
        'train.seed=2',
      )
      expect(ids).toHaveLength(2)
      const h = startHead()
      await waitFor(() => (stepsOf(ids) > 0 ? true : undefined), 180_000, 'training under way')
      await redis.stop()
      await new Promise((r) => setTimeout(r, 2000))
      await redis.start()
      expect(await h.exited, h.output().stderr).toBe(0)
      expect(runs(ids).map((r) => r.status)).toEqual(['completed', 'completed'])
      for (const id of ids) expect(epochsOf(id)).toEqual([1, 2, 3])
      assertSound(ids)
    })
  })

  // Scenarios that kill, stop or replace a worker: a head folder and workers of their own each.
  describe('a head folder and workers of its own', () => {
    beforeEach(() => {
      rig = newRig()
    })
    afterEach(cleanUp)

    it('kill -9 of a worker mid-epoch: the run resumes on the other worker from its last checkpoint', async () => {
      const { id, w1, h } = await oneRunOnW1()
      // Epoch 1's checkpoint is on the head and epoch 2 is under way on w1.
      await waitFor(
        () => (hasEvent(id, 'step', 2) && hasEvent(id, 'checkpoint') ? true : undefined),
        180_000,
        'epoch 2 under way on w1',
      )
      w1.child.kill('SIGKILL')
      await startWorker('w2')
      expect(await h.exited, h.output().stderr).toBe(0)
      const [row] = runs([id])
      expect(row).toMatchObject({ status: 'completed', attempt: 2 })
      expect(workerOf(row!)).toBe('w2')
      const starts = startsOf(id)
      expect(starts[0]).toBe(0)
      expect(starts).toHaveLength(2)
      expect(starts[1]).toBeGreaterThanOrEqual(1)
      expect(epochsOf(id)).toEqual([1, 2, 3])
      assertSound([id])
    })

    it("a worker that cannot train the config fails the run with the worker's error, once", async () => {
      const [id] = queueAdd('--set', 'train.epochs=1')
      // This worker's only Python has no PyTorch; the config asks for engine torch.
      await startWorker('w-no-torch', { NIN_LAB_PYTHON: '/nonexistent/python3' })
      await fleetOf('w-no-torch')
      const h = startHead()
      expect(await h.exited, h.output().stderr).toBe(0)
      await new Promise((r) => setTimeout(r, 3000)) // no retry loop: nothing more happens
      const [row] = runs([id!])
      expect(row).toMatchObject({ id, status: 'failed', attempt: 1 })
      expect(row!.error).toMatch(/no Python with PyTorch/)
      expect(startsOf(id!)).toEqual([])
    })

    it('SIGTERM drains a worker: its run is handed back and finishes on another worker', async () => {
      const { id, w1, h } = await oneRunOnW1()
      await waitFor(
        () => (hasEvent(id, 'checkpoint') ? true : undefined),
        180_000,
        'a checkpoint on the head',
      )
      w1.child.kill('SIGTERM')
      expect(await w1.exited).toBe(0)
      expect(w1.output().stderr).toMatch(/draining/)
      await startWorker('w2')
      expect(await h.exited, h.output().stderr).toBe(0)
      const [row] = runs([id])
      expect(row).toMatchObject({ status: 'completed', attempt: 2 })
      expect(workerOf(row!)).toBe('w2')
      expect(epochsOf(id)).toEqual([1, 2, 3])
      assertSound([id])
    })

    it('a worker presumed dead that comes back: its reports are refused and logged, never stored', async () => {
      const { id, w1, h } = await oneRunOnW1()
      await waitFor(
        () => (hasEvent(id, 'step') ? true : undefined),
        180_000,
        'the run training on w1',
      )
      // Frozen: no heartbeat, so the head presumes it dead and re-dispatches the run to w2.
      w1.child.kill('SIGSTOP')
      await startWorker('w2')
      await waitFor(
        () => (runs([id])[0]?.attempt === 2 ? true : undefined),
        60_000,
        'the run re-dispatched',
      )
      w1.child.kill('SIGCONT')
      expect(await h.exited, h.output().stderr).toBe(0)
      expect(h.output().stderr).toMatch(
        /refused a \w+ report of run \w+ from w1: attempt 1 is not the run's current one \(2\)/,
      )
      const [row] = runs([id])
      expect(row).toMatchObject({ status: 'completed', attempt: 2 })
      expect(epochsOf(id)).toEqual([1, 2, 3])
      assertSound([id])
    })
  })
})
