/**
 * How long the draft should take to train: seconds per epoch (from finished runs' history while
 * editing, or measured on demand by timing a few steps), and the whole grid's wall time from it.
 * The owner of the estimate; reads the draft, its cost and the grid.
 */
import { defineStore } from 'pinia'
import { computed, ref, shallowRef, watch } from 'vue'
import type { EpochEstimate } from '@shared/api/contract'
import { layerTable } from '@shared/architecture'
import { datasetSize, type ExperimentConfig } from '@shared/config/experiment'
import { duration } from '@shared/format'
import { api, errorMessage } from '../api'
import { useCostStore } from './cost'
import { useDraftStore } from './draft'
import { useGridStore } from './grid'

/** Wait for typing to pause before asking for an estimate. */
const ESTIMATE_DELAY_MS = 400
/** Training images per epoch when the config does not limit them (Fashion-MNIST). */
const FULL_TRAIN_SET = 60_000

const macsOf = (layers: readonly { macs: number }[]): number =>
  layers.reduce((n, l) => n + l.macs, 0)

export const useEstimateStore = defineStore('estimate', () => {
  const draft = useDraftStore()
  const cost = useCostStore()
  const grid = useGridStore()

  const estimate = shallowRef<EpochEstimate | null>(null)
  const error = ref<string | null>(null)
  const measuring = ref(false)
  // Each request takes a number; only the newest one's answer is shown.
  let seq = 0
  let timer: ReturnType<typeof setTimeout> | null = null

  function settle(request: number, answer: EpochEstimate | null, problem: string | null): void {
    if (request !== seq) return
    estimate.value = answer
    error.value = problem
  }

  watch(
    () => draft.config,
    (c) => {
      if (timer) clearTimeout(timer)
      if (!c) return
      const request = ++seq
      timer = setTimeout(() => {
        api.estimateEpoch({ config: c }).then(
          (e) => settle(request, e, null),
          (err: unknown) => settle(request, null, errorMessage(err)),
        )
      }, ESTIMATE_DELAY_MS)
    },
    { immediate: true },
  )

  /** Times a few training steps of the current config (replaces the history-based estimate). */
  async function measure(): Promise<void> {
    const c = draft.config
    if (!c || measuring.value) return
    measuring.value = true
    const request = ++seq
    try {
      settle(request, await api.measureEpoch({ config: c }), null)
    } catch (err) {
      // A failed measurement keeps the estimate there was.
      if (request === seq) error.value = errorMessage(err)
    } finally {
      measuring.value = false
    }
  }

  /**
   * Expected wall time of the whole grid: each run's epochs × the estimate per epoch, scaled by
   * the run's compute (MACs × training images) relative to the config the estimate is for, so
   * a microConvs axis is not priced as if every variant cost the same.
   */
  const totalSeconds = computed<number | null>(() => {
    const perEpoch = estimate.value?.secondsPerEpoch ?? null
    const base = draft.config
    const layers = cost.layers
    if (perEpoch === null || !base || !layers || perEpoch <= 0) return null
    const work = (c: ExperimentConfig, macs: number): number =>
      macs * (c.data.trainLimit ?? datasetSize(c.data.dataset)?.train ?? FULL_TRAIN_SET)
    const baseWork = work(base, macsOf(layers))
    if (baseWork <= 0) return null
    let total = 0
    for (const c of grid.grid.configs) {
      let macs: number
      try {
        macs = macsOf(layerTable(c.model))
      } catch {
        return null
      }
      total += c.train.epochs * perEpoch * (work(c, macs) / baseWork)
    }
    return total
  })

  /** "≈ 1.5 min / epoch", or null while there is no usable estimate. */
  const perEpochText = computed(() => {
    const e = estimate.value
    if (!e || e.secondsPerEpoch === null || e.secondsPerEpoch <= 0) return null
    return `≈ ${duration(e.secondsPerEpoch)} / epoch`
  })
  /** Where the estimate comes from: "estimate · on wasm · from 3 finished runs". */
  const basisText = computed(() => {
    const e = estimate.value
    if (!e) return ''
    if (e.basis === 'none') return `no estimate yet: ${e.detail}`
    return ['estimate', e.backend ? `on ${e.backend}` : '', e.detail].filter(Boolean).join(' · ')
  })

  return { estimate, error, measuring, measure, totalSeconds, perEpochText, basisText }
})
