/** A chart's option made into a picture that explains itself (title, legend, background). */
import type { GridComponentOption } from 'echarts/components'
import type { ChartColors } from '../chart-colors'
import type { ChartOption } from './echarts'

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
