// @vitest-environment happy-dom
// The Runs table once other presets' runs exist (issue 13): the current experiment's axes as
// columns, the column chooser, config filters, accuracy next to the name; and 10,000 runs.
import { enableAutoUnmount, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Run } from '@shared/api/types'
import { presetInput } from '@shared/config/presets'
import { setTransport } from '@renderer/api'
import RunsView from '@renderer/views/RunsView.vue'
import { config, fakeTransport, flush, makeRun } from './helpers'

let list: Run[]

/** The six-run microConvs × head study of small-28, and older runs of d2l and nin-a. */
function studyAndOthers(): Run[] {
  const study = [1, 2, 3].flatMap((m) =>
    (['gap', 'fc'] as const).map((head) =>
      makeRun({
        id: `s${m}${head}`,
        name: `small-28-m${m}-${head}`,
        experiment: 'microConvs × head',
        config: config({
          ...presetInput('small-28'),
          model: { ...presetInput('small-28').model, microConvs: m, head },
        }),
        finalTestAcc: 0.4 + m / 10,
        createdAt: 100 + m,
      }),
    ),
  )
  const others = [
    makeRun({
      id: 'd1',
      name: 'd2l',
      experiment: 'baseline',
      config: config(presetInput('d2l')),
      createdAt: 1,
    }),
    makeRun({
      id: 'n1',
      name: 'nin-a',
      experiment: 'vgg',
      config: config(presetInput('nin-a')),
      createdAt: 2,
    }),
  ]
  return [...others, ...study]
}

beforeEach(() => {
  window.localStorage.clear()
  list = studyAndOthers()
  setTransport(
    fakeTransport({
      listRuns: () => ({ runs: list, total: list.length }),
      getMetrics: () => ({}),
    }),
  )
  setActivePinia(createPinia())
})
afterEach(() => setTransport(null))
enableAutoUnmount(afterEach)

async function mountRuns() {
  const wrapper = mount(RunsView, { attachTo: document.body })
  await flush()
  return wrapper
}
const columnPaths = (w: Awaited<ReturnType<typeof mountRuns>>): string[] =>
  w.findAll('[data-testid="config-column"]').map((th) => th.attributes('data-path') ?? '')

describe('Runs table columns', () => {
  it('shows the newest study’s grid axes, not the fields other presets differ in', async () => {
    const wrapper = await mountRuns()
    expect(columnPaths(wrapper)).toEqual(['model.microConvs', 'model.head'])
    // The accuracies sit next to the name, before any config column.
    const headers = wrapper.findAll('thead th').map((th) => th.text().replace(/[▲▼]/g, '').trim())
    expect(headers.slice(1, 5)).toEqual(['status', 'name', 'final acc', 'best acc'])
  })

  it('lets the column chooser add and remove columns, and go back to the axes', async () => {
    const wrapper = await mountRuns()
    await wrapper.find('[data-testid="column-train.lr"]').setValue(true)
    expect(columnPaths(wrapper)).toEqual(['model.microConvs', 'model.head', 'train.lr'])
    await wrapper.find('[data-testid="column-model.head"]').setValue(false)
    expect(columnPaths(wrapper)).toEqual(['model.microConvs', 'train.lr'])
    // Remembered across reloads.
    expect(JSON.parse(window.localStorage.getItem('ninLab.runsColumns') ?? '[]')).toEqual([
      'model.microConvs',
      'train.lr',
    ])
    await wrapper.find('[data-testid="columns-reset"]').trigger('click')
    expect(columnPaths(wrapper)).toEqual(['model.microConvs', 'model.head'])
  })

  it('filters by config value in the search box, with text search beside it', async () => {
    const wrapper = await mountRuns()
    const filter = wrapper.find('[data-testid="runs-filter"]')
    await filter.setValue('head=fc')
    expect(wrapper.findAll('[data-testid="run-row"]')).toHaveLength(3)
    await filter.setValue('head=fc m2')
    expect(
      wrapper.findAll('[data-testid="run-row"]').map((r) => r.attributes('data-run-id')),
    ).toEqual(['s2fc'])
    await filter.setValue('microConvs>=2 head!=fc')
    // d2l has 2 micro convs and the GAP head too.
    expect(
      wrapper
        .findAll('[data-testid="run-row"]')
        .map((r) => r.attributes('data-run-id'))
        .sort(),
    ).toEqual(['d1', 's2gap', 's3gap'])
    expect(wrapper.findAll('[data-testid="runs-filter-chip"]').map((c) => c.text())).toEqual([
      'micro convs per block >= 2',
      'head != fc',
    ])
  })
})

describe('Runs table at 10,000 runs', () => {
  it('renders only a window of rows, while counting, sorting and selecting all of them', async () => {
    const base = config(presetInput('small-28'))
    list = Array.from({ length: 10_000 }, (_, i) =>
      makeRun({
        id: `x${String(i).padStart(5, '0')}`,
        name: `run-${i}`,
        config: { ...base, name: `run-${i}`, train: { ...base.train, seed: i } },
        finalTestAcc: (i % 997) / 1000,
        createdAt: i,
      }),
    )
    const wrapper = await mountRuns()
    expect(wrapper.find('[data-testid="runs-count"]').text()).toContain('10,000 of 10,000')
    const rows = wrapper.findAll('[data-testid="run-row"]')
    expect(rows.length).toBeGreaterThan(10)
    expect(rows.length).toBeLessThanOrEqual(100)
    // Newest first; the rows not rendered are stood in for by a spacer.
    expect(rows[0]?.attributes('data-run-id')).toBe('x09999')
    expect(wrapper.find('tr.pad td').attributes('style')).toMatch(/height: \d+px/)
    // Sorting by accuracy orders all 10,000, not the rendered window.
    const final = wrapper.findAll('thead th').find((th) => th.text().startsWith('final acc'))
    await final?.find('button').trigger('click')
    expect(wrapper.find('[data-testid="run-row"]').find('td.num').text()).toBe('99.60%')
    await wrapper.find('[data-testid="run-select-all"]').setValue(true)
    expect(wrapper.find('[data-testid="compare-button"]').text()).toBe('Compare 10000 runs')
  })
})
