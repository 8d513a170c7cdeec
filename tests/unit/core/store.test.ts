import { existsSync } from 'node:fs'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { RUN_STATUSES } from '@shared/run-state'
import { validateExperimentConfig } from '@shared/config/experiment'
import { DB_FILE, LATEST_VERSION, RunStore, StoreError, configHash } from '@core/store'
import { MIGRATIONS } from '@core/store/migrations'
import { cleanUp, config, countRows, Messages, openTempStore, tempDir } from './store-helpers'

const stores: RunStore[] = []
const open = (...args: Parameters<typeof openTempStore>): RunStore => {
  const s = openTempStore(...args)
  stores.push(s)
  return s
}
afterEach(() => cleanUp(stores.splice(0)))

/** The StoreError `fn` throws. */
function storeError(fn: () => unknown): StoreError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(StoreError)
    return err as StoreError
  }
  throw new Error('expected a StoreError')
}

describe('RunStore schema', () => {
  it('creates the folder and migrates an empty database to the latest schema', () => {
    const dir = join(tempDir(), 'a', 'b')
    const store = RunStore.open(dir)
    stores.push(store)
    expect(existsSync(join(dir, DB_FILE))).toBe(true)
    const db = store.connection
    expect(db.pragma('user_version', { simple: true })).toBe(LATEST_VERSION)
    expect(LATEST_VERSION).toBe(MIGRATIONS.length)
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1)
    expect(db.pragma('synchronous', { simple: true })).toBe(1) // NORMAL
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000)
    const tables = db
      .prepare<[], string>("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
      .pluck()
      .all()
    expect(tables).toEqual([
      'artifacts',
      'experiments',
      'metric_buckets',
      'metric_points',
      'run_events',
      'runs',
      'settings',
      'views',
    ])
    expect(store.integrityCheck()).toEqual(['ok'])
  })

  it('reopens idempotently, keeping the data', () => {
    const dir = tempDir()
    const first = RunStore.open(dir)
    const { added } = first.addRuns('exp', [config('a')])
    first.close()
    const second = RunStore.open(dir)
    stores.push(second)
    expect(second.connection.pragma('user_version', { simple: true })).toBe(LATEST_VERSION)
    expect(second.listRuns().map((r) => r.id)).toEqual(added.map((r) => r.id))
    // Two open connections on one file, as the scheduler and a CLI have.
    const third = RunStore.open(dir)
    stores.push(third)
    third.addRuns('exp', [config('b', { microConvs: 1 })])
    expect(second.listRuns()).toHaveLength(2)
  })

  it('upgrades a database of an older schema, keeping its data', () => {
    const dir = tempDir()
    // A version-1 database, as the first NiN Lab release wrote it.
    const v1 = new Database(join(dir, DB_FILE))
    v1.exec(MIGRATIONS[0]!.sql)
    v1.pragma('user_version = 1')
    v1.prepare("INSERT INTO experiments (name, created_at) VALUES ('old', 1)").run()
    v1.close()
    const store = RunStore.open(dir)
    stores.push(store)
    expect(store.connection.pragma('user_version', { simple: true })).toBe(LATEST_VERSION)
    expect(store.findExperiment('old')?.name).toBe('old')
    expect(store.queuePaused()).toBe(false)
  })

  it("checks run statuses against the protocol's list (a new status needs a migration)", () => {
    const store = open()
    const [run] = store.addRuns('exp', [config('a')]).added
    const set = store.connection.prepare<[string, string]>(
      'UPDATE runs SET status = ? WHERE id = ?',
    )
    for (const status of RUN_STATUSES) set.run(status, run!.id)
    expect(() => set.run('paused', run!.id)).toThrow(/CHECK constraint/)
  })
})

describe('RunStore experiments and runs', () => {
  it('pauses and resumes the queue, visibly to every process', () => {
    const store = open()
    const other = RunStore.open(store.dataDir)
    stores.push(other)
    expect(store.queuePaused()).toBe(false)
    store.setQueuePaused(true)
    expect(other.queuePaused()).toBe(true)
    other.setQueuePaused(false)
    expect(store.queuePaused()).toBe(false)
  })

  it('creates and finds experiments by name', () => {
    const store = open()
    const e = store.createExperiment('  ablation ', 'microConvs × head')
    expect(e).toMatchObject({ name: 'ablation', description: 'microConvs × head' })
    expect(store.findExperiment('ablation')).toEqual(e)
    expect(store.findExperiment('nope')).toBeUndefined()
    expect(storeError(() => store.createExperiment('ablation')).message).toBe(
      'experiment "ablation" already exists',
    )
    expect(store.ensureExperiment('ablation')).toEqual(e)
    expect(storeError(() => store.createExperiment(' ')).code).toBe('invalid')
    store.addRuns('ablation', [config('a'), config('b', { microConvs: 1 })])
    expect(store.listExperiments()).toEqual([{ ...e, runs: 2 }])
  })

  it('stores a run with its config, hash and seed, readable as a typed Run', () => {
    const store = open()
    const c = config('nin-m1', { microConvs: 1 })
    const { added, skipped } = store.addRuns('exp', [c], { priority: 2 })
    expect(skipped).toBe(0)
    const run = added[0]!
    expect(run.id).toMatch(/^r[2-9a-hjkmnp-z]{6}$/)
    expect(run).toMatchObject({
      experiment: 'exp',
      name: 'nin-m1',
      config: c,
      configHash: configHash(c),
      status: 'queued',
      priority: 2,
      seed: 0,
      engine: null,
      startedAt: null,
      lastCheckpointEpoch: 0,
      epochsDone: 0,
      tags: [],
      notes: '',
    })
    expect(run.configHash).toMatch(/^[0-9a-f]{64}$/)
    expect(store.getRun(run.id)).toEqual(run)
    expect(store.getRun('rnope')).toBeUndefined()
    expect(storeError(() => store.requireRun('rnope')).code).toBe('not-found')
    expect(store.runDir(run.id)).toBe(join(store.dataDir, 'runs', run.id))
  })

  it('skips configs already in the experiment, whatever their name or key order', () => {
    const store = open()
    const a = config('a', { microConvs: 1, head: 'fc' })
    const first = store.addRuns('exp', [a, config('b', { microConvs: 2 })])
    expect(first.added).toHaveLength(2)
    // Same config renamed, keys in another order, plus one new config and an in-batch repeat.
    const renamed = validateExperimentConfig({ model: { head: 'fc', microConvs: 1 }, name: 'z' })
    const again = store.addRuns('exp', [
      renamed,
      config('c', { microConvs: 3 }),
      config('d', { microConvs: 3 }),
    ])
    expect(again.added.map((r) => r.name)).toEqual(['c'])
    expect(again.skipped).toBe(2)
    // Another experiment is another study: the same config is a new run there.
    expect(store.addRuns('other', [a]).added).toHaveLength(1)
    // A different seed is a different run.
    expect(
      store.addRuns('exp', [validateExperimentConfig({ ...a, train: { seed: 1 } })]).added,
    ).toHaveLength(1)
  })

  it('refuses an invalid config and adds nothing', () => {
    const store = open()
    const bad = { ...config('a'), model: { ...config('a').model, microConvs: 9 } }
    expect(() => store.addRuns('exp', [config('ok', { microConvs: 1 }), bad])).toThrow(
      /model.microConvs must be an integer from 0 to 3 \(got 9\)/,
    )
    expect(store.listRuns()).toEqual([])
  })

  it('orders the queue by priority, then first in first out', () => {
    const store = open()
    const [a1, a2] = store.addRuns('exp', [
      config('a1', { microConvs: 0 }),
      config('a2', { microConvs: 1 }),
    ]).added
    const [b1] = store.addRuns('exp', [config('b1', { microConvs: 2 })], { priority: 5 }).added
    const [c1] = store.addRuns('exp', [config('c1', { microConvs: 3 })]).added
    expect(store.queue().map((r) => r.name)).toEqual(['b1', 'a1', 'a2', 'c1'])
    expect(store.nextQueued()?.id).toBe(b1!.id)
    expect(store.listRuns({ order: 'queue' }).map((r) => r.name)).toEqual(['b1', 'a1', 'a2', 'c1'])
    expect(store.listRuns().map((r) => r.name)).toEqual(['a1', 'a2', 'b1', 'c1'])
    store.markStarted(b1!.id, { pid: 1, host: 'h', engine: 'tfjs' })
    expect(store.nextQueued()?.id).toBe(a1!.id)
    expect(store.listRuns({ status: 'running' }).map((r) => r.name)).toEqual(['b1'])
    expect(store.listRuns({ status: ['queued', 'running'], experiment: 'exp' })).toHaveLength(4)
    expect(store.listRuns({ status: [] })).toEqual([])
    expect(store.listRuns({ experiment: 'none' })).toEqual([])
    void a2
    void c1
  })

  it('reorders the queue; a run moved among another priority takes that priority', () => {
    const store = open()
    const runs = store.addRuns(
      'exp',
      [0, 1, 2, 3].map((m) => config(`m${m}`, { microConvs: m })),
    ).added
    const [m0, , , m3] = runs
    const [hi] = store.addRuns('exp', [config('hi', { microKernel: 3 })], { priority: 1 }).added
    expect(store.queue().map((r) => r.name)).toEqual(['hi', 'm0', 'm1', 'm2', 'm3'])

    store.reorder(m3!.id, 1)
    expect(store.queue().map((r) => r.name)).toEqual(['hi', 'm3', 'm0', 'm1', 'm2'])
    expect(store.requireRun(m3!.id).priority).toBe(0)

    // Dragged to the top: it runs next, ahead of the priority-1 run.
    store.reorder(m0!.id, 0)
    expect(store.queue().map((r) => r.name)).toEqual(['m0', 'hi', 'm3', 'm1', 'm2'])
    expect(store.requireRun(m0!.id).priority).toBe(1)
    expect(store.nextQueued()?.name).toBe('m0')

    // Past the end: last. The priority-1 run moved among priority-0 runs becomes priority 0.
    store.reorder(hi!.id, 99)
    expect(store.queue().map((r) => r.name)).toEqual(['m0', 'm3', 'm1', 'm2', 'hi'])
    expect(store.requireRun(hi!.id).priority).toBe(0)

    // New runs still go to the end.
    store.addRuns('exp', [config('new', { microKernel: 3, microConvs: 1 })])
    expect(
      store
        .queue()
        .map((r) => r.name)
        .at(-1),
    ).toBe('new')

    store.markStarted(m0!.id, { pid: 1, host: 'h', engine: 'tfjs' })
    expect(storeError(() => store.reorder(m0!.id, 2)).message).toBe(
      `cannot move run ${m0!.id} in the queue: it is running, not queued`,
    )
    expect(storeError(() => store.reorder(m3!.id, -1)).code).toBe('invalid')
  })

  it('moves runs through their states and refuses illegal transitions clearly', () => {
    const store = open()
    const [a, b] = store.addRuns('exp', [config('a'), config('b', { microConvs: 1 })]).added
    const id = a!.id

    const running = store.markStarted(id, {
      pid: 99,
      host: 'gpu-box',
      engine: 'tfjs',
      backend: 'tfjs-node-gpu',
      versions: { node: '20' },
    })
    expect(running).toMatchObject({
      status: 'running',
      pid: 99,
      host: 'gpu-box',
      engine: 'tfjs',
      backend: 'tfjs-node-gpu',
      versions: { node: '20' },
    })
    expect(running.startedAt).not.toBeNull()
    expect(
      storeError(() => store.markStarted(id, { pid: 1, host: 'h', engine: 'tfjs' })).message,
    ).toBe(`cannot start run ${id}: it is running (only queued runs can be started)`)
    expect(storeError(() => store.retry(id)).message).toBe(
      `cannot retry run ${id}: it is running (only failed, cancelled, diverged or interrupted runs can be retried)`,
    )

    const failed = store.markFinished(id, 'failed', 'out of memory')
    expect(failed).toMatchObject({ status: 'failed', error: 'out of memory' })
    expect(failed.finishedAt).not.toBeNull()
    // Confirming the state it is in is a no-op; another final state is refused.
    expect(store.markFinished(id, 'failed').error).toBe('out of memory')
    expect(storeError(() => store.markFinished(id, 'completed')).code).toBe('illegal-state')

    const retried = store.retry(id)
    expect(retried).toMatchObject({ status: 'queued', error: null, finishedAt: null, pid: null })
    expect(store.queue().map((r) => r.id)).toEqual([b!.id, id]) // to the end of the queue

    expect(store.cancel(id).status).toBe('cancelled')
    expect(store.cancel(id).status).toBe('cancelled') // idempotent
    expect(store.retry(id, { front: true }).status).toBe('queued')
    expect(store.queue().map((r) => r.id)).toEqual([id, b!.id])

    store.markStarted(id, { pid: 5, host: 'h', engine: 'tfjs' })
    expect(store.markFinished(id, 'completed').status).toBe('completed')
    expect(storeError(() => store.cancel(id)).message).toBe(
      `cannot cancel run ${id}: it is completed (only queued, running or interrupted runs can be cancelled)`,
    )
    expect(storeError(() => store.retry(id)).code).toBe('illegal-state')
    expect(storeError(() => store.cancel('rmissing')).message).toBe(
      `no run rmissing in ${store.file}`,
    )
  })

  it('marks only running runs interrupted; an interrupted run can be retried', () => {
    const store = open()
    const [a, b] = store.addRuns('exp', [config('a'), config('b', { microConvs: 1 })]).added
    store.markStarted(a!.id, { pid: 1, host: 'h', engine: 'tfjs' })
    const changed = store.markInterrupted([a!.id, b!.id, 'rmissing'])
    expect(changed.map((r) => [r.id, r.status])).toEqual([[a!.id, 'interrupted']])
    expect(store.requireRun(b!.id).status).toBe('queued')
    expect(store.requireRun(a!.id).error).toMatch(/without a final message/)
    expect(store.retry(a!.id).status).toBe('queued')
  })

  it('keeps notes and tags', () => {
    const store = open()
    const [a] = store.addRuns('exp', [config('a')]).added
    expect(store.setNotes(a!.id, 'lr too high?').notes).toBe('lr too high?')
    expect(store.setTags(a!.id, [' baseline', 'gap', 'baseline', '']).tags).toEqual([
      'baseline',
      'gap',
    ])
    expect(store.setPriority(a!.id, 3).priority).toBe(3)
  })

  it('deletes runs with their points, events and artifacts, and returns their folders', () => {
    const store = open()
    const [a, b] = store.addRuns('exp', [config('a'), config('b', { microConvs: 1 })]).added
    const m = new Messages(a!.id)
    store.markStarted(a!.id, { pid: 1, host: 'h', engine: 'tfjs' })
    store.persistMessages(a!.id, [m.started(), ...m.epochs(1, 2, [1]), m.finished(0.2, 2)])
    store.addArtifact(a!.id, { kind: 'export', path: 'report.html', bytes: 10 })
    expect(countRows(store, 'metric_points', a!.id)).toBeGreaterThan(0)
    expect(countRows(store, 'artifacts', a!.id)).toBe(3)

    store.markStarted(b!.id, { pid: 2, host: 'h', engine: 'tfjs' })
    expect(storeError(() => store.delete([a!.id, b!.id])).message).toBe(
      `cannot delete run ${b!.id}: it is running; cancel it first`,
    )
    expect(store.getRun(a!.id)).toBeDefined() // all or nothing

    expect(store.delete([a!.id, a!.id])).toEqual([join(store.dataDir, 'runs', a!.id)])
    expect(store.getRun(a!.id)).toBeUndefined()
    for (const table of ['metric_points', 'run_events', 'artifacts']) {
      expect(countRows(store, table, a!.id)).toBe(0)
    }
    expect(store.listExperiments()[0]?.runs).toBe(1)
    expect(store.integrityCheck()).toEqual(['ok'])
    expect(store.connection.pragma('foreign_key_check')).toEqual([])
  })
})
