/**
 * The charts' colours per theme, below the theme store (which picks the theme) so that the chart
 * option builders in lib/ need no store.
 */
/** Colours the charts draw with, per theme (ECharts cannot read CSS variables). */
export interface ChartColors {
  readonly text: string
  readonly muted: string
  readonly line: string
  readonly grid: string
  readonly background: string
  readonly tooltip: string
}

export const CHART_COLORS: Record<'light' | 'dark', ChartColors> = {
  light: {
    text: '#1b1f24',
    muted: '#5b6470',
    line: '#c9d0d8',
    grid: '#eceff3',
    background: '#ffffff',
    tooltip: '#ffffff',
  },
  dark: {
    text: '#e6e9ed',
    muted: '#98a2ae',
    line: '#3a424d',
    grid: '#242a32',
    background: '#15181d',
    tooltip: '#1c2027',
  },
}
