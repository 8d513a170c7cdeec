/**
 * The Exercises page's state: which exercise is open, the scale and seeds chosen for it, what
 * its study would queue at each scale (with the time it would take here), and its answer from
 * the runs of its experiment, refreshed as they finish. What each exercise is: @shared/exercises.
 */
import { defineStore } from 'pinia'
import { ref, shallowRef, type ShallowRef } from 'vue'
import type { ExerciseStudy } from '@shared/api/contract'
import type { ExerciseAnswer } from '@shared/exercise-answer'
import { DEFAULT_SEEDS, EXERCISE_SCALES, type ExerciseScale } from '@shared/exercises'
import { api, errorMessage, onEvent } from '../api'

/** Coalesce a burst of finished runs into one answer refetch. */
const REFRESH_DELAY_MS = 300

export const useExercisesStore = defineStore('exercises', () => {
  const st = exerciseState()
  const { selected, scale, seeds, overrides, studies, answer, error, busy, queued, sets } = st
  const { loadStudies, loadAnswer } = loaders(st)

  async function select(id: number): Promise<void> {
    selected.value = id
    queued.value = null
    answer.value = null
    studies.value = {}
    await Promise.all([loadStudies(), loadAnswer()])
  }

  async function setScale(next: ExerciseScale): Promise<void> {
    scale.value = next
    queued.value = null
    await loadAnswer()
  }

  async function queue(): Promise<void> {
    busy.value = true
    try {
      const r = await api.queueExercise({
        exercise: selected.value,
        scale: scale.value,
        seeds: seeds.value,
        set: sets(),
      })
      queued.value =
        `Queued ${r.added.length} runs into “${r.experiment}”` +
        (r.skipped > 0 ? ` (${r.skipped} it already had)` : '') +
        '. The answer below fills in as they finish.'
      error.value = null
      await Promise.all([loadStudies(), loadAnswer()])
    } catch (err) {
      error.value = errorMessage(err)
    } finally {
      busy.value = false
    }
  }

  refreshOnRuns(answer, loadAnswer)

  return {
    selected,
    scale,
    seeds,
    overrides,
    studies,
    answer,
    error,
    busy,
    queued,
    select,
    setScale,
    loadStudies,
    loadAnswer,
    queue,
  }
})

/** The page's state: the exercise, scale, seeds and overrides chosen, and what came back. */
function exerciseState() {
  const selected = ref(1)
  const scale = ref<ExerciseScale>('small')
  const seeds = ref(DEFAULT_SEEDS)
  /** `PATH=VALUE` overrides for every run of the study, one a line (the CLI's --set). */
  const overrides = ref('')
  const sets = (): string[] =>
    overrides.value
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '')
  const studies = shallowRef<Partial<Record<ExerciseScale, ExerciseStudy>>>({})
  const answer = shallowRef<ExerciseAnswer | null>(null)
  const error = ref<string | null>(null)
  const busy = ref(false)
  /** What the last queueing did, for the page to say. */
  const queued = ref<string | null>(null)

  return { selected, scale, seeds, overrides, sets, studies, answer, error, busy, queued }
}
type State = ReturnType<typeof exerciseState>

/** What the study would queue at each scale, and the answer at the chosen one. */
function loaders({ selected, scale, seeds, sets, studies, answer, error }: State) {
  async function loadStudies(): Promise<void> {
    const exercise = selected.value
    try {
      const all = await Promise.all(
        EXERCISE_SCALES.map((s) =>
          api.exerciseStudy({ exercise, scale: s, seeds: seeds.value, set: sets() }),
        ),
      )
      if (exercise !== selected.value) return
      studies.value = Object.fromEntries(all.map((s) => [s.scale, s]))
      error.value = null
    } catch (err) {
      error.value = errorMessage(err)
    }
  }

  async function loadAnswer(): Promise<void> {
    const exercise = selected.value
    const at = scale.value
    try {
      const a = await api.exerciseAnswer({ exercise, scale: at })
      if (exercise === selected.value && at === scale.value) answer.value = a
    } catch (err) {
      error.value = errorMessage(err)
    }
  }

  return { loadStudies, loadAnswer }
}

/** The answer is fetched again when a run of its experiment starts or finishes. */
function refreshOnRuns(
  answer: ShallowRef<ExerciseAnswer | null>,
  loadAnswer: () => Promise<void>,
): void {
  let timer: ReturnType<typeof setTimeout> | null = null
  const refreshSoon = (): void => {
    if (timer) return
    timer = setTimeout(() => {
      timer = null
      void loadAnswer()
    }, REFRESH_DELAY_MS)
  }
  const mine = (experiment: string): boolean => answer.value?.experiment === experiment
  onEvent('runFinished', ({ run }) => {
    if (mine(run.experiment)) refreshSoon()
  })
  onEvent('runStarted', ({ run }) => {
    if (mine(run.experiment)) refreshSoon()
  })
}
