/**
 * The fleet: the queue's settings (CPU slots, GPUs, the Redis of remote workers) and the remote
 * workers whose heartbeat is current. Read while the Queue view is open (workers every few
 * seconds: heartbeats are not pushed as events).
 */
import { defineStore } from 'pinia'
import { ref, shallowRef } from 'vue'
import type { QueueSettingsView, WorkersView } from '@shared/api/contract'
import { api, errorMessage } from '../api'

const WORKERS_REFRESH_MS = 3000

export const useFleetStore = defineStore('fleet', () => {
  const settings = shallowRef<QueueSettingsView | null>(null)
  const workers = shallowRef<WorkersView | null>(null)
  const error = ref<string | null>(null)
  const saving = ref(false)
  let timer: ReturnType<typeof setInterval> | null = null

  async function loadSettings(): Promise<void> {
    try {
      settings.value = await api.getQueueSettings({})
    } catch (err) {
      error.value = errorMessage(err)
    }
  }

  async function loadWorkers(): Promise<void> {
    try {
      workers.value = await api.listWorkers({})
    } catch (err) {
      workers.value = { workers: [], redis: null, error: errorMessage(err) }
    }
  }

  /** Saves the settings; a scheduler in the core's process applies them at once. */
  async function save(next: {
    concurrency: number
    gpus: string
    /** Left out: keep the saved URL (shown masked when it has a password). */
    redis?: string
  }): Promise<boolean> {
    saving.value = true
    try {
      settings.value = await api.setQueueSettings(next)
      error.value = null
      void loadWorkers()
      return true
    } catch (err) {
      error.value = errorMessage(err)
      return false
    } finally {
      saving.value = false
    }
  }

  /** Starts reading the fleet; returns the function that stops it (for the view's unmount). */
  function follow(): () => void {
    void loadSettings()
    void loadWorkers()
    timer ??= setInterval(() => void loadWorkers(), WORKERS_REFRESH_MS)
    return () => {
      if (timer) clearInterval(timer)
      timer = null
    }
  }

  return { settings, workers, error, saving, loadSettings, loadWorkers, save, follow }
})
