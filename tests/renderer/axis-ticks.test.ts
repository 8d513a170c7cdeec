// Axis labels follow the tick interval: a loss curve on the ln 10 plateau (2.3024 … 2.3031) and
// an accuracy curve at chance (10.00 … 10.03%) are drawn by ECharts exactly as Run detail and
// Compare draw them (lineChartOption), rendered to SVG, and the y tick labels read back: no two
// alike. The picture goes to test-results/axis-ticks-*.png.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Resvg } from '@resvg/resvg-js'
import * as echarts from 'echarts'
import { describe, expect, it } from 'vitest'
import { axisDecimals, pctTick, tickDecimals } from '@shared/format'
import { formatAxisNumber, lineChartOption, type Curve } from '@renderer/lib/charts'

/** test-results/, as tests/helpers/browser.ts names it (that module is the Node side's). */
const RESULTS_DIR = join(import.meta.dirname, '../../test-results')

const LIGHT = {
  text: '#1b1f24',
  muted: '#5b6470',
  line: '#c9d0d8',
  grid: '#eceff3',
  background: '#ffffff',
  tooltip: '#ffffff',
}

function curve(id: string, ys: number[]): Curve {
  return { id, name: id, color: '#3b6fd4', line: { x: ys.map((_, i) => i + 1), y: ys } }
}

/** The chart as SVG and its y axis labels (the texts left of the plot area). */
function render(curves: Curve[], yFormat?: (v: number) => string): { svg: string; y: string[] } {
  const option = lineChartOption(
    { curves, xName: 'step', xInteger: true, yName: 'loss', yFormat },
    LIGHT,
  )
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: 480, height: 260 })
  chart.setOption({ animation: false, ...option })
  const svg = chart.renderToSVGString()
  chart.dispose()
  // y labels sit at the left (x < 56, the grid's left edge), right-aligned: text-anchor end.
  const labels = [...svg.matchAll(/<text[^>]*text-anchor="end"[^>]*>([^<]*)<\/text>/g)].map(
    (m) => m[1] ?? '',
  )
  return { svg, y: labels }
}

function save(name: string, svg: string): void {
  mkdirSync(RESULTS_DIR, { recursive: true })
  const png = new Resvg(svg, { background: '#ffffff', fitTo: { mode: 'zoom', value: 2 } })
    .render()
    .asPng()
  writeFileSync(join(RESULTS_DIR, name), png)
}

describe('axis tick labels', () => {
  it('a loss on the ln 10 plateau reads 2.3024, 2.3026, … — never "2.3" on every tick', () => {
    const plateau = [2.30312, 2.30288, 2.30301, 2.30262, 2.30275, 2.30251, 2.30244, 2.30259]
    const { svg, y } = render([curve('chance', plateau)])
    save('axis-ticks-loss.png', svg)
    expect(y.length).toBeGreaterThanOrEqual(3)
    expect(new Set(y).size).toBe(y.length)
    for (const label of y) expect(label).toMatch(/^2\.30\d+$/)
    // Every tick with as many decimals as the axis needs.
    expect(new Set(y.map((l) => l.split('.')[1]?.length)).size).toBe(1)
  })

  it('accuracy at chance reads 10.00%, 10.01%, … — never "10%" twice', () => {
    const { svg, y } = render([curve('acc', [0.1, 0.1001, 0.10025, 0.1003, 0.1])], pctTick)
    save('axis-ticks-accuracy.png', svg)
    expect(y.length).toBeGreaterThanOrEqual(3)
    expect(new Set(y).size).toBe(y.length)
  })

  it('formats ordinary ranges as before', () => {
    expect(formatAxisNumber(0.5)).toBe('0.5')
    expect(formatAxisNumber(12000)).toBe('12k')
    expect(formatAxisNumber(2.3026)).toBe('2.3026')
    expect(axisDecimals(2.3024, 2.3031)).toBe(4)
    expect(pctTick(0.5)).toBe('50%')
    expect(pctTick(0.123)).toBe('12.3%')
    expect(tickDecimals(2.3026000000000004)).toBe(4)
  })
})
