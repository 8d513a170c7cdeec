/**
 * The Runs table without its presentation: the filters (text, status, experiment), the config
 * fields that vary across the listed runs (shown as columns), and the sort order, with the rule
 * that missing values sort last whichever the direction.
 */
import { computed, onMounted, ref, watch } from 'vue'
import type { ComputedRef, Ref } from 'vue'
import type { Run } from '@shared/api/types'
import { differingFields, flattenConfig, type FieldDiff } from '@shared/config-diff'
import { valueText } from '@shared/format'
import type { RunStatus } from '@shared/run-state'
import { runCost } from '../lib/run-cost'
import { useRunsStore } from '../stores/runs'

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

/** Config fields shown as columns at most; the rest are counted (Compare shows them all). */
export const MAX_VARYING = 8

/** Text columns start A→Z; numbers and dates start with the largest (best, newest) first. */
const ASCENDING_FIRST: readonly SortKey[] = ['name', 'experiment', 'status']

export interface RunsTable {
  readonly search: Ref<string>
  readonly statusFilter: Ref<RunStatus | ''>
  readonly experimentFilter: Ref<string>
  /** Experiment names for the filter, A→Z. */
  readonly experiments: ComputedRef<string[]>
  /** The listed runs, filtered and sorted. */
  readonly rows: ComputedRef<Run[]>
  /** Config fields whose values differ across the listed runs. */
  readonly varying: ComputedRef<FieldDiff[]>
  /** The ones shown as columns (at most MAX_VARYING). */
  readonly varyingShown: ComputedRef<string[]>
  /** Varying fields whose values are all numbers: right-aligned like the other numbers. */
  readonly numericPaths: ComputedRef<Set<string>>
  configValue(run: Run, path: string): unknown
  sortBy(key: SortKey): void
  ariaSort(key: SortKey): 'ascending' | 'descending' | 'none'
  /** ▲ or ▼ on the sorted column. */
  arrow(key: SortKey): string
}

export function useRunsTable(): RunsTable {
  const runs = useRunsStore()
  onMounted(() => {
    if (!runs.loaded) void runs.load()
  })

  const search = ref('')
  const statusFilter = ref<RunStatus | ''>('')
  const experimentFilter = ref('')

  const experiments = computed(() => [...new Set(runs.runs.map((r) => r.experiment))].sort())

  const filtered = computed(() => {
    const q = search.value.trim().toLowerCase()
    return runs.runs.filter((r) => {
      if (statusFilter.value && r.status !== statusFilter.value) return false
      if (experimentFilter.value && r.experiment !== experimentFilter.value) return false
      if (!q) return true
      return [r.id, r.name, r.experiment, r.notes, r.backend ?? '', ...r.tags].some((t) =>
        t.toLowerCase().includes(q),
      )
    })
  })
  watch(filtered, (list) => void runs.loadEpochSeconds(list), { immediate: true })

  const varying = computed(() => differingFields(filtered.value.map((r) => r.config)))
  const varyingShown = computed(() => varying.value.slice(0, MAX_VARYING).map((d) => d.path))
  const flatConfigs = computed(
    () => new Map(filtered.value.map((r) => [r.id, flattenConfig(r.config)])),
  )
  const configValue = (run: Run, path: string): unknown => flatConfigs.value.get(run.id)?.get(path)
  const numericPaths = computed(
    () =>
      new Set(
        varying.value
          .filter((d) => d.values.every((v) => typeof v === 'number'))
          .map((d) => d.path),
      ),
  )

  // --- sorting ------------------------------------------------------------------------------

  const sortKey = ref<SortKey>('created')
  const sortDir = ref<1 | -1>(-1)

  function sortValue(run: Run, key: SortKey): string | number | null {
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
    const key = sortKey.value
    const dir = sortDir.value
    return [...filtered.value].sort((a, b) => {
      const va = sortValue(a, key)
      const vb = sortValue(b, key)
      // Missing values last, whatever the direction.
      if (va === null || vb === null) return va === vb ? 0 : va === null ? 1 : -1
      if (typeof va === 'number' && typeof vb === 'number') return (va - vb) * dir
      return String(va).localeCompare(String(vb), undefined, { numeric: true }) * dir
    })
  })

  function sortBy(key: SortKey): void {
    if (sortKey.value === key) sortDir.value = sortDir.value === 1 ? -1 : 1
    else {
      sortKey.value = key
      sortDir.value = ASCENDING_FIRST.includes(key) ? 1 : -1
    }
  }
  const ariaSort = (key: SortKey): 'ascending' | 'descending' | 'none' =>
    sortKey.value === key ? (sortDir.value === 1 ? 'ascending' : 'descending') : 'none'
  const arrow = (key: SortKey): string =>
    sortKey.value === key ? (sortDir.value === 1 ? '▲' : '▼') : ''

  return {
    search,
    statusFilter,
    experimentFilter,
    experiments,
    rows,
    varying,
    varyingShown,
    numericPaths,
    configValue,
    sortBy,
    ariaSort,
    arrow,
  }
}
