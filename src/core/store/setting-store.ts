/** The queue's settings, shared by every process that opens the data folder. */
import { DEFAULT_QUEUE_SETTINGS, type QueueSettings } from '@shared/api/types'
import type { StoreContext } from './context'
import { SETTING_KEYS } from './settings'

export class SettingStore {
  private readonly sql: StoreContext['sql']

  constructor(private readonly ctx: StoreContext) {
    this.sql = ctx.sql
  }

  /** Whether the queue is paused: queued runs wait; running ones go on. Shared by all processes. */
  queuePaused(): boolean {
    return this.ctx.guard(() => this.sql.settings.get.get(SETTING_KEYS.queuePaused) === 'true')
  }

  /** The queue's saved settings (slots, GPUs, Redis), defaults filled in. */
  queueSettings(): QueueSettings {
    return this.ctx.guard(() => {
      const raw = this.sql.settings.get.get(SETTING_KEYS.queue)
      if (raw === undefined) return DEFAULT_QUEUE_SETTINGS
      try {
        return { ...DEFAULT_QUEUE_SETTINGS, ...(JSON.parse(raw) as Partial<QueueSettings>) }
      } catch {
        return DEFAULT_QUEUE_SETTINGS
      }
    })
  }

  setQueueSettings(settings: QueueSettings): void {
    this.ctx.write(() => {
      this.sql.settings.set.run(SETTING_KEYS.queue, JSON.stringify(settings))
    })
  }

  setQueuePaused(paused: boolean): void {
    this.ctx.write(() => {
      this.sql.settings.set.run(SETTING_KEYS.queuePaused, JSON.stringify(paused))
    })
  }
}
