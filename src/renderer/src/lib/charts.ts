/**
 * ECharts, tree-shaken to what the dashboard draws, and the option builders for its charts.
 * Builders are pure (data + theme colours in, option out), so chart components stay small and
 * an SVG or PNG export can render the very same option again, off screen.
 */
import {
  BarChart,
  HeatmapChart,
  LineChart,
  LinesChart,
  ParallelChart,
  ScatterChart,
  type BarSeriesOption,
  type HeatmapSeriesOption,
  type LineSeriesOption,
  type LinesSeriesOption,
  type ParallelSeriesOption,
  type ScatterSeriesOption,
} from 'echarts/charts'
import {
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  ParallelComponent,
  TitleComponent,
  TooltipComponent,
  VisualMapComponent,
  type DataZoomComponentOption,
  type GridComponentOption,
  type LegendComponentOption,
  type TitleComponentOption,
  type TooltipComponentOption,
  type VisualMapComponentOption,
} from 'echarts/components'
import { LabelLayout } from 'echarts/features'
import { use, type ComposeOption } from 'echarts/core'
import { CanvasRenderer, SVGRenderer } from 'echarts/renderers'
import { axisDecimals, tickDecimals } from '@shared/format'
import { escapeHtml, visibleText } from '@shared/security'
import type { Series } from '@shared/smoothing'
import type { ChartColors } from './chart-colors'

use([
  LineChart,
  LinesChart,
  BarChart,
  ScatterChart,
  HeatmapChart,
  ParallelChart,
  GridComponent,
  LegendComponent,
  TooltipComponent,
  VisualMapComponent,
  DataZoomComponent,
  ParallelComponent,
  TitleComponent,
  LabelLayout,
  CanvasRenderer,
  SVGRenderer,
])

export type ChartOption = ComposeOption<
  | LineSeriesOption
  | LinesSeriesOption
  | BarSeriesOption
  | ScatterSeriesOption
  | HeatmapSeriesOption
  | ParallelSeriesOption
  | GridComponentOption
  | LegendComponentOption
  | TooltipComponentOption
  | VisualMapComponentOption
  | DataZoomComponentOption
  | TitleComponentOption
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
  /** The curve's true final value (its last raw point): marked, and listed in the tooltip. */
  readonly final?: { readonly x: number; readonly y: number }
}

export interface LineChartInput {
  readonly curves: readonly Curve[]
  readonly xName: string
  /** Ticks at whole numbers only (steps, epochs). */
  readonly xInteger?: boolean
  readonly yName: string
  readonly logY?: boolean
  /** Format of the y values in axis labels (and tooltips, unless `valueFormat`). */
  readonly yFormat?: (v: number) => string
  readonly valueFormat?: (v: number) => string
  readonly showLegend?: boolean
  /** Zoom and pan the x axis (wheel and drag, and a slider under the chart). */
  readonly zoomable?: boolean
  /** The x window shown, when zoomed (kept across redraws). */
  readonly zoom?: { readonly start: number; readonly end: number } | null
  /**
   * The x range of the axis, when charts side by side share one (Compare): a per-epoch chart
   * whose points start at the first epoch's last step must still show, and zoom to, the same
   * window as a per-step chart (a zoom window is clamped to its axis' range).
   */
  readonly xExtent?: { readonly min: number; readonly max: number } | null
  /**
   * One line series per curve however many there are (a picture's legend names each series);
   * by default more than `MANY_CURVES` curves share one polyline series.
   */
  readonly seriesPerCurve?: boolean
}

/**
 * Above this many curves a chart draws them all in one `lines` series (a polyline per curve and
 * gap-free stretch) instead of a line series each: ECharts spends about 0.5–0.7 ms per series on
 * every redraw whatever its length, and 100 runs × 4 charts of them were most of Compare's
 * drawing time (bench/compare-ui.bench.ts). What goes is hovering a curve to bring it forward
 * and the symbols on short curves' points; the tooltip still lists the curves nearest the
 * pointer, and pictures still name every curve.
 */
export const MANY_CURVES = 24

/** Pointer positions the axis tooltip snaps to when curves share one series (at most). */
const POINTER_STOPS = 600

/** The x axis stops of a shared series' tooltip: every curve's x, thinned to `POINTER_STOPS`. */
function pointerStops(curves: readonly Curve[]): number[] {
  const xs = new Set<number>()
  for (const cv of curves) for (const x of cv.line.x) xs.add(x)
  const sorted = Float64Array.from(xs).sort()
  if (sorted.length <= POINTER_STOPS) return Array.from(sorted)
  const stride = (sorted.length - 1) / (POINTER_STOPS - 1)
  return Array.from({ length: POINTER_STOPS }, (_, i) => sorted[Math.round(i * stride)] as number)
}

/** The x range covered by all these curves' lines and raw data (null when they have none). */
export function curvesXExtent(
  curves: readonly Curve[],
): { readonly min: number; readonly max: number } | null {
  let min = Infinity
  let max = -Infinity
  for (const cv of curves) {
    for (const xs of [cv.line.x, cv.raw?.x ?? []]) {
      // Sorted by x: the ends are enough.
      const first = xs[0]
      const last = xs[xs.length - 1]
      if (first !== undefined && first < min) min = first
      if (last !== undefined && last > max) max = last
    }
  }
  return min <= max ? { min, max } : null
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

/** The runs of finite points of `points`: a gap (null) ends one, as it breaks a line. */
function segments(pts: readonly [number, number | null][]): [number, number][][] {
  const out: [number, number][][] = []
  let run: [number, number][] = []
  for (const [x, y] of pts) {
    if (y === null) {
      if (run.length > 0) out.push(run)
      run = []
    } else run.push([x, y])
  }
  if (run.length > 0) out.push(run)
  return out
}

/** Tooltip rows shown at most (the nearest values first); the rest are counted. */
const TOOLTIP_ROWS = 12

const swatch = (color: string): string =>
  `<span style="display:inline-block;width:8px;height:8px;border-radius:2px;margin-right:5px;background:${escapeHtml(color)}"></span>`

/** The index of the point of `s` nearest to x (binary search; x ascending). */
function nearest(s: Series, x: number): number {
  let lo = 0
  let hi = s.x.length - 1
  if (hi < 0) return -1
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1
    if ((s.x[mid] as number) <= x) lo = mid
    else hi = mid
  }
  return Math.abs((s.x[hi] as number) - x) < Math.abs((s.x[lo] as number) - x) ? hi : lo
}

export function lineChartOption(input: LineChartInput, c: ChartColors): ChartOption {
  // Curve names are run names, user text: shown with any invisible characters made visible.
  const curves = input.curves.map((cv) => ({ ...cv, name: visibleText(cv.name) }))
  const logY = input.logY ?? false
  const series: (LineSeriesOption | LinesSeriesOption | ScatterSeriesOption)[] = []
  const finals: { value: [number, number]; itemStyle: Record<string, unknown> }[] = []
  // The raw data faded behind each smoothed curve, every run's in one `lines` series (a polyline
  // per run and gap-free stretch): a line series per run doubled the series of a per-step chart,
  // and for 100 runs that was about half of its drawing time (bench/compare-ui.bench.ts).
  const raw: { coords: [number, number][]; lineStyle: Record<string, unknown> }[] = []
  // Many curves: their lines as polylines of one series too, lone points in one scatter.
  const shared = !input.seriesPerCurve && curves.length > MANY_CURVES
  const lines: { coords: [number, number][]; lineStyle: Record<string, unknown> }[] = []
  const dots: { value: [number, number]; itemStyle: { color: string } }[] = []
  // The lowest and highest point drawn by a `lines` series, which does not count towards the
  // axes' extent (see 'extent' below).
  const hidden: { low: [number, number] | null; high: [number, number] | null } = {
    low: null,
    high: null,
  }
  const extend = (seg: readonly [number, number][]): void => {
    for (const p of seg) {
      if (!hidden.low || p[1] < hidden.low[1]) hidden.low = p
      if (!hidden.high || p[1] > hidden.high[1]) hidden.high = p
    }
  }
  // Smallest positive and largest y, for a log axis that fits the data instead of snapping to
  // whole decades (and so a band's lower edge stays on it).
  let floor = Infinity
  let ceiling = -Infinity
  if (logY) {
    for (const curve of curves) {
      for (const y of [...curve.line.y, ...(curve.raw?.y ?? [])]) {
        if (y > 0 && y < floor) floor = y
        if (Number.isFinite(y) && y > ceiling) ceiling = y
      }
    }
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
      for (const seg of segments(points(curve.raw, logY))) {
        extend(seg)
        // A lone point between gaps draws nothing, as a line series without symbols drew it.
        if (seg.length > 1) {
          raw.push({ coords: seg, lineStyle: { color: curve.color, width: 1, opacity: 0.25 } })
        }
      }
    }
    const few = curve.line.x.length <= 30
    const final = curve.final
    const lineStyle = {
      color: curve.color,
      width: 1.6,
      type: curve.dashed ? ('dashed' as const) : ('solid' as const),
    }
    if (shared) {
      for (const seg of segments(points(curve.line, logY))) {
        extend(seg)
        if (seg.length > 1) lines.push({ coords: seg, lineStyle })
        // A lone point between gaps is marked, or it would not show. The points of short curves
        // are not: a symbol is an element of its own, and 100 curves × 10 epochs × 3 charts of
        // them took ~180 ms to draw; among that many lines they bury the lines too.
        else dots.push({ value: seg[0] as [number, number], itemStyle: { color: curve.color } })
      }
    } else {
      series.push({
        id: `${curve.id}:line`,
        type: 'line',
        name: curve.name,
        data: points(curve.line, logY),
        showSymbol: few,
        symbolSize: 4,
        lineStyle,
        itemStyle: { color: curve.color },
        emphasis: { focus: 'series' },
        z: 3,
      })
    }
    // The final value, marked where it really is (the smoothed line may end elsewhere).
    if (final && (!logY || final.y > 0)) {
      finals.push({
        value: [final.x, final.y],
        itemStyle: { color: curve.color, borderColor: c.background, borderWidth: 1 },
      })
    }
  }
  if (raw.length > 0) {
    series.push({
      id: 'raw',
      type: 'lines',
      coordinateSystem: 'cartesian2d',
      polyline: true,
      data: raw,
      silent: true,
      tooltip: { show: false },
      z: 2,
    })
  }
  if (shared) {
    series.push(
      {
        id: 'curves',
        type: 'lines',
        coordinateSystem: 'cartesian2d',
        polyline: true,
        data: lines,
        silent: true,
        tooltip: { show: false },
        z: 3,
      },
      {
        id: 'curve-points',
        type: 'scatter',
        data: dots,
        symbolSize: 4,
        silent: true,
        tooltip: { show: false },
        emphasis: { disabled: true },
        z: 3,
      },
    )
    // The axis tooltip follows the data of the series it belongs to: an invisible one with a
    // stop at (nearly) every curve's x gives it somewhere to snap; the rows are the curves'.
    const lowY = hidden.low?.[1]
    if (lowY !== undefined) {
      series.push({
        id: 'pointer',
        type: 'line',
        data: pointerStops(curves).map((x) => [x, lowY]),
        symbol: 'none',
        lineStyle: { opacity: 0 },
        silent: true,
        z: 0,
      })
    }
  }
  // A lines series does not count towards the axes' extent: the lowest and highest points it
  // draws, invisible, keep every spike inside the y axis (and the axis nicely rounded).
  if (hidden.low && hidden.high) {
    series.push({
      id: 'extent',
      type: 'line',
      data: [hidden.low, hidden.high],
      symbol: 'none',
      lineStyle: { opacity: 0 },
      silent: true,
      tooltip: { show: false },
      z: 0,
    })
  }
  // All the final values in one scatter series, not a markPoint per curve: each markPoint is a
  // component of its own, and 100 runs × 4 charts of them were a large part of Compare's drawing
  // time (bench/compare-ui.bench.ts). No name: it is no curve, so no legend entry in a picture.
  if (finals.length > 0) {
    series.push({
      id: 'finals',
      type: 'scatter',
      data: finals,
      symbol: 'circle',
      symbolSize: 7,
      silent: true,
      tooltip: { show: false },
      emphasis: { disabled: true },
      z: 4,
    })
  }
  const extent = input.yFormat || logY ? null : yExtent(curves)
  const decimals = extent ? axisDecimals(extent.min, extent.max) : 0
  const fmt = input.yFormat ?? ((v: number) => axisNumber(v, decimals))
  const tip = input.valueFormat ?? input.yFormat ?? formatShortNumber
  const xFmt = (v: number): string =>
    input.xInteger ? Math.round(v).toLocaleString('en-US') : formatAxisNumber(v)
  const zoomable = input.zoomable ?? false
  const zoom = input.zoom ?? null
  const window = zoom ? { startValue: zoom.start, endValue: zoom.end } : { start: 0, end: 100 }
  return {
    ...base(c),
    grid: {
      left: 56,
      right: 16,
      top: input.showLegend ? 34 : 14,
      bottom: zoomable ? 62 : 36,
    },
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
      // One row per curve: its (smoothed) value here, the raw value behind it, and its final
      // value; names escaped (ECharts renders tooltip HTML).
      formatter: (params) => {
        const list = Array.isArray(params) ? params : [params]
        const first = list[0] as { axisValue?: unknown } | undefined
        const x = typeof first?.axisValue === 'number' ? first.axisValue : Number(first?.axisValue)
        if (!Number.isFinite(x)) return ''
        const rows = curves
          .map((cv) => {
            const i = nearest(cv.line, x)
            const y = cv.line.y[i]
            if (i < 0 || y === undefined || !Number.isFinite(y)) return null
            const raw = cv.raw?.y[nearest(cv.raw, x)]
            return { cv, y, raw }
          })
          .filter(
            (r): r is { cv: (typeof curves)[number]; y: number; raw: number | undefined } =>
              r !== null,
          )
          .sort((a, b) => b.y - a.y)
        const shown = rows.slice(0, TOOLTIP_ROWS).map(({ cv, y, raw }) => {
          const rawText =
            raw !== undefined && Number.isFinite(raw) && raw !== y
              ? ` <span style="opacity:.7">(raw ${tip(raw)})</span>`
              : ''
          const finalText = cv.final
            ? ` <span style="opacity:.7">· final ${tip(cv.final.y)}</span>`
            : ''
          return `${swatch(cv.color)}${escapeHtml(cv.name)}: <b>${tip(y)}</b>${rawText}${finalText}`
        })
        const more =
          rows.length > TOOLTIP_ROWS ? `<br>… and ${rows.length - TOOLTIP_ROWS} more` : ''
        return `${escapeHtml(input.xName)} ${xFmt(x)}<br>${shown.join('<br>')}${more}`
      },
    },
    dataZoom: zoomable
      ? [
          { type: 'inside', xAxisIndex: 0, filterMode: 'none', ...window },
          {
            type: 'slider',
            xAxisIndex: 0,
            filterMode: 'none',
            height: 14,
            bottom: 6,
            borderColor: c.line,
            textStyle: { color: c.muted, fontSize: 10 },
            labelFormatter: (v: number) => xFmt(v),
            ...window,
          },
        ]
      : [],
    xAxis: {
      type: 'value',
      name: input.xName,
      nameLocation: 'middle',
      nameGap: 24,
      scale: true,
      minInterval: input.xInteger ? 1 : undefined,
      ...(input.xExtent ? { min: input.xExtent.min, max: input.xExtent.max } : {}),
      ...axisStyle(c),
      axisLabel: {
        color: c.muted,
        fontSize: 11,
        // A zoomed window's ends fall between whole steps: no rounded label beside a real one.
        formatter: (v: number) => (input.xInteger && !Number.isInteger(v) ? '' : xFmt(v)),
      },
      splitLine: { show: false },
    },
    yAxis: {
      type: logY ? 'log' : 'value',
      name: input.yName,
      nameLocation: 'middle',
      nameGap: 42,
      scale: true,
      ...(logY && Number.isFinite(floor) && ceiling > 0
        ? { min: floor / 1.15, max: ceiling * 1.15 }
        : {}),
      ...axisStyle(c),
      axisLabel: { color: c.muted, fontSize: 11, formatter: (v: number) => fmt(v) },
    },
    series,
  }
}

/**
 * Short axis numbers: 0.0123, 1.5, 12,000 → 12k. Below 10,000 a tick gets the decimals its own
 * value needs: ticks 0.0002 apart near the ln 10 plateau read 2.3024, 2.3026, never "2.3" twice.
 */
export function formatAxisNumber(v: number): string {
  return axisNumber(v, 0)
}

/** formatAxisNumber with at least `decimals` decimals (an axis's, from its span). */
function axisNumber(v: number, decimals: number): string {
  const a = Math.abs(v)
  if (a >= 1e6) return `${+(v / 1e6).toFixed(2)}M`
  if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`
  if (a === 0) return '0'
  if (a < 1e-4 && decimals < 5) return v.toExponential(1)
  return v.toFixed(Math.max(decimals, tickDecimals(v, a >= 100 ? 2 : 8)))
}

/** A value in a tooltip: three significant digits are enough to read (0.123, 2.30, 12k). */
export function formatShortNumber(v: number): string {
  const a = Math.abs(v)
  if (a >= 1e6) return `${+(v / 1e6).toFixed(2)}M`
  if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`
  if (a >= 100) return `${Math.round(v)}`
  if (a === 0) return '0'
  if (a < 0.001) return v.toExponential(1)
  return `${+v.toPrecision(3)}`
}

/** The y extent of some curves' lines (NaN where there are no finite values). */
function yExtent(curves: readonly { readonly line: { readonly y: readonly number[] } }[]): {
  min: number
  max: number
} {
  let min = Infinity
  let max = -Infinity
  for (const curve of curves) {
    for (const y of curve.line.y) {
      if (y < min) min = y
      if (y > max) max = y
    }
  }
  return Number.isFinite(min) && Number.isFinite(max) ? { min, max } : { min: NaN, max: NaN }
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
  // Categories are user text (class names from a dataset folder): bidi and control characters
  // are shown as markers on the axis and in the tooltip, as reports show them.
  const categories = input.categories.map((name) => visibleText(name))
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
      data: categories,
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
  // Class names are user text: markers for bidi and control characters (see barChartOption).
  const labels = input.labels.map((name) => visibleText(name))
  const n = labels.length
  const data: [number, number, number][] = []
  let max = 0
  input.matrix.forEach((row, t) =>
    row.forEach((count, p) => {
      // y grows downwards in reading order: true class 0 at the top.
      data.push([p, n - 1 - t, count])
      if (count > max) max = count
    }),
  )
  const reversed = [...labels].reverse()
  return {
    ...base(c),
    grid: { left: 90, right: 16, top: 10, bottom: 70 },
    tooltip: {
      ...tooltipStyle(c),
      formatter: (p) => {
        const item = Array.isArray(p) ? p[0] : p
        const v = item?.value as [number, number, number] | undefined
        if (!v) return ''
        const truth = labels[n - 1 - v[1]] ?? ''
        const predicted = labels[v[0]] ?? ''
        return `true ${escapeHtml(truth)} → predicted ${escapeHtml(predicted)}: ${v[2].toLocaleString('en-US')}`
      },
    },
    xAxis: {
      type: 'category',
      data: labels,
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
  const xs = input.points.map((p) => p.x)
  const midX = xs.length > 0 ? Math.max(...xs) / 2 : 0
  const labels = scatterLabels(input.points)
  return {
    ...base(c),
    grid: { left: 56, right: 24, top: 14, bottom: 36 },
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
      // From zero: parameter counts 0.3% apart must not look twice as large.
      min: 0,
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
    // Labels name the points; ones that would overlap another are hidden (the tooltip has all).
    labelLayout: { hideOverlap: true },
    series: [
      {
        type: 'scatter',
        symbolSize: 10,
        // Points in the right half label to their left: a label right of the rightmost points
        // would run off the chart.
        data: input.points.map((p, i) => ({
          value: [p.x, p.y],
          name: p.name,
          itemStyle: { color: p.color },
          label: { position: p.x > midX ? 'left' : 'right', show: labels[i] !== null },
        })),
        label: {
          show: input.points.length <= 40,
          position: 'right',
          color: c.muted,
          fontSize: 10,
          // A function, not a template: ECharts would expand {a}, {b}, … in a run name.
          formatter: (p: { dataIndex: number }) => labels[p.dataIndex] ?? '',
        },
      },
    ],
  }
}

/**
 * Each point's label, or null for none. Runs with equal parameters (seeds, or variants that
 * differ only in training) stand on one vertical line, where their labels would be drawn over
 * each other: the highest point of such a line names the run and how many more share it, the
 * others go unlabelled (the tooltip names each).
 */
function scatterLabels(points: readonly ScatterPoint[]): (string | null)[] {
  const top = new Map<number, { index: number; count: number }>()
  points.forEach((p, i) => {
    const seen = top.get(p.x)
    if (!seen) top.set(p.x, { index: i, count: 1 })
    else {
      seen.count++
      if (p.y > (points[seen.index]?.y ?? -Infinity)) seen.index = i
    }
  })
  return points.map((p, i) => {
    const group = top.get(p.x)
    if (!group || group.index !== i) return null
    const name = visibleText(p.name)
    return group.count > 1 ? `${name} +${group.count - 1}` : name
  })
}

/** One axis of the parallel-coordinates chart: a config field or a result. */
export interface ParallelAxis {
  readonly name: string
  /** Categories for text and small sets of values; numbers on a value axis otherwise. */
  readonly categories?: readonly string[]
  readonly format?: (v: number) => string
}

export interface ParallelLine {
  readonly id: string
  readonly name: string
  readonly color: string
  /** One value per axis (a category's text, or a number); null where the run has none. */
  readonly values: readonly (string | number | null)[]
}

/**
 * Parallel coordinates (the HParams view): one vertical axis per varied config field, then the
 * results; one line per run across them, in the run's (or its group's) colour. Drag along an
 * axis to brush a range: the lines outside it fade.
 */
export function parallelOption(
  input: { axes: readonly ParallelAxis[]; lines: readonly ParallelLine[] },
  c: ChartColors,
): ChartOption {
  return {
    ...base(c),
    tooltip: {
      ...tooltipStyle(c),
      trigger: 'item',
      formatter: (p) => {
        const item = Array.isArray(p) ? p[0] : p
        const line = input.lines[item?.dataIndex ?? -1]
        if (!line) return ''
        const rows = input.axes.map((a, i) => {
          const v = line.values[i]
          const text =
            v === null || v === undefined
              ? '—'
              : typeof v === 'number' && a.format
                ? a.format(v)
                : String(v)
          return `${escapeHtml(a.name)}: ${escapeHtml(text)}`
        })
        return `${escapeHtml(visibleText(line.name))}<br>${rows.join('<br>')}`
      },
    },
    parallel: {
      left: 48,
      right: 64,
      top: 30,
      bottom: 24,
      parallelAxisDefault: {
        nameLocation: 'start',
        nameGap: 12,
        nameTextStyle: { color: c.text, fontSize: 11 },
        axisLine: { lineStyle: { color: c.line } },
        axisTick: { lineStyle: { color: c.line } },
        axisLabel: { color: c.muted, fontSize: 10 },
        areaSelectStyle: { width: 16 },
      },
    },
    parallelAxis: input.axes.map((a, dim) =>
      a.categories
        ? {
            dim,
            name: a.name,
            type: 'category' as const,
            data: [...a.categories],
            nameLocation: 'end' as const,
          }
        : {
            dim,
            name: a.name,
            type: 'value' as const,
            scale: true,
            nameLocation: 'end' as const,
            axisLabel: {
              color: c.muted,
              fontSize: 10,
              formatter: (v: number) => (a.format ?? formatAxisNumber)(v),
            },
          },
    ),
    series: [
      {
        type: 'parallel',
        smooth: false,
        inactiveOpacity: 0.08,
        activeOpacity: 1,
        lineStyle: { width: 1.6, opacity: 0.85 },
        emphasis: { lineStyle: { width: 3 } },
        data: input.lines.map((l) => ({
          value: l.values.map((v) => (v === null ? '-' : v)) as (string | number)[],
          name: l.name,
          lineStyle: { color: l.color },
        })),
      },
    ],
  }
}

/**
 * A chart's option for a picture file (PNG, SVG): the chart's title at the top, every curve named
 * in a legend under the plot (one a line, as many lines as it takes), an opaque background, no
 * zoom slider: a figure that explains itself when pasted into a paper or a chat.
 */
export function exportOption(
  option: ChartOption,
  title: string,
  c: ChartColors,
  width: number,
): { option: ChartOption; height: number; extra: number } {
  const series = (Array.isArray(option.series) ? option.series : [option.series]).filter(
    (s): s is NonNullable<typeof s> => s !== undefined,
  )
  const names: { name: string; color: string }[] = []
  for (const s of series) {
    const id = String((s as { id?: unknown }).id ?? '')
    const name = (s as { name?: unknown }).name
    if (
      typeof name !== 'string' ||
      (id !== '' && !id.endsWith(':line') && (s as { type?: string }).type === 'line')
    )
      continue
    const color =
      ((s as { itemStyle?: { color?: unknown } }).itemStyle?.color as string | undefined) ?? c.text
    if (!names.some((n) => n.name === name)) names.push({ name, color })
  }
  const perRow = Math.max(1, Math.floor(width / 200))
  const rows = Math.ceil(names.length / perRow)
  const legendHeight = names.length > 0 ? rows * 18 + 8 : 0
  const top = 34
  const grid = (option.grid ?? {}) as GridComponentOption
  const bottomOf = (v: unknown): number => (typeof v === 'number' ? v : 36)
  return {
    extra: top + legendHeight,
    height: 0,
    option: {
      ...option,
      animation: false,
      backgroundColor: c.background,
      title: {
        text: title,
        left: 10,
        top: 8,
        textStyle: { color: c.text, fontSize: 14, fontWeight: 'bold' },
      },
      grid: {
        ...grid,
        top: top + (typeof grid.top === 'number' ? grid.top : 14),
        bottom: bottomOf(grid.bottom) + legendHeight,
      },
      dataZoom: [],
      legend:
        names.length > 0
          ? {
              show: true,
              type: 'plain',
              bottom: 4,
              left: 10,
              width: width - 20,
              itemWidth: 14,
              itemHeight: 8,
              textStyle: { color: c.text, fontSize: 11, width: 180, overflow: 'truncate' },
              data: names.map((n) => ({ name: n.name, itemStyle: { color: n.color } })),
            }
          : { show: false },
    },
  }
}
