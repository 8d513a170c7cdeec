/**
 * The New experiment draft: a config being edited (any JSON: invalid values stay as typed so the
 * form can say what is wrong with them), its validation, layer table and cost, the ablation axes,
 * the epoch-time estimate, and queueing the grid. Kept in localStorage so a reload loses nothing.
 */
import { defineStore } from 'pinia'
import { computed, ref, shallowRef, watch } from 'vue'
import type { EpochEstimate, GridAxisInput } from '@shared/api/contract'
import type { Run } from '@shared/api/types'
import { ArchitectureError, layerTable, type Layer } from '@shared/architecture'
import {
  ConfigError,
  defaultExperimentConfig,
  modelSchema,
  parseExperimentConfig,
  trainSchema,
  type ExperimentConfig,
} from '@shared/config/experiment'
import { applyOverride, mergeInput } from '@shared/config/overrides'
import { isPresetName, presetInput, type PresetName } from '@shared/config/presets'
import { parseField, type ConfigIssue } from '@shared/config/schema'
import { costTotals, type CostTotals } from '@shared/cost'
import { expandGrid, gridRunCount, parseGridAxis, type GridAxis } from '@shared/grid'
import { api, errorMessage, toApiError } from '../api'
import { getAt } from '../lib/schema-form'
import { useRunsStore } from './runs'

const STORAGE_KEY = 'ninLab.newExperiment'
const ESTIMATE_DELAY_MS = 400

/** An axis as the picker edits it: a path and the values as text (`1,2,3`, `gap,fc`). */
export interface AxisDraft {
  readonly key: number
  path: string
  text: string
}

export interface GridSummary {
  /** Runs the grid gives (axes' value counts × seeds), before validation. */
  readonly count: number
  readonly configs: readonly ExperimentConfig[]
  readonly issues: readonly ConfigIssue[]
}

export interface SubmitResult {
  readonly added: readonly Run[]
  readonly skipped: number
}

const presetDraft = (name: PresetName): unknown =>
  mergeInput(defaultExperimentConfig(), presetInput(name))

interface Saved {
  preset: PresetName
  draft: unknown
  axes: { path: string; text: string }[]
  seeds: number
  experimentName: string
}

function loadSaved(): Partial<Saved> {
  try {
    const text = window.localStorage.getItem(STORAGE_KEY)
    if (!text) return {}
    const saved = JSON.parse(text) as Partial<Saved>
    return typeof saved === 'object' && saved !== null ? saved : {}
  } catch {
    return {}
  }
}

export const useExperimentStore = defineStore('experiment', () => {
  const saved = loadSaved()
  const preset = ref<PresetName>(
    typeof saved.preset === 'string' && isPresetName(saved.preset) ? saved.preset : 'd2l',
  )
  /** The config being edited; replaced (never mutated) on each edit. */
  const draft = shallowRef<unknown>(
    typeof saved.draft === 'object' && saved.draft !== null
      ? saved.draft
      : presetDraft(preset.value),
  )
  let nextKey = 1
  const axes = ref<AxisDraft[]>(
    Array.isArray(saved.axes)
      ? saved.axes
          .filter((a) => typeof a?.path === 'string' && typeof a?.text === 'string')
          .map((a) => ({ key: nextKey++, path: a.path, text: a.text }))
      : [],
  )
  const seeds = ref<number>(
    Number.isInteger(saved.seeds) && (saved.seeds as number) >= 1 ? (saved.seeds as number) : 1,
  )
  const experimentName = ref<string>(
    typeof saved.experimentName === 'string' ? saved.experimentName : '',
  )

  // --- editing ---------------------------------------------------------------------------

  function choosePreset(name: PresetName): void {
    preset.value = name
    draft.value = presetDraft(name)
  }

  const valueAt = (path: string): unknown => getAt(draft.value, path)

  function setField(path: string, value: unknown): void {
    draft.value = applyOverride(draft.value, { path, value })
  }

  function addItem(path: string, item: unknown): void {
    const list = valueAt(path)
    setField(path, [...(Array.isArray(list) ? list : []), structuredClone(item)])
  }

  function removeItem(path: string, index: number): void {
    const list = valueAt(path)
    if (Array.isArray(list))
      setField(
        path,
        list.filter((_, i) => i !== index),
      )
  }

  // --- validation, layers, cost --------------------------------------------------------------

  const parsed = computed(() => parseExperimentConfig(draft.value))
  const config = computed<ExperimentConfig | null>(() =>
    parsed.value.ok ? parsed.value.value : null,
  )
  const issues = computed<readonly ConfigIssue[]>(() =>
    parsed.value.ok ? [] : parsed.value.issues,
  )

  /**
   * The layer table and cost as soon as the model part is valid, even while, say, the learning
   * rate is not: the architecture is what a user looks at while editing.
   */
  const architecture = computed<{
    layers: Layer[] | null
    totals: CostTotals | null
    error: string | null
  }>(() => {
    const model = parseField(modelSchema, valueAt('model'), 'model')
    if (!model.ok) return { layers: null, totals: null, error: null }
    let layers: Layer[]
    try {
      layers = layerTable(model.value)
    } catch (err) {
      if (err instanceof ArchitectureError)
        return { layers: null, totals: null, error: err.message }
      throw err
    }
    const train = parseField(trainSchema, valueAt('train'), 'train')
    return { layers, totals: train.ok ? costTotals(layers, train.value) : null, error: null }
  })

  // --- ablation axes ------------------------------------------------------------------------

  function addAxis(path: string, text: string): void {
    axes.value.push({ key: nextKey++, path, text })
  }
  function removeAxis(key: number): void {
    axes.value = axes.value.filter((a) => a.key !== key)
  }

  /** Axes parsed from their text; a text that does not parse is an issue on that axis. */
  const parsedAxes = computed(() => {
    const good: GridAxis[] = []
    const bad: ConfigIssue[] = []
    for (const a of axes.value) {
      try {
        good.push(parseGridAxis(`${a.path}=${a.text}`))
      } catch (err) {
        if (err instanceof ConfigError) {
          bad.push(...err.issues.map((i) => ({ path: a.path, message: i.message })))
        } else throw err
      }
    }
    return { good, bad }
  })

  const seedCount = computed(() =>
    Number.isInteger(seeds.value) && seeds.value >= 1 ? seeds.value : 1,
  )

  const grid = computed<GridSummary>(() => {
    const { good } = parsedAxes.value
    const bad = [...parsedAxes.value.bad]
    const count = gridRunCount(good, seedCount.value)
    if (!Number.isInteger(seeds.value) || seeds.value < 1 || seeds.value > 100) {
      bad.push({ path: 'seeds', message: 'seeds must be an integer from 1 to 100' })
    }
    if (bad.length > 0) return { count, configs: [], issues: bad }
    try {
      return { count, configs: expandGrid(draft.value, good, seedCount.value).configs, issues: [] }
    } catch (err) {
      if (err instanceof ConfigError) return { count, configs: [], issues: err.issues }
      throw err
    }
  })

  // --- time estimate ------------------------------------------------------------------------

  const estimate = shallowRef<EpochEstimate | null>(null)
  const estimateError = ref<string | null>(null)
  let estimateTimer: ReturnType<typeof setTimeout> | null = null
  let estimateSeq = 0

  watch(
    config,
    (c) => {
      if (estimateTimer) clearTimeout(estimateTimer)
      if (!c) return
      const seq = ++estimateSeq
      estimateTimer = setTimeout(() => {
        api.estimateEpoch({ config: c }).then(
          (e) => {
            if (seq !== estimateSeq) return
            estimate.value = e
            estimateError.value = null
          },
          (err: unknown) => {
            if (seq !== estimateSeq) return
            estimate.value = null
            estimateError.value = errorMessage(err)
          },
        )
      }, ESTIMATE_DELAY_MS)
    },
    { immediate: true },
  )

  /** Times a few training steps of the current config (replaces the history-based estimate). */
  const measuring = ref(false)
  async function measure(): Promise<void> {
    const c = config.value
    if (!c || measuring.value) return
    measuring.value = true
    const seq = ++estimateSeq
    try {
      const e = await api.measureEpoch({ config: c })
      if (seq === estimateSeq) {
        estimate.value = e
        estimateError.value = null
      }
    } catch (err) {
      if (seq === estimateSeq) estimateError.value = errorMessage(err)
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
    const base = config.value
    const layers = architecture.value.layers
    if (perEpoch === null || !base || !layers || perEpoch <= 0) return null
    const work = (c: ExperimentConfig, macs: number): number => macs * (c.data.trainLimit ?? 60000)
    const baseWork = work(
      base,
      layers.reduce((n, l) => n + l.macs, 0),
    )
    if (baseWork <= 0) return null
    let total = 0
    for (const c of grid.value.configs) {
      let macs: number
      try {
        macs = layerTable(c.model).reduce((n, l) => n + l.macs, 0)
      } catch {
        return null
      }
      total += c.train.epochs * perEpoch * (work(c, macs) / baseWork)
    }
    return total
  })

  // --- queueing -----------------------------------------------------------------------------

  const submitting = ref(false)
  const submitResult = shallowRef<SubmitResult | null>(null)
  const submitError = ref<string | null>(null)
  const submitIssues = shallowRef<readonly ConfigIssue[]>([])

  const effectiveName = computed(() => {
    const typed = experimentName.value.trim()
    if (typed) return typed
    const name = valueAt('name')
    return typeof name === 'string' && name.trim() ? name.trim() : 'nin'
  })

  const canSubmit = computed(
    () =>
      !submitting.value &&
      config.value !== null &&
      grid.value.issues.length === 0 &&
      grid.value.configs.length > 0,
  )

  async function submit(): Promise<void> {
    if (!canSubmit.value) return
    submitting.value = true
    submitError.value = null
    submitIssues.value = []
    submitResult.value = null
    try {
      const axesInput: GridAxisInput[] = parsedAxes.value.good.map((a) => ({
        path: a.path,
        values: [...a.values],
      }))
      const result = await api.addRuns({
        experiment: effectiveName.value,
        base: draft.value,
        axes: axesInput,
        seeds: seedCount.value,
      })
      submitResult.value = result
      useRunsStore().upsert(result.added)
    } catch (err) {
      const e = toApiError(err)
      submitError.value = e.message
      submitIssues.value = e.issues ?? []
    } finally {
      submitting.value = false
    }
  }

  // --- persistence --------------------------------------------------------------------------

  watch(
    [preset, draft, axes, seeds, experimentName],
    () => {
      const state: Saved = {
        preset: preset.value,
        draft: draft.value,
        axes: axes.value.map((a) => ({ path: a.path, text: a.text })),
        seeds: seeds.value,
        experimentName: experimentName.value,
      }
      try {
        window.localStorage.setItem(STORAGE_KEY, JSON.stringify(state))
      } catch {
        // storage full or unavailable: the draft lasts for this session only
      }
    },
    { deep: true },
  )

  return {
    preset,
    draft,
    axes,
    seeds,
    experimentName,
    choosePreset,
    valueAt,
    setField,
    addItem,
    removeItem,
    parsed,
    config,
    issues,
    architecture,
    addAxis,
    removeAxis,
    parsedAxes,
    grid,
    estimate,
    estimateError,
    measuring,
    measure,
    totalSeconds,
    submitting,
    submitResult,
    submitError,
    submitIssues,
    effectiveName,
    canSubmit,
    submit,
  }
})
