/** Parallel coordinates: config fields → results, one line per run. */
import { escapeHtml, visibleText } from '@shared/security'
import type { ChartColors } from '../chart-colors'
import type { ChartOption } from './echarts'
import { base, formatAxisNumber, tooltipStyle } from './theme'

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
