// The epoch message's machine load: optional (older trainers and stored runs still parse), and
// when present checked at the core's door like every other field.
import { describe, expect, it } from 'vitest'
import { checkTrainerMessage, epochSummary, type EpochMessage } from '@shared/protocol/trainer'
import { loadText } from '@shared/format'

const epoch = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: 'epoch',
  runId: 'r1',
  time: 1,
  epoch: 1,
  step: 10,
  trainLoss: 1,
  trainAcc: 0.5,
  testLoss: 1,
  testAcc: 0.5,
  seconds: 3,
  examplesPerSec: 100,
  memory: { rssBytes: 1, tensorBytes: 1, tensors: 1 },
  ...extra,
})

describe('epoch message load', () => {
  it('parses without a load (an older trainer) and keeps none in the summary', () => {
    const m = checkTrainerMessage(epoch(), 'r1') as EpochMessage
    expect(m.load).toBeUndefined()
    expect('load' in epochSummary(m)).toBe(false)
  })

  it('carries a load into the epoch summary', () => {
    const m = checkTrainerMessage(epoch({ load: { loadAvg1: 1.93, cpus: 2 } }), 'r1')
    expect(epochSummary(m as EpochMessage).load).toEqual({ loadAvg1: 1.93, cpus: 2 })
    expect(loadText({ loadAvg1: 1.93, cpus: 2 })).toBe('load 1.9 on 2 CPUs')
    expect(loadText(undefined)).toBe('–')
  })

  it.each([
    ['a number', 3],
    ['no cpus', { loadAvg1: 1 }],
    ['a negative load', { loadAvg1: -1, cpus: 2 }],
    ['a string', { loadAvg1: '1', cpus: 2 }],
    ['an array', [1, 2]],
  ])('refuses a load that is %s', (_why, load) => {
    expect(() => checkTrainerMessage(epoch({ load }), 'r1')).toThrow(/load must be/)
  })
})
