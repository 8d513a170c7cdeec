// @vitest-environment happy-dom
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { QueueState, RunProgress } from '@shared/api/contract'
import type { Run } from '@shared/api/types'
import { setTransport } from '@renderer/api'
import QueueView from '@renderer/views/QueueView.vue'
import { fakeTransport, flush, makeRun, type FakeTransport } from './helpers'

const progress: RunProgress = {
  epoch: 2,
  epochs: 10,
  stepInEpoch: 50,
  stepsPerEpoch: 100,
  loss: 1.2345,
  examplesPerSec: 512.3,
  etaSeconds: 600,
  backend: 'wasm',
  precision: 'fp32',
}

let transport: FakeTransport
let state: QueueState
let failed: Run[]

beforeEach(() => {
  const running = makeRun({ id: 'run1', name: 'running-one', status: 'running' })
  const q1 = makeRun({ id: 'q1', name: 'queued-one', status: 'queued' })
  const q2 = makeRun({ id: 'q2', name: 'queued-two', status: 'queued' })
  state = {
    paused: false,
    schedulerRunning: true,
    halted: null,
    runs: [running, q1, q2],
    queuedTotal: 2,
    progress: { run1: progress },
  }
  failed = [makeRun({ id: 'f1', name: 'broken', status: 'failed', error: 'out of memory' })]
  transport = fakeTransport({
    queueState: () => state,
    listRuns: () => ({ runs: failed, total: failed.length }),
    pauseQueue: () => (state = { ...state, paused: true }),
    resumeQueue: () => (state = { ...state, paused: false }),
    reorderRun: () => state,
    cancelRun: (p) => ({
      ...([...state.runs, ...failed].find((r) => r.id === p.id) as Run),
      status: 'cancelled',
    }),
    retryRun: (p) => ({ ...(failed.find((r) => r.id === p.id) as Run), status: 'queued' }),
  })
  setTransport(transport)
  setActivePinia(createPinia())
})
afterEach(() => setTransport(null))

async function mountQueue() {
  const wrapper = mount(QueueView)
  await flush()
  return wrapper
}

describe('QueueView', () => {
  it('lists running then queued runs with progress, loss, throughput and ETA', async () => {
    const wrapper = await mountQueue()
    const rows = wrapper.findAll('[data-testid="queue-row"]')
    expect(rows.map((r) => r.attributes('data-run-id'))).toEqual(['run1', 'q1', 'q2'])
    const text = rows[0]?.text() ?? ''
    expect(text).toContain('epoch 2/10')
    expect(text).toContain('step 50/100')
    expect(text).toContain('loss 1.2345')
    expect(text).toContain('512.3 img/s')
    expect(text).toContain('ETA 10 min')
    expect(rows[0]?.find('[role="progressbar"]').attributes('aria-valuenow')).toBe('15')
  })

  it('updates progress from runProgress events', async () => {
    const wrapper = await mountQueue()
    transport.emit('runProgress', {
      runId: 'run1',
      progress: { ...progress, epoch: 3, stepInEpoch: 10 },
      message: {
        type: 'step',
        runId: 'run1',
        time: 0,
        epoch: 3,
        step: 210,
        stepInEpoch: 10,
        loss: 1,
        acc: 0.5,
        examplesPerSec: 500,
      },
    })
    await flush()
    expect(wrapper.find('[data-testid="queue-row"]').text()).toContain('epoch 3/10')
  })

  it('moves queued runs by their index among queued runs, pauses, cancels and retries', async () => {
    const wrapper = await mountQueue()
    const second = wrapper.find('[data-run-id="q2"]')
    await second.find('[data-testid="queue-up"]').trigger('click')
    await flush()
    expect(transport.calls.find((c) => c.method === 'reorderRun')?.params).toEqual({
      id: 'q2',
      index: 0,
    })
    expect(
      wrapper.find('[data-run-id="q1"] [data-testid="queue-up"]').attributes('disabled'),
    ).toBeDefined()

    await wrapper.find('[data-testid="queue-pause"]').trigger('click')
    await flush()
    expect(wrapper.find('[data-testid="queue-state"]').text()).toBe('paused')
    expect(wrapper.find('[data-testid="queue-resume"]').exists()).toBe(true)

    await wrapper.find('[data-run-id="run1"] [data-testid="queue-cancel"]').trigger('click')
    await flush()
    // Cancel asks first: a running run loses the steps since its checkpoint.
    expect(transport.calls.some((c) => c.method === 'cancelRun')).toBe(false)
    expect(wrapper.find('[data-testid="confirm-dialog"]').text()).toContain('current step')
    await wrapper.find('[data-testid="confirm-ok"]').trigger('click')
    await flush()
    expect(transport.calls.some((c) => c.method === 'cancelRun')).toBe(true)

    const attention = wrapper.find('[data-testid="attention-row"]')
    expect(attention.text()).toContain('out of memory')
    await attention.find('[data-testid="queue-retry"]').trigger('click')
    await flush()
    expect(transport.calls.find((c) => c.method === 'retryRun')?.params).toEqual({ id: 'f1' })
  })

  it('offers each run the actions its status allows: cancel for an interrupted run too', async () => {
    failed = [
      makeRun({ id: 'f1', name: 'broken', status: 'failed', error: 'out of memory' }),
      makeRun({ id: 'i1', name: 'vanished', status: 'interrupted', finishedAt: null }),
    ]
    const wrapper = await mountQueue()
    const actions = (id: string) =>
      wrapper
        .findAll(`[data-run-id="${id}"] .actions button`)
        .map((b) => b.attributes('data-testid'))
    // Only queued runs move; running and queued ones cancel.
    expect(actions('run1')).toEqual(['queue-cancel'])
    expect(actions('q1')).toEqual(['queue-up', 'queue-down', 'queue-cancel'])
    // Needing attention: every one can be retried; only the interrupted one can be cancelled.
    expect(actions('f1')).toEqual(['queue-retry'])
    expect(actions('i1')).toEqual(['queue-cancel', 'queue-retry'])

    await wrapper.find('[data-run-id="i1"] [data-testid="queue-cancel"]').trigger('click')
    await flush()
    await wrapper.find('[data-testid="confirm-ok"]').trigger('click')
    await flush()
    expect(transport.calls.find((c) => c.method === 'cancelRun')?.params).toEqual({ id: 'i1' })
  })

  it('says what to do when nothing is queued', async () => {
    state = { ...state, runs: [], progress: {} }
    failed = []
    const wrapper = await mountQueue()
    expect(wrapper.find('[data-testid="empty-state"]').text()).toContain('Nothing is queued')
  })
})
