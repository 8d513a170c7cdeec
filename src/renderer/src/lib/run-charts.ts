/**
 * The run page's curves from its metric series: training loss per step (smoothed over the faded
 * raw line), and train against test per epoch for loss and accuracy.
 */
import type { MetricSample } from '@shared/api/types'
import { PALETTE } from '@shared/colors'
import { METRICS, type MetricName } from '@shared/metrics'
import { alignSamples, ema } from '@shared/smoothing'
import type { Curve } from './charts'
import { finalPoint } from './compare'

export type RunSeries = Partial<Record<MetricName, readonly MetricSample[]>>

export const TRAIN_COLOR = PALETTE[0]
export const TEST_COLOR = PALETTE[1]

const of = (series: RunSeries, name: MetricName): readonly MetricSample[] => series[name] ?? []

export function stepLossCurves(series: RunSeries, smoothing: number): Curve[] {
  const raw = alignSamples(of(series, METRICS.stepLoss), 'step')
  return [
    {
      id: 'step-loss',
      name: 'train loss (step)',
      color: TRAIN_COLOR,
      line: { x: raw.x, y: ema(raw.y, smoothing) },
      raw: smoothing > 0 ? raw : undefined,
      final: finalPoint(raw),
    },
  ]
}

function trainVsTest(
  series: RunSeries,
  trainName: MetricName,
  testName: MetricName,
  what: string,
): Curve[] {
  const train = alignSamples(of(series, trainName), 'epoch')
  const test = alignSamples(of(series, testName), 'epoch')
  return [
    {
      id: 'train',
      name: `train ${what}`,
      color: TRAIN_COLOR,
      line: train,
      dashed: true,
      final: finalPoint(train),
    },
    {
      id: 'test',
      name: `test ${what}`,
      color: TEST_COLOR,
      line: test,
      final: finalPoint(test),
    },
  ]
}

export const epochLossCurves = (series: RunSeries): Curve[] =>
  trainVsTest(series, METRICS.trainLoss, METRICS.testLoss, 'loss')

export const epochAccCurves = (series: RunSeries): Curve[] =>
  trainVsTest(series, METRICS.trainAcc, METRICS.testAcc, 'accuracy')
