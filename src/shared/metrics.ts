/**
 * Metric names and how they come out of trainer messages: the one place that decides what a
 * "train/loss" point is, for the run log, the store and the charts alike.
 */
import type { TrainerMessage } from './protocol/trainer'

export const METRICS = {
  stepLoss: 'train/step_loss',
  stepAcc: 'train/step_acc',
  stepThroughput: 'train/step_examples_per_sec',
  trainLoss: 'train/loss',
  trainAcc: 'train/acc',
  testLoss: 'test/loss',
  testAcc: 'test/acc',
  epochSeconds: 'epoch/seconds',
  epochThroughput: 'epoch/examples_per_sec',
  rssBytes: 'memory/rss_bytes',
} as const

export type MetricName = (typeof METRICS)[keyof typeof METRICS]

/** Every metric name, for validating requests. */
export const METRIC_NAMES = Object.values(METRICS) as readonly MetricName[]

export interface MetricPoint {
  readonly name: MetricName
  readonly step: number
  readonly epoch: number
  /** Unix time in milliseconds. */
  readonly time: number
  readonly value: number
}

/** The metric points a message carries (none for messages that are not measurements). */
export function metricPoints(m: TrainerMessage): MetricPoint[] {
  const at = (name: MetricName, value: number, step: number, epoch: number): MetricPoint => ({
    name,
    step,
    epoch,
    time: m.time,
    value,
  })
  switch (m.type) {
    case 'step':
      return [
        at(METRICS.stepLoss, m.loss, m.step, m.epoch),
        at(METRICS.stepAcc, m.acc, m.step, m.epoch),
        at(METRICS.stepThroughput, m.examplesPerSec, m.step, m.epoch),
      ]
    case 'epoch':
      return [
        at(METRICS.trainLoss, m.trainLoss, m.step, m.epoch),
        at(METRICS.trainAcc, m.trainAcc, m.step, m.epoch),
        at(METRICS.testLoss, m.testLoss, m.step, m.epoch),
        at(METRICS.testAcc, m.testAcc, m.step, m.epoch),
        at(METRICS.epochSeconds, m.seconds, m.step, m.epoch),
        at(METRICS.epochThroughput, m.examplesPerSec, m.step, m.epoch),
        at(METRICS.rssBytes, m.memory.rssBytes, m.step, m.epoch),
      ]
    default:
      return []
  }
}
