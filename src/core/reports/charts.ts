/**
 * Report charts as SVG, drawn in Node by ECharts' server-side renderer — the same library as the
 * app's charts, so a report looks like the dashboard. Colours are the runs' colours in the app.
 */
import * as echarts from 'echarts'
import { runColors } from '@shared/colors'
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
const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif'

function render(option: echarts.EChartsOption): string {
  const chart = echarts.init(null, null, {
    renderer: 'svg',
    ssr: true,
    width: WIDTH,
    height: HEIGHT,
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

function lines(
  report: Report,
  title: string,
  metric: string,
  x: 'step' | 'epoch',
  yName: string,
): echarts.EChartsOption | null {
  const colors = runColors(report.runs.map((r) => r.id))
  const series = report.runs
    .map((run) => ({
      type: 'line' as const,
      name: visibleText(run.name),
      showSymbol: x === 'epoch',
      color: colors.get(run.id),
      lineStyle: { width: 1.5 },
      data: (run.metrics[metric] ?? [])
        .filter((p) => Number.isFinite(p.value))
        .map((p) => [p[x], p.value]),
    }))
    .filter((s) => s.data.length > 0)
  if (series.length === 0) return null
  return {
    title: { text: title, left: 8, textStyle: { fontSize: 14 } },
    legend: { type: 'scroll', bottom: 0 },
    grid: { left: 64, right: 24, top: 40, bottom: 64 },
    xAxis: { type: 'value', name: x, nameLocation: 'middle', nameGap: 26, minInterval: 1 },
    yAxis: { type: 'value', name: yName, nameLocation: 'middle', nameGap: 44, scale: true },
    series,
  }
}

export function reportCharts(report: Report): ReportChart[] {
  const charts: ReportChart[] = []
  const add = (id: string, title: string, option: echarts.EChartsOption | null): void => {
    if (option) charts.push({ id, title, svg: render(option) })
  }
  add(
    'train-loss',
    'Training loss per step',
    lines(report, 'Training loss per step', METRICS.stepLoss, 'step', 'loss'),
  )
  add(
    'test-acc',
    'Test accuracy per epoch',
    lines(report, 'Test accuracy per epoch', METRICS.testAcc, 'epoch', 'accuracy'),
  )
  add(
    'test-loss',
    'Test loss per epoch',
    lines(report, 'Test loss per epoch', METRICS.testLoss, 'epoch', 'loss'),
  )

  const colors = runColors(report.runs.map((r) => r.id))
  const points = report.runs.filter((r) => r.finalTestAcc !== null)
  if (points.length > 0) {
    add('params-acc', 'Parameters vs final test accuracy', {
      title: { text: 'Parameters vs final test accuracy', left: 8, textStyle: { fontSize: 14 } },
      grid: { left: 64, right: 24, top: 40, bottom: 48 },
      xAxis: { type: 'log', name: 'parameters', nameLocation: 'middle', nameGap: 28 },
      yAxis: {
        type: 'value',
        name: 'final test accuracy',
        nameLocation: 'middle',
        nameGap: 44,
        scale: true,
      },
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
    })
  }
  return charts
}
