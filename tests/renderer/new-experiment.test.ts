// @vitest-environment happy-dom
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { setTransport } from '@renderer/api'
import AxisPicker from '@renderer/components/AxisPicker.vue'
import { useDraftStore } from '@renderer/stores/draft'
import { useGridStore } from '@renderer/stores/grid'
import { useSubmissionStore } from '@renderer/stores/submission'
import NewExperimentView from '@renderer/views/NewExperimentView.vue'
import { presetInput } from '@shared/config/presets'
import { config, fakeTransport, flush, makeRun, type FakeTransport } from './helpers'

let transport: FakeTransport

beforeEach(() => {
  window.localStorage.clear()
  transport = fakeTransport({
    estimateEpoch: () => ({
      secondsPerEpoch: 60,
      imagesPerSecond: 1000,
      basis: 'history',
      backend: 'wasm',
      detail: 'from 3 finished runs',
    }),
    addRuns: (p) => ({
      added: Array.from({ length: 12 }, () => makeRun({ experiment: p.experiment })),
      skipped: 0,
      linked: [],
    }),
  })
  setTransport(transport)
  setActivePinia(createPinia())
})
afterEach(() => setTransport(null))

const mountView = () => mount(NewExperimentView, { attachTo: document.body })

describe('New experiment form', () => {
  it('is generated from the schema: every leaf field has a control with its JSON path', () => {
    const wrapper = mountView()
    for (const path of [
      'name',
      'engine',
      'model.inputSize',
      'model.microConvs',
      'model.microKernel',
      'model.head',
      'model.fcFrom',
      'model.dropout',
      'model.blocks',
      'model.blocks[0].channels',
      'model.blocks[2].padding',
      'model.fcHidden',
      'model.headChannels',
      'data.dataset',
      'data.path',
      'data.trainLimit',
      'train.epochs',
      'train.batchSize',
      'train.optimizer',
      'train.lr',
      'train.momentum',
      'train.weightDecay',
      'train.seed',
      'train.backend',
    ]) {
      expect(wrapper.find(`[data-testid="field-${path}"]`).exists(), path).toBe(true)
    }
    // Small enums are segmented buttons: 0–3 micro convs, 1×1 | 3×3, GAP | FC.
    const micro = wrapper.find('[data-testid="field-model.microConvs"]')
    expect(micro.findAll('button').map((b) => b.text())).toEqual(['0', '1', '2', '3'])
    expect(
      wrapper
        .find('[data-testid="field-model.microKernel"]')
        .findAll('button')
        .map((b) => b.text()),
    ).toEqual(['1×1', '3×3'])
    expect(
      wrapper
        .find('[data-testid="field-model.head"]')
        .findAll('button')
        .map((b) => b.text()),
    ).toEqual(['GAP', 'FC'])
    wrapper.unmount()
  })

  it('shows the d2l layer table and totals', () => {
    const wrapper = mountView()
    expect(wrapper.findAll('[data-testid="layer-table"] tbody tr')).toHaveLength(17)
    expect(wrapper.find('[data-testid="totals"]').text()).toContain('1,992,166 parameters')
    wrapper.unmount()
  })

  it('shows an invalid value’s error next to the field its JSON path names', async () => {
    const wrapper = mountView()
    useDraftStore().setField('model.microConvs', 5)
    await flush()
    const error = wrapper.find('[data-testid="error-model.microConvs"]')
    expect(error.exists()).toBe(true)
    expect(error.text()).toContain('model.microConvs must be an integer from 0 to 3')
    expect(wrapper.find('[data-testid="queue-submit"]').attributes('disabled')).toBeDefined()

    // Typing into a generated number input validates the same way.
    await wrapper.find('[data-testid="field-train.batchSize"]').setValue('0')
    expect(wrapper.find('[data-testid="error-train.batchSize"]').text()).toContain(
      'train.batchSize must be an integer from 1 to 4096',
    )
    wrapper.unmount()
  })

  it('reports an input too small for the strides at model.inputSize, and the table says why', async () => {
    const wrapper = mountView()
    await wrapper.find('[data-testid="field-model.inputSize"]').setValue('32')
    expect(wrapper.find('[data-testid="error-model.inputSize"]').text()).toContain(
      'model.inputSize 32 is too small',
    )
    expect(wrapper.find('[data-testid="architecture-error"]').text()).toContain('too small')
    wrapper.unmount()
  })

  it('edits the block list: add, change and remove rows', async () => {
    const wrapper = mountView()
    const store = useDraftStore()
    await wrapper.find('[data-testid="field-model.blocks-add"]').trigger('click')
    expect((store.valueAt('model.blocks') as unknown[]).length).toBe(4)
    await wrapper.find('[data-testid="field-model.blocks[3].channels"]').setValue('512')
    expect(store.valueAt('model.blocks[3].channels')).toBe(512)
    await wrapper.find('[data-testid="field-model.blocks-remove-3"]').trigger('click')
    expect((store.valueAt('model.blocks') as unknown[]).length).toBe(3)
    wrapper.unmount()
  })

  it('toggles a nullable field to none and back', async () => {
    const wrapper = mountView()
    const store = useDraftStore()
    const none = wrapper.find('[data-testid="field-data.trainLimit-none"]')
    expect((none.element as HTMLInputElement).checked).toBe(true)
    await none.setValue(false)
    expect(store.valueAt('data.trainLimit')).toBe(60000)
    await none.setValue(true)
    expect(store.valueAt('data.trainLimit')).toBeNull()
    wrapper.unmount()
  })

  it('picks a preset', async () => {
    const wrapper = mountView()
    await wrapper.find('[data-testid="preset"]').setValue('small-28')
    expect(wrapper.find('[data-testid="totals"]').text()).toContain('148,390 parameters')
    wrapper.unmount()
  })
})

describe('the dataset sets channels and classes', () => {
  it('choosing CIFAR-100 shows 3 channels and 100 classes, read-only; coarse labels 20', async () => {
    const wrapper = mountView()
    const store = useDraftStore()
    await wrapper.find('[data-testid="field-data.dataset"]').setValue('cifar100')
    await flush()
    expect(store.valueAt('model.inputChannels')).toBe(3)
    expect(store.valueAt('model.numClasses')).toBe(100)
    const classes = wrapper.find('[data-testid="field-model.numClasses"]')
    expect((classes.element as HTMLInputElement).readOnly).toBe(true)
    expect((classes.element as HTMLInputElement).value).toBe('100')
    expect(wrapper.find('[data-testid="derived-model.numClasses"]').text()).toContain(
      'set by the dataset',
    )
    const channelButtons = wrapper
      .find('[data-testid="field-model.inputChannels"]')
      .findAll('button')
    expect(channelButtons.length).toBeGreaterThan(0)
    for (const b of channelButtons) expect(b.attributes()).toHaveProperty('disabled')
    store.setField('data.labels', 'coarse')
    await flush()
    expect(store.valueAt('model.numClasses')).toBe(20)
    // An image folder: the classes are its class folders', so the field is editable again.
    store.setField('data.dataset', 'folder')
    await flush()
    expect(
      (wrapper.find('[data-testid="field-model.numClasses"]').element as HTMLInputElement).readOnly,
    ).toBe(false)
    expect(wrapper.find('[data-testid="derived-model.numClasses"]').exists()).toBe(false)
    wrapper.unmount()
  })

  it('the nin-cifar10 preset is a 3-channel network with the paper’s parameter count', async () => {
    const wrapper = mountView()
    await wrapper.find('[data-testid="preset"]').setValue('nin-cifar10')
    await flush()
    expect(useDraftStore().valueAt('model.inputChannels')).toBe(3)
    expect(useDraftStore().issues).toEqual([])
    expect(wrapper.find('[data-testid="totals"]').text()).toContain('966,986 parameters')
    expect(
      (wrapper.find('[data-testid="field-model.blocks[0].micro"]').element as HTMLInputElement)
        .value,
    ).toBe('160, 96')
    wrapper.unmount()
  })
})

describe('ablation axes', () => {
  it('counts microConvs 1,2,3 × head gap,fc × 2 seeds = 12 runs and queues them', async () => {
    const wrapper = mount(NewExperimentView, { attachTo: document.body })
    const grid = useGridStore()
    // A model small enough that all six variants are valid and cheap to expand.
    useDraftStore().choosePreset('small-28')
    await flush()

    await wrapper.find('[data-testid="axis-add"]').trigger('click')
    expect(wrapper.find('[data-testid="axis-path-0"]').element).toHaveProperty(
      'value',
      'model.microConvs',
    )
    // The axis starts with every value (0–3); drop 0.
    await wrapper.find('[data-testid="axis-value-0-0"]').setValue(false)
    await wrapper.find('[data-testid="axis-add"]').trigger('click')
    expect(wrapper.find('[data-testid="axis-path-1"]').element).toHaveProperty(
      'value',
      'model.head',
    )
    await wrapper.find('[data-testid="axis-seeds"]').setValue('2')
    await flush()

    expect(grid.grid.count).toBe(12)
    expect(grid.grid.configs).toHaveLength(12)
    expect(wrapper.find('[data-testid="axis-summary"]').text()).toMatch(/→ 12 runs/)
    // The estimate (60 s / epoch at the base cost) prices the whole grid.
    await new Promise((r) => setTimeout(r, 450))
    await flush()
    expect(wrapper.find('[data-testid="axis-summary"]').text()).toMatch(/→ 12 runs · ≈ .+ total/)
    expect(wrapper.find('[data-testid="queue-submit"]').text()).toBe('Queue 12 runs')

    await wrapper.find('[data-testid="experiment-name"]').setValue('micro-vs-head')
    await wrapper.find('[data-testid="queue-submit"]').trigger('click')
    await flush()
    const call = transport.calls.find((c) => c.method === 'addRuns')
    expect(call?.params).toMatchObject({
      experiment: 'micro-vs-head',
      seeds: 2,
      axes: [
        { path: 'model.microConvs', values: [1, 2, 3] },
        { path: 'model.head', values: ['gap', 'fc'] },
      ],
    })
    expect(wrapper.find('[data-testid="queue-result"]').text()).toContain('Queued 12 runs')
    wrapper.unmount()
  })

  it('shows a grid error next to its axis', async () => {
    const wrapper = mount(AxisPicker)
    useGridStore().addAxis('model.inputSize', '224,8')
    await flush()
    expect(wrapper.text()).toContain('grid axis model.inputSize=8')
    expect(useSubmissionStore().canSubmit).toBe(false)
  })
})

describe('rough edges a new user hit (issue 23)', () => {
  it('data.hflip has a control, not only its hint', async () => {
    const wrapper = mountView()
    const box = wrapper.find('[data-testid="field-data.hflip"]')
    expect(box.exists()).toBe(true)
    expect((box.element as HTMLInputElement).checked).toBe(false)
    await box.setValue(true)
    expect(useDraftStore().valueAt('data.hflip')).toBe(true)
    await box.setValue(false)
    expect(useDraftStore().valueAt('data.hflip')).toBe(false)
    wrapper.unmount()
  })

  it('a cloned run shows its own preset, so Reset to preset keeps its network', async () => {
    const draft = useDraftStore()
    draft.choosePreset('d2l')
    const wrapper = mountView()
    // A small-28 run (its epochs edited) cloned while the form showed d2l.
    const run = makeRun({ config: config({ ...presetInput('small-28'), train: { epochs: 3 } }) })
    draft.loadRun(run, 'clone')
    await flush()
    expect((wrapper.find('[data-testid="preset"]').element as HTMLSelectElement).value).toBe(
      'small-28',
    )
    await wrapper.find('[data-testid="preset-reset"]').trigger('click')
    await wrapper.find('[data-testid="confirm-ok"]').trigger('click')
    await flush()
    expect(wrapper.find('[data-testid="totals"]').text()).toContain('148,390 parameters')

    // A network no preset has: no preset is claimed, and Reset is off.
    draft.loadRun(makeRun({ config: config({ model: { microConvs: 3, head: 'fc' } }) }), 'clone')
    await flush()
    expect((wrapper.find('[data-testid="preset"]').element as HTMLSelectElement).value).toBe('')
    expect(wrapper.find('[data-testid="preset-reset"]').attributes('disabled')).toBeDefined()
    wrapper.unmount()
  })

  it('says an input too small under model.inputSize even while another field is invalid', async () => {
    const wrapper = mountView()
    await wrapper.find('[data-testid="field-train.batchSize"]').setValue('0')
    await wrapper.find('[data-testid="field-model.inputSize"]').setValue('32')
    expect(wrapper.find('[data-testid="error-train.batchSize"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="error-model.inputSize"]').text()).toContain(
      'model.inputSize 32 is too small',
    )
    wrapper.unmount()
  })

  it('drops "Queued N runs" once the draft changes (e.g. to something invalid)', async () => {
    const wrapper = mountView()
    useDraftStore().choosePreset('small-28')
    await flush()
    await wrapper.find('[data-testid="queue-submit"]').trigger('click')
    await flush()
    expect(wrapper.find('[data-testid="queue-result"]').text()).toContain('Queued 12 runs')
    await wrapper.find('[data-testid="field-train.batchSize"]').setValue('0')
    await flush()
    expect(wrapper.text()).toContain('Fix the fields marked in red')
    expect(wrapper.find('[data-testid="queue-result"]').exists()).toBe(false)
    wrapper.unmount()
  })
})
