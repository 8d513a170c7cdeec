// @vitest-environment happy-dom
import { enableAutoUnmount, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Run } from '@shared/api/types'
import { METRICS } from '@shared/metrics'
import { setTransport } from '@renderer/api'
import LineChart from '@renderer/components/charts/LineChart.vue'
import type { Curve } from '@renderer/lib/charts'
import { buildCurves, runStepsPerEpoch } from '@renderer/lib/compare'
import { runColors } from '@shared/colors'
import { differingFields } from '@shared/config-diff'
import { useCompareStore } from '@renderer/stores/compare'
import { useRunsStore } from '@renderer/stores/runs'
import CompareView from '@renderer/views/CompareView.vue'
import {
  chartStubs,
  config,
  fakeTransport,
  flush,
  makeRun,
  samples,
  type FakeTransport,
} from './helpers'

// ECharts needs a canvas: charts are stubbed (see ChartFrameStub in helpers.ts).

const a = makeRun({
  id: 'ra',
  name: 'm1-s0',
  config: config({ name: 'm1-s0', model: { microConvs: 1 } }),
  bestTestAcc: 0.8,
})
const b = makeRun({
  id: 'rb',
  name: 'm2-s0',
  config: config({ name: 'm2-s0', model: { microConvs: 2 } }),
  bestTestAcc: 0.84,
})
const c = makeRun({
  id: 'rc',
  name: 'm2-s1',
  config: config({ name: 'm2-s1', model: { microConvs: 2 }, train: { seed: 1 } }),
  bestTestAcc: 0.82,
})

const metricsOf = (scale: number) => ({
  [METRICS.stepLoss]: samples(20, (i) => scale * (2.3 - i * 0.05), 5),
  [METRICS.trainLoss]: samples(1, () => 1),
  [METRICS.testLoss]: samples(1, () => 1),
  [METRICS.testAcc]: samples(2, (i) => 0.5 + i * 0.1 * scale, 50),
})

let transport: FakeTransport
beforeEach(() => {
  window.localStorage.clear()
  transport = fakeTransport({
    listRuns: () => ({ runs: [a, b, c], total: 3 }),
    getMetrics: (p) => Object.fromEntries(p.ids.map((id, i) => [id, metricsOf(1 + i / 10)])),
  })
  setTransport(transport)
  setActivePinia(createPinia())
})
afterEach(() => setTransport(null))
// The api module's event handlers outlive a test: a view left mounted would go on listening.
enableAutoUnmount(afterEach)

describe('config diff', () => {
  it('lists only the fields that differ, ignoring the run name', () => {
    const diffs = differingFields([a.config, b.config, c.config])
    expect(diffs.map((d) => d.path)).toEqual(['model.microConvs', 'train.seed'])
    expect(diffs[0]?.values).toEqual([1, 2, 2])
  })

  it('walks block lists by index', () => {
    const wide = config({
      model: {
        blocks: [
          { channels: 96, kernel: 11, stride: 4, padding: 0 },
          { channels: 512, kernel: 5, stride: 1, padding: 2 },
          { channels: 384, kernel: 3, stride: 1, padding: 1 },
        ],
      },
    })
    expect(differingFields([config(), wide]).map((d) => d.path)).toEqual([
      'model.blocks[1].channels',
    ])
  })
})

describe('CompareView', () => {
  async function mountCompare(ids: string[]) {
    const runs = useRunsStore()
    await runs.load()
    useCompareStore().set(ids)
    const wrapper = mount(CompareView, { global: { stubs: chartStubs } })
    await flush()
    return wrapper
  }

  it('shows the diff table with only differing fields, and a metrics row per run', async () => {
    const wrapper = await mountCompare(['rc', 'ra', 'rb'])
    const diff = wrapper.find('[data-testid="diff-table"]')
    expect(diff.exists()).toBe(true)
    const fields = diff.findAll('tbody th').map((th) => th.text())
    expect(fields).toEqual(['model.microConvs', 'train.seed'])
    // Columns in name order.
    expect(diff.findAll('thead th').map((th) => th.text())).toEqual([
      'field',
      'm1-s0',
      'm2-s0',
      'm2-s1',
    ])
    const rows = wrapper.findAll('[data-testid="metrics-table"] tbody tr')
    expect(rows).toHaveLength(3)
    for (const name of [
      '0-train-step_loss',
      '1-test-acc',
      '2-test-loss',
      '3-train-acc',
      'params-acc',
      'parallel',
    ]) {
      expect(wrapper.find(`[data-testid="chart-${name}"]`).exists(), name).toBe(true)
    }
  })

  it('renders the tables only once the charts have painted their metrics', async () => {
    // Every metrics call waits (the charts' and the epoch times') until answered.
    const pending: (() => void)[] = []
    transport = fakeTransport({
      listRuns: () => ({ runs: [a, b, c], total: 3 }),
      getMetrics: (p) =>
        new Promise((resolve) => {
          pending.push(() => resolve(Object.fromEntries(p.ids.map((id) => [id, metricsOf(1)]))))
        }),
    })
    setTransport(transport)
    const wrapper = await mountCompare(['ra', 'rb', 'rc'])
    // The metrics are on their way: the charts are there, the tables wait.
    expect(wrapper.find('[data-testid="chart-0-train-step_loss"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="metrics-table"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="summary-table"]').exists()).toBe(false)
    expect(pending.length).toBeGreaterThan(0)
    for (const answer of pending.splice(0)) answer()
    // Two animation frames after the charts got their option (happy-dom runs them on timers).
    await vi.waitFor(() =>
      expect(wrapper.findAll('[data-testid="metrics-table"] tbody tr')).toHaveLength(3),
    )
    expect(wrapper.find('[data-testid="summary-table"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="diff-table"]').exists()).toBe(true)
  })

  it('renders the tables when the metrics cannot be fetched', async () => {
    transport = fakeTransport({
      listRuns: () => ({ runs: [a, b, c], total: 3 }),
      getMetrics: () => {
        throw new Error('the server is gone')
      },
    })
    setTransport(transport)
    const wrapper = await mountCompare(['ra', 'rb', 'rc'])
    expect(wrapper.findAll('[data-testid="metrics-table"] tbody tr')).toHaveLength(3)
  })

  it('says so when the runs share one config', async () => {
    const wrapper = await mountCompare(['rb'])
    expect(wrapper.find('[data-testid="diff-table"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="diff-none"]').exists()).toBe(true)
  })

  it('tells what to do with nothing selected', async () => {
    const wrapper = await mountCompare([])
    expect(wrapper.find('[data-testid="empty-state"]').text()).toContain('No runs selected')
  })

  it('draws the steps a selected run streams, and refetches a run that finishes', async () => {
    const wrapper = await mountCompare(['ra', 'rb'])
    const lastStepOf = (runId: string): number | undefined => {
      const chart = wrapper
        .findAllComponents(LineChart)
        .find((c) => c.props('name') === '0-train-step_loss')
      const curves = chart?.props('curves') as readonly Curve[] | undefined
      return curves?.find((cv) => cv.id === runId)?.line.x.at(-1)
    }
    expect(lastStepOf('rb')).toBe(100)
    transport.emit('runProgress', {
      runId: 'rb',
      progress: {
        epoch: 2,
        epochs: 10,
        stepInEpoch: 5,
        stepsPerEpoch: 100,
        loss: 1,
        examplesPerSec: 100,
        etaSeconds: null,
        backend: 'wasm',
        precision: 'fp32',
      },
      message: {
        type: 'step',
        runId: 'rb',
        time: 1_700_000_100_000,
        epoch: 2,
        step: 105,
        stepInEpoch: 5,
        loss: 1,
        acc: 0.5,
        examplesPerSec: 100,
      },
    })
    await flush()
    expect(lastStepOf('rb')).toBe(105)
    expect(lastStepOf('ra')).toBe(100)

    transport.emit('runFinished', { run: b })
    await flush()
    const fetches = transport.calls.filter((call) => call.method === 'getMetrics')
    expect(fetches.at(-1)?.params).toMatchObject({ ids: ['rb'] })
  })

  it('offers the differing fields as group-by choices', async () => {
    const wrapper = await mountCompare(['ra', 'rb', 'rc'])
    const options = wrapper.findAll('[data-testid="compare-group"] option').map((o) => o.text())
    expect(options.slice(1)).toEqual(['micro convs per block (microConvs)', 'seed (seed)'])
  })
})

describe('compare curves', () => {
  const runs: Run[] = [a, b, c]
  const metrics = {
    ra: { [METRICS.testAcc]: samples(3, (i) => 0.5 + i * 0.1, 50) },
    rb: { [METRICS.testAcc]: samples(3, (i) => 0.6 + i * 0.1, 50) },
    rc: { [METRICS.testAcc]: samples(3, (i) => 0.8 + i * 0.1, 50) },
  }
  const colors = runColors(['rc', 'ra', 'rb'])

  it('gives each run one colour by id order, whatever order they are listed in', () => {
    expect([...colors.keys()]).toEqual(['ra', 'rb', 'rc'])
    const curves = buildCurves([c, a], metrics, METRICS.testAcc, {
      xMode: 'epoch',
      smoothing: 0,
      perStep: false,
      groupBy: '',
      colors,
    })
    expect(curves.map((cv) => cv.color)).toEqual([colors.get('rc'), colors.get('ra')])
    expect(curves[0]?.raw).toBeUndefined()
  })

  it('draws a per-step series smoothed over the raw one', () => {
    const steps = { ra: { [METRICS.stepLoss]: samples(3, (i) => 0.5 + i * 0.1, 50) } }
    const [curve] = buildCurves([a], steps, METRICS.stepLoss, {
      xMode: 'step',
      smoothing: 0.5,
      perStep: true,
      groupBy: '',
      colors,
    })
    expect(curve?.raw?.y).toEqual([0.6, 0.7, 0.8].map((v) => expect.closeTo(v, 10)))
    expect(curve?.line.x).toEqual([50, 100, 150])
    expect(curve?.line.y[2]).toBeLessThan(0.8)
    // The final value is the raw one, wherever the smoothed line ends.
    expect(curve?.final).toEqual({ x: 150, y: expect.closeTo(0.8, 10) })
  })

  it('never smooths a per-epoch series: its line ends at the real final value', () => {
    // Issue 13: EMA 0.6 on two epochs drew a run whose final test accuracy is 52% ending near 43%.
    const two = {
      ra: {
        [METRICS.testAcc]: [0.3, 0.52].map((value, i) => ({
          step: (i + 1) * 100,
          epoch: i + 1,
          time: i,
          value,
        })),
      },
    }
    const [curve] = buildCurves([a], two, METRICS.testAcc, {
      xMode: 'epoch',
      smoothing: 0.6,
      perStep: false,
      groupBy: '',
      colors,
    })
    expect(curve?.line.y).toEqual([0.3, 0.52])
    expect(curve?.raw).toBeUndefined()
    expect(curve?.final?.y).toBe(0.52)
  })

  it('smooths a downsampled series over its means, weighed by the points each stands for', () => {
    // Two points standing for 99 raw points of 1 and one of 3: the smoothing sees 1s, not the 3.
    const sampled = {
      ra: {
        [METRICS.stepLoss]: [
          { step: 1, epoch: 1, time: 0, value: 0.5, n: 50, mean: 1 },
          { step: 60, epoch: 1, time: 1, value: 1.5, n: 49, mean: 1 },
          { step: 100, epoch: 1, time: 2, value: 3, n: 1, mean: 3 },
        ],
      },
    }
    const [curve] = buildCurves([a], sampled, METRICS.stepLoss, {
      xMode: 'step',
      smoothing: 0.9,
      perStep: true,
      groupBy: '',
      colors,
    })
    expect(curve?.raw?.y).toEqual([0.5, 1.5, 3])
    expect(curve?.line.y[0]).toBeCloseTo(1, 10)
    expect(curve?.line.y[1]).toBeCloseTo(1, 10)
    // One point of 3 after 99 of 1 at weight 0.9: 1 + 0.1 × 2 / (1 − 0.9^100) ≈ 1.2.
    expect(curve?.line.y[2]).toBeCloseTo(1 + (0.1 * 2) / (1 - 0.9 ** 100), 6)
  })

  it('groups by a config field into mean ± std', () => {
    const curves = buildCurves(runs, metrics, METRICS.testAcc, {
      xMode: 'epoch',
      smoothing: 0,
      perStep: false,
      groupBy: 'model.microConvs',
      colors,
    })
    expect(curves.map((cv) => cv.name)).toEqual(['microConvs=1 (n=1)', 'microConvs=2 (n=2)'])
    const two = curves[1]
    // rb and rc at the first epoch: 0.7 and 0.9 → mean 0.8, sample std √0.02.
    expect(two?.line.y[0]).toBeCloseTo(0.8, 10)
    expect(two?.band?.upper[0]).toBeCloseTo(0.8 + Math.sqrt(0.02), 10)
    expect(curves[0]?.band).toBeUndefined()
  })
})

describe('steps per epoch from a config', () => {
  it('counts the dataset’s own training set: 60,000 for Fashion-MNIST, 50,000 for CIFAR', () => {
    const fashion = makeRun({ config: config({ train: { batchSize: 128 } }) })
    const cifar = makeRun({
      config: config({ data: { dataset: 'cifar10' }, train: { batchSize: 128 } }),
    })
    expect(runStepsPerEpoch(fashion, {})).toBe(469)
    expect(runStepsPerEpoch(cifar, {})).toBe(391)
  })
})
