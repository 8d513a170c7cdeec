// @vitest-environment happy-dom
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ApiError } from '@shared/api/contract'
import type { RunEvent } from '@shared/api/types'
import { METRICS } from '@shared/metrics'
import { setTransport } from '@renderer/api'
import { useRouteStore } from '@renderer/stores/route'
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

let transport: FakeTransport
beforeEach(() => {
  window.localStorage.clear()
  transport = fakeTransport({
    getRun: (p) => {
      if (p.id !== 'rx') throw new ApiError('not-found', `no run ${p.id}`)
      return {
        run,
        classNames: ['a', 'b'],
        perClassAccuracy: [0.5, 0.75],
        confusion: [
          [5, 5],
          [1, 3],
        ],
        progress: null,
        skippedBackends: [],
        epochs: [],
        runDir: '/data/runs/rx',
        artifacts: [],
      }
    },
    getMetrics: () => ({ rx: { [METRICS.stepLoss]: samples(10, (i) => 2 / i) } }),
    getEvents: () => events,
    listRuns: () => [run],
  })
  setTransport(transport)
  setActivePinia(createPinia())
})
afterEach(() => setTransport(null))

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
