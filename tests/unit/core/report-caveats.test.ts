// The caveat lines a report prints under a run's heading: health and linked-from.
import { describe, expect, it } from 'vitest'
import { runCaveats } from '@core/reports/tables'
import type { ReportRun } from '@shared/report'

const run = (over: Partial<ReportRun>): ReportRun => ({ ...({} as ReportRun), ...over })

describe('runCaveats', () => {
  it('names a chance or unconverged run with its reason, and a linked run with its source', () => {
    expect(
      runCaveats(
        run({
          health: { status: 'chance', reason: 'train loss 2.3026 ≈ ln 10', moreEpochs: null },
          linkedFrom: { runId: 'rabc', experiment: 'ex <1>', trainedAt: Date.UTC(2026, 11, 7) },
        }),
      ),
    ).toEqual([
      'at chance: train loss 2.3026 ≈ ln 10',
      'linked from experiment ex <1> (run rabc), trained 2026-12-07 (not trained again)',
    ])
  })
  it('says nothing of a healthy run, nor of one from a report without health', () => {
    expect(runCaveats(run({ health: { status: 'ok', reason: 'fine', moreEpochs: null } }))).toEqual(
      [],
    )
    expect(runCaveats(run({}))).toEqual([])
  })
})
