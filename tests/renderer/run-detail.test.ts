// @vitest-environment happy-dom
import { enableAutoUnmount, mount, type VueWrapper } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ApiError } from '@shared/api/contract'
import type { Run, RunEvent } from '@shared/api/types'
import { RUN_STATUSES } from '@shared/run-state'
import { METRICS } from '@shared/metrics'
import { setTransport } from '@renderer/api'
import { useRouteStore } from '@renderer/stores/route'
import type { Curve } from '@renderer/lib/charts'
import LineChart from '@renderer/components/charts/LineChart.vue'
import RunDetailView from '@renderer/views/RunDetailView.vue'
import { chartStubs, fakeTransport, flush, makeRun, samples, type FakeTransport } from './helpers'

// ECharts needs a canvas: charts are stubbed (see ChartFrameStub in helpers.ts).

const XSS = '<img src=x onerror=alert(1)>'
const run = makeRun({ id: 'rx', name: XSS, notes: XSS, error: XSS, status: 'failed' })
const events: RunEvent[] = [
  {
    seq: 1,
    time: 0,
    type: 'log',
    message: { type: 'log', runId: 'rx', time: 0, level: 'info', message: XSS },
  },
  {
    seq: 2,
    time: 0,
    type: 'failed',
    message: { type: 'failed', runId: 'rx', time: 0, error: 'boom' },
  },
]

const running = makeRun({ id: 'rr', name: 'training', status: 'running' })
/** One run per status, by id: `s-interrupted`, … */
const byStatus: Record<string, Run> = Object.fromEntries(
  RUN_STATUSES.map((status) => [`s-${status}`, makeRun({ id: `s-${status}`, status })]),
)

let transport: FakeTransport
beforeEach(() => {
  window.localStorage.clear()
  transport = fakeTransport({
    getRun: (p) => {
      const found = [run, running, ...Object.values(byStatus)].find((r) => r.id === p.id)
      if (!found) throw new ApiError('not-found', `no run ${p.id}`)
      return {
        run: found,
        classNames: ['a', 'b'],
        perClassAccuracy: [0.5, 0.75],
        confusion: [
          [5, 5],
          [1, 3],
        ],
        progress: null,
        skippedBackends: [],
        resumedAt: null,
        precisionReason: null,
        epochs: [],
        runDir: '/data/runs/rx',
        artifacts: [],
      }
    },
    getMetrics: (p) =>
      Object.fromEntries(
        p.ids.map((id) => [id, { [METRICS.stepLoss]: samples(10, (i) => 2 / i) }]),
      ),
    getEvents: () => events,
    listRuns: () => ({ runs: [run, running], total: 2 }),
    cancelRun: (p) => ({ ...(byStatus[p.id] ?? run), status: 'cancelled' }),
  })
  setTransport(transport)
  setActivePinia(createPinia())
})
afterEach(() => setTransport(null))
// The api module's event handlers outlive a test: a view left mounted would go on listening.
enableAutoUnmount(afterEach)

describe('RunDetailView', () => {
  it('shows curves, per-class accuracy, confusion, config and a readable log, all user text as text', async () => {
    useRouteStore().go({ name: 'run', id: 'rx' })
    const wrapper = mount(RunDetailView, { global: { stubs: chartStubs } })
    await flush()
    expect(wrapper.find('[data-testid="run-title"]').text()).toBe(XSS)
    expect(wrapper.find('img').exists()).toBe(false)
    for (const name of ['step-loss', 'epoch-loss', 'epoch-acc', 'per-class', 'confusion']) {
      expect(wrapper.find(`[data-testid="chart-${name}"]`).exists(), name).toBe(true)
    }
    expect(wrapper.find('[data-testid="run-config"]').text()).toContain('"microConvs": 2')
    const log = wrapper.find('[data-testid="run-log"]').text()
    expect(log).toContain(XSS)
    expect(log).toContain('failed: boom')
    expect(wrapper.find('[data-testid="run-retry"]').exists()).toBe(true)
  })

  it('says when the run does not exist', async () => {
    useRouteStore().go({ name: 'run', id: 'gone' })
    const wrapper = mount(RunDetailView, { global: { stubs: chartStubs } })
    await flush()
    expect(wrapper.find('[data-testid="empty-state"]').text()).toContain('No such run')
  })
})

/** The x values of a line chart's first curve, as the view passes them. */
function chartSteps(wrapper: VueWrapper, name: string): number[] {
  const chart = wrapper.findAllComponents(LineChart).find((c) => c.props('name') === name)
  const curves = chart?.props('curves') as readonly Curve[] | undefined
  return [...(curves?.[0]?.line.x ?? [])]
}

const step = (runId: string, at: number) => ({
  runId,
  progress: {
    epoch: 1,
    epochs: 10,
    stepInEpoch: at,
    stepsPerEpoch: 100,
    loss: 0.1,
    examplesPerSec: 100,
    etaSeconds: null,
    backend: 'wasm',
    precision: 'fp32' as const,
  },
  message: {
    type: 'step' as const,
    runId,
    time: 0,
    epoch: 1,
    step: at,
    stepInEpoch: at,
    loss: 0.1,
    acc: 0.5,
    examplesPerSec: 100,
  },
})

describe('RunDetailView live curves', () => {
  it('draws the steps a training run streams, and refetches after a reconnect', async () => {
    useRouteStore().go({ name: 'run', id: 'rr' })
    const wrapper = mount(RunDetailView, { global: { stubs: chartStubs } })
    await flush()
    expect(chartSteps(wrapper, 'step-loss')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    transport.emit('runProgress', step('rr', 11))
    transport.emit('runProgress', step('rx', 12)) // another run's step
    await flush()
    expect(chartSteps(wrapper, 'step-loss')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])

    const fetched = () => transport.calls.filter((c) => c.method === 'getMetrics').length
    const before = fetched()
    transport.reconnect()
    await flush()
    expect(fetched()).toBe(before + 1)
  })

  it('stops listening once it is closed', async () => {
    useRouteStore().go({ name: 'run', id: 'rr' })
    const wrapper = mount(RunDetailView, { global: { stubs: chartStubs } })
    await flush()
    wrapper.unmount()
    const before = transport.calls.length
    transport.reconnect()
    transport.emit('runChanged', { run: running })
    await flush()
    // The stores still refetch (they live for the whole app); the closed view asks for nothing.
    const byView = transport.calls
      .slice(before)
      .filter((c) => ['getRun', 'getMetrics', 'getEvents'].includes(c.method))
    expect(byView).toEqual([])
  })
})

describe('RunDetailView actions', () => {
  const buttons = async (status: string) => {
    useRouteStore().go({ name: 'run', id: `s-${status}` })
    const wrapper = mount(RunDetailView, { global: { stubs: chartStubs } })
    await flush()
    const shown = (['run-cancel', 'run-retry'] as const).filter((t) =>
      wrapper.find(`[data-testid="${t}"]`).exists(),
    )
    return { wrapper, shown }
  }

  it('offers cancel and retry exactly as the run state machine allows them', async () => {
    const offered: Record<string, string[]> = {}
    for (const status of RUN_STATUSES) {
      const { wrapper, shown } = await buttons(status)
      offered[status] = shown
      wrapper.unmount()
    }
    expect(offered).toEqual({
      queued: ['run-cancel'],
      running: ['run-cancel'],
      completed: [],
      failed: ['run-retry'],
      cancelled: ['run-retry'],
      diverged: ['run-retry'],
      // Its process vanished: resume it, or give it up.
      interrupted: ['run-cancel', 'run-retry'],
    })
  })

  it('names both ways out of the cancel dialog unambiguously', async () => {
    for (const [status, keep] of [
      ['running', 'Keep running'],
      ['queued', 'Keep it queued'],
    ] as const) {
      const { wrapper } = await buttons(status)
      await wrapper.find('[data-testid="run-cancel"]').trigger('click')
      await flush()
      expect(wrapper.find('[data-testid="confirm-cancel"]').text()).toBe(keep)
      expect(wrapper.find('[data-testid="confirm-ok"]').text()).toBe('Cancel the run')
      await wrapper.find('[data-testid="confirm-cancel"]').trigger('click')
      await flush()
      expect(transport.calls.some((c) => c.method === 'cancelRun')).toBe(false)
      wrapper.unmount()
    }
  })

  it('cancels an interrupted run', async () => {
    const { wrapper } = await buttons('interrupted')
    await wrapper.find('[data-testid="run-cancel"]').trigger('click')
    await flush()
    // Asked first, saying what is kept.
    expect(transport.calls.some((c) => c.method === 'cancelRun')).toBe(false)
    expect(wrapper.find('[data-testid="cancel-text"]').text()).toMatch(/checkpoint/)
    await wrapper.find('[data-testid="confirm-ok"]').trigger('click')
    await flush()
    expect(transport.calls.find((c) => c.method === 'cancelRun')?.params).toEqual({
      id: 's-interrupted',
    })
  })
})
