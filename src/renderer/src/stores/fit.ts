/**
 * Will the grid's runs fit the memory they will train in? Checked before queueing, with the
 * same model the trainer refuses a run by (src/shared/memory-fit.ts), so a config that cannot
 * train is never queued to fail and be retried in vain. The memory: the wasm heap when the config
 * forces the wasm backend (certain), or what the last run on this machine trained on — the wasm
 * backend, or a GPU whose size its placement recorded — when `auto` will likely pick it again
 * (likely: queueing is then allowed once acknowledged).
 */
import { defineStore } from 'pinia'
import { computed, ref, watch } from 'vue'
import type { Run } from '@shared/api/types'
import type { ExperimentConfig } from '@shared/config/experiment'
import { bytes } from '@shared/format'
import { canonicalJson } from '@shared/grid'
import { fitText, memoryFit, targetText, type FitResult, type FitTarget } from '@shared/memory-fit'
import { useDraftStore } from './draft'
import { useGridStore } from './grid'
import { useRunsStore } from './runs'

/** Grid configs checked at most (distinct networks and batch sizes; a big grid has few). */
const MAX_CHECKED = 500

export interface FitGuess {
  readonly target: FitTarget
  /** The config forces it; otherwise it is what this machine trained on last. */
  readonly certain: boolean
  readonly why: string
}

export interface FitProblem {
  readonly name: string
  readonly text: string
}

export const useFitStore = defineStore('fit', () => {
  const draft = useDraftStore()
  const grid = useGridStore()
  const runs = useRunsStore()

  /** The most recently started run on this data folder: what `auto` picked last. */
  const lastRun = computed(() => {
    let newest: Run | null = null
    for (const r of runs.runs) {
      if (r.startedAt === null || !r.backend) continue
      if (!newest || r.startedAt > (newest.startedAt ?? 0)) newest = r
    }
    return newest
  })

  const guess = computed(() => guessTarget(draft.config, lastRun.value))

  /** The configs the button would queue: the grid's, else the draft alone. */
  const configs = computed<readonly ExperimentConfig[]>(() =>
    grid.grid.configs.length > 0 ? grid.grid.configs : draft.config ? [draft.config] : [],
  )

  const results = computed(() => fitResults(configs.value, guess.value))

  const problems = computed<FitProblem[]>(() =>
    results.value
      .filter((r) => !r.fit.fits)
      .map((r) => ({ name: r.config.name, text: fitText(r.fit, r.config) })),
  )
  /** The largest need among the runs, for the line that says it fits. */
  const summary = computed(() => {
    const g = guess.value
    if (!g || results.value.length === 0) return null
    const worst = results.value.reduce((a, b) =>
      b.fit.predictedBytes > a.fit.predictedBytes ? b : a,
    )
    return `${problems.value.length === 0 ? 'Fits' : 'Does not fit'} ${targetText(g.target)}: the largest run needs about ${bytes(worst.fit.predictedBytes)} (${g.why}).`
  })

  /** "Queue anyway" for a likely (not certain) misfit: another engine may train it. */
  const acknowledged = ref(false)
  watch(problems, () => (acknowledged.value = false))
  /** Queueing refused: a certain misfit, or a likely one not acknowledged. */
  const blocked = computed(
    () => problems.value.length > 0 && (guess.value?.certain === true || !acknowledged.value),
  )

  return { guess, problems, summary, acknowledged, blocked }
})

/** Where the draft would train: wasm when it says so, else where the last run here trained. */
function guessTarget(c: ExperimentConfig | null, last: Run | null): FitGuess | null {
  if (!c) return null
  if (c.engine !== 'torch' && c.train.backend === 'wasm') {
    return { target: { kind: 'wasm' }, certain: true, why: 'train.backend is wasm' }
  }
  if (!last) return null
  const gpu = last.placement?.gpu ?? null
  if (gpu && c.engine !== 'tfjs' && gpu.memoryMB > 0) {
    return {
      target: { kind: 'gpu', name: gpu.name, memoryMB: gpu.memoryMB },
      certain: false,
      why: `the last run here trained on ${gpu.name}`,
    }
  }
  if (last.backend === 'wasm' && c.engine !== 'torch' && c.train.backend === 'auto') {
    return {
      target: { kind: 'wasm' },
      certain: false,
      why: 'the last run here trained on tfjs · wasm (engine auto will likely pick it again)',
    }
  }
  return null
}

/** Each distinct network-and-batch among the configs (at most MAX_CHECKED), fitted to the guess. */
function fitResults(
  configs: readonly ExperimentConfig[],
  g: FitGuess | null,
): { config: ExperimentConfig; fit: FitResult }[] {
  if (!g) return []
  const seen = new Set<string>()
  const out: { config: ExperimentConfig; fit: FitResult }[] = []
  for (const c of configs) {
    const key = canonicalJson([
      c.model,
      c.train.batchSize,
      c.train.optimizer,
      c.train.momentum,
      c.train.precision,
    ])
    if (seen.has(key)) continue
    seen.add(key)
    const fit = memoryFit(c, g.target)
    if (fit) out.push({ config: c, fit })
    if (seen.size >= MAX_CHECKED) break
  }
  return out
}
