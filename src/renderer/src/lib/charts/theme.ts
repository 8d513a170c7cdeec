/**
 * What every chart shares: the base option, the axis and tooltip styles in the theme's colours,
 * the tooltip swatch, and the number formats of axes and tooltips.
 */
import { tickDecimals } from '@shared/format'
import { escapeHtml } from '@shared/security'
import type { ChartColors } from '../chart-colors'

export const base = (c: ChartColors) => ({
  animation: false,
  backgroundColor: 'transparent',
  textStyle: { color: c.text, fontSize: 11 },
})

export const axisStyle = (c: ChartColors) => ({
  axisLine: { lineStyle: { color: c.line } },
  axisTick: { lineStyle: { color: c.line } },
  axisLabel: { color: c.muted, fontSize: 11 },
  splitLine: { lineStyle: { color: c.grid } },
  nameTextStyle: { color: c.muted, fontSize: 11 },
})

export const tooltipStyle = (c: ChartColors) => ({
  backgroundColor: c.tooltip,
  borderColor: c.line,
  textStyle: { color: c.text, fontSize: 11 },
  confine: true,
})

export const swatch = (color: string): string =>
  `<span style="display:inline-block;width:8px;height:8px;border-radius:2px;margin-right:5px;background:${escapeHtml(color)}"></span>`

/**
 * Short axis numbers: 0.0123, 1.5, 12,000 → 12k. Below 10,000 a tick gets the decimals its own
 * value needs: ticks 0.0002 apart near the ln 10 plateau read 2.3024, 2.3026, never "2.3" twice.
 */
export function formatAxisNumber(v: number): string {
  return axisNumber(v, 0)
}

/** formatAxisNumber with at least `decimals` decimals (an axis's, from its span). */
export function axisNumber(v: number, decimals: number): string {
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
