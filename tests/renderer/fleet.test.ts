// @vitest-environment happy-dom
// The Queue view's "Where runs train": this machine's slots, the remote workers, the settings.
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { QueueSettingsView, QueueState, WorkersView } from '@shared/api/contract'
import { setTransport } from '@renderer/api'
import QueueView from '@renderer/views/QueueView.vue'
import { fakeTransport, flush, makeRun, type FakeTransport } from './helpers'

let transport: FakeTransport
let settings: QueueSettingsView
let workers: WorkersView

const running = makeRun({
  id: 'run1',
  status: 'running',
  placement: {
    host: 'gpu-box',
    worker: 'w1',
    gpu: { index: 1, name: 'NVIDIA H200', memoryMB: 143771 },
  },
})
const state: QueueState = {
  paused: false,
  schedulerRunning: true,
  halted: null,
  runs: [running],
  queuedTotal: 0,
  progress: {},
}

beforeEach(() => {
  settings = {
    saved: { concurrency: 1, gpus: null, redis: 'redis://:****@10.0.0.5:6379' },
    scheduler: {
      slots: [{ id: 'cpu0', gpu: null }],
      note: null,
      redis: 'redis://:****@10.0.0.5:6379',
      redisFrom: 'settings',
    },
  }
  workers = {
    redis: 'redis://:****@10.0.0.5:6379',
    error: null,
    workers: [
      {
        name: 'w1',
        host: 'gpu-box',
        pid: 42,
        slots: 2,
        gpus: [
          { index: 0, name: 'NVIDIA H200', memoryMB: 143771 },
          { index: 1, name: 'NVIDIA H200', memoryMB: 143771 },
        ],
        running: ['run1'],
        offers: 'PyTorch 2.4 on CUDA (2 × NVIDIA H200)',
        version: '0.1.0',
        startedAt: Date.now() - 60_000,
        beatAt: Date.now() - 1000,
        draining: false,
      },
    ],
  }
  transport = fakeTransport({
    queueState: () => state,
    listRuns: () => ({ runs: [], total: 0 }),
    getQueueSettings: () => settings,
    listWorkers: () => workers,
    setQueueSettings: (p) => {
      settings = {
        ...settings,
        saved: { ...settings.saved, concurrency: p.concurrency ?? 1, gpus: 'auto' },
        scheduler: {
          ...settings.scheduler!,
          note: '--gpus auto found no GPU (…): training on 1 CPU slot',
        },
      }
      return settings
    },
  })
  setTransport(transport)
  setActivePinia(createPinia())
})
afterEach(() => setTransport(null))

describe('where runs train', () => {
  it('shows where each running run trains, this machine’s slots and the fleet', async () => {
    const wrapper = mount(QueueView)
    await flush()
    expect(wrapper.find('[data-testid="queue-where"]').text()).toBe(
      'worker w1 (gpu-box), GPU 1 NVIDIA H200',
    )
    expect(wrapper.find('[data-testid="fleet-slots"]').text()).toContain('cpu0')
    expect(wrapper.find('[data-testid="fleet-slots"]').text()).toContain(
      'redis://:****@10.0.0.5:6379',
    )
    const rows = wrapper.findAll('[data-testid="worker-row"]')
    expect(rows).toHaveLength(1)
    expect(rows[0]!.text()).toContain('gpu-box')
    expect(rows[0]!.text()).toContain('0: NVIDIA H200, 1: NVIDIA H200')
    expect(rows[0]!.text()).toContain('run1')
    expect(rows[0]!.text()).toContain('PyTorch 2.4 on CUDA')
    wrapper.unmount()
  })

  it('saves the settings, keeping a masked Redis URL it was not asked to change, and shows the note', async () => {
    const wrapper = mount(QueueView)
    await flush()
    await wrapper.find('[data-testid="fleet-gpus"]').setValue('auto')
    await wrapper.find('[data-testid="fleet-concurrency"]').setValue('2')
    await wrapper.find('form.settings').trigger('submit')
    await flush()
    expect(transport.calls.find((c) => c.method === 'setQueueSettings')?.params).toEqual({
      concurrency: 2,
      gpus: 'auto',
    })
    expect(wrapper.text()).toContain('--gpus auto found no GPU')
    wrapper.unmount()
  })

  it('lists the heartbeats it ignored: how many, the name each gives (hostile text marked, never markup) and why', async () => {
    workers = {
      ...workers,
      ignored: [
        { worker: 'evil', why: 'not a signed envelope (no v1.<hmac>.)' },
        {
          worker: '<img src=x onerror=alert(1)>\u202Egnp.exe',
          why: 'its signature does not match the fleet key',
        },
        { worker: 'big', why: '70000 characters' },
      ],
    }
    const wrapper = mount(QueueView)
    await flush()
    const panel = wrapper.find('[data-testid="ignored-beats"]')
    expect(panel.text()).toContain('3 heartbeats ignored')
    const items = wrapper.findAll('[data-testid="ignored-beat"]')
    expect(items.map((i) => i.text())).toEqual([
      'evil: not a signed envelope (no v1.<hmac>.)',
      '<img src=x onerror=alert(1)>⟨U+202E⟩gnp.exe: its signature does not match the fleet key',
      'big: 70000 characters',
    ])
    // Text, not markup: no element was made from the name.
    expect(panel.find('img').exists()).toBe(false)
    // The real worker is still listed beside them.
    expect(wrapper.findAll('[data-testid="worker-row"]')).toHaveLength(1)
    wrapper.unmount()

    workers = { ...workers, ignored: [] }
    setActivePinia(createPinia())
    const clean = mount(QueueView)
    await flush()
    expect(clean.find('[data-testid="ignored-beats"]').exists()).toBe(false)
    clean.unmount()
  })

  it('says how to start a worker when the fleet is empty, and why it cannot be read', async () => {
    workers = { ...workers, workers: [] }
    let wrapper = mount(QueueView)
    await flush()
    expect(wrapper.text()).toContain('nin-lab worker --redis redis://:****@10.0.0.5:6379')
    wrapper.unmount()
    workers = { ...workers, error: 'connect ECONNREFUSED 10.0.0.5:6379' }
    setActivePinia(createPinia())
    wrapper = mount(QueueView)
    await flush()
    expect(wrapper.find('[role="alert"]').text()).toContain('ECONNREFUSED')
    wrapper.unmount()
  })
})
