/**
 * Report charts as SVG, drawn in Node by ECharts' server-side renderer — the same library as the
 * app's charts, so a report looks like the dashboard. Colours are the runs' colours in the app.
 */
import * as echarts from 'echarts'
import { runColors } from '@shared/colors'
import { displayNames } from '@shared/comparison'
import { pctTick } from '@shared/format'
import { METRICS } from '@shared/metrics'
import type { Report } from '@shared/report'
import { visibleText } from '@shared/security'

export interface ReportChart {
  readonly id: string
  readonly title: string
  readonly svg: string
}

const WIDTH = 760
const HEIGHT = 360
/** The legend lists the runs to the right of the plot, one a line: never over the curves. */
const LEGEND_WIDTH = 190
const LEGEND_LINE = 18
const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif'

/** Taller charts for long legends, so every run keeps its line. */
const heightFor = (entries: number): number => Math.max(HEIGHT, 70 + entries * LEGEND_LINE)

/** Names that fit the legend's column (the full name is in the tables). */
const legendName = (name: string): string =>
  name.length > 26 ? `${name.slice(0, 12)}…${name.slice(-13)}` : name

function render(option: echarts.EChartsOption, height = HEIGHT): string {
  const chart = echarts.init(null, null, {
    renderer: 'svg',
    ssr: true,
    width: WIDTH,
    height,
  })
  chart.setOption({
    animation: false,
    textStyle: { fontFamily: FONT },
    backgroundColor: '#ffffff',
    ...option,
  })
  const svg = chart.renderToSVGString()
  chart.dispose()
  // ECharts adds CDATA style blocks for hover effects, useless in a static report and parsed
  // inconsistently by HTML tools (CDATA is only meaningful in XML).
  return svg.replace(/<style[^>]*>\s*<!\[CDATA\[[\s\S]*?\]\]>\s*<\/style>/g, '')
}

interface LineChart {
  readonly option: echarts.EChartsOption
  readonly height: number
}

function lines(
  report: Report,
  title: string,
  metric: string,
  x: 'step' | 'epoch',
  yName: string,
  percent = false,
): LineChart | null {
  const colors = runColors(report.runs.map((r) => r.id))
  const names = displayNames(report.runs)
  const series = report.runs
    .map((run) => ({
      type: 'line' as const,
      name: visibleText(names.get(run.id) ?? run.name),
      showSymbol: x === 'epoch',
      symbolSize: 5,
      color: colors.get(run.id),
      lineStyle: { width: 1.5 },
      data: (run.metrics[metric] ?? [])
        .filter((p) => Number.isFinite(p.value))
        .map((p) => [p[x], p.value]),
    }))
    .filter((s) => s.data.length > 0)
  if (series.length === 0) return null
  const height = heightFor(series.length)
  return {
    height,
    option: {
      title: { text: title, left: 8, textStyle: { fontSize: 14 } },
      legend: {
        type: 'plain',
        orient: 'vertical',
        right: 8,
        top: 40,
        itemGap: 4,
        itemHeight: 10,
        textStyle: { fontSize: 11, width: LEGEND_WIDTH - 40, overflow: 'truncate' },
        formatter: (name: string) => legendName(name),
      },
      grid: { left: 64, right: LEGEND_WIDTH + 16, top: 40, bottom: 48 },
      xAxis: { type: 'value', name: x, nameLocation: 'middle', nameGap: 26, minInterval: 1 },
      yAxis: {
        type: 'value',
        name: yName,
        nameLocation: 'middle',
        nameGap: 48,
        scale: true,
        axisLabel: percent ? { formatter: (v: number) => pctTick(v) } : {},
      },
      series,
    },
  }
}

export function reportCharts(report: Report): ReportChart[] {
  const charts: ReportChart[] = []
  const add = (id: string, title: string, chart: LineChart | null): void => {
    if (chart) charts.push({ id, title, svg: render(chart.option, chart.height) })
  }
  add(
    'train-loss',
    'Training loss per step',
    lines(report, 'Training loss per step', METRICS.stepLoss, 'step', 'loss'),
  )
  add(
    'test-acc',
    'Test accuracy per epoch',
    lines(report, 'Test accuracy per epoch', METRICS.testAcc, 'epoch', 'test accuracy', true),
  )
  add(
    'test-loss',
    'Test loss per epoch',
    lines(report, 'Test loss per epoch', METRICS.testLoss, 'epoch', 'loss'),
  )

  const colors = runColors(report.runs.map((r) => r.id))
  const points = report.runs.filter((r) => r.finalTestAcc !== null)
  if (points.length > 0) {
    // Linear x: NiN variants differ by tens of percent in parameters, which a log axis crams into
    // a sliver; labels name each point, moved apart where they would overlap.
    add('params-acc', 'Parameters vs final test accuracy', {
      height: HEIGHT,
      option: {
        title: { text: 'Parameters vs final test accuracy', left: 8, textStyle: { fontSize: 14 } },
        grid: { left: 64, right: 120, top: 40, bottom: 48 },
        xAxis: {
          type: 'value',
          name: 'parameters',
          nameLocation: 'middle',
          nameGap: 28,
          scale: true,
          axisLabel: { formatter: (v: number) => formatCount(v) },
        },
        yAxis: {
          type: 'value',
          name: 'final test accuracy',
          nameLocation: 'middle',
          nameGap: 48,
          scale: true,
          axisLabel: { formatter: (v: number) => pctTick(v) },
        },
        labelLayout: { hideOverlap: true, moveOverlap: 'shiftY' },
        series: points.map((r) => ({
          type: 'scatter' as const,
          name: visibleText(r.name),
          color: colors.get(r.id),
          symbolSize: 10,
          data: [[r.params, r.finalTestAcc]],
          // A function, not the name as a template: ECharts would expand {a}, {b}, … in it.
          label: {
            show: true,
            position: 'right',
            formatter: () => visibleText(r.name),
            fontSize: 10,
          },
        })),
      },
    })
  }
  return charts
}

/** 1,992,166 → "1.99M", 148,390 → "148k". */
function formatCount(v: number): string {
  const a = Math.abs(v)
  if (a >= 1e6) return `${+(v / 1e6).toFixed(2)}M`
  if (a >= 1e3) return `${+(v / 1e3).toFixed(1)}k`
  return String(v)
}
