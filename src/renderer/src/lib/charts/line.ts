/**
 * The line chart: curves over steps, epochs or time (smoothed line, faded raw data, ± band,
 * final value marked), many curves sharing one polyline series, an axis tooltip listing the
 * curves nearest the pointer, zoom and a shared x extent.
 */
import type { LineSeriesOption, LinesSeriesOption, ScatterSeriesOption } from 'echarts/charts'
import { axisDecimals } from '@shared/format'
import { escapeHtml, visibleText } from '@shared/security'
import type { Series } from '@shared/smoothing'
import type { ChartColors } from '../chart-colors'
import type { ChartOption } from './echarts'
import {
  axisNumber,
  axisStyle,
  base,
  formatAxisNumber,
  formatShortNumber,
  swatch,
  tooltipStyle,
} from './theme'

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

type SomeSeries = LineSeriesOption | LinesSeriesOption | ScatterSeriesOption
type Polyline = { coords: [number, number][]; lineStyle: Record<string, unknown> }
type Point = [number, number]

/**
 * What the curves' loop gathers besides their own series: the raw data faded behind each
 * smoothed curve, every run's in one `lines` series (a polyline per run and gap-free stretch): a
 * line series per run doubled the series of a per-step chart, and for 100 runs that was about
 * half of its drawing time (bench/compare-ui.bench.ts). With many curves their lines as
 * polylines of one series too, lone points in one scatter.
 */
interface Gathered {
  readonly series: SomeSeries[]
  readonly finals: { value: Point; itemStyle: Record<string, unknown> }[]
  readonly raw: Polyline[]
  readonly lines: Polyline[]
  readonly dots: { value: Point; itemStyle: { color: string } }[]
  /**
   * The lowest and highest point drawn by a `lines` series, which does not count towards the
   * axes' extent (see 'extent' in overlaySeries).
   */
  readonly hidden: { low: Point | null; high: Point | null }
}

/**
 * Smallest positive and largest y, for a log axis that fits the data instead of snapping to
 * whole decades (and so a band's lower edge stays on it).
 */
function logRange(curves: readonly Curve[], logY: boolean): { floor: number; ceiling: number } {
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
  return { floor, ceiling }
}

/** A curve's mean ± std band: an invisible lower edge and the area stacked on it. */
function bandSeries(curve: Curve, logY: boolean, floor: number): LineSeriesOption[] {
  if (!curve.band || curve.band.x.length === 0) return []
  const band = curve.band
  const lower = band.lower.map((y) => (logY ? Math.max(y, floor / 2) : y))
  const common = {
    type: 'line' as const,
    name: curve.name,
    stack: `band:${curve.id}`,
    symbol: 'none',
    lineStyle: { opacity: 0 },
    silent: true,
    tooltip: { show: false },
    z: 1,
  }
  return [
    {
      id: `${curve.id}:band-lo`,
      ...common,
      data: band.x.map((x, i) => [x, lower[i] ?? null]),
    },
    {
      id: `${curve.id}:band`,
      ...common,
      data: band.x.map((x, i) => [x, (band.upper[i] ?? 0) - (lower[i] ?? 0)]),
      areaStyle: { color: curve.color, opacity: 0.18 },
    },
  ]
}

/** Every curve's band, raw data, line (a series, or polylines when shared) and final value. */
function gather(
  curves: readonly Curve[],
  opts: { shared: boolean; logY: boolean; floor: number },
  c: ChartColors,
): Gathered {
  const { shared, logY } = opts
  const g: Gathered = {
    series: [],
    finals: [],
    raw: [],
    lines: [],
    dots: [],
    hidden: { low: null, high: null },
  }
  const extend = (seg: readonly Point[]): void => {
    for (const p of seg) {
      if (!g.hidden.low || p[1] < g.hidden.low[1]) g.hidden.low = p
      if (!g.hidden.high || p[1] > g.hidden.high[1]) g.hidden.high = p
    }
  }
  for (const curve of curves) {
    g.series.push(...bandSeries(curve, logY, opts.floor))
    if (curve.raw) {
      for (const seg of segments(points(curve.raw, logY))) {
        extend(seg)
        // A lone point between gaps draws nothing, as a line series without symbols drew it.
        if (seg.length > 1) {
          g.raw.push({ coords: seg, lineStyle: { color: curve.color, width: 1, opacity: 0.25 } })
        }
      }
    }
    const lineStyle = {
      color: curve.color,
      width: 1.6,
      type: curve.dashed ? ('dashed' as const) : ('solid' as const),
    }
    if (shared) {
      for (const seg of segments(points(curve.line, logY))) {
        extend(seg)
        if (seg.length > 1) g.lines.push({ coords: seg, lineStyle })
        // A lone point between gaps is marked, or it would not show. The points of short curves
        // are not: a symbol is an element of its own, and 100 curves × 10 epochs × 3 charts of
        // them took ~180 ms to draw; among that many lines they bury the lines too.
        else g.dots.push({ value: seg[0] as Point, itemStyle: { color: curve.color } })
      }
    } else {
      g.series.push({
        id: `${curve.id}:line`,
        type: 'line',
        name: curve.name,
        data: points(curve.line, logY),
        showSymbol: curve.line.x.length <= 30,
        symbolSize: 4,
        lineStyle,
        itemStyle: { color: curve.color },
        emphasis: { focus: 'series' },
        z: 3,
      })
    }
    // The final value, marked where it really is (the smoothed line may end elsewhere).
    const final = curve.final
    if (final && (!logY || final.y > 0)) {
      g.finals.push({
        value: [final.x, final.y],
        itemStyle: { color: curve.color, borderColor: c.background, borderWidth: 1 },
      })
    }
  }
  return g
}

/** Many curves' lines and lone points, each kind in one series, and the tooltip's stops. */
function sharedSeries(g: Gathered, curves: readonly Curve[]): SomeSeries[] {
  const out: SomeSeries[] = [
    {
      id: 'curves',
      type: 'lines',
      coordinateSystem: 'cartesian2d',
      polyline: true,
      data: g.lines,
      silent: true,
      tooltip: { show: false },
      z: 3,
    },
    {
      id: 'curve-points',
      type: 'scatter',
      data: g.dots,
      symbolSize: 4,
      silent: true,
      tooltip: { show: false },
      emphasis: { disabled: true },
      z: 3,
    },
  ]
  // The axis tooltip follows the data of the series it belongs to: an invisible one with a
  // stop at (nearly) every curve's x gives it somewhere to snap; the rows are the curves'.
  const lowY = g.hidden.low?.[1]
  if (lowY !== undefined) {
    out.push({
      id: 'pointer',
      type: 'line',
      data: pointerStops(curves).map((x) => [x, lowY]),
      symbol: 'none',
      lineStyle: { opacity: 0 },
      silent: true,
      z: 0,
    })
  }
  return out
}

/** The series of a line chart, in drawing order. */
function lineSeries(
  curves: readonly Curve[],
  opts: { shared: boolean; logY: boolean; floor: number },
  c: ChartColors,
): SomeSeries[] {
  const g = gather(curves, opts, c)
  const series = [...g.series]
  if (g.raw.length > 0) {
    series.push({
      id: 'raw',
      type: 'lines',
      coordinateSystem: 'cartesian2d',
      polyline: true,
      data: g.raw,
      silent: true,
      tooltip: { show: false },
      z: 2,
    })
  }
  if (opts.shared) series.push(...sharedSeries(g, curves))
  // A lines series does not count towards the axes' extent: the lowest and highest points it
  // draws, invisible, keep every spike inside the y axis (and the axis nicely rounded).
  if (g.hidden.low && g.hidden.high) {
    series.push({
      id: 'extent',
      type: 'line',
      data: [g.hidden.low, g.hidden.high],
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
  if (g.finals.length > 0) {
    series.push({
      id: 'finals',
      type: 'scatter',
      data: g.finals,
      symbol: 'circle',
      symbolSize: 7,
      silent: true,
      tooltip: { show: false },
      emphasis: { disabled: true },
      z: 4,
    })
  }
  return series
}

/**
 * The axis tooltip's text: one row per curve, its (smoothed) value here, the raw value behind
 * it, and its final value; the nearest values first; names escaped (ECharts renders tooltip HTML).
 */
function lineTooltipText(
  curves: readonly Curve[],
  x: number,
  fmt: { xName: string; x: (v: number) => string; tip: (v: number) => string },
): string {
  const { tip } = fmt
  const rows = curves
    .map((cv) => {
      const i = nearest(cv.line, x)
      const y = cv.line.y[i]
      if (i < 0 || y === undefined || !Number.isFinite(y)) return null
      const raw = cv.raw?.y[nearest(cv.raw, x)]
      return { cv, y, raw }
    })
    .filter((r): r is { cv: Curve; y: number; raw: number | undefined } => r !== null)
    .sort((a, b) => b.y - a.y)
  const shown = rows.slice(0, TOOLTIP_ROWS).map(({ cv, y, raw }) => {
    const rawText =
      raw !== undefined && Number.isFinite(raw) && raw !== y
        ? ` <span style="opacity:.7">(raw ${tip(raw)})</span>`
        : ''
    const finalText = cv.final ? ` <span style="opacity:.7">· final ${tip(cv.final.y)}</span>` : ''
    return `${swatch(cv.color)}${escapeHtml(cv.name)}: <b>${tip(y)}</b>${rawText}${finalText}`
  })
  const more = rows.length > TOOLTIP_ROWS ? `<br>… and ${rows.length - TOOLTIP_ROWS} more` : ''
  return `${escapeHtml(fmt.xName)} ${fmt.x(x)}<br>${shown.join('<br>')}${more}`
}

/** The zoom: inside the plot (wheel and drag) and a slider under it, on one x window. */
function lineDataZoom(input: LineChartInput, xFmt: (v: number) => string, c: ChartColors) {
  if (!(input.zoomable ?? false)) return []
  const zoom = input.zoom ?? null
  const window = zoom ? { startValue: zoom.start, endValue: zoom.end } : { start: 0, end: 100 }
  return [
    { type: 'inside' as const, xAxisIndex: 0, filterMode: 'none' as const, ...window },
    {
      type: 'slider' as const,
      xAxisIndex: 0,
      filterMode: 'none' as const,
      height: 14,
      bottom: 6,
      borderColor: c.line,
      textStyle: { color: c.muted, fontSize: 10 },
      labelFormatter: (v: number) => xFmt(v),
      ...window,
    },
  ]
}

/** The x axis (a shared extent when given; whole-number labels for steps and epochs). */
function lineXAxis(input: LineChartInput, xFmt: (v: number) => string, c: ChartColors) {
  return {
    type: 'value' as const,
    name: input.xName,
    nameLocation: 'middle' as const,
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
  }
}

/** The y axis: linear or log (fitted to the data), labels with the decimals its span needs. */
function lineYAxis(
  input: LineChartInput,
  curves: readonly Curve[],
  range: { floor: number; ceiling: number },
  c: ChartColors,
) {
  const logY = input.logY ?? false
  const extent = input.yFormat || logY ? null : yExtent(curves)
  const decimals = extent ? axisDecimals(extent.min, extent.max) : 0
  const fmt = input.yFormat ?? ((v: number) => axisNumber(v, decimals))
  const { floor, ceiling } = range
  return {
    type: logY ? ('log' as const) : ('value' as const),
    name: input.yName,
    nameLocation: 'middle' as const,
    nameGap: 42,
    scale: true,
    ...(logY && Number.isFinite(floor) && ceiling > 0
      ? { min: floor / 1.15, max: ceiling * 1.15 }
      : {}),
    ...axisStyle(c),
    axisLabel: { color: c.muted, fontSize: 11, formatter: (v: number) => fmt(v) },
  }
}

export function lineChartOption(input: LineChartInput, c: ChartColors): ChartOption {
  // Curve names are run names, user text: shown with any invisible characters made visible.
  const curves = input.curves.map((cv) => ({ ...cv, name: visibleText(cv.name) }))
  const logY = input.logY ?? false
  const range = logRange(curves, logY)
  const shared = !input.seriesPerCurve && curves.length > MANY_CURVES
  const series = lineSeries(curves, { shared, logY, floor: range.floor }, c)
  const tip = input.valueFormat ?? input.yFormat ?? formatShortNumber
  const xFmt = (v: number): string =>
    input.xInteger ? Math.round(v).toLocaleString('en-US') : formatAxisNumber(v)
  return {
    ...base(c),
    grid: {
      left: 56,
      right: 16,
      top: input.showLegend ? 34 : 14,
      bottom: (input.zoomable ?? false) ? 62 : 36,
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
      formatter: (params) => {
        const list = Array.isArray(params) ? params : [params]
        const first = list[0] as { axisValue?: unknown } | undefined
        const x = typeof first?.axisValue === 'number' ? first.axisValue : Number(first?.axisValue)
        if (!Number.isFinite(x)) return ''
        return lineTooltipText(curves, x, { xName: input.xName, x: xFmt, tip })
      },
    },
    dataZoom: lineDataZoom(input, xFmt, c),
    xAxis: lineXAxis(input, xFmt, c),
    yAxis: lineYAxis(input, curves, range, c),
    series,
  }
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
