// @vitest-environment happy-dom
// Run health in the views: the badge (one component) beside the status in Queue and Runs, chance
// runs under Needs attention with the reason, and Run detail saying why, what to do, and that a
// linked run was not trained again. The screenshot with real Chromium: tests/e2e/health.test.ts.
import { enableAutoUnmount, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { chanceReason } from '@shared/health'
import { needsAttention } from '@shared/run-state'
import { setTransport } from '@renderer/api'
import { useRouteStore } from '@renderer/stores/route'
import HealthBadge from '@renderer/components/HealthBadge.vue'
import QueueView from '@renderer/views/QueueView.vue'
import RunDetailView from '@renderer/views/RunDetailView.vue'
import { chartStubs, fakeTransport, flush, makeRun, type FakeTransport } from './helpers'

const chance = makeRun({
  id: 'rchance',
  name: 'nin-a-sgd',
  status: 'completed',
  finalTestAcc: 0.1,
  health: {
    status: 'chance',
    reason: chanceReason({ epoch: 2, trainLoss: 2.3026, testLoss: 2.3025, testAcc: 0.1 }, 10),
    moreEpochs: null,
  },
})
const linked = makeRun({
  id: 'rlink',
  name: 'baseline',
  experiment: 'exercise 2',
  health: {
    status: 'not-converged',
    reason: 'test accuracy still rose 6.0 pp in epoch 3',
    moreEpochs: 4,
  },
  linkedFrom: { runId: 'rsrc', experiment: 'exercise 1', trainedAt: Date.UTC(2026, 11, 7) },
})

let transport: FakeTransport
let listed: { attention?: boolean }[]
beforeEach(() => {
  listed = []
  transport = fakeTransport({
    queueState: () => ({
      paused: false,
      schedulerRunning: true,
      halted: null,
      runs: [],
      queuedTotal: 0,
      progress: {},
    }),
    listRuns: (p) => {
      listed.push(p)
      return { runs: [chance], total: 1 }
    },
    getRun: (p) => ({
      run: p.id === 'rlink' ? linked : chance,
      classNames: null,
      perClassAccuracy: null,
      confusion: null,
      progress: null,
      skippedBackends: [],
      resumedAt: null,
      precisionReason: null,
      epochs: [],
      runDir: '/data/runs/rsrc',
      artifacts: [],
    }),
    getMetrics: () => ({}),
    getEvents: () => [],
  })
  setTransport(transport)
  setActivePinia(createPinia())
})
afterEach(() => setTransport(null))
enableAutoUnmount(afterEach)

describe('health in the views', () => {
  it('a chance run needs attention: one rule, in run-state.ts', () => {
    expect(needsAttention(chance)).toBe(true)
    expect(needsAttention(linked)).toBe(false)
    expect(needsAttention(makeRun({ status: 'failed' }))).toBe(true)
  })

  it('Queue lists a completed chance run under Needs attention with the reason and badge', async () => {
    const wrapper = mount(QueueView)
    await flush()
    expect(listed).toContainEqual(expect.objectContaining({ attention: true }))
    const row = wrapper.find('[data-testid="attention-row"]')
    expect(row.attributes('data-run-id')).toBe('rchance')
    expect(row.find('[data-testid="status-badge"]').text()).toBe('completed')
    const badge = row.find('[data-testid="health-badge"]')
    expect(badge.text()).toBe('at chance')
    expect(badge.attributes('title')).toContain('≈ ln 10')
    expect(row.text()).toContain('train loss 2.3026 and test loss 2.3025 ≈ ln 10')
    expect(row.text()).toContain('lower train.lr')
  })

  it('the badge hides healthy and unjudged runs in lists, shows them where asked', () => {
    const ok = makeRun().health
    expect(
      mount(HealthBadge, { props: { health: ok } })
        .find('span')
        .exists(),
    ).toBe(false)
    const all = mount(HealthBadge, { props: { health: ok, all: true } })
    expect(all.text()).toBe('healthy')
    const nc = mount(HealthBadge, { props: { health: linked.health } })
    expect(nc.attributes('data-health')).toBe('not-converged')
    expect(nc.attributes('aria-label')).toContain('still rose 6.0 pp')
  })

  it('Run detail says why a run is at chance and what to do', async () => {
    useRouteStore().go({ name: 'run', id: 'rchance' })
    const wrapper = mount(RunDetailView, { global: { stubs: chartStubs } })
    await flush()
    expect(wrapper.find('[data-testid="health-badge"]').text()).toBe('at chance')
    const note = wrapper.find('[data-testid="run-health"]').text()
    expect(note).toContain('at chance:')
    expect(note).toContain('use Adam')
    expect(wrapper.find('[data-testid="run-linked"]').exists()).toBe(false)
  })

  it('Run detail marks a linked run: from which experiment and run, trained when', async () => {
    useRouteStore().go({ name: 'run', id: 'rlink' })
    const wrapper = mount(RunDetailView, { global: { stubs: chartStubs } })
    await flush()
    const mark = wrapper.find('[data-testid="run-linked"]')
    expect(mark.text()).toContain(
      'linked from experiment exercise 1 (run rsrc), trained 2026-12-07',
    )
    expect(mark.text()).toContain('not trained again')
    expect(mark.find('a').attributes('href')).toBe('#/runs/rsrc')
    expect(wrapper.find('[data-testid="run-health"]').text()).toContain('not converged')
  })
})
