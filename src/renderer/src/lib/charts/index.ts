/**
 * ECharts, tree-shaken to what the dashboard draws, and the option builders for its charts, one
 * module per series kind (line curves, bars, the confusion heatmap, the scatter, parallel
 * coordinates) over the shared parts (theme.ts: base option, axis and tooltip styles, number
 * formats) and the picture export. Builders are pure (data + theme colours in, option out), so
 * chart components stay small and an SVG or PNG export can render the very same option again,
 * off screen.
 */
// The registration of what ECharts draws: a side effect every chart needs before it renders.
import './echarts'

export type { ChartOption } from './echarts'
export { formatAxisNumber, formatShortNumber } from './theme'
export {
  MANY_CURVES,
  curvesXExtent,
  lineChartOption,
  type Curve,
  type LineChartInput,
} from './line'
export { barChartOption, type BarInput } from './bar'
export { confusionOption, type HeatmapInput } from './confusion'
export { scatterOption, type ScatterPoint } from './scatter'
export { parallelOption, type ParallelAxis, type ParallelLine } from './parallel'
export { exportOption } from './export'
