import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { it } from 'vitest'
import { validateExperimentConfig } from '@shared/config/experiment'
import type { TrainerMessage } from '@shared/protocol/trainer'
import { RunStore } from '@core/store'

it('probe', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'probe-'))
  const store = RunStore.open(dataDir)
  const RUNS = 10, POINTS = 10000
  const configs = Array.from({ length: RUNS }, (_, i) => validateExperimentConfig({ name: `b-${i}`, model: { microConvs: i % 4 }, train: { seed: i } }))
  const { added } = store.addRuns('x', configs)
  let t = performance.now()
  for (const run of added) {
    const messages: TrainerMessage[] = []
    for (let step = 1; step <= POINTS; step++) {
      messages.push({ runId: run.id, type: 'step', time: step, epoch: 1, step, stepInEpoch: step, loss: Math.random(), acc: 0.5, examplesPerSec: 300 })
    }
    store.persistMessages(run.id, messages)
  }
  console.log('seed', performance.now() - t)
  const db = store.connection
  const id = added[0]!.id
  const q = db.prepare(`SELECT bucket, n, total, min_step, min_epoch, min_time, min_value, max_step, max_epoch, max_time, max_value FROM metric_buckets WHERE run_id = ? AND name = ? AND width = ? AND bucket BETWEEN ? AND ? ORDER BY bucket`)
  t = performance.now()
  for (let k = 0; k < 100; k++) q.all(id, 'train/step_loss', 16, 0, 625)
  console.log('range x100', performance.now() - t)
  console.log(db.prepare('EXPLAIN QUERY PLAN SELECT bucket FROM metric_buckets WHERE run_id = ? AND name = ? AND width = ? AND bucket BETWEEN ? AND ? ORDER BY bucket').all('a','b',1,2,3))
  const f = db.prepare(`SELECT step, epoch, time, value FROM metric_points WHERE run_id = ? AND name = ? AND step >= ? ORDER BY step LIMIT 1`)
  t = performance.now()
  for (let k = 0; k < 100; k++) f.all(id, 'train/step_loss', Number.MIN_SAFE_INTEGER)
  console.log('first x100', performance.now() - t)
  const l = db.prepare(`SELECT step, epoch, time, value FROM metric_points WHERE run_id = ? AND name = ? AND step <= ? ORDER BY step DESC LIMIT 1`)
  t = performance.now()
  for (let k = 0; k < 100; k++) l.all(id, 'train/step_loss', Number.MAX_SAFE_INTEGER)
  console.log('last x100', performance.now() - t)
  t = performance.now()
  for (let k = 0; k < 100; k++) store.metricSeriesSampled(id, 'train/step_loss', { maxPoints: 500 })
  console.log('sampled x100', performance.now() - t)
})
