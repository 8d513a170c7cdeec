/**
 * The Runs table without its presentation: the filters (text and config filters typed in one box
 * — `head=gap m2` —, status, experiment), the config columns (by default the current experiment's
 * grid axes — the fields that vary among its runs —, or the ones picked in the column chooser),
 * the sort order (missing values last whichever the direction), and the window of rows rendered.
 *
 * 10,000 runs: the table is virtualized, not paged — every row stays in memory (sorting by
 * accuracy or filtering by any config value needs all of them, and 10,000 runs are a few MB),
 * but only the rows in view (plus a margin) are in the DOM, so scrolling, sorting and typing in
 * the filter stay fast, and the selection and "select all" still mean every matching run.
 */
import { computed, onMounted, ref, shallowRef, watch } from 'vue'
import type { ComputedRef, Ref, ShallowRef } from 'vue'
import type { Run } from '@shared/api/types'
import { valueText } from '@shared/format'
import type { RunStatus } from '@shared/run-state'
import { rankFactors } from '../lib/factors'
import {
  configPaths,
  flatConfigOf,
  matchesFilters,
  parseQuery,
  type ParsedQuery,
} from '../lib/config-filter'
import { runCost } from '../lib/run-cost'
import { useRunsStore } from '../stores/runs'
import { compareSortValues, useSort, type Sort, type SortValue } from './useSort'

export type SortKey =
  | 'status'
  | 'name'
  | 'experiment'
  | 'params'
  | 'macs'
  | 'best'
  | 'final'
  | 'epochTime'
  | 'backend'
  | 'created'
  | `config:${string}`

/** Config columns shown by default at most (the chooser may add more). */
export const MAX_VARYING = 8
/** Rows rendered beyond the visible ones, above and below. */
const OVERSCAN = 20
/** Rows rendered before the table knows its height (and in tests). */
const FIRST_WINDOW = 60

const COLUMNS_KEY = 'ninLab.runsColumns'

/** Text columns start A→Z; numbers and dates start with the largest (best, newest) first. */
const ASCENDING_FIRST: readonly SortKey[] = ['name', 'experiment', 'status']

export interface RunsTable {
  /** Names, ids, tags, notes, and config filters: `head=gap microConvs=1,2 lr<0.01`. */
  readonly search: Ref<string>
  readonly statusFilter: Ref<RunStatus | ''>
  readonly experimentFilter: Ref<string>
  /** Experiment names for the filter, A→Z. */
  readonly experiments: ComputedRef<string[]>
  readonly query: ComputedRef<ParsedQuery>
  /** The listed runs, filtered and sorted (all of them, not only the rendered window). */
  readonly rows: ComputedRef<Run[]>
  /** The experiment whose axes are the default columns: the filter's, else the newest run's. */
  readonly currentExperiment: ComputedRef<string | null>
  /** Its grid axes: the config fields that vary among its runs. */
  readonly axes: ComputedRef<string[]>
  /** Every config path of the listed runs (the column chooser's choices). */
  readonly allPaths: ComputedRef<string[]>
  /** The config columns shown. */
  readonly columns: ComputedRef<string[]>
  /** Columns picked by hand (null: the current experiment's axes). */
  readonly picked: Ref<string[] | null>
  toggleColumn(path: string, on: boolean): void
  resetColumns(): void
  /** Config columns whose values are all numbers: right-aligned like the other numbers. */
  readonly numericPaths: ComputedRef<Set<string>>
  configValue(run: Run, path: string): unknown
  /** The sort order: newest first until a header is clicked. */
  readonly sort: Sort<SortKey>
  // --- the rendered window ---
  readonly windowRows: ComputedRef<Run[]>
  /** Heights of the spacers above and below the rendered rows (px). */
  readonly padTop: ComputedRef<number>
  readonly padBottom: ComputedRef<number>
  /** Call on the scroll container's scroll and resize. */
  onScroll(el: HTMLElement): void
  /** The rendered rows' height, once measured. */
  readonly rowHeight: ShallowRef<number>
}

function loadPicked(): string[] | null {
  try {
    const v = JSON.parse(window.localStorage.getItem(COLUMNS_KEY) ?? 'null') as unknown
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : null
  } catch {
    return null
  }
}

/** Whether the runs' values at `path` differ (primitives compared as text, others as JSON). */
function varies(runs: readonly Run[], path: string): boolean {
  let first: string | undefined
  for (const run of runs) {
    const v = flatConfigOf(run).get(path)
    const key =
      v === undefined
        ? '\u0000'
        : typeof v === 'object'
          ? JSON.stringify(v)
          : `${typeof v}:${String(v)}`
    if (first === undefined) first = key
    else if (key !== first) return true
  }
  return false
}

export function useRunsTable(): RunsTable {
  const runs = useRunsStore()
  onMounted(() => {
    if (!runs.loaded) void runs.load()
  })
  const f = runFilters(runs)
  const cols = runColumns(f.filtered, f.allPaths, f.experimentFilter)
  const { sort, rows } = sortedRuns(runs, f.filtered, cols.configValue)
  return {
    search: f.search,
    statusFilter: f.statusFilter,
    experimentFilter: f.experimentFilter,
    experiments: f.experiments,
    query: f.query,
    rows,
    ...cols,
    allPaths: f.allPaths,
    sort,
    ...rowWindow(runs, rows),
  }
}

type RunsStore = ReturnType<typeof useRunsStore>

/** The filters: text and config filters in one box, status, experiment; the runs they pass. */
function runFilters(runs: RunsStore) {
  const search = ref('')
  const statusFilter = ref<RunStatus | ''>('')
  const experimentFilter = ref('')

  const experiments = computed(() => [...new Set(runs.runs.map((r) => r.experiment))].sort())
  const allPaths = computed(() => configPaths(runs.runs))
  const query = computed(() => parseQuery(search.value, allPaths.value))

  const filtered = computed(() => {
    const q = query.value.text.trim().toLowerCase()
    const filters = query.value.filters
    return runs.runs.filter((r) => {
      if (statusFilter.value && r.status !== statusFilter.value) return false
      if (experimentFilter.value && r.experiment !== experimentFilter.value) return false
      if (!matchesFilters(r, filters)) return false
      if (!q) return true
      return [r.id, r.name, r.experiment, r.notes, r.backend ?? '', ...r.tags].some((t) =>
        t.toLowerCase().includes(q),
      )
    })
  })
  return { search, statusFilter, experimentFilter, experiments, allPaths, query, filtered }
}

/** The config columns: the current experiment's axes, or the chooser's. */
function runColumns(
  filtered: ComputedRef<Run[]>,
  allPaths: ComputedRef<string[]>,
  experimentFilter: Ref<string>,
) {
  // --- columns: the current experiment's axes, or the chooser's ----------------------------

  /** The experiment filtered by, else the newest study (an experiment of two runs or more). */
  const currentExperiment = computed<string | null>(() => {
    if (experimentFilter.value) return experimentFilter.value
    const latest = new Map<string, { at: number; n: number }>()
    for (const r of filtered.value) {
      const e = latest.get(r.experiment)
      latest.set(r.experiment, { at: Math.max(e?.at ?? 0, r.createdAt), n: (e?.n ?? 0) + 1 })
    }
    const byAge = [...latest.entries()].sort((a, b) => b[1].at - a[1].at)
    return (byAge.find(([, e]) => e.n > 1) ?? byAge[0])?.[0] ?? null
  })
  const axes = computed(() => {
    const members = filtered.value.filter((r) => r.experiment === currentExperiment.value)
    const paths = configPaths(members).filter(
      (p) => p !== 'name' && p !== 'train.seed' && varies(members, p),
    )
    const diffs = paths.map((path) => ({
      path,
      values: members.map((r) => flatConfigOf(r).get(path)),
    }))
    const ranked = rankFactors(diffs)
    // The seed last: what the ± of a grid point spans.
    return varies(members, 'train.seed') ? [...ranked, 'train.seed'] : ranked
  })
  const picked = ref<string[] | null>(loadPicked())
  watch(picked, (v) => {
    try {
      if (v === null) window.localStorage.removeItem(COLUMNS_KEY)
      else window.localStorage.setItem(COLUMNS_KEY, JSON.stringify(v))
    } catch {
      // storage unavailable: the choice lasts for this page
    }
  })
  const columns = computed(() =>
    picked.value !== null
      ? picked.value.filter((p) => allPaths.value.includes(p))
      : axes.value.slice(0, MAX_VARYING),
  )
  function toggleColumn(path: string, on: boolean): void {
    const now = [...columns.value]
    picked.value = on ? [...new Set([...now, path])] : now.filter((p) => p !== path)
  }
  const resetColumns = (): void => {
    picked.value = null
  }

  const configValue = (run: Run, path: string): unknown => flatConfigOf(run).get(path)
  const numericPaths = computed(
    () =>
      new Set(
        columns.value.filter((p) =>
          filtered.value.every((r) => {
            const v = configValue(r, p)
            return v === undefined || typeof v === 'number'
          }),
        ),
      ),
  )
  return {
    currentExperiment,
    axes,
    columns,
    picked,
    toggleColumn,
    resetColumns,
    numericPaths,
    configValue,
  }
}

/** The sort order (newest first until a header is clicked) and the rows in it. */
function sortedRuns(
  runs: RunsStore,
  filtered: ComputedRef<Run[]>,
  configValue: (run: Run, path: string) => unknown,
) {
  // --- sorting ------------------------------------------------------------------------------

  const sort = useSort<SortKey>('created', -1, ASCENDING_FIRST)

  function sortValue(run: Run, key: SortKey): SortValue {
    if (key.startsWith('config:')) {
      const v = configValue(run, key.slice('config:'.length))
      return typeof v === 'number' || typeof v === 'string'
        ? v
        : v === undefined
          ? null
          : valueText(v)
    }
    switch (key) {
      case 'status':
        return run.status
      case 'name':
        return run.name
      case 'experiment':
        return run.experiment
      case 'params':
        return run.params ?? runCost(run)?.params ?? null
      case 'macs':
        return runCost(run)?.macs ?? null
      case 'best':
        return run.bestTestAcc
      case 'final':
        return run.finalTestAcc
      case 'epochTime':
        return runs.epochSeconds[run.id] ?? null
      case 'backend':
        return run.backend
      default:
        return run.createdAt
    }
  }

  const rows = computed(() => {
    const key = sort.key.value
    const dir = sort.dir.value
    // Each run's value once (a comparator would compute it ~2 log n times).
    const keyed = filtered.value.map((run, i) => ({ run, v: sortValue(run, key), i }))
    // Ties keep the store's order, newest first (runs of one grid share a millisecond): so the
    // default order is stable, and ascending creation order is its exact reverse.
    const tie = key === 'created' && dir === 1 ? -1 : 1
    keyed.sort((a, b) => compareSortValues(a.v, b.v, dir) || (a.i - b.i) * tie)
    return keyed.map((k) => k.run)
  })
  return { sort, rows }
}

/** The rows rendered: those in view, plus OVERSCAN above and below. */
function rowWindow(runs: RunsStore, rows: ComputedRef<Run[]>) {
  // --- the rendered window ----------------------------------------------------------------------

  const scrollTop = shallowRef(0)
  const viewHeight = shallowRef(0)
  const rowHeight = shallowRef(31)
  function onScroll(el: HTMLElement): void {
    scrollTop.value = el.scrollTop
    viewHeight.value = el.clientHeight
    const first = el.querySelector<HTMLElement>('tbody tr[data-run-id]')
    if (first && first.offsetHeight > 0) rowHeight.value = first.offsetHeight
  }
  const range = computed(() => {
    const n = rows.value.length
    if (viewHeight.value <= 0) return { start: 0, end: Math.min(n, FIRST_WINDOW) }
    const start = Math.max(0, Math.floor(scrollTop.value / rowHeight.value) - OVERSCAN)
    const visible = Math.ceil(viewHeight.value / rowHeight.value)
    return { start, end: Math.min(n, start + visible + 2 * OVERSCAN) }
  })
  const windowRows = computed(() => rows.value.slice(range.value.start, range.value.end))
  const padTop = computed(() => range.value.start * rowHeight.value)
  const padBottom = computed(() => (rows.value.length - range.value.end) * rowHeight.value)
  // Seconds per epoch of the rows in view (not of all 10,000 at once).
  watch(windowRows, (list) => void runs.loadEpochSeconds(list), { immediate: true })
  return { windowRows, padTop, padBottom, onScroll, rowHeight }
}
