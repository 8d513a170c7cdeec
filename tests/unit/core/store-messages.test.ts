import { afterEach, describe, expect, it } from 'vitest'
import { METRICS } from '@shared/metrics'
import type { TrainerMessage } from '@shared/protocol/trainer'
import { RunStore, StoreError } from '@core/store'
import { cleanUp, config, countRows, Messages, openTempStore } from './store-helpers'

const stores: RunStore[] = []
afterEach(() => cleanUp(stores.splice(0)))

/** A store with one run, started by the scheduler. */
function startedRun(): { store: RunStore; id: string; m: Messages } {
  const store = openTempStore()
  stores.push(store)
  const id = store.addRuns('exp', [config('a')]).added[0]!.id
  store.markStarted(id, { pid: 1, host: 'h', engine: 'tfjs' })
  return { store, id, m: new Messages(id) }
}

const epochsOf = (store: RunStore, id: string, name: string): number[] =>
  store.metricSeries(id, name).map((p) => p.epoch)

describe('RunStore.persistMessages', () => {
  it('records a run: log, metric points, summary, final state and artifacts', () => {
    const { store, id, m } = startedRun()
    const messages = [m.started(), ...m.epochs(1, 3, [1, 2, 3]), m.log('done'), m.finished(0.31)]
    expect(store.persistMessages(id, messages)).toBe(messages.length)

    const run = store.requireRun(id)
    expect(run).toMatchObject({
      status: 'completed',
      engine: 'tfjs',
      backend: 'cpu',
      versions: { 'tfjs-core': '4.22.0' },
      params: 1234,
      pid: 4242,
      epochsDone: 3,
      finalTestAcc: 0.31,
      bestTestAcc: 0.31,
      lastCheckpointEpoch: 3,
      error: null,
    })
    expect(store.metricSeries(id, METRICS.stepLoss).map((p) => p.step)).toEqual(
      Array.from({ length: 12 }, (_, i) => i + 1),
    )
    expect(store.metricSeries(id, METRICS.testAcc).map((p) => p.value)).toEqual([0.1, 0.2, 0.3])
    expect(store.metricNames(id)).toContain(METRICS.trainLoss)
    const events = store.events(id)
    expect(events.map((e) => e.seq)).toEqual(messages.map((_, i) => i + 1))
    expect(events.map((e) => e.message)).toEqual(messages)
    expect(store.events(id, { afterSeq: 16, limit: 2 }).map((e) => e.type)).toEqual([
      'step',
      'epoch',
    ])
    expect(store.artifacts(id).map((a) => [a.kind, a.path, a.epoch])).toEqual([
      ['checkpoint', 'checkpoints/epoch-1', 1],
      ['checkpoint', 'checkpoints/epoch-2', 2],
      ['checkpoint', 'checkpoints/epoch-3', 3],
      ['model', 'model/model.json', null],
    ])
  })

  it('is idempotent: a replayed message adds no point, no event and no state change', () => {
    const { store, id, m } = startedRun()
    const messages = [m.started(), ...m.epochs(1, 2, [1]), m.finished(0.2, 2)]
    store.persistMessages(id, messages.slice(0, 6))
    // Overlapping batches, then the whole log again.
    expect(store.persistMessages(id, messages.slice(3, 9))).toBe(3)
    expect(store.persistMessages(id, messages)).toBe(messages.length - 9)
    expect(store.persistMessages(id, messages)).toBe(0)
    expect(countRows(store, 'run_events', id)).toBe(messages.length)
    expect(countRows(store, 'metric_points', id)).toBe(8 * 3 + 2 * 7)
    expect(store.events(id).map((e) => e.message)).toEqual(messages)
    expect(store.requireRun(id)).toMatchObject({ status: 'completed', epochsDone: 2 })
  })

  it('keeps a NaN loss and ends a diverged run with the reason', () => {
    const { store, id, m } = startedRun()
    store.persistMessages(id, [m.started(), m.step(1, 1, 2.3), m.step(1, 2, NaN), m.diverged(1, 2)])
    expect(store.metricSeries(id, METRICS.stepLoss).map((p) => p.value)).toEqual([2.3, NaN])
    expect(store.requireRun(id)).toMatchObject({
      status: 'diverged',
      error: 'the loss became NaN at epoch 1, step 2: lower train.lr and retry',
    })
  })

  it('keeps a loss that crossed JSON as null (NaN) as NaN', () => {
    const { store, id, m } = startedRun()
    // Over IPC or messages.jsonl a NaN loss arrives as null.
    const step = JSON.parse(JSON.stringify(m.step(1, 1, NaN))) as TrainerMessage
    store.persistMessages(id, [step])
    expect(store.metricSeries(id, METRICS.stepLoss).map((p) => p.value)).toEqual([NaN])
  })

  it('sets failed with the error; the first final state wins', () => {
    const { store, id, m } = startedRun()
    store.persistMessages(id, [m.started(), m.failed('CUDA out of memory')])
    expect(store.requireRun(id)).toMatchObject({ status: 'failed', error: 'CUDA out of memory' })

    // The user cancelled; the trainer, killed, reports a failure on its way out.
    const other = startedRun()
    other.store.cancel(other.id)
    other.store.persistMessages(other.id, [other.m.failed('killed')])
    expect(other.store.requireRun(other.id)).toMatchObject({ status: 'cancelled', error: null })
  })

  it('starts a queued run on its started message (a run started without the scheduler)', () => {
    const store = openTempStore()
    stores.push(store)
    const id = store.addRuns('exp', [config('a')]).added[0]!.id
    const m = new Messages(id)
    store.persistMessages(id, [m.started()])
    expect(store.requireRun(id)).toMatchObject({ status: 'running', pid: 4242 })
    expect(store.requireRun(id).startedAt).not.toBeNull()
  })

  it('refuses a message of another run, and an unknown run', () => {
    const { store, id } = startedRun()
    const stray = new Messages('rother1')
    expect(() => store.persistMessages(id, [stray.log('x')])).toThrow(StoreError)
    expect(() => store.persistMessages('rother1', [stray.log('x')])).toThrow(/no run rother1/)
    expect(countRows(store, 'run_events')).toBe(0)
  })
})

describe('RunStore.truncateAfterCheckpoint and resuming', () => {
  /** A run that checkpointed after epoch 2 and failed during epoch 4 (epoch 3 not saved). */
  function failedAfterCheckpoint() {
    const run = startedRun()
    const { store, id, m } = run
    store.persistMessages(id, [
      m.started(0, 5),
      ...m.epochs(1, 3, [1, 2]),
      m.step(4, 13),
      m.log('loss is spiking'),
      m.failed('device lost'),
    ])
    return run
  }

  it('drops points and progress events after the last checkpoint, keeps the history', () => {
    const { store, id } = failedAfterCheckpoint()
    expect(store.requireRun(id)).toMatchObject({
      epochsDone: 3,
      finalTestAcc: 0.3,
      bestTestAcc: 0.3,
    })
    const removed = store.truncateAfterCheckpoint(id)
    expect(removed).toEqual({ points: 4 * 3 + 7 + 3, events: 6 })
    expect(epochsOf(store, id, METRICS.stepLoss).at(-1)).toBe(2)
    expect(store.metricSeries(id, METRICS.testAcc).map((p) => p.value)).toEqual([0.1, 0.2])
    expect(store.requireRun(id)).toMatchObject({
      status: 'failed',
      lastCheckpointEpoch: 2,
      epochsDone: 2,
      finalTestAcc: 0.2,
      bestTestAcc: 0.2,
    })
    // The log keeps why the run stopped.
    expect(
      store
        .events(id)
        .slice(-2)
        .map((e) => e.type),
    ).toEqual(['log', 'failed'])
    // Truncating again finds nothing more.
    expect(store.truncateAfterCheckpoint(id)).toEqual({ points: 0, events: 0 })
  })

  it('resumes: retry keeps the checkpoint, the resumed run replaces what followed it', () => {
    const { store, id, m } = failedAfterCheckpoint()
    expect(store.retry(id)).toMatchObject({ status: 'queued', lastCheckpointEpoch: 2 })
    expect(epochsOf(store, id, METRICS.testAcc)).toEqual([1, 2])
    store.markStarted(id, { pid: 2, host: 'h', engine: 'tfjs' })
    store.persistMessages(id, [m.started(2, 5), ...m.epochs(3, 5, [3, 4, 5]), m.finished(0.5, 5)])
    expect(epochsOf(store, id, METRICS.testAcc)).toEqual([1, 2, 3, 4, 5])
    expect(store.metricSeries(id, METRICS.stepLoss)).toHaveLength(20)
    expect(new Set(store.metricSeries(id, METRICS.stepLoss).map((p) => p.step)).size).toBe(20)
    expect(store.requireRun(id)).toMatchObject({
      status: 'completed',
      epochsDone: 5,
      finalTestAcc: 0.5,
      lastCheckpointEpoch: 5,
    })
    const types = store.events(id).map((e) => e.type)
    expect(types.filter((t) => t === 'epoch')).toHaveLength(5)
    expect(types.filter((t) => t === 'started')).toHaveLength(2)
    expect(types.filter((t) => t === 'checkpoint')).toHaveLength(5)
  })

  it('a resumed trainer that found no checkpoint (startEpoch 0) replaces everything', () => {
    const { store, id, m } = failedAfterCheckpoint()
    store.retry(id)
    store.markStarted(id, { pid: 3, host: 'h', engine: 'tfjs' })
    store.persistMessages(id, [m.started(0, 5)])
    expect(countRows(store, 'metric_points', id)).toBe(0)
    expect(store.requireRun(id)).toMatchObject({ lastCheckpointEpoch: 0, epochsDone: 0 })
    expect(store.artifacts(id)).toEqual([])
  })

  it('a crash-interrupted run resumes the same way', () => {
    const { store, id, m } = startedRun()
    store.persistMessages(id, [m.started(0, 3), ...m.epochs(1, 2, [1]), m.step(3, 9)])
    store.markInterrupted([id])
    store.retry(id, { front: true })
    expect(epochsOf(store, id, METRICS.testAcc)).toEqual([1])
    expect(epochsOf(store, id, METRICS.stepLoss).at(-1)).toBe(1)
  })
})
