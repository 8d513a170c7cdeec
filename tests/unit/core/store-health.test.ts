// Run health as the store keeps it (judged whenever an epoch or final message is stored, backfilled
// for rows from before migration 8) and reuse: runs linked to a completed run of the same config.
import { afterEach, describe, expect, it } from 'vitest'
import type { TrainerMessage } from '@shared/protocol/trainer'
import { RunStore, StoreError } from '@core/store'
import { cleanUp, config, Messages, openTempStore } from './store-helpers'

const stores: RunStore[] = []
const open = (): RunStore => {
  const s = openTempStore()
  stores.push(s)
  return s
}
afterEach(() => cleanUp(stores.splice(0)))

/** An epoch message with the given train loss and test accuracy. */
const epochAt = (
  m: Messages,
  epoch: number,
  trainLoss: number,
  testAcc: number,
): TrainerMessage => {
  const base = m.epoch(epoch, testAcc) as Extract<TrainerMessage, { type: 'epoch' }>
  return { ...base, trainLoss, testLoss: trainLoss }
}

/** Queues one run and trains it through the given epochs (loss, acc), finishing it. */
function train(store: RunStore, experiment: string, name: string, epochs: [number, number][]) {
  const [run] = store.addRuns(experiment, [config(name)], { reuse: 'train' }).added
  if (!run) throw new Error('not added')
  const m = new Messages(run.id)
  store.persistMessages(run.id, [m.started(0, epochs.length)])
  epochs.forEach(([loss, acc], i) => store.persistMessages(run.id, [epochAt(m, i + 1, loss, acc)]))
  store.persistMessages(run.id, [m.finished(epochs.at(-1)?.[1] ?? 0, epochs.length)])
  return store.requireRun(run.id)
}

describe('run health in the store', () => {
  it('is pending when queued and judged live from the first epoch on', () => {
    const store = open()
    const [run] = store.addRuns('e', [config('a')]).added
    if (!run) throw new Error('not added')
    expect(run.health.status).toBe('pending')
    const m = new Messages(run.id)
    store.persistMessages(run.id, [m.started(0, 3), epochAt(m, 1, 2.3026, 0.1)])
    expect(store.requireRun(run.id).health.status).toBe('chance')
    store.persistMessages(run.id, [epochAt(m, 2, 1.4, 0.6)])
    // Left the plateau, still training: not judged until it ends.
    expect(store.requireRun(run.id).health.status).toBe('pending')
    store.persistMessages(run.id, [epochAt(m, 3, 1.2, 0.61), m.finished(0.61, 3)])
    const done = store.requireRun(run.id)
    expect(done.status).toBe('completed')
    expect(done.health.status).toBe('ok')
  })

  it('a finished run still rising is not converged, with an estimate of more epochs', () => {
    const run = train(open(), 'e', 'a', [
      [1.9, 0.3],
      [1.2, 0.55],
      [0.9, 0.76],
    ])
    expect(run.health.status).toBe('not-converged')
    expect(run.health.moreEpochs).toBeGreaterThan(0)
  })

  it('is judged again after a resume drops the epochs past the checkpoint', () => {
    const store = open()
    const [run] = store.addRuns('e', [config('a')]).added
    if (!run) throw new Error('not added')
    const m = new Messages(run.id)
    store.persistMessages(run.id, [
      m.started(0, 3),
      epochAt(m, 1, 2.3026, 0.1),
      m.checkpoint(1),
      epochAt(m, 2, 1.0, 0.7),
    ])
    expect(store.requireRun(run.id).health.status).toBe('pending')
    store.truncateAfterCheckpoint(run.id)
    expect(store.requireRun(run.id).health.status).toBe('chance')
  })

  it('judges rows stored before migration 8 when the database is next opened', () => {
    const store = open()
    const run = train(store, 'e', 'a', [[2.3026, 0.1]])
    store.connection.prepare('UPDATE runs SET health_json = NULL').run()
    expect(store.requireRun(run.id).health.status).toBe('pending')
    const dir = store.dataDir
    store.close()
    const again = RunStore.open(dir)
    stores.push(again)
    expect(again.requireRun(run.id).health.status).toBe('chance')
  })
})

describe('reuse: linking a completed run of the same config', () => {
  it('finds completed runs of the same config in other experiments only', () => {
    const store = open()
    const source = train(store, 'ex1', 'baseline', [[1.0, 0.7]])
    // Same config, another name: identity ignores the name.
    const matches = store.reusableRuns('ex2', [config('renamed'), config('other', { head: 'fc' })])
    expect(matches.map((m) => [m.name, m.source.id])).toEqual([['renamed', source.id]])
    // Its own experiment already has it: nothing to reuse there.
    expect(store.reusableRuns('ex1', [config('baseline')])).toEqual([])
    // A run that did not complete is no source.
    const [failed] = store.addRuns('ex1', [config('f', { head: 'fc' })]).added
    if (!failed) throw new Error('not added')
    store.persistMessages(failed.id, [new Messages(failed.id).failed('boom')])
    expect(store.reusableRuns('ex2', [config('f', { head: 'fc' })])).toEqual([])
  })

  it('links instead of training: completed at once, the source metrics, health and files', () => {
    const store = open()
    const source = train(store, 'ex1', 'baseline', [[2.3026, 0.1]])
    const r = store.addRuns('ex2', [config('baseline'), config('new', { head: 'fc' })], {
      reuse: 'link',
    })
    expect(r.added.map((x) => x.name)).toEqual(['new'])
    expect(r.linked).toHaveLength(1)
    const link = r.linked[0]
    if (!link) throw new Error('no link')
    expect(link.status).toBe('completed')
    expect(link.experiment).toBe('ex2')
    expect(link.linkedFrom).toEqual({
      runId: source.id,
      experiment: 'ex1',
      trainedAt: source.finishedAt,
    })
    expect(link.health).toEqual(source.health)
    expect(link.health.status).toBe('chance')
    expect(link.finalTestAcc).toBe(source.finalTestAcc)
    expect(link.epochsDone).toBe(1)
    // Its data is the source's, read through the link's id; nothing was copied.
    expect(store.epochRows(link.id)).toEqual(store.epochRows(source.id))
    expect(store.metricNames(link.id)).toEqual(store.metricNames(source.id))
    expect(store.latestEvent(link.id, 'finished')?.message.runId).toBe(source.id)
    const copied = store.connection
      .prepare<[string], number>('SELECT COUNT(*) FROM metric_points WHERE run_id = ?')
      .pluck()
      .get(link.id)
    expect(copied).toBe(0)
    // It never enters the queue, and a second add of the same grid adds nothing.
    expect(store.queue().map((x) => x.id)).not.toContain(link.id)
    const again = store.addRuns('ex2', [config('baseline')], { reuse: 'link' })
    expect([again.added.length, again.linked.length, again.skipped]).toEqual([0, 0, 1])
  })

  it('trains anew when asked to, and never links silently', () => {
    const store = open()
    train(store, 'ex1', 'baseline', [[1.0, 0.7]])
    const trained = store.addRuns('ex2', [config('baseline')], { reuse: 'train' })
    expect(trained.added).toHaveLength(1)
    expect(trained.linked).toHaveLength(0)
    expect(store.addRuns('ex3', [config('baseline')]).linked).toHaveLength(0)
  })

  it('refuses to delete a source its links read from, unless they go too', () => {
    const store = open()
    const source = train(store, 'ex1', 'baseline', [[1.0, 0.7]])
    const [link] = store.addRuns('ex2', [config('baseline')], { reuse: 'link' }).linked
    if (!link) throw new Error('no link')
    let error: unknown
    try {
      store.delete([source.id])
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(StoreError)
    expect((error as StoreError).message).toContain(`run ${link.id} of other experiments is a link`)
    store.delete([source.id, link.id])
    expect(store.getRun(source.id)).toBeUndefined()
    expect(store.getRun(link.id)).toBeUndefined()
  })
})
