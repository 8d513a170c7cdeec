// @vitest-environment happy-dom
// The rough edges a new user hit (issue 23), each pinned in the renderer.
import { enableAutoUnmount, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { setTransport, tokenFrom } from '@renderer/api'
import { barChartOption, confusionOption, scatterOption } from '@renderer/lib/charts'
import { parseHash } from '@renderer/stores/route'
import type { ChartColors } from '@renderer/lib/chart-colors'
import App from '@renderer/App.vue'
import RunsView from '@renderer/views/RunsView.vue'
import { fakeTransport, flush, makeRun, type FakeTransport } from './helpers'

let transport: FakeTransport
beforeEach(() => {
  window.localStorage.clear()
  window.location.hash = ''
  transport = fakeTransport({
    listRuns: () => ({ runs: [], total: 0 }),
    queueState: () => ({
      paused: false,
      schedulerRunning: true,
      halted: null,
      runs: [],
      queuedTotal: 0,
      progress: {},
    }),
  })
  setTransport(transport)
  setActivePinia(createPinia())
})
afterEach(() => setTransport(null))
enableAutoUnmount(afterEach)

describe('a malformed permalink', () => {
  it('parses to an "invalid" route instead of throwing URIError', () => {
    expect(parseHash('#/runs/%')).toEqual({ name: 'invalid', hash: '#/runs/%' })
    expect(parseHash('#/runs/%E0%A4%A')).toEqual({ name: 'invalid', hash: '#/runs/%E0%A4%A' })
    expect(parseHash('#/runs/r%20x')).toEqual({ name: 'run', id: 'r x' })
    expect(tokenFrom('http://127.0.0.1:7317/#token=%')).toBeNull()
  })

  it('shows a "not a valid link" state, not a blank page', async () => {
    window.location.hash = '#/runs/%'
    const app = mount(App, { attachTo: document.body })
    await flush()
    const state = app.get('[data-testid=invalid-link]')
    expect(state.text()).toContain('Not a valid link')
    expect(app.get('[data-testid=invalid-link-hash]').text()).toBe('#/runs/%')
    // The sidebar still works, so the user has a way on.
    expect(app.find('[data-testid=nav-runs]').exists()).toBe(true)
  })
})

describe('class names in the per-class and confusion charts', () => {
  // A right-to-left override and a zero-width space: shown raw, they reorder or hide text.
  const names = ['cat\u202Egod', 'dog\u200B', 'plain']
  const colors: ChartColors = {
    text: '#000',
    muted: '#555',
    line: '#ccc',
    grid: '#eee',
    background: '#fff',
    tooltip: '#fff',
  }

  it('mark bidi and control characters on the axes and in the confusion tooltip', () => {
    const heat = confusionOption(
      {
        labels: names,
        matrix: [
          [1, 2, 0],
          [0, 3, 0],
          [0, 0, 1],
        ],
        accent: '#000',
      },
      colors,
    )
    const tooltip = heat.tooltip as { formatter: (p: unknown) => string }
    // Cell (predicted 1, true 0) sits at y = n - 1 - 0.
    const text = tooltip.formatter({ value: [1, 2, 2] })
    expect(text).toBe('true cat⟨U+202E⟩god → predicted dog⟨U+200B⟩: 2')
    const axes = [heat.xAxis, heat.yAxis] as { data: string[] }[]
    for (const axis of axes) {
      expect(axis.data.join('')).not.toMatch(/[\u202E\u200B]/)
    }

    const bars = barChartOption(
      { categories: names, values: [0.5, 0.6, 0.7], color: '#000', yName: 'accuracy' },
      colors,
    )
    const x = bars.xAxis as { data: string[] }
    expect(x.data).toEqual(['cat⟨U+202E⟩god', 'dog⟨U+200B⟩', 'plain'])
  })
})

describe('the Runs list', () => {
  it('pages through the server by cursor and lists newest first, ties in a stable order', async () => {
    // Two grids: g1 (three runs in one millisecond), then g2 (two runs, later), as the server
    // lists them newest first (creation time, then insertion order, descending).
    const newestFirst = [
      makeRun({ id: 'g2b', createdAt: 2000 }),
      makeRun({ id: 'g2a', createdAt: 2000 }),
      makeRun({ id: 'g1c', createdAt: 1000 }),
      makeRun({ id: 'g1b', createdAt: 1000 }),
      makeRun({ id: 'g1a', createdAt: 1000 }),
    ]
    transport = fakeTransport({
      listRuns: (p) => {
        expect(p.order).toBe('newest')
        const from = p.cursor === undefined ? 0 : Number(p.cursor)
        const page = newestFirst.slice(from, from + 2)
        const next = from + 2 < newestFirst.length ? String(from + 2) : null
        return { runs: page, total: newestFirst.length, next }
      },
      getMetrics: () => ({}),
    })
    setTransport(transport)
    const wrapper = mount(RunsView)
    await flush()
    const cursors = transport.calls
      .filter((c) => c.method === 'listRuns')
      .map((c) => (c.params as { cursor?: string }).cursor)
    expect(cursors).toEqual([undefined, '2', '4'])
    const order = (): string[] =>
      wrapper.findAll('[data-testid="run-row"]').map((r) => r.attributes('data-run-id') ?? '')
    expect(order()).toEqual(['g2b', 'g2a', 'g1c', 'g1b', 'g1a'])
    // A run queued later goes first; the rest keep their places.
    transport.emit('runQueued', {
      runs: [makeRun({ id: 'g3a', createdAt: 3000 }), makeRun({ id: 'g3b', createdAt: 3000 })],
    })
    await flush()
    expect(order()).toEqual(['g3b', 'g3a', 'g2b', 'g2a', 'g1c', 'g1b', 'g1a'])
  })
})

describe('the parameters-vs-accuracy scatter', () => {
  const colors: ChartColors = {
    text: '#000',
    muted: '#555',
    line: '#ccc',
    grid: '#eee',
    background: '#fff',
    tooltip: '#fff',
  }
  const point = (name: string, x: number, y: number) => ({ id: name, name, x, y, color: '#123' })

  it('starts its x axis at zero and labels runs of equal parameters once, saying how many', () => {
    const option = scatterOption(
      {
        // Three seeds of one network (equal parameters), and another network 0.3% larger.
        points: [
          point('gap-s0', 1_000_000, 0.81),
          point('gap-s1', 1_000_000, 0.84),
          point('gap-s2', 1_000_000, 0.8),
          point('fc-s0', 1_003_000, 0.83),
        ],
        xName: 'parameters',
        yName: 'test accuracy',
      },
      colors,
    )
    expect((option.xAxis as { min?: number; scale?: boolean }).min).toBe(0)
    const series = (
      option.series as {
        data: { label: { show: boolean } }[]
        label: { formatter: (p: { dataIndex: number }) => string }
      }[]
    )[0]!
    const shown = series.data.map((d, i) =>
      d.label.show ? series.label.formatter({ dataIndex: i }) : null,
    )
    expect(shown).toEqual([null, 'gap-s1 +2', null, 'fc-s0'])
  })
})
