// The desktop app's core process, driven the way the Electron main process drives it (the
// Electron binary itself cannot run here; the relay it uses is this very client).
import { spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { startCoreClient } from '@main/core-client'
import { assertBuilt, isAlive, ROOT, waitFor } from '../helpers/cli'

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

  it('stops when the app dies while the core host is still loading', async () => {
    assertBuilt()
    const dataDir = mkdtempSync(join(tmpdir(), 'nin-lab-host-'))
    // An app that starts the core host and dies at once: the IPC channel closes before the
    // host has run a line of its own code.
    const app = spawnSync(
      process.execPath,
      [
        '-e',
        `const c = require('node:child_process').fork(process.argv[1], ['core-host', '--data-dir', process.argv[2]],
           { detached: true, stdio: ['ignore', 'ignore', 'ignore', 'ipc'] })
         console.log(c.pid)
         process.exit(0)`,
        join(ROOT, 'out/main/cli.js'),
        dataDir,
      ],
      { encoding: 'utf8' },
    )
    const pid = Number(app.stdout.trim())
    expect(pid).toBeGreaterThan(0)
    try {
      await waitFor(
        () => (isAlive(pid) ? undefined : true),
        45_000,
        'the orphaned core host to stop',
      )
    } finally {
      if (isAlive(pid)) process.kill(pid, 'SIGTERM')
    }
  })
})
