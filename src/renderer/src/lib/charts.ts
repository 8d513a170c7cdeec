/**
 * ECharts, tree-shaken to what the dashboard draws, and the option builders for its charts.
 * Builders are pure (data + theme colours in, option out), so chart components stay small and
 * an SVG export can render the very same option with a second, SVG renderer.
 */
import {
  BarChart,
  HeatmapChart,
  LineChart,
  ScatterChart,
  type BarSeriesOption,
  type HeatmapSeriesOption,
  type LineSeriesOption,
  type ScatterSeriesOption,
} from 'echarts/charts'
import {
  GridComponent,
  LegendComponent,
  TooltipComponent,
  VisualMapComponent,
  type GridComponentOption,
  type LegendComponentOption,
  type TooltipComponentOption,
  type VisualMapComponentOption,
} from 'echarts/components'
import { use, type ComposeOption } from 'echarts/core'
import { CanvasRenderer, SVGRenderer } from 'echarts/renderers'
import { escapeHtml, visibleText } from '@shared/security'
import type { Series } from '@shared/smoothing'
import type { ChartColors } from '../stores/theme'

use([
  LineChart,
  BarChart,
  ScatterChart,
  HeatmapChart,
  GridComponent,
  LegendComponent,
  TooltipComponent,
  VisualMapComponent,
  CanvasRenderer,
  SVGRenderer,
])

export type ChartOption = ComposeOption<
  | LineSeriesOption
  | BarSeriesOption
  | ScatterSeriesOption
  | HeatmapSeriesOption
  | GridComponentOption
  | LegendComponentOption
  | TooltipComponentOption
  | VisualMapComponentOption
>

/** One curve to draw: its main line, optionally the raw data faded behind and a ± band. */
export interface Curve {
  /** Stable key (run id or group key): series ids derive from it. */
  readonly id: string
  readonly name: string
  readonly color: string
  readonly line: Series
  /** The unsmoothed data, drawn faded behind the line. */
  readonly raw?: Series
  /** Mean ± std band: lower and upper on the line's x. */
  readonly band?: {
    readonly x: readonly number[]
    readonly lower: readonly number[]
    readonly upper: readonly number[]
  }
  readonly dashed?: boolean
}

export interface LineChartInput {
  readonly curves: readonly Curve[]
  readonly xName: string
  /** Ticks at whole numbers only (steps, epochs). */
  readonly xInteger?: boolean
  readonly yName: string
  readonly logY?: boolean
  /** Format of the y values in tooltips and axis labels. */
  readonly yFormat?: (v: number) => string
  readonly showLegend?: boolean
}

const base = (c: ChartColors) => ({
  animation: false,
  backgroundColor: 'transparent',
  textStyle: { color: c.text, fontSize: 11 },
})

const axisStyle = (c: ChartColors) => ({
  axisLine: { lineStyle: { color: c.line } },
  axisTick: { lineStyle: { color: c.line } },
  axisLabel: { color: c.muted, fontSize: 11 },
  splitLine: { lineStyle: { color: c.grid } },
  nameTextStyle: { color: c.muted, fontSize: 11 },
})

const tooltipStyle = (c: ChartColors) => ({
  backgroundColor: c.tooltip,
  borderColor: c.line,
  textStyle: { color: c.text, fontSize: 11 },
  confine: true,
})

/** [x, y] pairs; values a log axis cannot show (≤ 0) and non-finite ones become gaps. */
function points(s: Series, logY: boolean): [number, number | null][] {
  return s.x.map((x, i) => {
    const y = s.y[i]
    return [x, y === undefined || !Number.isFinite(y) || (logY && y <= 0) ? null : y]
  })
}

export function lineChartOption(input: LineChartInput, c: ChartColors): ChartOption {
  // Curve names are run names, user text: shown with any invisible characters made visible.
  const curves = input.curves.map((cv) => ({ ...cv, name: visibleText(cv.name) }))
  const logY = input.logY ?? false
  const series: LineSeriesOption[] = []
  // Smallest positive y, so a band's lower edge stays on a log axis.
  let floor = Infinity
  if (logY) {
    for (const curve of curves) for (const y of curve.line.y) if (y > 0 && y < floor) floor = y
  }
  for (const curve of curves) {
    if (curve.band && curve.band.x.length > 0) {
      const lower = curve.band.lower.map((y) => (logY ? Math.max(y, floor / 2) : y))
      series.push(
        {
          id: `${curve.id}:band-lo`,
          type: 'line',
          name: curve.name,
          data: curve.band.x.map((x, i) => [x, lower[i] ?? null]),
          stack: `band:${curve.id}`,
          symbol: 'none',
          lineStyle: { opacity: 0 },
          silent: true,
          tooltip: { show: false },
          z: 1,
        },
        {
          id: `${curve.id}:band`,
          type: 'line',
          name: curve.name,
          data: curve.band.x.map((x, i) => [x, (curve.band?.upper[i] ?? 0) - (lower[i] ?? 0)]),
          stack: `band:${curve.id}`,
          symbol: 'none',
          lineStyle: { opacity: 0 },
          areaStyle: { color: curve.color, opacity: 0.18 },
          silent: true,
          tooltip: { show: false },
          z: 1,
        },
      )
    }
    if (curve.raw) {
      series.push({
        id: `${curve.id}:raw`,
        type: 'line',
        name: curve.name,
        data: points(curve.raw, logY),
        symbol: 'none',
        lineStyle: { color: curve.color, width: 1, opacity: 0.25 },
        itemStyle: { color: curve.color },
        silent: true,
        tooltip: { show: false },
        z: 2,
      })
    }
    const few = curve.line.x.length <= 30
    series.push({
      id: `${curve.id}:line`,
      type: 'line',
      name: curve.name,
      data: points(curve.line, logY),
      showSymbol: few,
      symbolSize: 4,
      lineStyle: { color: curve.color, width: 1.6, type: curve.dashed ? 'dashed' : 'solid' },
      itemStyle: { color: curve.color },
      emphasis: { focus: 'series' },
      z: 3,
    })
  }
  const fmt = input.yFormat ?? ((v: number) => formatAxisNumber(v))
  return {
    ...base(c),
    grid: { left: 56, right: 16, top: input.showLegend ? 34 : 14, bottom: 36 },
    legend: input.showLegend
      ? {
          type: 'scroll',
          top: 0,
          textStyle: { color: c.muted, fontSize: 11 },
          pageTextStyle: { color: c.muted },
          data: curves.map((cv) => ({ name: cv.name, itemStyle: { color: cv.color } })),
        }
      : { show: false },
    tooltip: {
      ...tooltipStyle(c),
      trigger: 'axis',
      axisPointer: { type: 'line', lineStyle: { color: c.muted } },
      valueFormatter: (v) => (typeof v === 'number' ? fmt(v) : String(v ?? '—')),
    },
    xAxis: {
      type: 'value',
      name: input.xName,
      nameLocation: 'middle',
      nameGap: 24,
      scale: true,
      minInterval: input.xInteger ? 1 : undefined,
      ...axisStyle(c),
      splitLine: { show: false },
    },
    yAxis: {
      type: logY ? 'log' : 'value',
      name: input.yName,
      nameLocation: 'middle',
      nameGap: 42,
      scale: true,
      ...axisStyle(c),
      axisLabel: { color: c.muted, fontSize: 11, formatter: (v: number) => fmt(v) },
    },
    series,
  }
}

/** Short axis numbers: 0.0123, 1.5, 12,000 → 12k. */
export function formatAxisNumber(v: number): string {
  const a = Math.abs(v)
  if (a >= 1e6) return `${+(v / 1e6).toFixed(2)}M`
  if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`
  if (a >= 100) return `${Math.round(v)}`
  if (a === 0) return '0'
  if (a < 0.001) return v.toExponential(1)
  return `${+v.toPrecision(3)}`
}

export interface BarInput {
  readonly categories: readonly string[]
  readonly values: readonly number[]
  readonly color: string
  readonly yName: string
  readonly yFormat?: (v: number) => string
  readonly max?: number
}

export function barChartOption(input: BarInput, c: ChartColors): ChartOption {
  const fmt = input.yFormat ?? formatAxisNumber
  return {
    ...base(c),
    grid: { left: 56, right: 16, top: 14, bottom: 56 },
    tooltip: {
      ...tooltipStyle(c),
      trigger: 'axis',
      valueFormatter: (v) => (typeof v === 'number' ? fmt(v) : String(v ?? '—')),
    },
    xAxis: {
      type: 'category',
      data: [...input.categories],
      ...axisStyle(c),
      axisLabel: { color: c.muted, fontSize: 11, rotate: 30, interval: 0 },
    },
    yAxis: {
      type: 'value',
      name: input.yName,
      nameLocation: 'middle',
      nameGap: 42,
      max: input.max,
      ...axisStyle(c),
      axisLabel: { color: c.muted, fontSize: 11, formatter: (v: number) => fmt(v) },
    },
    series: [
      {
        type: 'bar',
        data: [...input.values],
        itemStyle: { color: input.color },
        barMaxWidth: 28,
      },
    ],
  }
}

export interface HeatmapInput {
  /** Class names, in class order (rows: true class, columns: predicted). */
  readonly labels: readonly string[]
  readonly matrix: readonly (readonly number[])[]
  readonly accent: string
}

export function confusionOption(input: HeatmapInput, c: ChartColors): ChartOption {
  const n = input.labels.length
  const data: [number, number, number][] = []
  let max = 0
  input.matrix.forEach((row, t) =>
    row.forEach((count, p) => {
      // y grows downwards in reading order: true class 0 at the top.
      data.push([p, n - 1 - t, count])
      if (count > max) max = count
    }),
  )
  const reversed = [...input.labels].reverse()
  return {
    ...base(c),
    grid: { left: 90, right: 16, top: 10, bottom: 70 },
    tooltip: {
      ...tooltipStyle(c),
      formatter: (p) => {
        const item = Array.isArray(p) ? p[0] : p
        const v = item?.value as [number, number, number] | undefined
        if (!v) return ''
        const truth = input.labels[n - 1 - v[1]] ?? ''
        const predicted = input.labels[v[0]] ?? ''
        return `true ${escapeHtml(truth)} → predicted ${escapeHtml(predicted)}: ${v[2].toLocaleString('en-US')}`
      },
    },
    xAxis: {
      type: 'category',
      data: [...input.labels],
      name: 'predicted',
      nameLocation: 'middle',
      nameGap: 56,
      ...axisStyle(c),
      axisLabel: { color: c.muted, fontSize: 10, rotate: 40, interval: 0 },
      splitArea: { show: false },
    },
    yAxis: {
      type: 'category',
      data: reversed,
      name: 'true',
      nameLocation: 'middle',
      nameGap: 78,
      ...axisStyle(c),
      axisLabel: { color: c.muted, fontSize: 10, interval: 0 },
    },
    visualMap: {
      min: 0,
      max: Math.max(1, max),
      show: false,
      inRange: { color: [c.background, input.accent] },
    },
    series: [
      {
        type: 'heatmap',
        data,
        label: { show: n <= 12, color: c.text, fontSize: 10 },
        itemStyle: { borderColor: c.grid, borderWidth: 1 },
      },
    ],
  }
}

export interface ScatterPoint {
  readonly id: string
  readonly name: string
  readonly x: number
  readonly y: number
  readonly color: string
}

export function scatterOption(
  input: {
    points: readonly ScatterPoint[]
    xName: string
    yName: string
    xFormat?: (v: number) => string
    yFormat?: (v: number) => string
  },
  c: ChartColors,
): ChartOption {
  const xf = input.xFormat ?? formatAxisNumber
  const yf = input.yFormat ?? formatAxisNumber
  return {
    ...base(c),
    grid: { left: 56, right: 20, top: 14, bottom: 36 },
    tooltip: {
      ...tooltipStyle(c),
      trigger: 'item',
      formatter: (p) => {
        const item = Array.isArray(p) ? p[0] : p
        const pt = input.points[item?.dataIndex ?? -1]
        if (!pt) return ''
        // Run names are user text: escaped, since ECharts renders tooltip HTML.
        return `${escapeHtml(visibleText(pt.name))}<br>${escapeHtml(input.xName)}: ${xf(pt.x)}<br>${escapeHtml(input.yName)}: ${yf(pt.y)}`
      },
    },
    xAxis: {
      type: 'value',
      name: input.xName,
      nameLocation: 'middle',
      nameGap: 24,
      scale: true,
      ...axisStyle(c),
      axisLabel: { color: c.muted, fontSize: 11, formatter: (v: number) => xf(v) },
    },
    yAxis: {
      type: 'value',
      name: input.yName,
      nameLocation: 'middle',
      nameGap: 42,
      scale: true,
      ...axisStyle(c),
      axisLabel: { color: c.muted, fontSize: 11, formatter: (v: number) => yf(v) },
    },
    series: [
      {
        type: 'scatter',
        symbolSize: 10,
        data: input.points.map((p) => ({
          value: [p.x, p.y],
          name: p.name,
          itemStyle: { color: p.color },
        })),
      },
    ],
  }
}
