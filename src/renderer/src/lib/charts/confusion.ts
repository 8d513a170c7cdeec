/** The confusion matrix: a heatmap of true class × predicted class. */
import { escapeHtml, visibleText } from '@shared/security'
import type { ChartColors } from '../chart-colors'
import type { ChartOption } from './echarts'
import { axisStyle, base, tooltipStyle } from './theme'

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
