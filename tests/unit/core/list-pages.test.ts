// listRuns pages by cursor: each page picks its rows by (creation time, insertion order), so runs
// added or deleted between pages neither repeat nor skip another, in either order.
import { afterEach, describe, expect, it } from 'vitest'
import { encodeCursor, type RunStore } from '@core/store'
import { validateExperimentConfig } from '@shared/config/experiment'
import { cleanUp, openTempStore } from './store-helpers'

let seed = 0
/** A distinct config (names do not count in a config's identity; seeds do). */
const config = (name: string) => validateExperimentConfig({ name, train: { seed: seed++ } })

const stores: RunStore[] = []
afterEach(() => cleanUp(stores.splice(0)))

/** Every run by pages of `limit`, calling `between` after each page. */
function pageAll(
  store: RunStore,
  order: 'created' | 'newest',
  limit: number,
  between: (page: number) => void = () => undefined,
): string[] {
  const names: string[] = []
  let after
  for (let page = 0; page < 100; page++) {
    const result = store.listRunsPage({ order, limit, after })
    names.push(...result.runs.map((r) => r.name))
    between(page)
    if (result.next === null) return names
    after = result.next
  }
  throw new Error('paging did not end')
}

describe('listRunsPage', () => {
  it('lists every run once, in order, across pages, while runs are added and deleted', () => {
    // One clock tick for the first grid: five runs share a creation time (ties by insertion).
    let t = 1_000
    const store = openTempStore({ now: () => t })
    stores.push(store)
    store.addRuns(
      'e',
      ['a', 'b', 'c', 'd', 'e'].map((n) => config(n)),
    )
    t = 2_000
    store.addRuns(
      'e',
      ['f', 'g'].map((n) => config(n)),
    )
    expect(pageAll(store, 'created', 2)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g'])
    expect(pageAll(store, 'newest', 3)).toEqual(['g', 'f', 'e', 'd', 'c', 'b', 'a'])

    // Oldest first: a run deleted behind the cursor and one added ahead of it shift nothing.
    t = 3_000
    const ids = new Map(store.listRuns().map((r) => [r.name, r.id]))
    const seen = pageAll(store, 'created', 2, (page) => {
      if (page === 0) {
        store.delete([ids.get('a') as string])
        store.addRuns('e', [config('h')])
      }
    })
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'])
  })

  it('says no page follows the last one, and the cursor round-trips', () => {
    const store = openTempStore()
    stores.push(store)
    store.addRuns('e', [config('only')])
    const page = store.listRunsPage({ order: 'created', limit: 1 })
    expect(page.runs).toHaveLength(1)
    expect(page.next).toBeNull()
    expect(encodeCursor({ createdAt: 1700000000000, seq: 7 })).toBe('1700000000000.7')
  })
})
