// The data folder's queue settings through the API, applied by a real scheduler: CPU slots, GPU
// slots (`auto` on this GPU-less machine falls back to CPU slots and says so, from the real
// trainer probe), and a Redis URL that is checked before it is saved.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Core } from '@core/core'
import { assertBuilt } from '../helpers/cli'

let core: Core
beforeEach(() => {
  assertBuilt()
  core = new Core({ dataDir: mkdtempSync(join(tmpdir(), 'nin-lab-settings-')), scheduler: true })
})
afterEach(async () => core.close())

describe('queue settings', () => {
  it('CPU slots apply at once and are saved in the data folder', async () => {
    const view = await core.api.setQueueSettings({ concurrency: 3 })
    expect(view.saved).toEqual({ concurrency: 3, gpus: null, redis: null })
    expect(view.scheduler?.slots.map((s) => s.id)).toEqual(['cpu0', 'cpu1', 'cpu2'])
    expect(core.store.queueSettings().concurrency).toBe(3)
  })

  it('--gpus auto on a machine without a GPU falls back to the CPU slots and says so', async () => {
    await core.api.setQueueSettings({ concurrency: 2, gpus: 'auto' })
    // The probe runs the real trainer (a few seconds): poll until its answer is applied.
    let view = await core.api.getQueueSettings({})
    for (let i = 0; i < 600 && !view.scheduler?.note; i++) {
      await new Promise((r) => setTimeout(r, 200))
      view = await core.api.getQueueSettings({})
    }
    expect(view.saved.gpus).toBe('auto')
    expect(view.scheduler?.note).toMatch(/--gpus auto found no GPU .*2 CPU slots/)
    expect(view.scheduler?.slots.map((s) => s.id)).toEqual(['cpu0', 'cpu1'])
  })

  it('refuses a URL that is not Redis, and masks a password when it shows one', async () => {
    await expect(core.api.setQueueSettings({ redis: 'http://example.com' })).rejects.toMatchObject({
      code: 'invalid-params',
    })
    await expect(core.api.setQueueSettings({ gpus: 'two' })).rejects.toMatchObject({
      code: 'invalid-params',
      message: expect.stringMatching(/auto, none, or GPU indices/),
    })
    const view = await core.api.setQueueSettings({ redis: 'redis://:s3cret@127.0.0.1:1/0' })
    expect(view.saved.redis).toBe('redis://:****@127.0.0.1:1/0')
    expect(JSON.stringify(view)).not.toContain('s3cret')
    expect(core.store.queueSettings().redis).toBe('redis://:s3cret@127.0.0.1:1/0')
    await core.api.setQueueSettings({ redis: '' })
  })
})
