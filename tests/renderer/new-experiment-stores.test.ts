// @vitest-environment happy-dom
/**
 * The New experiment page's stores, each owning one part: draft, cost, grid, estimate and
 * submission. Over the real api module and a fake transport (helpers.ts).
 */
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { EpochEstimate } from '@shared/api/contract'
import { ApiError } from '@shared/api/contract'
import { layerTable } from '@shared/architecture'
import { setTransport } from '@renderer/api'
import { useCostStore } from '@renderer/stores/cost'
import { useDraftStore } from '@renderer/stores/draft'
import { useEstimateStore } from '@renderer/stores/estimate'
import { useGridStore } from '@renderer/stores/grid'
import { useRunsStore } from '@renderer/stores/runs'
import { useSubmissionStore } from '@renderer/stores/submission'
import { config, fakeTransport, flush, makeRun, type FakeTransport } from './helpers'

const STORAGE_KEY = 'ninLab.newExperiment'
const stored = (): Record<string, unknown> =>
  JSON.parse(window.localStorage.getItem(STORAGE_KEY) ?? '{}') as Record<string, unknown>

const estimateOf = (secondsPerEpoch: number, detail: string): EpochEstimate => ({
  secondsPerEpoch,
  imagesPerSecond: 1000,
  basis: 'history',
  backend: 'wasm',
  detail,
})

let transport: FakeTransport
/** What estimateEpoch answers; a function may hold its answer back. */
let estimateAnswer: () => EpochEstimate | Promise<EpochEstimate>

beforeEach(() => {
  window.localStorage.clear()
  estimateAnswer = () => estimateOf(60, 'from 3 finished runs')
  transport = fakeTransport({
    estimateEpoch: () => estimateAnswer(),
    measureEpoch: () => ({ ...estimateOf(90, 'timed 20 steps'), basis: 'measured' }),
    addRuns: (p) => {
      if (p.experiment === 'refused') {
        throw new ApiError('invalid-config', 'config is invalid (1 problem)', [
          { path: 'train.lr', message: 'train.lr must be at most 10 (got 50)' },
        ])
      }
      return { added: [makeRun({ id: 'new1', experiment: p.experiment })], skipped: 2, linked: [] }
    },
  })
  setTransport(transport)
  setActivePinia(createPinia())
})
afterEach(() => {
  vi.useRealTimers()
  setTransport(null)
})

/** A fresh app (new pinia) reading what the last one saved, as after a reload. */
const reload = (): void => {
  setActivePinia(createPinia())
}

describe('saving between reloads', () => {
  it('loads a page saved before the stores were split into every store', () => {
    window.localStorage.setItem(
      STORAGE_KEY,
      JSON.stringify({
        preset: 'small-28',
        draft: config({ name: 'older', model: { microConvs: 3 } }),
        axes: [{ path: 'model.head', text: 'gap,fc' }],
        seeds: 3,
        experimentName: 'from before',
      }),
    )
    const draft = useDraftStore()
    const grid = useGridStore()
    expect(draft.preset).toBe('small-28')
    expect(draft.valueAt('model.microConvs')).toBe(3)
    expect(grid.axes.map((a) => [a.path, a.text])).toEqual([['model.head', 'gap,fc']])
    expect(grid.seeds).toBe(3)
    expect(useSubmissionStore().experimentName).toBe('from before')
  })

  it('keeps every store’s fields when one of them saves', async () => {
    const draft = useDraftStore()
    const grid = useGridStore()
    const submission = useSubmissionStore()
    draft.setField('model.microConvs', 1)
    await flush()
    grid.addAxis('model.head', 'gap,fc')
    grid.seeds = 2
    await flush()
    submission.experimentName = 'kept'
    await flush()
    expect(stored()).toMatchObject({
      preset: 'd2l',
      axes: [{ path: 'model.head', text: 'gap,fc' }],
      seeds: 2,
      experimentName: 'kept',
    })

    reload()
    expect(useDraftStore().valueAt('model.microConvs')).toBe(1)
    expect(useGridStore().grid.count).toBe(4)
    expect(useSubmissionStore().experimentName).toBe('kept')
  })

  it('ignores a saved entry it cannot read', () => {
    window.localStorage.setItem(STORAGE_KEY, '{not json')
    expect(useDraftStore().preset).toBe('d2l')
    expect(useGridStore().axes).toEqual([])
  })
})

describe('draft and cost', () => {
  it('shows the layer table while a training field is invalid, and the totals once it is not', async () => {
    const draft = useDraftStore()
    const cost = useCostStore()
    draft.setField('train.lr', -1)
    expect(draft.config).toBeNull()
    expect(draft.issues.map((i) => i.path)).toEqual(['train.lr'])
    expect(cost.layers).toHaveLength(17)
    expect(cost.totals).toBeNull()
    draft.setField('train.lr', 0.05)
    expect(cost.totals?.params).toBe(1_992_166)
  })

  it('says why a model has no layer table', () => {
    useDraftStore().setField('model.inputSize', 32)
    expect(useCostStore().layers).toBeNull()
    expect(useCostStore().error).toContain('too small')
  })

  it('lists issues the form cannot place next to a field apart', () => {
    const draft = useDraftStore()
    draft.setField('model.microConvs', 5)
    draft.setField('extra', 1)
    expect(draft.looseIssues.map((i) => i.path)).toEqual(['extra'])
  })
})

describe('grid', () => {
  it('adds axes on unused fields, ticks values in the field’s order, and re-points an axis', () => {
    const grid = useGridStore()
    grid.addNextAxis()
    grid.addNextAxis()
    expect(grid.axes.map((a) => [a.path, a.text])).toEqual([
      ['model.microConvs', '0,1,2,3'],
      ['model.head', 'gap,fc'],
    ])
    const [micro, head] = grid.axes
    grid.toggleAxisValue(micro?.key ?? -1, 0, false)
    grid.toggleAxisValue(micro?.key ?? -1, 2, false)
    grid.toggleAxisValue(micro?.key ?? -1, 0, true)
    expect(grid.axes[0]?.text).toBe('0,1,3')

    grid.changeAxisPath(head?.key ?? -1, 'train.lr')
    // A number field starts from the draft's value.
    expect(grid.axes[1]).toMatchObject({ path: 'train.lr', text: '0.05' })
    expect(grid.grid.count).toBe(3)
  })

  it('expands over the draft as it is now', () => {
    const draft = useDraftStore()
    const grid = useGridStore()
    draft.choosePreset('small-28')
    grid.addAxis('model.microConvs', '1,2')
    draft.setField('model.head', 'fc')
    expect(grid.grid.configs.map((c) => [c.model.microConvs, c.model.head])).toEqual([
      [1, 'fc'],
      [2, 'fc'],
    ])
  })

  it('puts each problem next to its axis, and the others apart', () => {
    const grid = useGridStore()
    grid.addAxis('model.inputSize', '224,8')
    expect(grid.grid.configs).toEqual([])
    expect(grid.issuesFor('model.inputSize')).toEqual([
      expect.stringContaining('grid axis model.inputSize=8'),
    ])
    expect(grid.otherIssues).toEqual([])
    grid.seeds = 0
    expect(grid.otherIssues).toEqual(['seeds must be an integer from 1 to 100'])
  })
})

describe('estimate', () => {
  it('asks once typing pauses, and prices each grid variant by its compute', async () => {
    vi.useFakeTimers()
    const draft = useDraftStore()
    const grid = useGridStore()
    const estimate = useEstimateStore()
    draft.choosePreset('small-28')
    draft.setField('train.epochs', 2)
    await vi.runAllTimersAsync()
    expect(transport.calls.filter((c) => c.method === 'estimateEpoch')).toHaveLength(1)
    expect(estimate.perEpochText).toBe('≈ 60 s / epoch')
    expect(estimate.basisText).toBe('estimate · on wasm · from 3 finished runs')

    grid.addAxis('model.microConvs', '0,3')
    const macs = (microConvs: number): number =>
      layerTable({ ...(draft.config?.model ?? config().model), microConvs }).reduce(
        (n, l) => n + l.macs,
        0,
      )
    const base = macs(draft.config?.model.microConvs ?? -1)
    // Two epochs of each variant at 60 s per epoch of the base config, scaled by MACs.
    expect(estimate.totalSeconds).toBeCloseTo(2 * 60 * ((macs(0) + macs(3)) / base), 6)
    expect(macs(0)).not.toBe(macs(3))
  })

  it('shows the newest answer: a slow history estimate does not replace a measurement', async () => {
    vi.useFakeTimers()
    let release: (() => void) | null = null
    estimateAnswer = () =>
      new Promise((resolve) => {
        release = () => resolve(estimateOf(10, 'stale'))
      })
    const estimate = useEstimateStore()
    await vi.runAllTimersAsync()
    expect(release).not.toBeNull()
    await estimate.measure()
    expect(estimate.estimate?.detail).toBe('timed 20 steps')
    ;(release as (() => void) | null)?.()
    await vi.runAllTimersAsync()
    expect(estimate.estimate?.detail).toBe('timed 20 steps')
  })
})

describe('submission', () => {
  it('queues the grid under the config’s name when none is typed, and adds the runs to the list', async () => {
    const draft = useDraftStore()
    const grid = useGridStore()
    const submission = useSubmissionStore()
    draft.choosePreset('small-28')
    draft.setField('name', 'tiny')
    grid.addAxis('model.head', 'gap,fc')
    grid.seeds = 2
    expect(submission.effectiveName).toBe('tiny')
    expect(submission.canSubmit).toBe(true)
    await submission.submit()
    expect(transport.calls.find((c) => c.method === 'addRuns')?.params).toEqual({
      experiment: 'tiny',
      base: draft.draft,
      axes: [{ path: 'model.head', values: ['gap', 'fc'] }],
      seeds: 2,
    })
    expect(submission.result?.skipped).toBe(2)
    expect(useRunsStore().byId.has('new1')).toBe(true)
  })

  it('shows a refusal with every problem, and keeps the draft', async () => {
    const draft = useDraftStore()
    const submission = useSubmissionStore()
    draft.choosePreset('small-28')
    const before = draft.draft
    submission.experimentName = 'refused'
    await submission.submit()
    expect(submission.error).toBe('config is invalid (1 problem)')
    expect(submission.issues.map((i) => i.message)).toEqual([
      'train.lr must be at most 10 (got 50)',
    ])
    expect(submission.result).toBeNull()
    expect(draft.draft).toBe(before)
  })

  it('cannot queue an invalid draft or a grid with problems', () => {
    const draft = useDraftStore()
    const grid = useGridStore()
    const submission = useSubmissionStore()
    draft.setField('train.batchSize', 0)
    expect(submission.canSubmit).toBe(false)
    draft.setField('train.batchSize', 32)
    expect(submission.canSubmit).toBe(true)
    grid.seeds = 101
    expect(submission.canSubmit).toBe(false)
  })
})
