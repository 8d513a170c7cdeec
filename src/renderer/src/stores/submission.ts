/**
 * Queueing the New experiment page's grid: the experiment name, whether the grid can be queued,
 * and what queueing it gave (runs added and skipped, or why it was refused, field by field).
 * The owner of `experimentName` and of the last submission's outcome.
 */
import { defineStore } from 'pinia'
import { computed, ref, shallowRef, watch } from 'vue'
import type { GridAxisInput } from '@shared/api/contract'
import type { Run } from '@shared/api/types'
import type { ConfigIssue } from '@shared/config/schema'
import { api, errorMessage, toApiError } from '../api'
import { useDraftStore } from './draft'
import { useGridStore } from './grid'
import { loadSaved, saveFields } from './new-experiment-storage'
import { useRunsStore } from './runs'

export interface SubmitResult {
  readonly added: readonly Run[]
  readonly skipped: number
}

/** The experiment name when neither the form nor the config gives one. */
const FALLBACK_NAME = 'nin'

export const useSubmissionStore = defineStore('submission', () => {
  const draft = useDraftStore()
  const grid = useGridStore()
  const saved = loadSaved()

  const experimentName = ref<string>(
    typeof saved.experimentName === 'string' ? saved.experimentName : '',
  )
  const submitting = ref(false)
  const result = shallowRef<SubmitResult | null>(null)
  const error = ref<string | null>(null)
  const issues = shallowRef<readonly ConfigIssue[]>([])
  /** The core asks before queueing a big grid: its question, until confirmed or dismissed. */
  const confirmation = ref<string | null>(null)

  /** The name typed, else the config's name, else "nin". */
  const effectiveName = computed(() => {
    const typed = experimentName.value.trim()
    if (typed) return typed
    const name = draft.valueAt('name')
    return typeof name === 'string' && name.trim() ? name.trim() : FALLBACK_NAME
  })

  const canSubmit = computed(
    () =>
      !submitting.value &&
      draft.config !== null &&
      grid.grid.issues.length === 0 &&
      grid.grid.configs.length > 0,
  )

  async function submit(confirm = false): Promise<void> {
    if (!canSubmit.value) return
    submitting.value = true
    confirmation.value = null
    error.value = null
    issues.value = []
    result.value = null
    try {
      const axes: GridAxisInput[] = grid.parsedAxes.good.map((a) => ({
        path: a.path,
        values: [...a.values],
      }))
      const added = await api.addRuns({
        experiment: effectiveName.value,
        base: draft.draft,
        axes,
        seeds: grid.seedCount,
        ...(confirm ? { confirm: true } : {}),
      })
      result.value = added
      useRunsStore().upsert(added.added)
    } catch (err) {
      const e = toApiError(err)
      if (e.code === 'needs-confirmation') {
        confirmation.value = e.message
        return
      }
      error.value = errorMessage(e)
      issues.value = e.issues ?? []
    } finally {
      submitting.value = false
    }
  }

  /** Queues the grid the core asked about. */
  const confirmSubmit = (): Promise<void> => submit(true)
  const dismissConfirmation = (): void => {
    confirmation.value = null
  }

  watch(experimentName, () => saveFields({ experimentName: experimentName.value }))

  return {
    experimentName,
    submitting,
    result,
    error,
    issues,
    effectiveName,
    canSubmit,
    confirmation,
    submit,
    confirmSubmit,
    dismissConfirmation,
  }
})
