// The desktop app's core process, driven the way the Electron main process drives it (the
// Electron binary itself cannot run here; the relay it uses is this very client).
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { startCoreClient } from '@main/core-client'
import { assertBuilt, ROOT } from '../helpers/cli'

describe('core host', () => {
  it('answers calls, reports errors as data, pushes events, and stops when told', async () => {
    assertBuilt()
    const dataDir = mkdtempSync(join(tmpdir(), 'nin-lab-host-'))
    const client = startCoreClient({
      cliPath: join(ROOT, 'out/main/cli.js'),
      dataDir,
      node: process.execPath,
    })
    const events: string[] = []
    client.onEvent((event) => events.push(event))
    expect(await client.ready).toEqual({ dataDir, scheduler: true })

    expect(await client.call('pauseQueue', {})).toMatchObject({
      ok: true,
      result: { paused: true },
    })
    const bad = await client.call('addRuns', {
      experiment: 'e',
      base: { train: { lr: -1 } },
      axes: [],
      seeds: 1,
    })
    expect(bad).toMatchObject({ ok: false, error: { code: 'invalid-config' } })
    const good = await client.call('addRuns', {
      experiment: 'e',
      base: { model: { inputSize: 96 } },
      axes: [],
      seeds: 2,
    })
    expect(good).toMatchObject({ ok: true, result: { skipped: 0 } })
    expect(await client.call('noSuchMethod', {})).toMatchObject({
      ok: false,
      error: { code: 'not-found' },
    })
    await new Promise((r) => setTimeout(r, 100))
    expect(events).toContain('runQueued')
    expect(events).toContain('queueChanged')

    client.close('stop')
    expect(await client.exited).toBe(0)
    expect(await client.call('queueState', {})).toMatchObject({
      ok: false,
      error: { code: 'unavailable' },
    })
  })
})
