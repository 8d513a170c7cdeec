/**
 * How the app shows each metric: its label, whether it is recorded per step (noisy: smoothing
 * helps) or per epoch (a few points: drawn as they are), its y axis name and number format.
 */
import { bytes, duration, pct, pctTick } from '@shared/format'
import { METRICS, METRIC_NAMES, type MetricName } from '@shared/metrics'
import { formatAxisNumber } from './charts'

export interface MetricInfo {
  readonly label: string
  /** One point per training step (thousands, noisy); else one per epoch. */
  readonly perStep: boolean
  readonly yName: string
  /** Axis labels. */
  readonly format?: (v: number) => string
  /** Values in tooltips (more digits than the axis needs). */
  readonly valueFormat?: (v: number) => string
}

const seconds = (v: number): string => duration(v)

export const METRIC_INFO: Readonly<Record<MetricName, MetricInfo>> = {
  [METRICS.stepLoss]: { label: 'Training loss (per step)', perStep: true, yName: 'loss' },
  [METRICS.stepAcc]: {
    label: 'Training accuracy (per step)',
    perStep: true,
    yName: 'accuracy',
    format: pctTick,
    valueFormat: (v) => pct(v),
  },
  [METRICS.stepThroughput]: {
    label: 'Images/s (per step)',
    perStep: true,
    yName: 'images/s',
    format: formatAxisNumber,
  },
  [METRICS.trainLoss]: { label: 'Training loss (per epoch)', perStep: false, yName: 'loss' },
  [METRICS.trainAcc]: {
    label: 'Training accuracy (per epoch)',
    perStep: false,
    yName: 'accuracy',
    format: pctTick,
    valueFormat: (v) => pct(v),
  },
  [METRICS.testLoss]: { label: 'Test loss (per epoch)', perStep: false, yName: 'loss' },
  [METRICS.testAcc]: {
    label: 'Test accuracy (per epoch)',
    perStep: false,
    yName: 'accuracy',
    format: pctTick,
    valueFormat: (v) => pct(v),
  },
  [METRICS.epochSeconds]: {
    label: 'Seconds per epoch',
    perStep: false,
    yName: 'seconds',
    format: seconds,
  },
  [METRICS.epochThroughput]: {
    label: 'Images/s (per epoch)',
    perStep: false,
    yName: 'images/s',
    format: formatAxisNumber,
  },
  [METRICS.rssBytes]: {
    label: 'Memory (RSS, per epoch)',
    perStep: false,
    yName: 'RSS',
    format: bytes,
  },
}

/** The metrics a chart can show, in the picker's order. */
export const CHARTABLE_METRICS: readonly MetricName[] = METRIC_NAMES

export const isMetricName = (v: unknown): v is MetricName =>
  typeof v === 'string' && (METRIC_NAMES as readonly string[]).includes(v)

/** The charts Compare starts with. */
export const DEFAULT_CHARTS: readonly MetricName[] = [
  METRICS.stepLoss,
  METRICS.testAcc,
  METRICS.testLoss,
  METRICS.trainAcc,
]
