import { afterEach, describe, expect, it } from 'vitest'
import type { TrainerMessage } from '@shared/protocol/trainer'
import { METRICS } from '@shared/metrics'
import { downsample } from '@shared/downsample'
import { MIGRATIONS } from '@core/store/migrations'
import type { RunStore } from '@core/store'
import { cleanUp, config, countRows, Messages, openTempStore } from './store-helpers'

const stores: RunStore[] = []
afterEach(() => cleanUp(stores.splice(0)))

/** A run with `steps` step messages (10 epochs), a spike at 4321 and a dip at 7777. */
function bigRun(store: RunStore, steps: number): string {
  const [run] = store.addRuns('big', [config('big')]).added
  if (!run) throw new Error('no run')
  const m = new Messages(run.id)
  const messages: TrainerMessage[] = [m.started(0, 10)]
  for (let step = 1; step <= steps; step++) {
    const loss =
      step === 4321 ? 9 : step === 7777 ? -3 : 2 * Math.exp(-step / 2000) + 0.1 * Math.sin(step)
    messages.push({
      ...(m.step(Math.ceil(step / (steps / 10)), step) as object),
      loss,
    } as TrainerMessage)
  }
  store.persistMessages(run.id, messages)
  return run.id
}

describe('metric buckets', () => {
  it('downsample a long series from buckets like the raw points would', () => {
    const store = openTempStore()
    stores.push(store)
    const id = bigRun(store, 10_000)
    const raw = store.metricSeries(id, METRICS.stepLoss)
    const sampled = store.metricSeriesSampled(id, METRICS.stepLoss, { maxPoints: 500 })
    expect(sampled.length).toBeLessThanOrEqual(500)
    expect(sampled.find((p) => p.step === 4321)?.value).toBe(9)
    expect(sampled.find((p) => p.step === 7777)?.value).toBe(-3)
    expect(sampled[0]).toMatchObject({ step: 1, value: raw[0]?.value })
    expect(sampled.at(-1)).toMatchObject({ step: 10_000, value: raw.at(-1)?.value })
    expect(sampled.reduce((n, p) => n + (p.n ?? 0), 0)).toBe(10_000)
    // The same extremes and totals as downsampling the raw points in memory.
    const fromRaw = downsample(raw, 500)
    const extremes = (xs: typeof raw): number[] => [
      Math.min(...xs.map((p) => p.value)),
      Math.max(...xs.map((p) => p.value)),
    ]
    expect(extremes(sampled)).toEqual(extremes(fromRaw))
  })

  it('answer a zoomed window with only its points, raw once few enough', () => {
    const store = openTempStore()
    stores.push(store)
    const id = bigRun(store, 10_000)
    const window = store.metricSeriesSampled(id, METRICS.stepLoss, {
      maxPoints: 500,
      fromStep: 4000,
      toStep: 6000,
    })
    expect(window[0]?.step).toBe(4000)
    expect(window.at(-1)?.step).toBe(6000)
    expect(window.every((p) => p.step >= 4000 && p.step <= 6000)).toBe(true)
    expect(window.find((p) => p.step === 4321)?.value).toBe(9)
    expect(window.reduce((n, p) => n + (p.n ?? 0), 0)).toBe(2001)
    // Cut on one side only: the edge bucket on the cut side counts just its points inside, the
    // one at the series' own end is read whole (it has no points beyond the series).
    const count = (w: { fromStep?: number; toStep?: number }): number =>
      store
        .metricSeriesSampled(id, METRICS.stepLoss, { maxPoints: 500, ...w })
        .reduce((n, p) => n + (p.n ?? 0), 0)
    expect(count({ fromStep: 4001 })).toBe(6000)
    expect(count({ toStep: 5999 })).toBe(5999)
    const raw = store.metricSeriesSampled(id, METRICS.stepLoss, {
      maxPoints: 500,
      fromStep: 4300,
      toStep: 4400,
    })
    expect(raw.map((p) => p.step)).toEqual(Array.from({ length: 101 }, (_, i) => 4300 + i))
    expect(raw.every((p) => p.n === undefined)).toBe(true)
  })

  it('follow a resumed run: what came after the checkpoint is replaced, not added', () => {
    const store = openTempStore()
    stores.push(store)
    const [run] = store.addRuns('resume', [config('r')]).added
    const id = run?.id ?? ''
    const m = new Messages(id)
    store.persistMessages(id, [m.started(0, 400), ...m.epochs(1, 300, [100])])
    // Resumed after epoch 100: epochs 101… come again, with other values.
    const again = new Messages(id)
    const redo = again
      .epochs(101, 200)
      .map((x) => (x.type === 'step' ? { ...x, loss: 5 } : x)) as TrainerMessage[]
    store.persistMessages(id, [again.started(100, 400), ...redo])
    const buckets = store.connection
      .prepare<[string, string], { s: number }>(
        'SELECT SUM(n) AS s FROM metric_buckets WHERE run_id = ? AND name = ? AND width = 4096',
      )
      .get(id, METRICS.stepLoss)
    expect(buckets?.s).toBe(800)
    const sampled = store.metricSeriesSampled(id, METRICS.stepLoss, { maxPoints: 40 })
    expect(sampled.at(-1)?.step).toBe(800)
    expect(Math.max(...sampled.map((p) => p.value))).toBe(5)
    // Replaying the same step with a new value recomputes its buckets.
    store.persistMessages(id, [{ ...again.step(200, 800), loss: 42 } as TrainerMessage])
    expect(store.metricSeriesSampled(id, METRICS.stepLoss, { maxPoints: 40 }).at(-1)?.value).toBe(
      42,
    )
    expect(
      Math.max(
        ...store.metricSeriesSampled(id, METRICS.stepLoss, { maxPoints: 40 }).map((p) => p.value),
      ),
    ).toBe(42)
  })

  it('are filled by the migration for points stored before it', () => {
    const store = openTempStore()
    stores.push(store)
    const id = bigRun(store, 2000)
    const before = store.connection
      .prepare('SELECT * FROM metric_buckets ORDER BY run_id, name, width, bucket')
      .all()
    store.connection.exec('DELETE FROM metric_buckets; DROP TABLE metric_buckets;')
    // Migration 7 alone, as it ran on a version-6 database (the later ones cannot run twice).
    store.connection.exec(MIGRATIONS.find((m) => m.version === 7)?.sql ?? '')
    const after = store.connection
      .prepare('SELECT * FROM metric_buckets ORDER BY run_id, name, width, bucket')
      .all()
    // Sums agree to rounding (SQLite's TOTAL() compensates; the running sum does not).
    const rounded = (rows: unknown[]): string[] =>
      rows.map((r) =>
        JSON.stringify({ ...(r as object), total: (r as { total: number }).total.toFixed(9) }),
      )
    const [a, b] = [rounded(after), rounded(before)]
    const diff = a.findIndex((row, i) => row !== b[i])
    expect([diff, after[diff], before[diff]]).toEqual([-1, undefined, undefined])
    expect(countRows(store, 'metric_buckets', id)).toBeGreaterThan(0)
  })
})
