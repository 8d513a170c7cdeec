/** The bar chart: one value per category (per-class accuracy). */
import { visibleText } from '@shared/security'
import type { ChartColors } from '../chart-colors'
import type { ChartOption } from './echarts'
import { axisStyle, base, formatAxisNumber, tooltipStyle } from './theme'

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
