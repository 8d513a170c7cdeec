// @vitest-environment happy-dom
// Compare as a study uses it (issue 13): the metric picker, zoom, the sortable metrics table, the
// grouped summary, config filters, the legend, saved views and their permalinks, parallel
// coordinates; and the chart options behind them (tooltip, final values, log y, exports).
import { enableAutoUnmount, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { SavedView, ViewState } from '@shared/api/contract'
import type { Run } from '@shared/api/types'
import { METRICS } from '@shared/metrics'
import { setTransport } from '@renderer/api'
import LineChart from '@renderer/components/charts/LineChart.vue'
import ParallelChart from '@renderer/components/charts/ParallelChart.vue'
import ScatterChart from '@renderer/components/charts/ScatterChart.vue'
import {
  curvesXExtent,
  exportOption,
  lineChartOption,
  MANY_CURVES,
  scatterOption,
  type Curve,
  type ParallelLine,
  type ScatterPoint,
} from '@renderer/lib/charts'
import { useCompareStore } from '@renderer/stores/compare'
import { useRouteStore } from '@renderer/stores/route'
import CompareView from '@renderer/views/CompareView.vue'
import {
  chartStubs,
  config,
  fakeTransport,
  flush,
  makeRun,
  samples,
  type FakeTransport,
} from './helpers'

/** A 3 × 2 study: microConvs 1..3 × head gap/fc, one seed each, plus accuracies to sort by. */
const study: Run[] = [1, 2, 3].flatMap((m) =>
  (['gap', 'fc'] as const).map((head, h) =>
    makeRun({
      id: `r${m}${head}`,
      name: `s-m${m}-${head}`,
      config: config({ name: `s-m${m}-${head}`, model: { microConvs: m, head } }),
      finalTestAcc: 0.5 + m * 0.1 + h * 0.01,
      bestTestAcc: 0.52 + m * 0.1 + h * 0.01,
    }),
  ),
)

let transport: FakeTransport
let views: SavedView[]
/** The runs listRuns answers with (a test may swap in others before mounting). */
let listed: Run[] = study

beforeEach(() => {
  window.localStorage.clear()
  window.location.hash = ''
  views = []
  listed = study
  transport = fakeTransport({
    listRuns: () => ({ runs: listed, total: listed.length }),
    getMetrics: (p) =>
      Object.fromEntries(
        p.ids.map((id) => [
          id,
          Object.fromEntries(
            p.names.map((name) => [
              name,
              name === METRICS.testAcc || name === METRICS.testLoss || name === METRICS.trainAcc
                ? samples(2, (i) => 0.4 + i * 0.1, 50)
                : // A per-step series; a window asked for answers with its own points.
                  samples(100, (i) => 2 - i * 0.01, 1).filter(
                    (s) => s.step >= (p.fromStep ?? 0) && s.step <= (p.toStep ?? Infinity),
                  ),
            ]),
          ),
        ]),
      ),
    listViews: () => views,
    saveView: (p) => {
      const view: SavedView = { id: 7, name: p.name, state: p.state, createdAt: 1, updatedAt: 1 }
      views = [view]
      return view
    },
    deleteView: (p) => {
      views = views.filter((v) => v.id !== p.id)
      return { deleted: p.id }
    },
  })
  setTransport(transport)
  setActivePinia(createPinia())
})
afterEach(() => setTransport(null))
enableAutoUnmount(afterEach)

async function mountCompare(ids: string[] = study.map((r) => r.id)) {
  useCompareStore().set(ids)
  const wrapper = mount(CompareView, { global: { stubs: chartStubs }, attachTo: document.body })
  await flush()
  return wrapper
}

const chart = (wrapper: Awaited<ReturnType<typeof mountCompare>>, name: string) =>
  wrapper.findAllComponents(LineChart).find((c) => c.props('name') === name)

describe('Compare: charts', () => {
  it('has a metric picker per chart that fetches only the new metric', async () => {
    const wrapper = await mountCompare()
    const picker = wrapper.find('[data-testid="chart-metric-0"]')
    expect((picker.element as HTMLSelectElement).value).toBe(METRICS.stepLoss)
    // Every metric is offered, by its label.
    expect(picker.findAll('option').map((o) => o.text())).toContain('Images/s (per step)')
    const before = transport.calls.length
    await picker.setValue(METRICS.stepThroughput)
    await flush()
    expect(useCompareStore().charts[0]).toBe(METRICS.stepThroughput)
    const fetch = transport.calls.slice(before).find((c) => c.method === 'getMetrics')
    expect(fetch?.params).toMatchObject({ names: [METRICS.stepThroughput], maxPoints: 500 })
    expect(chart(wrapper, '0-train-step_examples_per_sec')?.props('yName')).toBe('images/s')

    // Add and remove charts.
    await wrapper.find('[data-testid="chart-add"]').trigger('click')
    expect(useCompareStore().charts).toHaveLength(5)
    await wrapper.find('[aria-label="remove chart 5"]').trigger('click')
    expect(useCompareStore().charts).toHaveLength(4)
  })

  it('zooms all line charts together and fetches the window again at full detail', async () => {
    const wrapper = await mountCompare(['r1gap', 'r2gap'])
    const loss = chart(wrapper, '0-train-step_loss')
    expect(loss?.props('zoomable')).toBe(true)
    loss?.vm.$emit('zoom', { start: 20, end: 40 })
    await flush()
    expect(useCompareStore().zoom).toEqual({ start: 20, end: 40 })
    // Every line chart shares the window.
    expect(chart(wrapper, '1-test-acc')?.props('zoom')).toEqual({ start: 20, end: 40 })
    // The window's own fetch waits for the zooming to pause.
    await new Promise((resolve) => setTimeout(resolve, 200))
    await flush()
    const windowed = transport.calls.filter(
      (c) =>
        c.method === 'getMetrics' && (c.params as { fromStep?: number }).fromStep !== undefined,
    )
    expect(windowed.at(-1)?.params).toMatchObject({
      names: [METRICS.stepLoss],
      fromStep: 19,
      toStep: 41,
    })
    const curves = chart(wrapper, '0-train-step_loss')?.props('curves') as Curve[]
    expect(curves[0]?.raw?.x[0]).toBe(19)
    expect(curves[0]?.raw?.x.at(-1)).toBe(41)
    // One x range on every chart, the whole series' even while the window is fetched again: a
    // per-epoch chart (its points at the epochs' last steps) zooms to the same steps, and each
    // slider can zoom back out.
    const perEpoch = chart(wrapper, '1-test-acc')?.props('curves') as Curve[]
    expect(perEpoch[0]!.line.x[0]).toBeGreaterThan(1)
    const extent = chart(wrapper, '0-train-step_loss')?.props('xExtent')
    expect(extent).toEqual({ min: 1, max: 100 })
    expect(chart(wrapper, '1-test-acc')?.props('xExtent')).toEqual(extent)

    await wrapper.find('[data-testid="zoom-reset"]').trigger('click')
    await flush()
    expect(useCompareStore().zoom).toBeNull()
    expect(
      (chart(wrapper, '0-train-step_loss')?.props('curves') as Curve[])[0]?.raw?.x,
    ).toHaveLength(100)
  })

  it('hides a run from the charts from the legend, keeping it in the tables', async () => {
    const wrapper = await mountCompare()
    await wrapper.find('[data-testid="legend-item"][data-run-id="r1gap"]').trigger('click')
    await flush()
    const ids = (chart(wrapper, '1-test-acc')?.props('curves') as Curve[]).map((c) => c.id)
    expect(ids).not.toContain('r1gap')
    expect(ids).toHaveLength(5)
    expect(wrapper.findAll('[data-testid="metrics-table"] tbody tr')).toHaveLength(6)
    expect(wrapper.find('[data-testid="compare-count"]').text()).toContain('1 hidden')
  })

  it('labels the scatter’s points and colours them by group when grouped', async () => {
    const wrapper = await mountCompare()
    await wrapper.find('[data-testid="compare-group"]').setValue('model.head')
    await flush()
    const points = wrapper.findComponent(ScatterChart).props('points') as ScatterPoint[]
    const color = (id: string) => points.find((p) => p.id === id)?.color
    expect(color('r1gap')).toBe(color('r3gap'))
    expect(color('r1gap')).not.toBe(color('r1fc'))
    const curves = chart(wrapper, '1-test-acc')?.props('curves') as Curve[]
    expect(curves.map((c) => c.name)).toEqual(['head=fc (n=3)', 'head=gap (n=3)'])
    expect(curves[1]?.color).toBe(color('r1gap'))
  })

  it('draws config fields → results in parallel coordinates', async () => {
    const wrapper = await mountCompare()
    const parallel = wrapper.findComponent(ParallelChart)
    const axes = (parallel.props('axes') as { name: string; categories?: string[] }[]).map(
      (a) => a.name,
    )
    expect(axes).toEqual(['microConvs', 'head', 'params', 'final acc', 'best acc'])
    // Ticks of a study's parameter counts stay apart (not "0.13M, 0.14M, 0.14M").
    const params = (
      parallel.props('axes') as { name: string; format?: (v: number) => string }[]
    ).find((a) => a.name === 'params')
    expect([130_000, 135_000, 140_000, 1_926_000].map((v) => params?.format?.(v))).toEqual([
      '130 K',
      '135 K',
      '140 K',
      '1.93 M',
    ])
    const lines = parallel.props('lines') as readonly ParallelLine[]
    expect(lines.find((l) => l.id === 'r2fc')?.values.slice(0, 2)).toEqual([2, 'fc'])
    expect(lines.find((l) => l.id === 'r2fc')?.values[3]).toBeCloseTo(0.71, 10)
  })
})

describe('Compare: tables and filters', () => {
  it('sorts the metrics table by any column', async () => {
    const wrapper = await mountCompare()
    const names = () =>
      wrapper
        .findAll('[data-testid="metrics-table"] tbody tr')
        .map((tr) => tr.find('td.name').text())
    expect(names()[0]).toBe('s-m1-fc')
    await wrapper.find('[data-testid="metrics-sort-final"] button').trigger('click')
    expect(names()[0]).toBe('s-m3-fc') // largest first
    expect(wrapper.find('[data-testid="metrics-sort-final"]').attributes('aria-sort')).toBe(
      'descending',
    )
    await wrapper.find('[data-testid="metrics-sort-final"] button').trigger('click')
    expect(names()[0]).toBe('s-m1-gap')
  })

  it('summarises groups: mean ± std, 95% CI, Δ against the baseline, Holm p, verdict', async () => {
    const wrapper = await mountCompare()
    await wrapper.find('[data-testid="compare-group"]').setValue('model.microConvs')
    await flush()
    const rows = wrapper
      .findAll('[data-testid="summary-row"]')
      .map((r) => r.findAll('td').map((td) => td.text()))
    // Grouped by microConvs alone, each group averages over the head, and says so.
    expect(rows.map((r) => r[0])).toEqual([
      'microConvs = 1 averages over head',
      'microConvs = 2 averages over head',
      'microConvs = 3 averages over head',
    ])
    // m2: 0.70 and 0.71 → 70.50% ± 0.71 pp with its t interval; Δ against m1 (the first group:
    // no group has the d2l setting alone): +10.00 pp, paired by seed and head.
    expect(rows[1]?.[1]).toBe('2')
    expect(rows[1]?.[2]).toMatch(/^70\.50% ± 0\.71\s+95% CI 64\.15% to 76\.85%$/)
    expect(rows[1]?.[3]).toMatch(
      /^\+10\.00 pp\s+95% CI \[\+10\.00, \+10\.00\] pp\s*paired by seed$/,
    )
    expect(rows[0]?.[3]).toBe('baseline')
    expect(rows[1]?.[5]).toBe('larger than seed noise')
    // Every group mixes two heads, so none measures seed noise alone.
    expect(wrapper.find('[data-testid="summary-noise"]').text()).toMatch(
      /^Seed-to-seed noise: not estimated/,
    )
  })

  it('takes the baseline from a keyboard-usable picker, and counts runs at chance', async () => {
    const chance = { status: 'chance', reason: 'at chance', moreEpochs: null }
    // Run.health comes from the health computation; a run without it reads as unknown.
    listed = study.map((r) => (r.id === 'r2gap' ? Object.assign({}, r, { health: chance }) : r))
    const wrapper = await mountCompare()
    await wrapper.find('[data-testid="compare-group"]').setValue('model.microConvs')
    await flush()
    const picker = wrapper.find('[data-testid="summary-baseline"]')
    expect(picker.element.tagName).toBe('SELECT')
    await picker.setValue(JSON.stringify({ 'model.microConvs': 3 }))
    await flush()
    const rows = wrapper
      .findAll('[data-testid="summary-row"]')
      .map((r) => r.findAll('td').map((td) => td.text()))
    expect(rows[2]?.[3]).toBe('baseline')
    expect(rows[0]?.[3]).toMatch(/^−20\.00 pp/)
    expect(wrapper.find('[data-testid="summary-health"]').text()).toBe('1 of 2 at chance')
  })

  it('names runs with their experiment where two share a name', async () => {
    const twin = (id: string, experiment: string, seed: number): Run =>
      makeRun({
        id,
        name: 'small-28-s0',
        experiment,
        config: config({ name: 'small-28-s0', train: { seed } }),
        finalTestAcc: 0.8,
      })
    listed = [...study, twin('rx1', 'ex1', 0), twin('rx3', 'ex3', 1)]
    const wrapper = await mountCompare(['rx1', 'rx3', 'r1gap'])
    const legend = wrapper.findAll('[data-testid="legend-item"]').map((b) => b.text())
    expect(legend).toEqual(
      expect.arrayContaining(['ex1 / small-28-s0', 'ex3 / small-28-s0', 's-m1-gap']),
    )
  })

  it('filters the runs by config value, as typed', async () => {
    const wrapper = await mountCompare()
    await wrapper.find('[data-testid="compare-filter"]').setValue('head=GAP microConvs=1,2')
    await flush()
    expect(wrapper.findAll('[data-testid="metrics-table"] tbody tr')).toHaveLength(2)
    expect(wrapper.findAll('[data-testid="filter-chip"]').map((c) => c.text())).toEqual([
      'head = GAP',
      'micro convs per block = 1, 2',
    ])
    await wrapper.find('[data-testid="compare-filter"]').setValue('colour=red')
    await flush()
    expect(wrapper.find('[data-testid="filter-unknown"]').text()).toContain('colour')
  })
})

describe('Compare: saved views', () => {
  it('saves the state as a view, with a permalink, and opens a view from its link', async () => {
    const wrapper = await mountCompare()
    const compare = useCompareStore()
    compare.query = 'head=fc'
    compare.xMode = 'epoch'
    await flush()
    await wrapper.find('[data-testid="view-save"]').trigger('click')
    await wrapper.find('[data-testid="view-name"]').setValue('m × head')
    await wrapper.find('[data-testid="view-save-ok"]').trigger('click')
    await flush()
    const saved = transport.calls.find((c) => c.method === 'saveView')?.params as {
      name: string
      state: ViewState
    }
    expect(saved.name).toBe('m × head')
    expect(saved.state).toMatchObject({
      xMode: 'epoch',
      filters: [{ path: 'model.head', op: '=', values: ['fc'] }],
    })
    expect(saved.state.ids).toHaveLength(6)
    expect(useRouteStore().route).toEqual({ name: 'compare', view: 7 })
    expect(wrapper.find('[data-testid="view-link"]').attributes('href')).toMatch(
      /#\/compare\/view\/7$/,
    )
    // The link never carries the access key.
    expect(wrapper.find('[data-testid="view-link"]').attributes('href')).not.toContain('token')
  })

  it('opens the view a permalink names', async () => {
    views = [
      {
        id: 3,
        name: 'only m3',
        createdAt: 1,
        updatedAt: 1,
        state: {
          ids: ['r3gap', 'r3fc'],
          charts: [METRICS.testAcc],
          xMode: 'step',
          smoothing: 0.2,
          logY: true,
          groupBy: '',
          filters: [{ path: 'model.head', op: '!=', values: ['gap'] }],
          hidden: [],
        },
      },
    ]
    window.location.hash = '#/compare/view/3'
    const wrapper = await mountCompare([])
    const compare = useCompareStore()
    expect(compare.ids).toEqual(['r3gap', 'r3fc'])
    expect(compare.charts).toEqual([METRICS.testAcc])
    expect(compare.logY).toBe(true)
    expect(compare.query).toBe('head!=gap')
    expect(wrapper.findAll('[data-testid="metrics-table"] tbody tr')).toHaveLength(1)
    expect((wrapper.find('[data-testid="view-select"]').element as HTMLSelectElement).value).toBe(
      '3',
    )
  })
})

describe('line chart options', () => {
  const colors = {
    text: '#000',
    muted: '#555',
    line: '#ccc',
    grid: '#eee',
    tooltip: '#fff',
    background: '#ffffff',
  } as Parameters<typeof lineChartOption>[1]
  const curve: Curve = {
    id: 'ra',
    name: 'run <a>',
    color: '#123456',
    line: { x: [1, 24, 47], y: [2, 1, 0.5] },
    raw: { x: [1, 24, 47], y: [2.1, 0.9, 0.52] },
    final: { x: 47, y: 0.52 },
  }

  it('labels scatter points on the side that stays inside the chart', () => {
    const point = (id: string, x: number): ScatterPoint => ({
      id,
      name: id,
      x,
      y: 0.5,
      color: '#123456',
    })
    const option = scatterOption(
      { points: [point('left', 1), point('middle', 2), point('right', 3)], xName: 'x', yName: 'y' },
      colors,
    )
    const data = (option.series as { data: { name: string; label: { position: string } }[] }[])[0]!
      .data
    // The x axis starts at zero, so its middle is at 1.5 here: x = 2 is in the right half.
    expect(data.map((d) => [d.name, d.label.position])).toEqual([
      ['left', 'right'],
      ['middle', 'left'],
      ['right', 'left'],
    ])
  })

  it('takes a shared x range, and labels a whole-step axis only at whole steps', () => {
    const option = lineChartOption(
      {
        curves: [curve],
        xName: 'step',
        xInteger: true,
        yName: 'loss',
        zoomable: true,
        zoom: { start: 3.6, end: 13.2 },
        xExtent: { min: 1, max: 94 },
      },
      colors,
    )
    const x = option.xAxis as {
      min?: number
      max?: number
      axisLabel: { formatter: (v: number) => string }
    }
    expect([x.min, x.max]).toEqual([1, 94])
    // A zoom window's ends fall between steps: "4" once, not "4 4".
    expect(x.axisLabel.formatter(3.6)).toBe('')
    expect(x.axisLabel.formatter(4)).toBe('4')
    // Without a shared range the axis fits the chart's own data.
    const own = lineChartOption({ curves: [curve], xName: 'step', yName: 'loss' }, colors)
    expect((own.xAxis as { min?: number }).min).toBeUndefined()
    expect(curvesXExtent([curve])).toEqual({ min: 1, max: 47 })
  })

  it('prints the step as a whole number and lists each curve with its final value', () => {
    const option = lineChartOption(
      { curves: [curve], xName: 'step', xInteger: true, yName: 'loss', zoomable: true },
      colors,
    )
    const tooltip = option.tooltip as { formatter: (p: unknown) => string }
    const text = tooltip.formatter([{ axisValue: 24 }])
    expect(text).toMatch(/^step 24<br>/)
    expect(text).not.toContain('24.00')
    expect(text).toContain('run &lt;a&gt;: <b>1</b>')
    expect(text).toContain('(raw 0.9)')
    expect(text).toContain('final 0.52')
    // The final value is marked where it is (the raw 0.52, not the smoothed line's end), in the
    // curve's colour, and named nowhere (no legend entry of its own in a picture).
    const finals = (
      option.series as {
        id: string
        name?: string
        data?: { value: number[]; itemStyle: { color: string } }[]
      }[]
    ).find((s) => s.id === 'finals')
    expect(finals?.data).toEqual([
      expect.objectContaining({
        value: [47, 0.52],
        itemStyle: expect.objectContaining({ color: curve.color }),
      }),
    ])
    expect(finals?.name).toBeUndefined()
    expect(option.dataZoom).toHaveLength(2)
  })

  it('fades every run’s raw data in behind its curve, gaps kept, spikes inside the y axis', () => {
    const spiky: Curve = {
      ...curve,
      id: 'rb',
      color: '#abcdef',
      raw: { x: [1, 10, 20, 30, 40], y: [2, 9, Number.NaN, -1, 0.4] },
    }
    const series = (logY: boolean) =>
      lineChartOption({ curves: [curve, spiky], xName: 'step', yName: 'loss', logY }, colors)
        .series as { id: string; type: string; data: unknown }[]
    const raw = series(false).find((s) => s.id === 'raw')
    expect(raw?.type).toBe('lines')
    expect(raw?.data).toEqual([
      {
        coords: [
          [1, 2.1],
          [24, 0.9],
          [47, 0.52],
        ],
        lineStyle: expect.objectContaining({ color: '#123456' }),
      },
      // The NaN breaks the line, as a gap in a line series does.
      {
        coords: [
          [1, 2],
          [10, 9],
        ],
        lineStyle: expect.objectContaining({ color: '#abcdef' }),
      },
      {
        coords: [
          [30, -1],
          [40, 0.4],
        ],
        lineStyle: expect.objectContaining({ color: '#abcdef' }),
      },
    ])
    // A lines series is not counted in the axis extent: the raw extremes are, through this one.
    expect(series(false).find((s) => s.id === 'extent')?.data).toEqual([
      [30, -1],
      [10, 9],
    ])
    // On a log axis a value ≤ 0 is a gap too; the lone point left over draws nothing.
    expect(series(true).find((s) => s.id === 'raw')?.data).toEqual([
      expect.objectContaining({
        coords: [
          [1, 2.1],
          [24, 0.9],
          [47, 0.52],
        ],
      }),
      expect.objectContaining({
        coords: [
          [1, 2],
          [10, 9],
        ],
      }),
    ])
    expect(series(true).find((s) => s.id === 'extent')?.data).toEqual([
      [40, 0.4],
      [10, 9],
    ])
    // One series for all the raw data, one per curve for its line: not one per run and kind.
    expect(series(false).filter((s) => s.type === 'line' && s.id.endsWith(':line'))).toHaveLength(2)
    expect(series(false).filter((s) => s.id.endsWith(':raw'))).toHaveLength(0)
  })

  it('draws more than MANY_CURVES curves in one series, the tooltip and pictures still per curve', () => {
    // 30 curves of 3 epochs; the last one dashed, one with a NaN leaving a lone point.
    const many: Curve[] = Array.from({ length: MANY_CURVES + 6 }, (_, i) => ({
      id: `r${i}`,
      name: `run ${i}`,
      color: `#0000${String(i).padStart(2, '0')}`,
      line: { x: [100, 200, 300], y: i === 3 ? [0.5, Number.NaN, 0.7] : [0.1 * i, 0.2, 0.3] },
      final: { x: 300, y: 0.3 },
      dashed: i === MANY_CURVES + 5,
    }))
    const input = { curves: many, xName: 'step', yName: 'loss' }
    const option = lineChartOption(input, colors)
    const series = option.series as { id: string; type: string; data: unknown[] }[]
    // No series per curve: one for the lines, one for lone points, the pointer's and the extent.
    expect(series.filter((s) => s.id.endsWith(':line'))).toHaveLength(0)
    const lines = series.find((s) => s.id === 'curves')?.data as {
      coords: number[][]
      lineStyle: { color: string; type: string }
    }[]
    expect(lines).toHaveLength(MANY_CURVES + 5) // curve 3's two points are gap-split: no line
    expect(lines[0]).toEqual({
      coords: [
        [100, 0],
        [200, 0.2],
        [300, 0.3],
      ],
      lineStyle: expect.objectContaining({ color: '#000000', type: 'solid' }),
    })
    expect(lines.at(-1)?.lineStyle.type).toBe('dashed')
    expect(series.find((s) => s.id === 'curve-points')?.data).toEqual([
      { value: [100, 0.5], itemStyle: { color: '#000003' } },
      { value: [300, 0.7], itemStyle: { color: '#000003' } },
    ])
    // The axis tooltip snaps to the curves' x stops and lists the curves, nearest first.
    expect(series.find((s) => s.id === 'pointer')?.data).toEqual([
      [100, 0],
      [200, 0],
      [300, 0],
    ])
    const tooltip = option.tooltip as { formatter: (p: unknown) => string }
    const text = tooltip.formatter([{ axisValue: 100 }])
    expect(text).toMatch(/^step 100<br>.*run 29: <b>2\.9<\/b>/)
    expect(text).toContain('… and 18 more')
    // The y axis spans every line (a lines series does not count towards it).
    expect(series.find((s) => s.id === 'extent')?.data).toEqual([
      [100, 0],
      [100, 0.1 * (MANY_CURVES + 5)],
    ])
    // A picture's legend names every curve: its option has one series per curve again.
    const perCurve = lineChartOption({ ...input, seriesPerCurve: true }, colors)
    const legend = exportOption(perCurve, 'Loss', colors, 800).option.legend as {
      data: { name: string }[]
    }
    expect(legend.data).toHaveLength(MANY_CURVES + 6)
    // At MANY_CURVES or fewer, a line series per curve (hover brings one forward).
    const few = lineChartOption({ ...input, curves: many.slice(0, MANY_CURVES) }, colors)
    expect((few.series as { id: string }[]).filter((s) => s.id.endsWith(':line'))).toHaveLength(
      MANY_CURVES,
    )
  })

  it('fits a log y axis to the data instead of whole decades', () => {
    const option = lineChartOption(
      { curves: [curve], xName: 'step', yName: 'loss', logY: true },
      colors,
    )
    const y = option.yAxis as { type: string; min: number; max: number }
    expect(y.type).toBe('log')
    expect(y.min).toBeCloseTo(0.5 / 1.15, 10)
    expect(y.max).toBeCloseTo(2.1 * 1.15, 10)
  })

  it('exports a picture with its title, every run named and an opaque background', () => {
    const option = lineChartOption(
      {
        curves: [curve, { ...curve, id: 'rb', name: 'other' }],
        xName: 'step',
        yName: 'loss',
        zoomable: true,
      },
      colors,
    )
    const { option: picture, extra } = exportOption(option, 'Training loss', colors, 800)
    expect(picture.backgroundColor).toBe('#ffffff')
    expect((picture.title as { text: string }).text).toBe('Training loss')
    const legend = picture.legend as { show: boolean; data: { name: string }[] }
    expect(legend.show).toBe(true)
    expect(legend.data.map((d) => d.name)).toEqual(['run <a>', 'other'])
    expect(picture.dataZoom).toEqual([])
    expect(extra).toBeGreaterThan(0)
  })
})
