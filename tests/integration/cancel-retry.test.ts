// Cancel then retry on the same run while it starts (issue 23, item 5): through a real
// `nin-lab serve` (its scheduler, two local slots, real tfjs trainers), both calls answered 200,
// 0–400 ms after the run shows `running`. Every run must end exactly one of "cancelled" or
// "queued again" — and a run queued again then trains to completion — never `failed` by its
// dying trainer ("killed by SIGTERM"), because the cancel advanced the run's attempt.
//
// The suite runs each run through the race once (seconds to a minute). The full loop —
// 60 s of cancel-then-retry on 12 runs — runs with NIN_LAB_RACE_SECONDS=60.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { assertBuilt, runCli, startServe, type ServeProcess } from '../helpers/cli'
import { seededTempDir } from '../helpers/datasets'

const LOOP_SECONDS = Number(process.env['NIN_LAB_RACE_SECONDS'] ?? 0)
const RUNS = LOOP_SECONDS > 0 ? 12 : 4

let serve: ServeProcess
let dataDir: string

interface RunView {
  id: string
  status: string
  attempt: number
  error: string | null
}

async function call<T>(method: string, params: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${serve.origin}/api/call/${method}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${serve.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(params),
  })
  return { status: res.status, body: (await res.json()) as T }
}

const runsNow = async (): Promise<RunView[]> =>
  (await call<{ runs: RunView[] }>('listRuns', { limit: 100 })).body.runs

beforeAll(async () => {
  assertBuilt()
  dataDir = await seededTempDir('nin-lab-race-')
  const seeds = Array.from({ length: RUNS }, (_, i) => String(i + 1)).join(',')
  const add = runCli([
    'queue',
    'add',
    '--preset',
    'small-28',
    '--set',
    'data.trainLimit=256',
    '--set',
    'data.testLimit=64',
    '--set',
    'train.epochs=1',
    '--set',
    'train.batchSize=64',
    '--grid',
    `train.seed=${seeds}`,
    '--data-dir',
    dataDir,
  ])
  expect(add.status, add.stderr).toBe(0)
  serve = await startServe(dataDir)
  expect((await call('setQueueSettings', { concurrency: 2 })).status).toBe(200)
})

afterAll(async () => {
  await serve?.stop()
})

/** Cancel, then retry, `delayMs` after the run was seen running; both must be answered 200. */
async function cancelThenRetry(id: string, delayMs: number): Promise<string> {
  await new Promise((r) => setTimeout(r, delayMs))
  const cancel = await call<RunView>('cancelRun', { id })
  // Finished meanwhile: neither call applies (a completed run is neither cancelled nor retried).
  if (cancel.status === 409) return 'finished first'
  expect(cancel.status).toBe(200)
  const retry = await call<RunView>('retryRun', { id })
  expect(retry.status, JSON.stringify(retry.body)).toBe(200)
  expect(retry.body.status).toBe('queued')
  return 'queued again'
}

it(`cancel then retry 0–400 ms after running, on ${RUNS} runs: each ends completed, never failed`, async () => {
  const raced = new Map<string, number>()
  const until = Date.now() + LOOP_SECONDS * 1000
  const pending: Promise<string>[] = []
  // Race each run once (the suite), or every run whenever it runs, for LOOP_SECONDS.
  for (;;) {
    const runs = await runsNow()
    for (const r of runs) {
      const times = raced.get(r.id) ?? 0
      const again = LOOP_SECONDS > 0 ? Date.now() < until : times === 0
      if (r.status === 'running' && again && !raced.has(`${r.id}@${r.attempt}`)) {
        raced.set(`${r.id}@${r.attempt}`, 1)
        raced.set(r.id, times + 1)
        pending.push(cancelThenRetry(r.id, Math.floor(Math.random() * 400)))
      }
    }
    const done = runs.every((r) => !['queued', 'running', 'interrupted'].includes(r.status))
    if (done && (LOOP_SECONDS === 0 || Date.now() >= until)) break
    await new Promise((r) => setTimeout(r, 20))
  }
  const outcomes = await Promise.all(pending)
  const final = await runsNow()
  console.log(
    `${outcomes.length} cancel-then-retry pairs (${outcomes.filter((o) => o === 'queued again').length} queued again); ` +
      `final: ${JSON.stringify(final.map((r) => [r.status, r.attempt]))}`,
  )
  expect(final).toHaveLength(RUNS)
  for (const r of final)
    expect(['completed', 'cancelled'], `${r.id}: ${r.error}`).toContain(r.status)
  // Nothing was left cancelled here: every cancel was followed by a retry that queued it again.
  expect(final.filter((r) => r.status === 'completed')).toHaveLength(RUNS)
  expect(outcomes.filter((o) => o === 'queued again').length).toBeGreaterThan(0)
}, 600_000)
