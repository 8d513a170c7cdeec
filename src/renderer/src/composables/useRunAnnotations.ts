/**
 * Editing a run's notes and tags from any view (the Runs table, the run page): the text a user
 * typed becomes the API call, and a refusal becomes a message in `error` instead of an unhandled
 * rejection. What the store has stays as it was when a save fails.
 */
import { ref, type Ref } from 'vue'
import { errorMessage } from '../api'
import { useRunsStore } from '../stores/runs'

/** "baseline, gap ,baseline" → ["baseline", "gap"]: comma separated, trimmed, each once. */
export const parseTags = (text: string): string[] => [
  ...new Set(
    text
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean),
  ),
]

export interface RunAnnotations {
  readonly error: Readonly<Ref<string | null>>
  saveNotes(runId: string, notes: string): Promise<void>
  /** Saves tags typed as comma-separated text. */
  saveTags(runId: string, text: string): Promise<void>
}

export function useRunAnnotations(): RunAnnotations {
  const runs = useRunsStore()
  const error = ref<string | null>(null)

  async function attempt(action: () => Promise<void>): Promise<void> {
    try {
      await action()
      error.value = null
    } catch (err) {
      error.value = errorMessage(err)
    }
  }

  return {
    error,
    saveNotes: (runId, notes) => attempt(() => runs.setNotes(runId, notes)),
    saveTags: (runId, text) => attempt(() => runs.setTags(runId, parseTags(text))),
  }
}
