/**
 * The queue's settings as this process uses them: the data folder's saved settings (CPU slots,
 * GPUs, Redis), this process's overrides (`queue start --concurrency/--gpus/--redis`, then
 * $NIN_LAB_REDIS), what they became once applied to the scheduler (the GPU probe's slots, the
 * Redis it took), and the remote workers it sees.
 */
import {
  ApiError,
  type Params,
  type QueueSettingsView,
  type WorkersView,
} from '@shared/api/contract'
import { parseGpuList, type QueueSettings } from '@shared/api/types'
import { readWorkers } from './queue/fleet'
import { peekFleetKey } from './queue/fleet-key'
import { describeRedisUrl, redisOptions } from './queue/redis'
import { cpuSlots, type Scheduler } from './queue/scheduler'
import { resolveSlots } from './queue/slots'
import type { RunStore } from './store'

/** Remote workers through this Redis, unless the command line says otherwise. */
export const REDIS_ENV = 'NIN_LAB_REDIS'

/** The saved settings with a setQueueSettings request applied, its GPU list and Redis URL checked. */
export function parseQueueSettings(
  saved: QueueSettings,
  p: Params<'setQueueSettings'>,
): QueueSettings {
  let gpus = saved.gpus
  if (p.gpus !== undefined) {
    const parsed = parseGpuList(p.gpus)
    if (parsed !== null && typeof parsed === 'object' && 'error' in parsed)
      throw new ApiError('invalid-params', parsed.error)
    gpus = parsed
  }
  const redis = p.redis === undefined ? saved.redis : p.redis === '' ? null : p.redis
  if (redis) {
    try {
      redisOptions(redis)
    } catch (err) {
      throw new ApiError('invalid-params', (err as Error).message)
    }
  }
  return { concurrency: p.concurrency ?? saved.concurrency, gpus, redis }
}

export class QueueSetup {
  /** Why the slots differ from the settings, once resolved (e.g. --gpus auto found no GPU). */
  private slotsNote: string | null = null
  private redisUrl: string | null = null
  private redisFrom: 'settings' | 'environment' | 'command line' | null = null

  constructor(
    private readonly store: RunStore,
    private readonly dataDir: string,
    private readonly overrides: Partial<QueueSettings> = {},
  ) {}

  /** The saved queue settings with this process's overrides, and where the Redis URL came from. */
  effective(): QueueSettings {
    const saved = this.store.queueSettings()
    const over = this.overrides
    const env = process.env[REDIS_ENV]
    const redis =
      over.redis !== undefined ? over.redis : env !== undefined && env !== '' ? env : saved.redis
    this.redisFrom =
      redis === null
        ? null
        : over.redis !== undefined
          ? 'command line'
          : env !== undefined && env !== ''
            ? 'environment'
            : 'settings'
    return { ...saved, ...over, redis }
  }

  /** Applies queue settings to this process's scheduler: slots (after the GPU probe), Redis. */
  apply(scheduler: Scheduler, settings: QueueSettings): void {
    if (settings.redis !== this.redisUrl) {
      try {
        if (settings.redis) redisOptions(settings.redis) // a bad URL: said once, never retried
        scheduler.setRemote(settings.redis)
        this.redisUrl = settings.redis
      } catch (err) {
        console.error(`nin-lab: no remote workers: ${(err as Error).message}`)
        scheduler.setRemote(null)
        this.redisUrl = null
      }
    }
    if (settings.gpus === null) {
      this.slotsNote = null
      scheduler.setSlots(cpuSlots(settings.concurrency))
      return
    }
    // No local slot until the probe says which GPUs there are (a few seconds).
    scheduler.setSlots([])
    void resolveSlots(settings).then(
      ({ slots, note }) => {
        this.slotsNote = note
        if (note) console.error(`nin-lab: ${note}`)
        scheduler.setSlots(slots)
      },
      (err: unknown) => console.error(`nin-lab: could not resolve --gpus: ${String(err)}`),
    )
  }

  /** Saves a setQueueSettings request and applies the result to this process's scheduler. */
  update(p: Params<'setQueueSettings'>, scheduler: Scheduler | null): void {
    this.store.setQueueSettings(parseQueueSettings(this.store.queueSettings(), p))
    if (scheduler) this.apply(scheduler, this.effective())
  }

  view(scheduler: Scheduler | null): QueueSettingsView {
    const saved = this.store.queueSettings()
    return {
      saved: { ...saved, redis: saved.redis === null ? null : describeRedisUrl(saved.redis) },
      scheduler: scheduler
        ? {
            slots: scheduler.localSlots,
            note: this.slotsNote,
            redis: this.redisUrl === null ? null : describeRedisUrl(this.redisUrl),
            redisFrom: this.redisUrl === null ? null : this.redisFrom,
          }
        : null,
    }
  }

  /** The remote workers' heartbeats: from this process's fleet, else read from Redis. */
  async workers(scheduler: Scheduler | null): Promise<WorkersView> {
    const redis = scheduler?.remote ? this.redisUrl : this.effective().redis
    if (!redis) return { workers: [], redis: null, error: null }
    try {
      const { beats, ignored } = scheduler?.remote
        ? await scheduler.remote.fleetView()
        : await readWorkers(redis, peekFleetKey(this.dataDir))
      return { workers: beats, redis: describeRedisUrl(redis), error: null, ignored }
    } catch (err) {
      return { workers: [], redis: describeRedisUrl(redis), error: (err as Error).message }
    }
  }
}
