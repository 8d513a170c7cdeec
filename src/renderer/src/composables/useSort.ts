/**
 * A table's sort order: the column and the direction, a click on a header to change them, and
 * the header's aria-sort and arrow. Text columns start A→Z; numbers start with the largest.
 */
import { ref, type Ref } from 'vue'

export type SortValue = string | number | null

export interface Sort<K extends string> {
  readonly key: Ref<K>
  readonly dir: Ref<1 | -1>
  sortBy(key: K): void
  ariaSort(key: K): 'ascending' | 'descending' | 'none'
  /** ▲ or ▼ on the sorted column. */
  arrow(key: K): string
  /** Sorts a copy of `rows` by `value(row, key)`; missing values last, whatever the direction. */
  sorted<T>(rows: readonly T[], value: (row: T, key: K) => SortValue): T[]
}

/** Missing values last, numbers as numbers, text in natural order (m2 before m10). */
export function compareSortValues(a: SortValue, b: SortValue, dir: 1 | -1): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1
  if (typeof a === 'number' && typeof b === 'number') return (a - b) * dir
  return String(a).localeCompare(String(b), undefined, { numeric: true }) * dir
}

export function useSort<K extends string>(
  initial: K,
  initialDir: 1 | -1,
  ascendingFirst: readonly K[],
): Sort<K> {
  const key = ref(initial) as Ref<K>
  const dir = ref<1 | -1>(initialDir)
  function sortBy(next: K): void {
    if (key.value === next) dir.value = dir.value === 1 ? -1 : 1
    else {
      key.value = next
      dir.value = ascendingFirst.includes(next) ? 1 : -1
    }
  }
  return {
    key,
    dir,
    sortBy,
    ariaSort: (k) => (key.value === k ? (dir.value === 1 ? 'ascending' : 'descending') : 'none'),
    arrow: (k) => (key.value === k ? (dir.value === 1 ? '▲' : '▼') : ''),
    sorted: (rows, value) =>
      [...rows].sort((a, b) =>
        compareSortValues(value(a, key.value), value(b, key.value), dir.value),
      ),
  }
}
