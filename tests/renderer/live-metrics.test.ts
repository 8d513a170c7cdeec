// @vitest-environment happy-dom
/**
 * useLiveMetrics over the real api module and a fake transport (helpers.ts): what it fetches,
 * what it appends from runProgress events, when it refetches, and that an unmounted owner stops
 * listening.
 */
import { enableAutoUnmount, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { defineComponent, h, ref } from 'vue'
import type { ApiEvents, Params, Result } from '@shared/api/contract'
import type { MetricSample } from '@shared/api/types'
import { METRICS } from '@shared/metrics'
import { setTransport } from '@renderer/api'
import { useLiveMetrics, type LiveMetrics } from '@renderer/composables/useLiveMetrics'
import { fakeTransport, flush, makeRun, samples, type FakeTransport } from './helpers'

const NAMES = [METRICS.stepLoss, METRICS.testAcc]

/** A runProgress event carrying one training step. */
function stepEvent(runId: string, step: number, loss: number): ApiEvents['runProgress'] {
  return {
    runId,
    progress: {
      epoch: 1,
      epochs: 2,
      stepInEpoch: step,
      stepsPerEpoch: 100,
      loss,
      examplesPerSec: 100,
      etaSeconds: null,
      backend: 'wasm',
      precision: 'fp32',
    },
    message: {
      type: 'step',
      runId,
      time: 1_700_000_000_000 + step,
      epoch: 1,
      step,
      stepInEpoch: step,
      loss,
      acc: 0.5,
      examplesPerSec: 100,
    },
  }
}

const stepsOf = (list: readonly MetricSample[] | undefined): number[] =>
  (list ?? []).map((s) => s.step)

/** What the fake server has stored: run id → step-loss samples. */
let stored: Record<string, MetricSample[]>
/** When set, getMetrics waits for the test to answer it. */
let hold: ((answer: () => void) => void) | null
let transport: FakeTransport

const answer = (p: Params<'getMetrics'>): Result<'getMetrics'> =>
  Object.fromEntries(
    p.ids.map((id) => [id, { [METRICS.stepLoss]: [...(stored[id] ?? [])], [METRICS.testAcc]: [] }]),
  )

beforeEach(() => {
  stored = { ra: samples(3, (i) => 2 / i), rb: samples(2, (i) => 3 / i) }
  hold = null
  transport = fakeTransport({
    getMetrics: (p) => {
      const waiting = hold
      if (!waiting) return answer(p)
      // Answers with what is stored when the test releases it, as a server reads at that time.
      return new Promise((resolve) => waiting(() => resolve(answer(p))))
    },
  })
  setTransport(transport)
  setActivePinia(createPinia())
})
afterEach(() => setTransport(null))
// The api module's event handlers outlive a test: an owner left mounted would go on listening.
enableAutoUnmount(afterEach)

/** Mounts a component that owns a useLiveMetrics over `ids`. */
function mountLive(initial: string[]) {
  const ids = ref(initial)
  let live: LiveMetrics | null = null
  const Owner = defineComponent({
    setup() {
      live = useLiveMetrics(ids, NAMES)
      return () => h('div')
    },
  })
  const wrapper = mount(Owner)
  if (!live) throw new Error('the owner did not set up')
  return { wrapper, ids, live: live as LiveMetrics }
}

const metricCalls = () => transport.calls.filter((c) => c.method === 'getMetrics')

describe('useLiveMetrics', () => {
  it('loads the tracked runs’ series once, with the names asked for', async () => {
    const { live } = mountLive(['ra', 'rb'])
    await flush()
    expect(metricCalls().map((c) => c.params)).toEqual([{ ids: ['ra', 'rb'], names: NAMES }])
    expect(stepsOf(live.metrics.value['ra']?.[METRICS.stepLoss])).toEqual([1, 2, 3])
    expect(stepsOf(live.metrics.value['rb']?.[METRICS.stepLoss])).toEqual([1, 2])
    expect(live.loading.value).toBe(false)
    expect(live.error.value).toBeNull()
  })

  it('appends the points of a tracked run’s runProgress event, and nothing else', async () => {
    const { live } = mountLive(['ra'])
    await flush()
    transport.emit('runProgress', stepEvent('ra', 4, 0.4))
    transport.emit('runProgress', stepEvent('other', 4, 0.4))
    // A step the series already has (sent twice) is not drawn twice.
    transport.emit('runProgress', stepEvent('ra', 4, 0.4))
    const series = live.metrics.value['ra']?.[METRICS.stepLoss]
    expect(stepsOf(series)).toEqual([1, 2, 3, 4])
    expect(series?.at(-1)?.value).toBe(0.4)
    expect(live.metrics.value['other']).toBeUndefined()
    // Only the names asked for: the step's accuracy and throughput points are not kept.
    expect(Object.keys(live.metrics.value['ra'] ?? {}).sort()).toEqual([...NAMES].sort())
    expect(metricCalls()).toHaveLength(1)
  })

  it('refetches every tracked run after the event stream reconnects', async () => {
    const { live } = mountLive(['ra', 'rb'])
    await flush()
    // Trained on while the stream was down: the pushed points were lost.
    stored.ra = samples(6, (i) => 2 / i)
    transport.reconnect()
    await flush()
    expect(metricCalls().map((c) => c.params)).toEqual([
      { ids: ['ra', 'rb'], names: NAMES },
      { ids: ['ra', 'rb'], names: NAMES },
    ])
    expect(stepsOf(live.metrics.value['ra']?.[METRICS.stepLoss])).toEqual([1, 2, 3, 4, 5, 6])
  })

  it('refetches a tracked run when it starts again (its points after the checkpoint were replaced)', async () => {
    const { live } = mountLive(['ra', 'rb'])
    await flush()
    transport.emit('runProgress', stepEvent('ra', 4, 9))
    // Retried: the store dropped what came after the checkpoint at step 2.
    stored.ra = samples(2, (i) => 2 / i)
    transport.emit('runStarted', { run: makeRun({ id: 'ra', status: 'running' }) })
    await flush()
    expect(metricCalls().at(-1)?.params).toEqual({ ids: ['ra'], names: NAMES })
    expect(stepsOf(live.metrics.value['ra']?.[METRICS.stepLoss])).toEqual([1, 2])
    // Its new steps draw on from the checkpoint.
    transport.emit('runProgress', stepEvent('ra', 3, 1))
    expect(stepsOf(live.metrics.value['ra']?.[METRICS.stepLoss])).toEqual([1, 2, 3])
  })

  it('keeps points streamed while a fetch is on its way, once each', async () => {
    const releases: (() => void)[] = []
    hold = (release) => releases.push(release)
    const { live } = mountLive(['ra'])
    await flush()
    expect(releases).toHaveLength(1)
    // Step 4 is stored before the server reads; step 5 only after: both arrive as events.
    stored.ra = samples(4, (i) => 2 / i)
    transport.emit('runProgress', stepEvent('ra', 4, 0.5))
    transport.emit('runProgress', stepEvent('ra', 5, 0.4))
    releases[0]?.()
    await flush()
    expect(stepsOf(live.metrics.value['ra']?.[METRICS.stepLoss])).toEqual([1, 2, 3, 4, 5])
  })

  it('lets an older answer that lands after a newer one change nothing', async () => {
    const releases: (() => void)[] = []
    hold = (release) => releases.push(release)
    const { live } = mountLive(['ra'])
    await flush()
    stored.ra = samples(5, (i) => 2 / i)
    transport.reconnect()
    await flush()
    expect(releases).toHaveLength(2)
    releases[1]?.() // the newer fetch: five steps
    await flush()
    stored.ra = samples(1, () => 2) // what the stale answer will say
    releases[0]?.()
    await flush()
    expect(stepsOf(live.metrics.value['ra']?.[METRICS.stepLoss])).toEqual([1, 2, 3, 4, 5])
    expect(live.loading.value).toBe(false)
  })

  it('fetches only runs that join, and drops runs that leave', async () => {
    const { live, ids } = mountLive(['ra'])
    await flush()
    ids.value = ['ra', 'rb']
    await flush()
    expect(metricCalls().at(-1)?.params).toEqual({ ids: ['rb'], names: NAMES })
    ids.value = ['rb']
    await flush()
    expect(Object.keys(live.metrics.value)).toEqual(['rb'])
    expect(metricCalls()).toHaveLength(2)
    // A run that left is not appended to any more.
    transport.emit('runProgress', stepEvent('ra', 9, 1))
    expect(live.metrics.value['ra']).toBeUndefined()
  })

  it('says why a fetch failed, and keeps what it had', async () => {
    const { live } = mountLive(['ra'])
    await flush()
    transport.calls.length = 0
    setTransport(
      fakeTransport({
        getMetrics: () => {
          throw new Error('database is locked')
        },
      }),
    )
    await live.reload()
    expect(live.error.value).toBe('database is locked')
    expect(stepsOf(live.metrics.value['ra']?.[METRICS.stepLoss])).toEqual([1, 2, 3])
  })

  it('stops listening when its owner unmounts', async () => {
    const { wrapper, live } = mountLive(['ra'])
    await flush()
    const before = live.metrics.value
    wrapper.unmount()
    transport.emit('runProgress', stepEvent('ra', 4, 0.4))
    transport.reconnect()
    transport.emit('runFinished', { run: makeRun({ id: 'ra' }) })
    await flush()
    expect(live.metrics.value).toBe(before)
    expect(metricCalls()).toHaveLength(1)
  })
})
