// The run log's one-line text for trainer messages (src/renderer/src/lib/events.ts).
import { describe, expect, it } from 'vitest'
import { describeMessage } from '@renderer/lib/events'
import type { EpochMessage } from '@shared/protocol/trainer'

const epoch = (extra: Partial<EpochMessage> = {}): EpochMessage => ({
  type: 'epoch',
  runId: 'r1',
  time: 0,
  epoch: 1,
  step: 20,
  trainLoss: 1.2345,
  trainAcc: 0.5,
  testLoss: 1.5,
  testAcc: 0.45,
  seconds: 12.3,
  examplesPerSec: 52,
  memory: { rssBytes: 1, tensorBytes: 1, tensors: 1 },
  ...extra,
})

describe('describeMessage', () => {
  it('says how long a compiled epoch waited for the compiler, apart from its step time', () => {
    expect(describeMessage(epoch())).not.toContain('compiling')
    expect(describeMessage(epoch({ compileSeconds: 148.58 }))).toMatch(
      /12\.3 s, 52(\.0)? img\/s \(\+ 148\.6 s compiling\)$/,
    )
  })
})
