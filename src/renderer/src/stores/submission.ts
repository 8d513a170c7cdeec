/**
 * Queueing the New experiment page's grid: the experiment name, whether the grid can be queued,
 * and what queueing it gave (runs added and skipped, or why it was refused, field by field).
 * The owner of `experimentName` and of the last submission's outcome.
 */
import { defineStore } from 'pinia'
import { computed, ref, shallowRef, watch, type ComputedRef, type Ref, type ShallowRef } from 'vue'
import type { GridAxisInput } from '@shared/api/contract'
import type { ExperimentSummary, Run } from '@shared/api/types'
import type { ConfigIssue } from '@shared/config/schema'
import { api, errorMessage, toApiError } from '../api'
import { useDraftStore } from './draft'
import { useFitStore } from './fit'
import { useGridStore } from './grid'
import { loadSaved, saveFields } from './new-experiment-storage'
import { useRunsStore } from './runs'

export interface SubmitResult {
  readonly added: readonly Run[]
  readonly skipped: number
  /** Runs linked to a completed run of the same config instead of being trained again. */
  readonly linked: readonly Run[]
  /** The experiment they went to. */
  readonly experiment: string
}

/** The experiment name when neither the form nor the config gives one. */
const FALLBACK_NAME = 'nin'

export const useSubmissionStore = defineStore('submission', () => {
  const draft = useDraftStore()
  const grid = useGridStore()
  const fit = useFitStore()
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
  /**
   * The core asks before queueing runs a completed run elsewhere already trained (issue per
   * run): link them, or train them anew. Never decided for the user.
   */
  const reuseQuestion = shallowRef<{ message: string; runs: readonly ConfigIssue[] } | null>(null)

  const { effectiveName, experiments, loadExperiments, existing } = naming(draft, experimentName)

  const canSubmit = computed(
    () =>
      !submitting.value &&
      draft.config !== null &&
      grid.grid.issues.length === 0 &&
      grid.grid.configs.length > 0 &&
      !fit.blocked,
  )

  const { submit, confirmSubmit, answerReuse, dismissReuse, dismissConfirmation } = submitter({
    draft,
    grid,
    canSubmit,
    experimentName,
    effectiveName,
    loadExperiments,
    refs: { submitting, result, error, issues, confirmation, reuseQuestion },
  })

  watch(experimentName, () => saveFields({ experimentName: experimentName.value }))
  // "Queued 4 runs" speaks of the draft as it was: an edit (say, one that makes it invalid,
  // with "Fix the fields marked in red" shown) makes it old news, and so do its errors.
  watch(
    () => draft.draft,
    () => {
      result.value = null
      error.value = null
      issues.value = []
    },
  )

  return {
    experimentName,
    submitting,
    result,
    error,
    issues,
    effectiveName,
    canSubmit,
    experiments,
    existing,
    loadExperiments,
    confirmation,
    submit,
    confirmSubmit,
    dismissConfirmation,
    reuseQuestion,
    answerReuse,
    dismissReuse,
  }
})

type Draft = ReturnType<typeof useDraftStore>

/** The experiment the runs go to: its name, and whether it exists already. */
function naming(draft: Draft, experimentName: Ref<string>) {
  /**
   * The name typed, else the experiment of the run being edited and requeued, else the config's
   * name, else "nin".
   */
  const effectiveName = computed(() => {
    const typed = experimentName.value.trim()
    if (typed) return typed
    if (draft.origin?.mode === 'requeue') return draft.origin.experiment
    const name = draft.valueAt('name')
    return typeof name === 'string' && name.trim() ? name.trim() : FALLBACK_NAME
  })

  /** The experiments the store has, to say when a name adds to one (refreshed after queueing). */
  const experiments = shallowRef<readonly ExperimentSummary[]>([])
  async function loadExperiments(): Promise<void> {
    try {
      experiments.value = await api.listExperiments({})
    } catch {
      // Only a hint next to the name: without it the form works the same.
    }
  }
  /** The existing experiment the runs would be added to, or null for a new one. */
  const existing = computed(
    () => experiments.value.find((e) => e.name === effectiveName.value) ?? null,
  )

  return { effectiveName, experiments, loadExperiments, existing }
}

interface SubmitContext {
  readonly draft: Draft
  readonly grid: ReturnType<typeof useGridStore>
  readonly canSubmit: ComputedRef<boolean>
  readonly experimentName: Ref<string>
  readonly effectiveName: ComputedRef<string>
  loadExperiments(): Promise<void>
  readonly refs: {
    readonly submitting: Ref<boolean>
    readonly result: ShallowRef<SubmitResult | null>
    readonly error: Ref<string | null>
    readonly issues: ShallowRef<readonly ConfigIssue[]>
    readonly confirmation: Ref<string | null>
    readonly reuseQuestion: ShallowRef<{ message: string; runs: readonly ConfigIssue[] } | null>
  }
}

/** Queueing the grid, and answering the core's questions about it (a big grid, reused runs). */
function submitter(ctx: SubmitContext) {
  const { draft, grid, canSubmit, experimentName, effectiveName, loadExperiments } = ctx
  const { submitting, result, error, issues, confirmation, reuseQuestion } = ctx.refs
  /** Whether the big-grid question was already answered yes (the reuse question may follow). */
  let confirmedBig = false

  async function submit(confirm = false, reuse?: 'link' | 'train'): Promise<void> {
    if (!canSubmit.value) return
    submitting.value = true
    confirmedBig = confirm
    confirmation.value = null
    reuseQuestion.value = null
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
        ...(reuse ? { reuse } : {}),
      })
      result.value = { ...added, experiment: effectiveName.value }
      useRunsStore().upsert([...added.added, ...added.linked])
      // The next study starts unnamed: a name typed for this one must not carry over silently.
      experimentName.value = ''
      draft.forgetOrigin()
      void loadExperiments()
    } catch (err) {
      const e = toApiError(err)
      if (e.code === 'needs-confirmation' && e.issues && e.issues.length > 0) {
        reuseQuestion.value = { message: e.message, runs: e.issues }
        return
      }
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
  /** Answers the reuse question: link the matching runs, or train them anew. */
  const answerReuse = (reuse: 'link' | 'train'): Promise<void> => submit(confirmedBig, reuse)
  const dismissReuse = (): void => {
    reuseQuestion.value = null
  }
  const dismissConfirmation = (): void => {
    confirmation.value = null
  }

  return { submit, confirmSubmit, answerReuse, dismissReuse, dismissConfirmation }
}
