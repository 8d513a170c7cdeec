// @vitest-environment happy-dom
// The study workflow of issue 13 (items 4 and 5): Clone to New experiment and Edit and requeue
// from Run detail, the form's radio groups on the keyboard, labels that follow the kernel,
// fields that do not apply disabled with the reason, a confirmation before a preset drops edits,
// and the memory check before queueing.
import { enableAutoUnmount, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ApiError } from '@shared/api/contract'
import type { Run } from '@shared/api/types'
import { setTransport } from '@renderer/api'
import { useDraftStore } from '@renderer/stores/draft'
import { useRouteStore } from '@renderer/stores/route'
import { useSubmissionStore } from '@renderer/stores/submission'
import NewExperimentView from '@renderer/views/NewExperimentView.vue'
import RunDetailView from '@renderer/views/RunDetailView.vue'
import { chartStubs, config, fakeTransport, flush, makeRun, type FakeTransport } from './helpers'

const tuned = config({ name: 'tuned', train: { lr: 0.037, epochs: 7 }, model: { head: 'fc' } })
const finished = makeRun({ id: 'rdone', name: 'tuned', experiment: 'lr study', config: tuned })
const failed = makeRun({ id: 'rfail', status: 'failed', experiment: 'lr study', config: tuned })
const running = makeRun({ id: 'rrun', status: 'running' })
const queued = makeRun({ id: 'rq', status: 'queued' })
const all: Run[] = [finished, failed, running, queued]

let transport: FakeTransport
beforeEach(() => {
  window.localStorage.clear()
  transport = fakeTransport({
    getRun: (p) => {
      const run = all.find((r) => r.id === p.id)
      if (!run) throw new ApiError('not-found', `no run ${p.id}`)
      return {
        run,
        classNames: [],
        perClassAccuracy: null,
        confusion: null,
        progress: null,
        skippedBackends: [],
        resumedAt: null,
        precisionReason: null,
        epochs: [],
        runDir: `/data/runs/${run.id}`,
        artifacts: [],
      }
    },
    getMetrics: () => ({}),
    getEvents: () => [],
    listRuns: () => ({ runs: all, total: all.length }),
    listExperiments: () => [],
    estimateEpoch: () => ({
      secondsPerEpoch: null,
      imagesPerSecond: null,
      basis: 'none',
      backend: null,
      detail: '',
    }),
    addRuns: (p) => ({ added: [makeRun({ experiment: p.experiment })], skipped: 0, linked: [] }),
  })
  setTransport(transport)
  setActivePinia(createPinia())
})
afterEach(() => setTransport(null))
enableAutoUnmount(afterEach)

async function openRun(id: string) {
  useRouteStore().go({ name: 'run', id })
  const wrapper = mount(RunDetailView, { global: { stubs: chartStubs } })
  await flush()
  return wrapper
}

describe('Run detail → the form', () => {
  it('offers Clone and Edit and requeue on finished and failed runs only', async () => {
    for (const [id, offered] of [
      ['rdone', true],
      ['rfail', true],
      ['rrun', false],
      ['rq', false],
    ] as const) {
      const wrapper = await openRun(id)
      expect(wrapper.find('[data-testid="run-clone"]').exists(), id).toBe(offered)
      expect(wrapper.find('[data-testid="run-edit-requeue"]').exists(), id).toBe(offered)
      wrapper.unmount()
    }
  })

  it('Clone starts a new experiment from the run’s config', async () => {
    const submission = useSubmissionStore()
    submission.experimentName = 'left over from the last study'
    const wrapper = await openRun('rdone')
    await wrapper.find('[data-testid="run-clone"]').trigger('click')
    expect(useRouteStore().route).toEqual({ name: 'new' })
    const draft = useDraftStore()
    expect(draft.config).toEqual(tuned)
    expect(draft.origin).toMatchObject({ mode: 'clone', runId: 'rdone', experiment: 'lr study' })
    // A new experiment: the name typed for another study does not carry over.
    expect(submission.experimentName).toBe('')
    expect(submission.effectiveName).toBe('tuned')

    const form = mount(NewExperimentView, { attachTo: document.body })
    await flush()
    expect(form.find('[data-testid="draft-origin"]').text()).toMatch(/Cloned from run tuned/)
  })

  it('Edit and requeue queues the edited copy into the run’s experiment', async () => {
    const wrapper = await openRun('rfail')
    await wrapper.find('[data-testid="run-edit-requeue"]').trigger('click')
    const draft = useDraftStore()
    draft.setField('train.lr', 0.01)
    const form = mount(NewExperimentView, { attachTo: document.body })
    await flush()
    expect(form.find('[data-testid="draft-origin"]').text()).toContain('“lr study”')
    // d2l at 224 px, batch 128, and the last run here trained on tfjs · wasm: likely too big for
    // the heap, so queueing waits for "queue anyway" (engine auto may pick torch instead).
    expect(form.find('[data-testid="memory-fit"]').text()).toMatch(
      /^Does not fit the wasm heap .*engine auto will likely pick it again/,
    )
    expect(form.find('[data-testid="queue-submit"]').attributes('disabled')).toBeDefined()
    await form.find('[data-testid="memory-anyway"]').setValue(true)
    expect(form.find('[data-testid="queue-submit"]').attributes('disabled')).toBeUndefined()
    await form.find('form').trigger('submit')
    await flush()
    const call = transport.calls.find((c) => c.method === 'addRuns')
    expect(call?.params).toMatchObject({
      experiment: 'lr study',
      base: { train: { lr: 0.01, epochs: 7 }, model: { head: 'fc' } },
    })
  })
})

describe('New experiment: keyboard, labels and fields that do not apply', () => {
  const mountForm = () => mount(NewExperimentView, { attachTo: document.body })

  it('gives each radio group one Tab stop and moves the choice with the arrow keys', async () => {
    const wrapper = mountForm()
    const group = wrapper.find('[data-testid="field-model.head"]')
    const radios = () => group.findAll('[role="radio"]')
    const stops = () => radios().filter((r) => r.attributes('tabindex') === '0')
    expect(stops()).toHaveLength(1)
    expect(stops()[0]?.attributes('aria-checked')).toBe('true')
    const before = useDraftStore().valueAt('model.head')
    await group.trigger('keydown', { key: 'ArrowRight' })
    await flush()
    const after = useDraftStore().valueAt('model.head')
    expect(after).not.toBe(before)
    expect(stops()).toHaveLength(1)
    expect(stops()[0]?.attributes('data-value')).toBe(String(after))
    expect(document.activeElement).toBe(stops()[0]?.element)
    await group.trigger('keydown', { key: 'ArrowLeft' })
    expect(useDraftStore().valueAt('model.head')).toBe(before)
  })

  it('labels the micro convs by their kernel', async () => {
    const wrapper = mountForm()
    const draft = useDraftStore()
    draft.setField('model.microKernel', 1)
    await flush()
    expect(wrapper.text()).toContain('1×1 convs per block')
    draft.setField('model.microKernel', 3)
    await flush()
    expect(wrapper.text()).toContain('3×3 convs per block')
    expect(wrapper.text()).not.toContain('1×1 convs per block')
  })

  it('disables FC hidden units under GAP and momentum under Adam, saying why', async () => {
    const wrapper = mountForm()
    const draft = useDraftStore()
    draft.setField('model.head', 'gap')
    draft.setField('train.optimizer', 'adam')
    await flush()
    expect(wrapper.find('[data-testid="inapplicable-model.fcHidden"]').text()).toContain(
      'only for the FC head',
    )
    expect(wrapper.find('[data-testid="inapplicable-train.momentum"]').text()).toContain(
      'Adam keeps its own moment estimates',
    )
    expect(
      wrapper.find('[data-testid="field-train.momentum"]').attributes('disabled'),
    ).toBeDefined()
    draft.setField('train.optimizer', 'sgd')
    await flush()
    expect(wrapper.find('[data-testid="inapplicable-train.momentum"]').exists()).toBe(false)
    expect(
      wrapper.find('[data-testid="field-train.momentum"]').attributes('disabled'),
    ).toBeUndefined()
  })

  it('asks before a preset drops edits, and keeps them when told no', async () => {
    const wrapper = mountForm()
    const draft = useDraftStore()
    const start = draft.preset
    draft.setField('train.lr', 0.0123)
    await flush()
    const other = [...wrapper.findAll('[data-testid="preset"] option')]
      .map((o) => o.attributes('value'))
      .find((v) => v !== start)!
    await wrapper.find('[data-testid="preset"]').setValue(other)
    await flush()
    expect(wrapper.find('[data-testid="confirm-dialog"]').text()).toContain('they are lost')
    await wrapper.find('[data-testid="confirm-cancel"]').trigger('click')
    expect(draft.preset).toBe(start)
    expect(draft.valueAt('train.lr')).toBe(0.0123)

    await wrapper.find('[data-testid="preset"]').setValue(other)
    await flush()
    await wrapper.find('[data-testid="confirm-ok"]').trigger('click')
    expect(draft.preset).toBe(other)
    expect(draft.valueAt('train.lr')).not.toBe(0.0123)
  })

  it('refuses to queue what the wasm heap cannot hold, naming the batch size that fits', async () => {
    const wrapper = mountForm()
    const draft = useDraftStore()
    draft.setField('engine', 'tfjs')
    draft.setField('train.backend', 'wasm')
    draft.setField('model.inputSize', 224)
    draft.setField('train.batchSize', 512)
    await flush()
    const fit = wrapper.find('[data-testid="memory-fit"]')
    expect(fit.text()).toMatch(/^Does not fit the wasm heap \(4\.0 GiB\)/)
    expect(wrapper.find('[data-testid="memory-problem"]').text()).toMatch(
      /more than the 4\.0 GiB wasm heap \(TensorFlow\.js' cap\): lower train\.batchSize to at most \d+/,
    )
    // Certain (the config forces wasm): no "queue anyway".
    expect(wrapper.find('[data-testid="memory-anyway"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="queue-submit"]').attributes('disabled')).toBeDefined()
    draft.setField('train.batchSize', 8)
    await flush()
    expect(wrapper.find('[data-testid="memory-fit"]').text()).toMatch(/^Fits the wasm heap/)
    expect(wrapper.find('[data-testid="queue-submit"]').attributes('disabled')).toBeUndefined()
  })
})
