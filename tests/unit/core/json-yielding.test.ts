// Large API answers are stringified a batch at a time (src/core/server/json-yielding.ts): the
// same text as JSON.stringify, with the event loop let in between batches.
import { describe, expect, it } from 'vitest'
import { stringifyYielding } from '@core/server/json-yielding'

describe('stringifyYielding', () => {
  const run = (i: number): object => ({
    id: `r${i}`,
    name: `run "${i}" ✓`,
    config: { train: { lr: 0.05, seed: i }, skip: undefined, f: () => 1 },
    error: null,
    tags: [1, undefined, 'x'],
  })

  it('gives exactly JSON.stringify’s text, for small and large values', async () => {
    const values: unknown[] = [
      null,
      0,
      -1.5e-7,
      'text "quoted" \u2028',
      true,
      [],
      {},
      [undefined, () => 1, null],
      { a: undefined, b: [1, 2, 3] },
      { added: Array.from({ length: 1234 }, (_, i) => run(i)), skipped: 2, linked: [] },
      Array.from({ length: 1001 }, (_, i) => (i % 3 === 0 ? undefined : run(i))),
      { page: { runs: Array.from({ length: 777 }, (_, i) => run(i)), next: 'c' } },
      { when: new Date(0), list: Array.from({ length: 600 }, (_, i) => i) },
    ]
    for (const v of values) {
      expect(await stringifyYielding(v, 100, async () => undefined)).toBe(JSON.stringify(v))
    }
    expect(await stringifyYielding(undefined)).toBeUndefined()
  })

  it('lets the event loop in between batches of a large array, and only there', async () => {
    let pauses = 0
    const pause = async (): Promise<void> => {
      pauses++
    }
    await stringifyYielding({ added: Array.from({ length: 1234 }, (_, i) => run(i)) }, 100, pause)
    expect(pauses).toBe(12) // 13 batches of at most 100
    pauses = 0
    await stringifyYielding({ added: [run(1)], skipped: 0 }, 100, pause)
    expect(pauses).toBe(0)
  })

  it('answers other work while it stringifies 10,000 runs', async () => {
    const body = { added: Array.from({ length: 10_000 }, (_, i) => run(i)) }
    let ticks = 0
    const ticker = setInterval(() => ticks++, 0)
    await stringifyYielding(body)
    clearInterval(ticker)
    expect(ticks).toBeGreaterThan(0) // a timer ran before the text was done
  })
})
