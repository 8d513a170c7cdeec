/**
 * Test doubles for the renderer: a fake transport (the api module's boundary) that answers
 * methods from handlers and lets a test push events, and a few sample records.
 */
import { defineComponent, h } from 'vue'
import type { ApiEvents, EventName, MethodName, Params, Result } from '@shared/api/contract'
import { ApiError } from '@shared/api/contract'
import type { MetricSample, Run } from '@shared/api/types'
import { defaultExperimentConfig, type ExperimentConfig } from '@shared/config/experiment'
import { mergeInput } from '@shared/config/overrides'
import { RECONNECTED, type EventListener, type Transport } from '@renderer/api'

export type Handlers = { [M in MethodName]?: (params: Params<M>) => Result<M> | Promise<Result<M>> }

export interface FakeTransport extends Transport {
  readonly calls: { method: MethodName; params: unknown }[]
  emit<E extends EventName>(event: E, payload: ApiEvents[E]): void
  /** What a real transport tells its listeners when its event stream came back after a drop. */
  reconnect(): void
}

export function fakeTransport(handlers: Handlers): FakeTransport {
  const listeners = new Set<EventListener>()
  const calls: { method: MethodName; params: unknown }[] = []
  return {
    kind: 'http',
    calls,
    async call(method, params) {
      calls.push({ method, params })
      const handler = handlers[method] as ((p: unknown) => unknown) | undefined
      if (!handler) throw new ApiError('unavailable', `${method}: no handler in this test`)
      return handler(params)
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    emit(event, payload) {
      for (const l of listeners) l(event, payload)
    },
    reconnect() {
      for (const l of listeners) l(RECONNECTED, null)
    },
  }
}

/** A config: the defaults with `over` merged in. */
export const config = (over: unknown = {}): ExperimentConfig =>
  mergeInput(defaultExperimentConfig(), over) as ExperimentConfig

let seq = 0
export function makeRun(over: Partial<Run> & { config?: ExperimentConfig } = {}): Run {
  seq++
  return {
    id: `r${String(seq).padStart(6, '0')}`,
    experimentId: 1,
    experiment: 'exp',
    name: `run-${seq}`,
    config: config({ name: `run-${seq}` }),
    configHash: `hash${seq}`,
    status: 'completed',
    priority: 0,
    queuePosition: seq,
    engine: 'tfjs',
    backend: 'wasm',
    precision: 'fp32',
    versions: null,
    seed: 0,
    host: 'test',
    pid: null,
    attempt: 1,
    owner: null,
    placement: null,
    createdAt: 1_700_000_000_000,
    queuedAt: 1_700_000_000_000,
    startedAt: 1_700_000_000_000,
    finishedAt: 1_700_000_600_000,
    error: null,
    lastCheckpointEpoch: 0,
    notes: '',
    tags: [],
    params: 1_992_166,
    finalTestAcc: 0.85,
    bestTestAcc: 0.86,
    epochsDone: 10,
    health: { status: 'ok', reason: 'test accuracy 85.0%, within the noise', moreEpochs: null },
    linkedFrom: null,
    ...over,
  }
}

/** Metric samples: one per epoch or step, `value(i)` at the i-th (from 1). */
export function samples(
  count: number,
  value: (i: number) => number,
  stepsPerPoint = 1,
): MetricSample[] {
  return Array.from({ length: count }, (_, k) => ({
    step: (k + 1) * stepsPerPoint,
    epoch: Math.ceil(((k + 1) * stepsPerPoint) / 100),
    time: 1_700_000_000_000 + (k + 1) * 1000,
    value: value(k + 1),
  }))
}

/** Lets pending promises and Vue updates settle. */
export const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0))
}

/**
 * ECharts draws on a canvas, which happy-dom does not have: component tests replace the chart
 * frame with a plain figure that keeps its test id, title, caption controls (the extra slot) and
 * the option it was given.
 */
export const ChartFrameStub = defineComponent({
  name: 'ChartFrame',
  props: {
    name: { type: String, required: true },
    title: { type: String, required: true },
    option: { type: Object, required: true },
    height: { type: Number, default: 240 },
    empty: { type: String, default: null },
  },
  setup(props, { slots }) {
    return () =>
      h('figure', { 'data-testid': `chart-${props.name}`, 'data-empty': props.empty ?? '' }, [
        h('figcaption', [props.title, slots['extra']?.()]),
      ])
  },
})

export const chartStubs = { ChartFrame: ChartFrameStub }
