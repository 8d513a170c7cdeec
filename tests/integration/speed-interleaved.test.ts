// The same-sitting interleaved benchmark end to end with tiny configs: a real Core, real trainer
// processes through the API's `benchmark`, measured A B A B, summarized into medians and
// per-round ratios, with the machine's load from each measurement.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Core } from '@core/core'
import { exerciseRuns, exerciseById } from '@shared/exercises'
import { runInterleaved } from '@shared/speed'
import { assertBuilt } from '../helpers/cli'

let core: Core
let dataDir: string
beforeAll(() => {
  assertBuilt()
  dataDir = mkdtempSync(join(tmpdir(), 'nin-lab-speed-'))
  core = new Core({ dataDir, scheduler: false })
})
afterAll(async () => {
  await core.close()
  rmSync(dataDir, { recursive: true, force: true })
})

describe('interleaved speed benchmark', () => {
  it('measures two tiny configs A B A B and gives medians and per-round ratios', async () => {
    const plan = exerciseRuns(exerciseById(1)!, 'small', 1, [{ path: 'train.batchSize', value: 8 }])
    const configs = [plan[0]!.configs[0]!, plan[3]!.configs[0]!] // 0 and 3 micro convs
    const order: number[] = []
    const etas: (number | null)[] = []
    const s = await runInterleaved(
      ['0 micro convs', '3 micro convs'],
      2,
      (i) => {
        order.push(i)
        return core.api.benchmark({ config: configs[i], steps: 2, warmup: 1 })
      },
      { onProgress: (p) => etas.push(p.etaSeconds) },
    )
    expect(order).toEqual([0, 1, 0, 1])
    expect(etas).toHaveLength(4)
    expect(etas.at(-1)).toBe(0)
    expect(s.rounds).toBe(2)
    expect(s.rows.map((r) => r.steps)).toEqual([4, 4])
    expect(s.rows.map((r) => r.batch)).toEqual([8, 8])
    expect(s.rows[0]?.ratio).toBeNull()
    const ratio = s.rows[1]?.ratio
    expect(ratio?.min).toBeGreaterThan(0)
    expect(ratio!.min).toBeLessThanOrEqual(ratio!.median)
    expect(ratio!.median).toBeLessThanOrEqual(ratio!.max)
    expect(s.load?.cpus).toBeGreaterThan(0)
    expect(s.backends.length).toBe(1)
  }, 300_000)
})
