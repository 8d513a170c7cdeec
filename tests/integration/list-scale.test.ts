// 10,000 runs in a real SQLite file behind a real `nin-lab serve`: listing them pages on the
// server, and neither listing every run nor queueing 10,000 more holds up other calls for long.
// A probe calls getRun every 20 ms meanwhile and records how long each answer takes; the p95 and
// the worst are printed (the numbers the README quotes) and asserted against a generous bound,
// since a shared 2-core machine is noisy.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_LIST } from '@shared/api/contract'
import { validateExperimentConfig } from '@shared/config/experiment'
import { RunStore } from '@core/store'
import { assertBuilt, startServe, type ServeProcess } from '../helpers/cli'

const RUNS = 10_000
/**
 * What the issue asks (100 ms), with room for a loaded machine: the test prints the truth. On a
 * machine so busy that idle probes are slower than that, the bound is twice the idle p95 (never
 * near the seconds one 10,000-run answer took).
 */
const BOUND_MS = 250
let bound = BOUND_MS

let dataDir: string
let serve: ServeProcess

async function call<T>(method: string, params: unknown): Promise<T> {
  const res = await fetch(`${serve.origin}/api/call/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${serve.token}` },
    body: JSON.stringify(params),
  })
  const body = (await res.json()) as T
  if (res.status !== 200) throw new Error(`${method}: ${res.status} ${JSON.stringify(body)}`)
  return body
}

interface Page {
  runs: { id: string; createdAt: number }[]
  total: number
  next?: string | null
}

/** Times a cheap call every 20 ms until `work` settles; returns the latencies in ms. */
async function probeWhile(work: Promise<unknown>, probeId: string): Promise<number[]> {
  const latencies: number[] = []
  let done = false
  const finished = work.finally(() => (done = true))
  while (!done) {
    const t0 = performance.now()
    await call('getRun', { id: probeId })
    latencies.push(performance.now() - t0)
    await new Promise((r) => setTimeout(r, 20))
  }
  await finished
  return latencies
}

const quantile = (xs: number[], q: number): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN
}
const summary = (xs: number[]): string =>
  `${xs.length} probes: median ${quantile(xs, 0.5).toFixed(1)} ms, p95 ${quantile(xs, 0.95).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`

describe('10,000 runs', () => {
  let probeId = ''

  beforeAll(async () => {
    assertBuilt()
    dataDir = mkdtempSync(join(tmpdir(), 'nin-lab-scale-'))
    const store = RunStore.open(dataDir)
    try {
      // Paused: serving 10,000 queued runs must not start training them.
      store.setQueuePaused(true)
      const configs = Array.from({ length: RUNS }, (_, i) =>
        validateExperimentConfig({ name: `seeded-${i}`, train: { seed: i } }),
      )
      const { added } = store.addRuns('scale', configs)
      probeId = added[0]?.id ?? ''
    } finally {
      store.close()
    }
    serve = await startServe(dataDir)
  })
  afterAll(async () => {
    await serve?.stop()
  })

  it('answers probes with nothing else to do (the baseline the others compare with)', async () => {
    const latencies = await probeWhile(new Promise((r) => setTimeout(r, 1500)), probeId)
    console.log(`idle: ${summary(latencies)}`)
    expect(latencies.length).toBeGreaterThan(5)
    bound = Math.max(BOUND_MS, 2 * quantile(latencies, 0.95))
  })

  it('listRuns answers a page, not all 10,000 runs', async () => {
    const first = await call<Page>('listRuns', {})
    expect(first.runs).toHaveLength(MAX_LIST)
    expect(first.total).toBe(RUNS)
    expect(first.next).toMatch(/^\d+\.\d+$/)
    // Asking for more (as clients written for 10,000-run pages do) still gets one page.
    const asked = await call<Page>('listRuns', { limit: 10_000 })
    expect(asked.runs).toHaveLength(MAX_LIST)
    expect(asked.next).toBe(first.next)
  })

  it('pages through every run by cursor, newest first, without holding up other calls', async () => {
    const seen: string[] = []
    const listing = (async () => {
      let cursor: string | undefined
      for (;;) {
        const page = await call<Page>('listRuns', { order: 'newest', cursor })
        seen.push(...page.runs.map((r) => r.id))
        if (!page.next) return
        cursor = page.next
      }
    })()
    const latencies = await probeWhile(listing, probeId)
    console.log(`listing ${RUNS} runs by page: ${summary(latencies)}`)
    expect(seen).toHaveLength(RUNS)
    expect(new Set(seen).size).toBe(RUNS)
    expect(seen[RUNS - 1]).toBe(probeId) // the first run created is the last listed
    expect(quantile(latencies, 0.95)).toBeLessThan(bound)
  })

  it('queues 10,000 more runs in chunks without holding up other calls', async () => {
    const adding = call<{ added: unknown[]; skipped: number }>('addRuns', {
      experiment: 'scale-2',
      base: { name: 'more' },
      axes: [{ path: 'train.batchSize', values: Array.from({ length: 100 }, (_, i) => i + 1) }],
      seeds: 100,
      confirm: true,
    })
    const latencies = await probeWhile(adding, probeId)
    console.log(`adding ${RUNS} runs: ${summary(latencies)}`)
    expect((await adding).added).toHaveLength(RUNS)
    expect((await call<Page>('listRuns', { limit: 1 })).total).toBe(2 * RUNS)
    expect(quantile(latencies, 0.95)).toBeLessThan(bound)
  })
})
