// The queue with real processes and a real database: grids, crash safety, one scheduler per
// data folder. Each run is tiny (a few hundred real images, one or two epochs).
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { assertBuilt, isAlive, runCli, spawnCli, waitFor } from '../helpers/cli'
import { datasetCache, seededTempDir } from '../helpers/datasets'
import { TINY_RUN } from '../helpers/tiny'

interface LsRun {
  id: string
  name: string
  status: string
  epochsDone: number
  finalTestAcc: number | null
}

let dataDir: string
const TINY = TINY_RUN
const ls = (): LsRun[] =>
  JSON.parse(runCli(['ls', '--json', '--data-dir', dataDir]).stdout) as LsRun[]
const db = (): Database.Database => new Database(join(dataDir, 'nin-lab.db'), { readonly: true })
const query = <T>(sql: string, ...params: unknown[]): T[] => {
  const conn = db()
  try {
    return conn.prepare(sql).all(...params) as T[]
  } finally {
    conn.close()
  }
}
/** The run ids in the order their trainers started (their `started` events' times). */
const startOrder = (): string[] =>
  query<{ run_id: string }>(
    `SELECT run_id FROM run_events WHERE type = 'started' GROUP BY run_id ORDER BY MIN(time)`,
  ).map((r) => r.run_id)
const runningPid = (): number | undefined =>
  query<{ pid: number }>(`SELECT pid FROM runs WHERE status = 'running'`)[0]?.pid

function assertNoDuplicates(): void {
  // One epoch event per (run, epoch), one point per (run, metric, step), and a sound database.
  expect(
    query(
      `SELECT run_id, epoch FROM run_events WHERE type = 'epoch' GROUP BY run_id, epoch HAVING COUNT(*) > 1`,
    ),
  ).toEqual([])
  expect(
    query(`SELECT run_id FROM metric_points GROUP BY run_id, name, step HAVING COUNT(*) > 1`),
  ).toEqual([])
  expect(query<{ integrity_check: string }>('PRAGMA integrity_check')).toEqual([
    { integrity_check: 'ok' },
  ])
}

beforeAll(datasetCache)

beforeEach(async () => {
  assertBuilt()
  // The dataset cache already there: these tests check the queue, not its building.
  dataDir = await seededTempDir('nin-lab-queue-')
})

describe('queue add and grids', () => {
  it('a 6-run grid runs to completion from the CLI; re-adding it adds 0', () => {
    const grid = [
      'queue',
      'add',
      ...TINY,
      '--set',
      'train.epochs=1',
      '--grid',
      'model.microConvs=1,2,3',
      '--grid',
      'model.head=gap,fc',
      '--data-dir',
      dataDir,
    ]
    const first = runCli([...grid, '--json'])
    expect(first.status, first.stderr).toBe(0)
    const added = JSON.parse(first.stdout) as {
      added: { id: string; name: string }[]
      skipped: number
    }
    expect(added.added.map((r) => r.name)).toEqual([
      'small-28-m1-gap',
      'small-28-m1-fc',
      'small-28-m2-gap',
      'small-28-m2-fc',
      'small-28-m3-gap',
      'small-28-m3-fc',
    ])
    const again = runCli(grid)
    expect(again.stdout).toMatch(/queued 0 runs .*skipped 6/)

    const start = runCli(['queue', 'start', '--data-dir', dataDir])
    expect(start.status, start.stderr).toBe(0)
    const runs = ls()
    expect(runs).toHaveLength(6)
    expect(runs.every((r) => r.status === 'completed' && r.epochsDone === 1)).toBe(true)
    // FIFO: started in the order queued.
    expect(startOrder()).toEqual(added.added.map((r) => r.id))
    assertNoDuplicates()
  })

  it.each([
    [
      'an unknown path',
      ['--grid', 'model.microconv=1,2'],
      /grid axis model\.microconv: not a config field \(did you mean model\.microConvs\?\)/,
    ],
    [
      'a value of the wrong type',
      ['--grid', 'model.head=gap,mlp'],
      /grid axis model\.head=mlp: model\.head must be one of "gap", "fc"/,
    ],
    [
      'an out-of-range value',
      ['--grid', 'model.microConvs=1,5'],
      /model\.microConvs must be an integer from 0 to 3 \(got 5\)/,
    ],
    ['an empty list', ['--grid', 'model.microConvs='], /model\.microConvs/],
  ])('a bad grid (%s) is a clear error and adds nothing', (_name, args, message) => {
    const r = runCli(['queue', 'add', ...TINY, ...args, '--data-dir', dataDir])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(message)
    expect(ls()).toEqual([])
  })
})

describe('crash safety', () => {
  it('kill -9 of a trainer mid-epoch: the run resumes from its checkpoint and completes once', async () => {
    // More images than TINY: epochs long enough (30 steps) to be killed in the middle of one.
    runCli([
      'queue',
      'add',
      ...TINY,
      '--set',
      'data.trainLimit=960',
      '--set',
      'train.epochs=3',
      '--data-dir',
      dataDir,
    ])
    const scheduler = spawnCli(['queue', 'start', '--data-dir', dataDir])
    const [run] = await waitFor(
      () => {
        const r = query<{ id: string }>(
          `SELECT run_id AS id FROM run_events WHERE type = 'step' AND epoch = 2 GROUP BY run_id HAVING COUNT(*) >= 3`,
        )
        return r.length > 0 ? r : undefined
      },
      60_000,
      'epoch 2 under way',
    )
    // The process that trains (for PyTorch, the engine's own process under the trainer).
    const pid = runningPid()!
    process.kill(pid, 'SIGKILL')
    const checkpointAtKill = query<{ epoch: number | null }>(
      `SELECT MAX(epoch) AS epoch FROM run_events WHERE type = 'checkpoint'`,
    )[0]?.epoch
    expect(await scheduler.exited).toBe(0)
    const [final] = ls()
    expect(final).toMatchObject({ id: run!.id, status: 'completed', epochsDone: 3 })
    const starts = query<{ json: string }>(
      `SELECT json FROM run_events WHERE type = 'started' ORDER BY seq`,
    ).map((r) => (JSON.parse(r.json) as { startEpoch: number }).startEpoch)
    // Resumed once, after the last checkpoint written before the kill (epoch 1 or 2).
    expect(checkpointAtKill).toBeGreaterThanOrEqual(1)
    expect(starts).toEqual([0, checkpointAtKill])
    expect(query(`SELECT epoch FROM run_events WHERE type = 'epoch' ORDER BY epoch`)).toEqual([
      { epoch: 1 },
      { epoch: 2 },
      { epoch: 3 },
    ])
    assertNoDuplicates()
  })

  it('kill -9 of the scheduler mid-queue: a new one resumes, nothing is lost, duplicated or run twice', async () => {
    const add = runCli([
      'queue',
      'add',
      ...TINY,
      // 30 steps an epoch and a third epoch to go: even a fast engine is still mid-run when the
      // kill comes.
      '--set',
      'data.trainLimit=960',
      '--set',
      'train.epochs=3',
      '--grid',
      'train.seed=1,2,3',
      '--data-dir',
      dataDir,
      '--json',
    ])
    const queued = (JSON.parse(add.stdout) as { added: { id: string }[] }).added.map((r) => r.id)
    const first = spawnCli(['queue', 'start', '--data-dir', dataDir])
    // Mid-queue: the first run completed, the second one into its second epoch.
    await waitFor(
      () => {
        const r = query(
          `SELECT 1 FROM run_events WHERE run_id = ? AND type = 'step' AND epoch = 2`,
          queued[1],
        )
        return r.length > 0 ? true : undefined
      },
      90_000,
      'the second run to reach epoch 2',
    )
    const trainerPid = runningPid()!
    const pointsBefore = query<{ run_id: string; name: string; step: number; value: number }>(
      'SELECT run_id, name, step, value FROM metric_points WHERE run_id = ? ORDER BY name, step',
      queued[0],
    )
    first.child.kill('SIGKILL')
    await first.exited
    // The orphaned trainer notices its parent is gone and exits by itself.
    await waitFor(
      () => (isAlive(trainerPid) ? undefined : true),
      10_000,
      'the orphaned trainer to exit',
    )
    expect(ls().find((r) => r.id === queued[1])?.status).toBe('running')

    const second = runCli(['queue', 'start', '--data-dir', dataDir])
    expect(second.status, second.stderr).toBe(0)
    const runs = ls()
    expect(runs.map((r) => [r.id, r.status, r.epochsDone])).toEqual(
      queued.map((id) => [id, 'completed', 3]),
    )
    // Every point committed before the kill is still there, unchanged.
    const pointsAfter = query(
      'SELECT run_id, name, step, value FROM metric_points WHERE run_id = ? ORDER BY name, step',
      queued[0],
    )
    expect(pointsAfter).toEqual(pointsBefore)
    // Each run trained once, the interrupted one resumed (two starts), in queue order.
    const starts = query<{ run_id: string; n: number }>(
      `SELECT run_id, COUNT(*) AS n FROM run_events WHERE type = 'started' GROUP BY run_id`,
    )
    expect(Object.fromEntries(starts.map((s) => [s.run_id, s.n]))).toEqual({
      [queued[0]!]: 1,
      [queued[1]!]: 2,
      [queued[2]!]: 1,
    })
    expect(startOrder()).toEqual(queued)
    assertNoDuplicates()
  })

  it('a second scheduler on the same data folder is refused while the first lives', async () => {
    // Long enough (180 steps) to still be training when Ctrl-C comes, even on a fast engine.
    runCli([
      'queue',
      'add',
      ...TINY,
      '--set',
      'data.trainLimit=1920',
      '--set',
      'train.epochs=3',
      '--data-dir',
      dataDir,
    ])
    const first = spawnCli(['queue', 'start', '--data-dir', dataDir, '--watch'])
    await waitFor(
      () => (runningPid() ? true : undefined),
      60_000,
      'the first scheduler to start a run',
    )
    const second = runCli(['queue', 'start', '--data-dir', dataDir])
    expect(second.status).toBe(2)
    expect(second.stderr).toMatch(
      /another scheduler \(pid \d+ on .*\) is already running the queue/,
    )
    first.child.kill('SIGINT')
    expect(await first.exited).toBe(130)
    // Stopped by Ctrl-C mid-run: queued again, to resume on the next start.
    expect(ls()[0]?.status).toBe('queued')
  })

  it('the running scheduler notices runs queued by another process', async () => {
    const scheduler = spawnCli(['queue', 'start', '--data-dir', dataDir, '--watch'])
    await new Promise((r) => setTimeout(r, 1500))
    runCli(['queue', 'add', ...TINY, '--set', 'train.epochs=1', '--data-dir', dataDir])
    await waitFor(
      () => (ls()[0]?.status === 'completed' ? true : undefined),
      60_000,
      'the run to complete',
    )
    scheduler.child.kill('SIGINT')
    await scheduler.exited
  })
})
