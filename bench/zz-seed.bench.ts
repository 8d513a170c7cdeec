import { it } from 'vitest'
import { rmSync } from 'node:fs'
import { validateExperimentConfig } from '@shared/config/experiment'
import { presetInput } from '@shared/config/presets'
import type { TrainerMessage } from '@shared/protocol/trainer'
import { RunStore } from '@core/store'

it('seed', () => {
  const dir = process.env.DEMO_DIR ?? '/tmp/demo/data'
  rmSync(dir, { recursive: true, force: true })
  const store = RunStore.open(dir)
  const configs = []
  for (const m of [1, 2, 3]) for (const head of ['gap', 'fc']) for (const seed of [0, 1])
    configs.push(validateExperimentConfig({ ...presetInput('small-28'), name: `small-28-m${m}-${head}-s${seed}`, model: { ...presetInput('small-28').model, microConvs: m, head }, train: { ...presetInput('small-28').train, seed, epochs: 2 }, data: { trainLimit: 6000 } }))
  const { added } = store.addRuns('microConvs x head', configs)
  const other = store.addRuns('d2l baseline', [validateExperimentConfig({ name: 'd2l', train: { epochs: 2 } })]).added
  const t0 = Date.now() - 3600_000
  for (const run of [...added, ...other]) {
    store.markStarted(run.id, { pid: 1, host: 'demo', engine: 'tfjs', backend: 'wasm' })
    const msgs: TrainerMessage[] = []
    const spe = 188
    const base = run.config.model.microConvs * 0.05 + (run.config.model.head === 'fc' ? 0.03 : 0) + run.seed * 0.01
    msgs.push({ type: 'started', runId: run.id, time: t0, engine: 'tfjs', backend: 'wasm', skipped: [], threads: 2, versions: {}, params: 148390, trainCount: 6000, testCount: 1000, stepsPerEpoch: spe, epochs: 2, startEpoch: 0, pid: 1 })
    for (let step = 1; step <= spe * 2; step++) {
      const loss = 2.3 * Math.exp(-step / 120) + 0.4 - base + 0.08 * Math.sin(step * 1.3 + run.seed)
      msgs.push({ type: 'step', runId: run.id, time: t0 + step * 500, epoch: Math.ceil(step / spe), step, stepInEpoch: ((step - 1) % spe) + 1, loss, acc: 1 - loss / 3, examplesPerSec: 280 + 20 * Math.sin(step) })
      if (step % spe === 0) {
        const e = step / spe
        msgs.push({ type: 'epoch', runId: run.id, time: t0 + step * 500, epoch: e, step, trainLoss: loss, trainAcc: 0.5 + 0.1 * e + base, testLoss: loss + 0.1, testAcc: 0.4 + 0.12 * e + base, seconds: 94, examplesPerSec: 290, memory: { rssBytes: 5e8, tensorBytes: 1e7, tensors: 100 } })
        msgs.push({ type: 'checkpoint', runId: run.id, time: t0 + step * 500, epoch: e, step, path: 'x' })
      }
    }
    msgs.push({ type: 'finished', runId: run.id, time: t0 + spe * 2 * 500, epochs: 2, testAcc: 0.64 + base, classNames: ['a', 'b'], perClassAccuracy: [0.6, 0.7], confusion: [[6, 4], [3, 7]], modelPath: 'm' })
    store.persistMessages(run.id, msgs)
  }
  store.close()
})
