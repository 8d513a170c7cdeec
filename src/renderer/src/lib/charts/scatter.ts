/** The scatter: one labelled point per run (parameters against accuracy). */
import { escapeHtml, visibleText } from '@shared/security'
import type { ChartColors } from '../chart-colors'
import type { ChartOption } from './echarts'
import { axisStyle, base, formatAxisNumber, tooltipStyle } from './theme'

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
