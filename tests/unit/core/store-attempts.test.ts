// The attempt is the fencing token of a run's trainer: a retry of a cancelled run advances it, so
// the dying trainer's last words (a crash on SIGTERM, a late `failed`) can never decide a run that
// was cancelled and queued again meanwhile (issue 23, item 5).
import { afterEach, describe, expect, it } from 'vitest'
import type { RunStore } from '@core/store'
import { cleanUp, config, Messages, openTempStore } from './store-helpers'

const stores: RunStore[] = []
afterEach(() => cleanUp(stores.splice(0)))

function runningRun(): { store: RunStore; id: string; attempt: number } {
  const store = openTempStore()
  stores.push(store)
  const [run] = store.addRuns('e', [config('a')]).added
  const claimed = store.claim(run!.id, { kind: 'scheduler', host: 'h', pid: 1, start: null })
  return { store, id: run!.id, attempt: claimed!.attempt }
}

describe('cancel and retry against a dying trainer', () => {
  it('a retry of a cancelled run advances its attempt; cancel alone keeps it', () => {
    const { store, id, attempt } = runningRun()
    expect(store.cancel(id).attempt).toBe(attempt)
    expect(store.retry(id).attempt).toBe(attempt + 1)
  })

  it('cancel, then the trainer’s own last words: kept as history, the run stays cancelled', () => {
    const { store, id, attempt } = runningRun()
    store.cancel(id)
    const m = new Messages(id)
    expect(store.persistMessages(id, [m.failed('killed by SIGTERM')], { attempt })).toBe(1)
    expect(store.requireRun(id).status).toBe('cancelled')
  })

  it('cancel then retry: the old trainer’s crash is refused and the run stays queued', () => {
    const { store, id, attempt } = runningRun()
    store.cancel(id)
    store.retry(id)
    const m = new Messages(id)
    expect(() => store.persistMessages(id, [m.failed('killed by SIGTERM')], { attempt })).toThrow(
      /stale|current attempt/,
    )
    expect(store.requireRun(id).status).toBe('queued')
    // The scheduler's own end-of-trainer writes are fenced the same way.
    expect(store.markInterrupted([id], 'old trainer', { attempt })).toEqual([])
    expect(store.markFinished(id, 'failed', 'old trainer', { attempt }).status).toBe('queued')
  })

  it('the current attempt’s writes still apply', () => {
    const { store, id, attempt } = runningRun()
    expect(store.markInterrupted([id], 'gone', { attempt })).toHaveLength(1)
    expect(store.requireRun(id).status).toBe('interrupted')
  })
})
