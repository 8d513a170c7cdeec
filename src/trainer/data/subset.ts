import { SeededRandom } from '@shared/random'
import { int } from '@shared/format'
import { DataError } from './types'
import type { Dataset } from './types'

/**
 * Per-class quotas summing to `limit`, as equal as the class sizes allow: every class gets
 * ⌊limit / K⌋ (or all it has, if fewer); what is left over goes one image at a time to the
 * classes with room, lowest label first. Exported for tests.
 */
export function classQuotas(available: readonly number[], limit: number): number[] {
  const quotas = available.map(() => 0)
  let left = limit
  // Water-filling: repeat "give each class with room an equal share" until nothing is left.
  // A class smaller than its share takes all it has and the rest is shared again next round.
  while (left > 0) {
    const open = quotas
      .map((_, c) => c)
      .filter((c) => (quotas[c] as number) < (available[c] as number))
    if (open.length === 0) break
    const share = Math.floor(left / open.length)
    if (share === 0) {
      for (const c of open.slice(0, left)) quotas[c] = (quotas[c] as number) + 1
      break
    }
    for (const c of open) {
      const take = Math.min(share, (available[c] as number) - (quotas[c] as number))
      quotas[c] = (quotas[c] as number) + take
      left -= take
    }
  }
  return quotas
}

/**
 * A class-balanced subset of `limit` images chosen from `seed` (null, or a limit at least the
 * set's size: the set itself). Within each class the images are a seeded shuffle's first
 * quota, so for one seed a larger limit keeps every image a smaller one chose. The subset keeps
 * the images' original relative order.
 */
export function stratifiedSubset(ds: Dataset, limit: number | null, seed: number): Dataset {
  if (limit === null || limit >= ds.count) return ds
  if (!Number.isInteger(limit) || limit < 1)
    throw new DataError(`data limit must be a positive whole number or null, got ${limit}`)

  const byClass: number[][] = Array.from({ length: ds.numClasses }, () => [])
  for (let i = 0; i < ds.count; i++) (byClass[ds.labels[i] as number] as number[]).push(i)
  const quotas = classQuotas(
    byClass.map((ix) => ix.length),
    limit,
  )
  const rng = new SeededRandom(seed)
  const chosen: number[] = []
  byClass.forEach((indices, c) => {
    rng.shuffle(indices)
    for (let k = 0; k < (quotas[c] as number); k++) chosen.push(indices[k] as number)
  })
  chosen.sort((a, b) => a - b)

  const px = ds.channels * ds.height * ds.width
  const images = new Uint8Array(chosen.length * px)
  const labels = new Uint8Array(chosen.length)
  chosen.forEach((src, dst) => {
    images.set(ds.images.subarray(src * px, (src + 1) * px), dst * px)
    labels[dst] = ds.labels[src] as number
  })
  if (chosen.length !== limit)
    throw new Error(`internal: subset has ${int(chosen.length)} images, wanted ${int(limit)}`)
  return { ...ds, images, labels, count: chosen.length, classNames: [...ds.classNames] }
}
