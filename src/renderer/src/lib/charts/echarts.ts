/**
 * ECharts, tree-shaken to what the dashboard draws (registered once, on first import), and the
 * option type every builder returns.
 */
import {
  BarChart,
  HeatmapChart,
  LineChart,
  LinesChart,
  ParallelChart,
  ScatterChart,
  type BarSeriesOption,
  type HeatmapSeriesOption,
  type LineSeriesOption,
  type LinesSeriesOption,
  type ParallelSeriesOption,
  type ScatterSeriesOption,
} from 'echarts/charts'
import {
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  ParallelComponent,
  TitleComponent,
  TooltipComponent,
  VisualMapComponent,
  type DataZoomComponentOption,
  type GridComponentOption,
  type LegendComponentOption,
  type TitleComponentOption,
  type TooltipComponentOption,
  type VisualMapComponentOption,
} from 'echarts/components'
import { LabelLayout } from 'echarts/features'
import { use, type ComposeOption } from 'echarts/core'
import { CanvasRenderer, SVGRenderer } from 'echarts/renderers'

use([
  LineChart,
  LinesChart,
  BarChart,
  ScatterChart,
  HeatmapChart,
  ParallelChart,
  GridComponent,
  LegendComponent,
  TooltipComponent,
  VisualMapComponent,
  DataZoomComponent,
  ParallelComponent,
  TitleComponent,
  LabelLayout,
  CanvasRenderer,
  SVGRenderer,
])

export type ChartOption = ComposeOption<
  | LineSeriesOption
  | LinesSeriesOption
  | BarSeriesOption
  | ScatterSeriesOption
  | HeatmapSeriesOption
  | ParallelSeriesOption
  | GridComponentOption
  | LegendComponentOption
  | TooltipComponentOption
  | VisualMapComponentOption
  | DataZoomComponentOption
  | TitleComponentOption
>
