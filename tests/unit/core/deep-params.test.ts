// Parameters that arrive already parsed (Electron IPC, Node IPC, the in-process API) and nest
// 100,000 levels deep are refused at the door with a clear error, not a stack overflow.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { nestsDeeperThan } from '@shared/json'
import { Core } from '@core/core'

const deep = (levels: number): unknown => {
  let v: unknown = 1
  for (let i = 0; i < levels; i++) v = { a: [v] }
  return v
}

describe('deep parameters', () => {
  it('nestsDeeperThan bounds depth without recursing', () => {
    expect(nestsDeeperThan(deep(10), 64)).toBe(false)
    expect(nestsDeeperThan(deep(40), 64)).toBe(true)
    expect(nestsDeeperThan(deep(100_000), 64)).toBe(true)
    expect(nestsDeeperThan({ ids: ['a', 'b'], x: null }, 2)).toBe(false)
  })

  it('the core refuses them with an error that names the limit', async () => {
    const core = new Core({
      dataDir: mkdtempSync(join(tmpdir(), 'nin-lab-deep-')),
      scheduler: false,
    })
    try {
      await expect(
        core.call('addRuns', { experiment: 'x', base: deep(100_000), axes: [], seeds: 1 }),
      ).rejects.toMatchObject({
        code: 'invalid-params',
        message: 'addRuns: the parameters nest deeper than 64 levels',
      })
      // And an ordinary call still works.
      expect((await core.call('listRuns', {})) as { total: number }).toMatchObject({ total: 0 })
    } finally {
      await core.close()
    }
  })
})
