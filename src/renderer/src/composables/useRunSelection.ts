/**
 * Runs ticked in the Runs table, and what can be done with them: compare them, or delete them
 * (after confirmation, and only when none is still training: the store refuses the whole
 * deletion then, so the view says which to cancel first instead of offering it).
 */
import { computed, ref, watch } from 'vue'
import type { ComputedRef, Ref } from 'vue'
import type { Run } from '@shared/api/types'
import { canDelete } from '@shared/run-state'
import { errorMessage } from '../api'
import { useCompareStore } from '../stores/compare'
import { useRouteStore } from '../stores/route'
import { useRunsStore } from '../stores/runs'

export interface RunSelection {
  readonly selected: Readonly<Ref<ReadonlySet<string>>>
  /** The selected runs, in the store's order. */
  readonly selectedRuns: ComputedRef<Run[]>
  toggle(id: string, on: boolean): void
  /** Every listed run is selected. */
  allSelected(listed: readonly Run[]): boolean
  toggleAll(listed: readonly Run[], on: boolean): void
  /** Opens Compare with the selection. */
  compareSelected(): void
  /** Selected runs the store would refuse to delete (still training). */
  readonly undeletable: ComputedRef<Run[]>
  readonly canDeleteSelected: ComputedRef<boolean>
  deleteSelected(): Promise<void>
  /** Why the last delete failed; null once one succeeds. */
  readonly error: Readonly<Ref<string | null>>
}

export function useRunSelection(): RunSelection {
  const runs = useRunsStore()
  const compare = useCompareStore()
  const router = useRouteStore()

  const selected = ref<ReadonlySet<string>>(new Set())
  const error = ref<string | null>(null)

  // Runs deleted elsewhere leave the selection.
  watch(
    () => runs.runs,
    (list) => {
      const ids = new Set(list.map((r) => r.id))
      const kept = [...selected.value].filter((id) => ids.has(id))
      if (kept.length !== selected.value.size) selected.value = new Set(kept)
    },
  )

  function toggle(id: string, on: boolean): void {
    const next = new Set(selected.value)
    if (on) next.add(id)
    else next.delete(id)
    selected.value = next
  }
  const allSelected = (listed: readonly Run[]): boolean =>
    listed.length > 0 && listed.every((r) => selected.value.has(r.id))
  function toggleAll(listed: readonly Run[], on: boolean): void {
    const next = new Set(selected.value)
    for (const r of listed) {
      if (on) next.add(r.id)
      else next.delete(r.id)
    }
    selected.value = next
  }

  function compareSelected(): void {
    compare.set([...selected.value])
    router.go({ name: 'compare' })
  }

  const selectedRuns = computed(() => runs.runs.filter((r) => selected.value.has(r.id)))
  const undeletable = computed(() => selectedRuns.value.filter((r) => !canDelete(r.status)))
  const canDeleteSelected = computed(
    () => selected.value.size > 0 && undeletable.value.length === 0,
  )

  async function deleteSelected(): Promise<void> {
    if (!canDeleteSelected.value) return
    try {
      const deleted = await runs.deleteRuns([...selected.value])
      compare.remove(deleted)
      selected.value = new Set()
      error.value = null
    } catch (err) {
      error.value = errorMessage(err)
    }
  }

  return {
    selected,
    selectedRuns,
    toggle,
    allSelected,
    toggleAll,
    compareSelected,
    undeletable,
    canDeleteSelected,
    deleteSelected,
    error,
  }
}
