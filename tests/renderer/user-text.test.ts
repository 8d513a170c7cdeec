// @vitest-environment happy-dom
/**
 * Run names, experiments, notes, tags, errors and log lines holding a right-to-left override,
 * zero-width characters and terminal escapes: every view shows them as ⟨U+…⟩ markers (the text
 * the user typed stays as it is in the store), and the chart options name curves the same way.
 */
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { RunEvent } from '@shared/api/types'
import { setTransport } from '@renderer/api'
import { lineChartOption, scatterOption } from '@renderer/lib/charts'
import { useRouteStore } from '@renderer/stores/route'
import type { ChartColors } from '@renderer/lib/chart-colors'
import QueueView from '@renderer/views/QueueView.vue'
import RunDetailView from '@renderer/views/RunDetailView.vue'
import RunsView from '@renderer/views/RunsView.vue'
import { chartStubs, config, fakeTransport, flush, makeRun } from './helpers'

const NAME = 'invoice\u202Etxt.exe\u200B'
const SHOWN_NAME = 'invoice⟨U+202E⟩txt.exe⟨U+200B⟩'
// eslint-disable-next-line no-control-regex -- control characters are what is looked for
const RAW = /[\u001b\u202e\u200b]/

const run = makeRun({
  id: 'ru',
  name: NAME,
  experiment: 'exp\u001b[31m',
  notes: 'note \u202Eevil',
  tags: ['tag\u200Bx'],
  error: 'failed on \u202Eevil',
  status: 'failed',
  config: config({ name: NAME }),
})
const events: RunEvent[] = [
  {
    seq: 1,
    time: 0,
    type: 'log',
    message: { type: 'log', runId: 'ru', time: 0, level: 'info', message: 'log \u001b[2J' },
  },
]

beforeEach(() => {
  window.localStorage.clear()
  window.location.hash = ''
  setTransport(
    fakeTransport({
      listRuns: () => ({ runs: [run], total: 1 }),
      getMetrics: () => ({}),
      getEvents: () => events,
      getRun: () => ({
        run,
        classNames: null,
        perClassAccuracy: null,
        confusion: null,
        progress: null,
        skippedBackends: [],
        resumedAt: null,
        precisionReason: null,
        epochs: [],
        runDir: '/data/runs/ru',
        artifacts: [],
      }),
      queueState: () => ({
        paused: true,
        schedulerRunning: false,
        halted: null,
        runs: [{ ...run, status: 'queued', error: null }],
        queuedTotal: 1,
        progress: {},
      }),
    }),
  )
  setActivePinia(createPinia())
})
afterEach(() => setTransport(null))

describe('user text in the app', () => {
  it('the runs table shows markers in names, experiments, tags and notes', async () => {
    const wrapper = mount(RunsView, { attachTo: document.body })
    await flush()
    const row = wrapper.find('[data-run-id="ru"]').text()
    expect(row).not.toMatch(RAW)
    expect(row).toContain(SHOWN_NAME)
    expect(row).toContain('exp⟨U+001B⟩[31m')
    expect(row).toContain('tag⟨U+200B⟩x')
    expect(row).toContain('note ⟨U+202E⟩evil')
    wrapper.unmount()
  })

  it('the run page shows markers in its title, error, log and config', async () => {
    useRouteStore().go({ name: 'run', id: 'ru' })
    const wrapper = mount(RunDetailView, { global: { stubs: chartStubs } })
    await flush()
    expect(wrapper.find('[data-testid="run-title"]').text()).toBe(SHOWN_NAME)
    expect(wrapper.find('[data-testid="run-error"]').text()).toBe('failed on ⟨U+202E⟩evil')
    expect(wrapper.find('[data-testid="run-log"]').text()).toContain('log ⟨U+001B⟩[2J')
    expect(wrapper.find('[data-testid="run-config"]').text()).toContain(`"name": "${SHOWN_NAME}"`)
    expect(wrapper.text()).not.toMatch(RAW)
    wrapper.unmount()
  })

  it('the queue shows markers', async () => {
    const wrapper = mount(QueueView)
    await flush()
    expect(wrapper.text()).not.toMatch(RAW)
    expect(wrapper.text()).toContain(SHOWN_NAME)
    wrapper.unmount()
  })

  it('chart legends and tooltips name curves with markers', () => {
    const colors: ChartColors = {
      text: '#000',
      muted: '#666',
      line: '#999',
      grid: '#eee',
      background: '#fff',
      tooltip: '#fff',
    }
    const line = lineChartOption(
      {
        curves: [{ id: 'ru', name: NAME, color: '#f00', line: { x: [1, 2], y: [1, 0.5] } }],
        xName: 'step',
        yName: 'loss',
        showLegend: true,
      },
      colors,
    )
    expect(JSON.stringify(line)).not.toMatch(RAW)
    expect(JSON.stringify(line.legend)).toContain(SHOWN_NAME)
    const scatter = scatterOption(
      {
        points: [{ id: 'ru', name: NAME, x: 1, y: 0.5, color: '#f00' }],
        xName: 'params',
        yName: 'acc',
      },
      colors,
    )
    const formatter = (scatter.tooltip as { formatter: (p: unknown) => string }).formatter
    expect(formatter({ dataIndex: 0 })).toContain(SHOWN_NAME)
  })
})
