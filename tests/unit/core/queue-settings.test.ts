// A setQueueSettings request over the saved settings (src/core/queue-settings.ts): what it leaves
// alone, what it clears, and the GPU list and Redis URL refused as invalid parameters.
import { describe, expect, it } from 'vitest'
import { ApiError } from '@shared/api/contract'
import type { QueueSettings } from '@shared/api/types'
import { parseQueueSettings } from '@core/queue-settings'

const SAVED: QueueSettings = { concurrency: 2, gpus: [0, 1], redis: 'redis://127.0.0.1:6379/0' }

describe('parseQueueSettings', () => {
  it('keeps every saved field the request does not name', () => {
    expect(parseQueueSettings(SAVED, {})).toEqual(SAVED)
    expect(parseQueueSettings(SAVED, { concurrency: 4 })).toEqual({ ...SAVED, concurrency: 4 })
  })

  it('reads the GPU list as --gpus does, and clears Redis with an empty URL', () => {
    expect(parseQueueSettings(SAVED, { gpus: 'auto' }).gpus).toBe('auto')
    expect(parseQueueSettings(SAVED, { gpus: 'none' }).gpus).toBeNull()
    expect(parseQueueSettings(SAVED, { gpus: '3, 1,3' }).gpus).toEqual([3, 1])
    expect(parseQueueSettings(SAVED, { redis: '' }).redis).toBeNull()
    expect(parseQueueSettings(SAVED, { redis: 'redis://h:1/2' }).redis).toBe('redis://h:1/2')
  })

  it('refuses a GPU list or a Redis URL it cannot use, as invalid parameters', () => {
    for (const bad of [{ gpus: 'two' }, { redis: 'http://example.com' }]) {
      let caught: unknown
      try {
        parseQueueSettings(SAVED, bad)
      } catch (err) {
        caught = err
      }
      expect(caught).toBeInstanceOf(ApiError)
      expect((caught as ApiError).code).toBe('invalid-params')
    }
  })
})
