/**
 * The ablation grid of the New experiment page: the axes (a config field and the values to sweep,
 * as the picker edits them) and the seed count, what they expand to over the draft, and every
 * problem with them. The owner of `axes` and `seeds`.
 */
import { defineStore } from 'pinia'
import { computed, ref, watch, type Ref } from 'vue'
import type { ExperimentConfig } from '@shared/config/experiment'
import { MAX_GRID_RUNS } from '@shared/api/contract'
import { ConfigError } from '@shared/config/experiment'
import { splitPath, type ConfigIssue } from '@shared/config/schema'
import { expandGrid, gridRunCount, parseGridAxis, type GridAxis } from '@shared/grid'
import { axisChoices, defaultAxisText, segmentChoices, type AxisChoice } from '../lib/schema-form'
import { useDraftStore } from './draft'
import { loadSaved, saveFields } from './new-experiment-storage'

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

export const MAX_SEEDS = 100

/** `model.blocks.0.channels` and `model.blocks[0].channels` name one field. */
const samePath = (p: string): string => splitPath(p).join('.')

/** An axis's values as the picker shows them ticked: "1, 2" → ["1", "2"]. */
export const axisValues = (text: string): string[] =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)

const isSavedAxis = (a: unknown): a is { path: string; text: string } =>
  typeof a === 'object' &&
  a !== null &&
  typeof (a as { path?: unknown }).path === 'string' &&
  typeof (a as { text?: unknown }).text === 'string'

export const useGridStore = defineStore('grid', () => {
  const draft = useDraftStore()
  const saved = loadSaved()

  let nextKey = 1
  const axes = ref<AxisDraft[]>(
    Array.isArray(saved.axes)
      ? saved.axes.filter(isSavedAxis).map((a) => ({ key: nextKey++, path: a.path, text: a.text }))
      : [],
  )
  const seeds = ref<number>(
    typeof saved.seeds === 'number' && Number.isInteger(saved.seeds) && saved.seeds >= 1
      ? saved.seeds
      : 1,
  )

  watch(
    [axes, seeds],
    () =>
      saveFields({
        axes: axes.value.map((a) => ({ path: a.path, text: a.text })),
        seeds: seeds.value,
      }),
    { deep: true },
  )

  return {
    axes,
    seeds,
    ...axisPicker(draft, axes, () => nextKey++),
    ...gridOutcome(draft, axes, seeds),
  }
})

type Draft = ReturnType<typeof useDraftStore>

/** The picker's choices and its edits of the axes (`newKey`: a key no axis has yet). */
function axisPicker(draft: Draft, axes: Ref<AxisDraft[]>, newKey: () => number) {
  // --- the picker's choices -------------------------------------------------------------------

  const blockCount = computed(() => {
    const blocks = draft.valueAt('model.blocks')
    return Array.isArray(blocks) ? blocks.length : 0
  })
  /** The fields an axis can sweep (block fields for each block the draft has). */
  const choices = computed(() => axisChoices(blockCount.value))
  const choiceOf = (path: string): AxisChoice | undefined =>
    choices.value.find((c) => c.path === path)

  /** The values of a field offered as checkboxes (small enums and ints), else undefined. */
  function checkboxValues(path: string): readonly (string | number)[] | undefined {
    const c = choiceOf(path)
    if (!c) return undefined
    const inner = c.field.kind === 'nullable' ? c.field.inner : c.field
    return segmentChoices(inner) ?? (inner.kind === 'enum' ? inner.values : undefined)
  }

  // --- editing axes ---------------------------------------------------------------------------

  const axisByKey = (key: number): AxisDraft | undefined => axes.value.find((a) => a.key === key)

  function addAxis(path: string, text: string): void {
    axes.value.push({ key: newKey(), path, text })
  }

  /** Adds an axis on the first field no axis sweeps yet, with all its values (or the draft's). */
  function addNextAxis(): void {
    const used = new Set(axes.value.map((a) => samePath(a.path)))
    const next = choices.value.find((c) => !used.has(c.path))
    if (next) addAxis(next.path, defaultAxisText(next.field, draft.valueAt(next.path)))
  }

  function removeAxis(key: number): void {
    axes.value = axes.value.filter((a) => a.key !== key)
  }

  /** Points an axis at another field, starting from that field's default values. */
  function changeAxisPath(key: number, path: string): void {
    const axis = axisByKey(key)
    const c = choiceOf(path)
    if (!axis || !c) return
    axis.path = path
    axis.text = defaultAxisText(c.field, draft.valueAt(path))
  }

  /** Ticks or unticks one value of a checkbox axis. */
  function toggleAxisValue(key: number, value: string | number, on: boolean): void {
    const axis = axisByKey(key)
    const all = checkboxValues(axis?.path ?? '')
    if (!axis || !all) return
    const chosen = new Set(axisValues(axis.text))
    if (on) chosen.add(String(value))
    else chosen.delete(String(value))
    // Keep the field's own order, so `m1-…` names come out in order.
    axis.text = all
      .map(String)
      .filter((v) => chosen.has(v))
      .join(',')
  }

  return {
    choices,
    choiceOf,
    checkboxValues,
    addAxis,
    addNextAxis,
    removeAxis,
    changeAxisPath,
    toggleAxisValue,
  }
}

/** What the grid gives over the draft: its runs, or every problem with it. */
function gridOutcome(draft: Draft, axes: Ref<AxisDraft[]>, seeds: Ref<number>) {
  // --- what the grid gives --------------------------------------------------------------------

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

  const seedsValid = computed(
    () => Number.isInteger(seeds.value) && seeds.value >= 1 && seeds.value <= MAX_SEEDS,
  )
  /** The seed count to use: what was typed, or 1 while that is not a whole number ≥ 1. */
  const seedCount = computed(() =>
    Number.isInteger(seeds.value) && seeds.value >= 1 ? seeds.value : 1,
  )

  const grid = computed<GridSummary>(() =>
    gridSummary(draft.draft, parsedAxes.value, seedCount.value, seedsValid.value),
  )

  /** Runs the button queues: the valid configs, else the count the axes promise. */
  const runCount = computed(() => grid.value.configs.length || grid.value.count)

  /** Grid problems of the field an axis sweeps, shown under that axis. */
  const issuesFor = (path: string): string[] =>
    grid.value.issues.filter((i) => samePath(i.path) === samePath(path)).map((i) => i.message)
  /** Grid problems that belong to no axis (seeds, a config the grid makes invalid). */
  const otherIssues = computed(() => {
    const paths = new Set(axes.value.map((a) => samePath(a.path)))
    return grid.value.issues.filter((i) => !paths.has(samePath(i.path))).map((i) => i.message)
  })

  return { parsedAxes, seedCount, grid, runCount, issuesFor, otherIssues }
}

/** The runs a grid of parsed axes gives over a draft (not expanded past MAX_GRID_RUNS). */
function gridSummary(
  draft: unknown,
  parsed: { good: GridAxis[]; bad: ConfigIssue[] },
  seedCount: number,
  seedsValid: boolean,
): GridSummary {
  const { good } = parsed
  const bad = [...parsed.bad]
  const count = gridRunCount(good, seedCount)
  if (!seedsValid) {
    bad.push({ path: 'seeds', message: `seeds must be an integer from 1 to ${MAX_SEEDS}` })
  }
  if (count > MAX_GRID_RUNS) {
    // Not expanded at all: the core refuses it, and expanding it here would freeze the page.
    bad.push({
      path: '',
      message: `this grid has ${count.toLocaleString('en-US')} runs; at most ${MAX_GRID_RUNS.toLocaleString('en-US')} can be queued at once: use fewer values or seeds`,
    })
  }
  if (bad.length > 0) return { count, configs: [], issues: bad }
  try {
    return { count, configs: expandGrid(draft, good, seedCount).configs, issues: [] }
  } catch (err) {
    if (err instanceof ConfigError) return { count, configs: [], issues: err.issues }
    throw err
  }
}
