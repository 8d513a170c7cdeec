// @vitest-environment happy-dom
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Run } from '@shared/api/types'
import { setTransport } from '@renderer/api'
import { useCompareStore } from '@renderer/stores/compare'
import { useRouteStore } from '@renderer/stores/route'
import RunsView from '@renderer/views/RunsView.vue'
import { config, fakeTransport, flush, makeRun, type FakeTransport } from './helpers'

const XSS = '<img src=x onerror=alert(1)>'

let transport: FakeTransport
let list: Run[]

beforeEach(() => {
  window.localStorage.clear()
  window.location.hash = ''
  list = [
    makeRun({
      id: 'r1',
      name: XSS,
      experiment: `<b>${XSS}</b>`,
      notes: '<script>alert(2)</script>',
      tags: ['<i>t</i>'],
      config: config({ model: { microConvs: 1 } }),
      bestTestAcc: 0.81,
      createdAt: 1,
    }),
    makeRun({
      id: 'r2',
      name: 'm2',
      config: config({ model: { microConvs: 2 } }),
      bestTestAcc: 0.9,
      createdAt: 2,
    }),
    makeRun({
      id: 'r3',
      name: 'm3',
      status: 'failed',
      config: config({ model: { microConvs: 3 } }),
      bestTestAcc: null,
      finalTestAcc: null,
      epochsDone: 0,
      createdAt: 3,
    }),
  ]
  transport = fakeTransport({
    listRuns: () => ({ runs: list, total: list.length }),
    getMetrics: () => ({}),
    setNotes: (p) => {
      const run = { ...(list.find((r) => r.id === p.id) as Run), notes: p.notes }
      list = list.map((r) => (r.id === p.id ? run : r))
      return run
    },
    setTags: (p) => {
      const run = { ...(list.find((r) => r.id === p.id) as Run), tags: p.tags }
      list = list.map((r) => (r.id === p.id ? run : r))
      return run
    },
    deleteRuns: (p) => {
      list = list.filter((r) => !p.ids.includes(r.id))
      return { deleted: p.ids }
    },
  })
  setTransport(transport)
  setActivePinia(createPinia())
})
afterEach(() => setTransport(null))

async function mountRuns() {
  const wrapper = mount(RunsView, { attachTo: document.body })
  await flush()
  return wrapper
}

describe('RunsView', () => {
  it('renders user text (names, experiments, notes, tags) as text, never as HTML', async () => {
    const wrapper = await mountRuns()
    expect(wrapper.find('img').exists()).toBe(false)
    expect(wrapper.find('script').exists()).toBe(false)
    expect(wrapper.find('b').exists()).toBe(false)
    expect(wrapper.find('i').exists()).toBe(false)
    const row = wrapper.find('[data-run-id="r1"]')
    expect(row.text()).toContain(XSS)
    expect(row.text()).toContain('<script>alert(2)</script>')
    expect(row.text()).toContain('<i>t</i>')
    wrapper.unmount()
  })

  it('shows the config fields that vary as columns, with params and MACs from the layer table', async () => {
    const wrapper = await mountRuns()
    const headers = wrapper.findAll('thead th').map((th) => th.text())
    expect(headers.some((h) => h.startsWith('microConvs'))).toBe(true)
    expect(headers.some((h) => h.startsWith('inputSize'))).toBe(false)
    const row = wrapper.find('[data-run-id="r2"]')
    expect(row.text()).toContain('1,992,166')
    expect(row.text()).toContain('762.3 M')
    wrapper.unmount()
  })

  it('sorts by a column and filters by status and text', async () => {
    const wrapper = await mountRuns()
    const ids = () =>
      wrapper.findAll('[data-testid="run-row"]').map((r) => r.attributes('data-run-id'))
    expect(ids()).toEqual(['r3', 'r2', 'r1']) // newest first
    const bestHeader = wrapper
      .findAll('thead th button')
      .find((b) => b.text().startsWith('best acc'))
    await bestHeader?.trigger('click')
    expect(ids()).toEqual(['r2', 'r1', 'r3']) // best first, missing last
    await bestHeader?.trigger('click')
    expect(ids()).toEqual(['r1', 'r2', 'r3'])

    await wrapper.find('[data-testid="runs-status-filter"]').setValue('failed')
    expect(ids()).toEqual(['r3'])
    await wrapper.find('[data-testid="runs-status-filter"]').setValue('')
    await wrapper.find('[data-testid="runs-filter"]').setValue('m2')
    expect(ids()).toEqual(['r2'])
    wrapper.unmount()
  })

  it('selects runs and compares them', async () => {
    const wrapper = await mountRuns()
    const boxes = wrapper.findAll('[data-testid="run-select"]')
    await boxes[0]?.setValue(true)
    await boxes[1]?.setValue(true)
    const button = wrapper.find('[data-testid="compare-button"]')
    expect(button.text()).toBe('Compare 2 runs')
    await button.trigger('click')
    expect([...useCompareStore().ids].sort()).toEqual(['r2', 'r3'])
    expect(useRouteStore().route).toEqual({ name: 'compare' })
    wrapper.unmount()
  })

  it('names each run with a link to its page (a new tab, a copied address)', async () => {
    const wrapper = await mountRuns()
    const link = wrapper.find('[data-run-id="r2"] a[data-testid="run-link"]')
    expect(link.attributes('href')).toBe('#/runs/r2')
    expect(link.text()).toBe('m2')
    // A click on the row (outside its controls) opens it too.
    await wrapper.find('[data-run-id="r2"] td.num').trigger('click')
    expect(useRouteStore().route).toEqual({ name: 'run', id: 'r2' })
    wrapper.unmount()
  })

  it('edits notes and tags inline', async () => {
    const wrapper = await mountRuns()
    const row = wrapper.find('[data-run-id="r2"]')
    await row.find('[data-testid="run-notes"]').trigger('click')
    const input = wrapper.find('[data-testid="run-notes-input"]')
    await input.setValue('lr too high?')
    await input.trigger('keydown', { key: 'Enter' })
    await flush()
    expect(transport.calls.find((c) => c.method === 'setNotes')?.params).toEqual({
      id: 'r2',
      notes: 'lr too high?',
    })
    expect(wrapper.find('[data-run-id="r2"]').text()).toContain('lr too high?')

    await wrapper.find('[data-run-id="r2"] [data-testid="run-tags"]').trigger('click')
    const tags = wrapper.find('[data-testid="run-tags-input"]')
    await tags.setValue('baseline, gap ,baseline')
    await tags.trigger('blur')
    await flush()
    expect(transport.calls.find((c) => c.method === 'setTags')?.params).toEqual({
      id: 'r2',
      tags: ['baseline', 'gap'],
    })
    wrapper.unmount()
  })

  it('deletes the selected runs only after confirmation', async () => {
    const wrapper = await mountRuns()
    await wrapper.find('[data-run-id="r3"] [data-testid="run-select"]').setValue(true)
    await wrapper.find('[data-testid="delete-button"]').trigger('click')
    const dialog = wrapper.find('[data-testid="confirm-dialog"]')
    expect(dialog.text()).toContain('Delete 1 run?')
    await wrapper.find('[data-testid="confirm-cancel"]').trigger('click')
    expect(transport.calls.some((c) => c.method === 'deleteRuns')).toBe(false)

    await wrapper.find('[data-testid="delete-button"]').trigger('click')
    await wrapper.find('[data-testid="confirm-ok"]').trigger('click')
    await flush()
    expect(transport.calls.find((c) => c.method === 'deleteRuns')?.params).toEqual({ ids: ['r3'] })
    expect(wrapper.findAll('[data-testid="run-row"]')).toHaveLength(2)
    wrapper.unmount()
  })

  it('does not offer to delete a selection with a training run, and says which to cancel', async () => {
    list = [...list, makeRun({ id: 'r4', name: 'still-training', status: 'running' })]
    const wrapper = await mountRuns()
    await wrapper.find('[data-run-id="r2"] [data-testid="run-select"]').setValue(true)
    expect(wrapper.find('[data-testid="delete-button"]').attributes('disabled')).toBeUndefined()
    await wrapper.find('[data-run-id="r4"] [data-testid="run-select"]').setValue(true)
    expect(wrapper.find('[data-testid="delete-button"]').attributes('disabled')).toBeDefined()
    expect(wrapper.find('[data-testid="delete-blocked"]').text()).toContain('still-training')
    await wrapper.find('[data-testid="delete-button"]').trigger('click')
    expect(wrapper.find('[data-testid="confirm-dialog"]').exists()).toBe(false)
    expect(transport.calls.some((c) => c.method === 'deleteRuns')).toBe(false)

    await wrapper.find('[data-run-id="r4"] [data-testid="run-select"]').setValue(false)
    expect(wrapper.find('[data-testid="delete-blocked"]').exists()).toBe(false)
    wrapper.unmount()
  })

  it('says what to do when there are no runs', async () => {
    list = []
    const wrapper = await mountRuns()
    expect(wrapper.find('[data-testid="empty-state"]').text()).toContain('No runs yet')
    wrapper.unmount()
  })
})
