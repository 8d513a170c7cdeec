// The run-health classifier (src/shared/health.ts) on hand-made epochs at and around its margins.
import { describe, expect, it } from 'vitest'
import {
  CHANCE_ACC_MARGIN,
  CHANCE_LOSS_MARGIN,
  atChance,
  classifyHealth,
  gainNoise,
  moreEpochsEstimate,
  type HealthEpoch,
  type HealthInput,
} from '@shared/health'

const LN10 = Math.log(10)
/** An epoch; its test loss the train loss unless given. */
const e = (
  epoch: number,
  trainLoss: number,
  testAcc: number,
  testLoss = trainLoss,
): HealthEpoch => ({
  epoch,
  trainLoss,
  testLoss,
  testAcc,
})
const judge = (epochs: HealthEpoch[], over: Partial<HealthInput> = {}) =>
  classifyHealth({
    epochs,
    numClasses: 10,
    plannedEpochs: epochs.length,
    ended: true,
    testCount: 10_000,
    ...over,
  })

describe('classifyHealth: chance', () => {
  it('calls the measured plateau runs chance (loss 2.3026, accuracy 10–14.6%)', () => {
    expect(judge([e(1, 2.3026, 0.1)]).status).toBe('chance')
    expect(judge([e(1, 2.3026, 0.1), e(2, 2.3023, 0.131), e(3, 2.302, 0.1)]).status).toBe('chance')
    expect(judge([e(1, 2.3028, 0.1)]).status).toBe('chance')
    expect(judge([e(1, 2.3026, 0.1), e(2, 2.3026, 0.115), e(3, 2.3024, 0.146)]).status).toBe(
      'chance',
    )
    const h = judge([e(1, 2.3026, 0.1)])
    expect(h.reason).toContain('train loss 2.3026 and test loss 2.3026 ≈ ln 10')
    expect(h.reason).toContain('test accuracy 10.0%')
    expect(h.reason).toContain('lower train.lr')
    expect(h.moreEpochs).toBeNull()
  })

  it('does not call the measured learning first epochs chance (2.2854 / 18.3% … 2.2360 / 23.8%)', () => {
    expect(judge([e(1, 2.277, 0.247)]).status).not.toBe('chance')
    expect(judge([e(1, 2.236, 0.238)]).status).not.toBe('chance')
    expect(judge([e(1, 2.2856, 0.227)]).status).not.toBe('chance')
    expect(judge([e(1, 2.2854, 0.183)]).status).not.toBe('chance')
  })

  it('reads the test loss too: a run that left the plateau late in its epoch is not at chance', () => {
    // nin-c with a 1×1 class conv, epoch 1: the epoch's mean train loss still reads plateau.
    expect(atChance(e(1, 2.3016, 0.155, 2.291), 10)).toBe(false)
    expect(atChance(e(1, 2.3016, 0.155, 2.3017), 10)).toBe(true)
  })

  it('holds its margins exactly: loss ±0.2% of ln K and accuracy up to (1 + margin)/K', () => {
    const dl = CHANCE_LOSS_MARGIN * LN10
    const maxAcc = (1 + CHANCE_ACC_MARGIN) / 10
    expect(atChance(e(1, LN10 + dl * 0.99, 0.1), 10)).toBe(true)
    expect(atChance(e(1, LN10 - dl * 0.99, 0.1), 10)).toBe(true)
    expect(atChance(e(1, LN10 - dl * 1.01, 0.1), 10)).toBe(false)
    expect(atChance(e(1, LN10 + dl * 1.01, 0.1), 10)).toBe(false)
    expect(atChance(e(1, LN10, maxAcc - 0.001), 10)).toBe(true)
    expect(atChance(e(1, LN10, maxAcc + 0.001), 10)).toBe(false)
  })

  it('scales with the number of classes (CIFAR-100: ln 100, 1%)', () => {
    expect(atChance(e(1, Math.log(100), 0.01), 100)).toBe(true)
    expect(atChance(e(1, LN10, 0.1), 100)).toBe(false)
    expect(atChance(e(1, Math.log(100), 0.05), 100)).toBe(false)
  })

  it('judges the last epoch: a run that left the plateau is no longer at chance', () => {
    expect(judge([e(1, 2.3026, 0.1), e(2, 1.5, 0.6), e(3, 1.2, 0.6)]).status).toBe('ok')
  })

  it('reads a non-finite loss (stored as null) as not at chance', () => {
    expect(atChance(e(1, Number.NaN, 0.1), 10)).toBe(false)
  })

  it('is judged live, before the run ends', () => {
    expect(judge([e(1, 2.3026, 0.1)], { plannedEpochs: 10, ended: false }).status).toBe('chance')
  })
})

describe('classifyHealth: convergence', () => {
  it('pending with no epoch, and while a run that is not at chance still trains', () => {
    expect(judge([]).status).toBe('pending')
    const h = judge([e(1, 1.5, 0.6)], { plannedEpochs: 10, ended: false })
    expect(h.status).toBe('pending')
    expect(h.reason).toContain('epoch 1 of 10')
  })

  it('not-converged when the last gain exceeds the noise, with an estimate', () => {
    // The exercise 1: still rising steeply after 3 epochs.
    const h = judge([e(1, 1.9, 0.3), e(2, 1.2, 0.55), e(3, 0.9, 0.76)])
    expect(h.status).toBe('not-converged')
    expect(h.reason).toContain('rose 21.0 pp in epoch 3')
    expect(h.moreEpochs).toBeGreaterThanOrEqual(3)
  })

  it('ok when the last gain is within the noise (2 s.e. of a difference, at least 0.5 pp)', () => {
    expect(gainNoise(0.9, 10_000)).toBeCloseTo(2 * Math.sqrt((2 * 0.9 * 0.1) / 10_000), 6)
    // Unknown test count: the floor, 0.5 pp.
    const unknown = { testCount: null }
    expect(judge([e(1, 0.5, 0.85), e(2, 0.3, 0.856)], unknown).status).toBe('not-converged')
    expect(judge([e(1, 0.5, 0.85), e(2, 0.3, 0.854)], unknown).status).toBe('ok')
    // 1,000 test images at 85%: noise 2·√(2·0.85·0.15/1000) = 3.2 pp.
    expect(judge([e(1, 0.5, 0.82), e(2, 0.3, 0.85)], { testCount: 1000 }).status).toBe('ok')
    expect(judge([e(1, 0.5, 0.81), e(2, 0.3, 0.85)], { testCount: 1000 }).status).toBe(
      'not-converged',
    )
    expect(judge([e(1, 0.5, 0.9), e(2, 0.3, 0.88)]).status).toBe('ok')
  })

  it('a one-epoch run that learned is not converged (before training, accuracy is 1/K)', () => {
    expect(judge([e(1, 1.2, 0.6)]).status).toBe('not-converged')
  })

  it('noise grows on a small test set', () => {
    expect(gainNoise(0.5, 1000)).toBeCloseTo(2 * Math.sqrt(0.5 / 1000), 6)
    expect(gainNoise(0.99, 1e9)).toBe(0.005)
    expect(gainNoise(0.5, null)).toBe(0.005)
  })
})

describe('moreEpochsEstimate', () => {
  it('extrapolates shrinking gains geometrically', () => {
    // gains 0.2 then 0.1 (r = 0.5): 0.05, 0.025, 0.0125, 0.00625 < 0.01 after 4 more epochs.
    expect(moreEpochsEstimate([0.2, 0.1], 0.01, 2)).toBe(4)
  })
  it('without shrinking gains: at least as many epochs again, capped at 10×', () => {
    expect(moreEpochsEstimate([0.5], 0.01, 1)).toBe(1)
    expect(moreEpochsEstimate([0.1, 0.1, 0.2], 0.01, 3)).toBe(3)
    expect(moreEpochsEstimate([0.3, 0.2999], 1e-9, 2)).toBe(2)
    expect(moreEpochsEstimate([0.3, 0.1], 1e-12, 2)).toBe(20)
  })
})
