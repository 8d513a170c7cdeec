// Remote workers on this machine, against a local slot, in one sitting (docs/scale-out.md):
//  1. the overhead of a run through the broker: the same run on a local slot and on a worker,
//     wall time from claim to completed, as a share of the run's training time;
//  2. head-side ingestion: step messages per second the head validates and persists from the
//     reports list (a worker simulated by pushing signed reports straight to the list);
//  3. total images/s of a 4-run grid with two workers against one (one PyTorch thread each).
// Real redis-server, real processes; prints a table and writes bench/results/fleet-*.json.
// It asserts nothing: this machine is shared and noisy (see the load average it prints).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { it } from 'vitest'
import { validateExperimentConfig } from '@shared/config/experiment'
import { attemptKey, workerKey, type Report } from '@shared/protocol/worker'
import type { StepMessage } from '@shared/protocol/trainer'
import { Fleet } from '@core/queue/fleet'
import { loadFleetKey, sign } from '@core/queue/fleet-key'
import { pushReport } from '@core/queue/report-channel'
import { redisOptions } from '@core/queue/redis'
import { RunStore } from '@core/store'
import { Redis } from 'ioredis'
import { assertBuilt, runCli, spawnCli } from '../tests/helpers/cli'
import { startRedis, type RedisServer } from '../tests/helpers/redis'

const ROUNDS = 3
const RUN = [
  '--preset',
  'small-28',
  '--set',
  'engine=torch',
  '--set',
  'data.trainLimit=3000',
  '--set',
  'data.testLimit=500',
  '--set',
  'train.epochs=2',
]

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2
}

interface Timed {
  /** Claim to completed, seconds. */
  readonly wall: number
  /** `queue start` until it exits with the queue empty, seconds: what the user waits. */
  readonly process?: number
  /** Seconds in training steps (the epochs' own `seconds`). */
  readonly training: number
  readonly images: number
}

function timings(dataDir: string): Timed[] {
  const store = RunStore.open(dataDir, { readonly: true })
  try {
    return store.listRuns({ status: 'completed' }).map((run) => {
      const epochs = store.epochRows(run.id)
      return {
        wall: ((run.finishedAt ?? 0) - (run.startedAt ?? 0)) / 1000,
        training: epochs.reduce((s, e) => s + e.seconds, 0),
        images: epochs.reduce((s, e) => s + e.seconds * e.examplesPerSec, 0),
      }
    })
  } finally {
    store.close()
  }
}

async function oneRun(redis: RedisServer | null, seed: number): Promise<Timed> {
  const head = mkdtempSync(join(tmpdir(), 'nin-lab-bench-head-'))
  runCli(['queue', 'add', ...RUN, '--set', `train.seed=${seed}`, '--data-dir', head])
  const worker = redis
    ? spawnCli(
        [
          'worker',
          '--redis',
          redis.url,
          '--name',
          'bench-w',
          '--work-dir',
          mkdtempSync(join(tmpdir(), 'nin-lab-bench-w-')),
        ],
        { env: { NIN_LAB_FLEET_KEY: loadFleetKey(head).key } },
      )
    : null
  if (worker) await new Promise((r) => setTimeout(r, 4000)) // its probe and first heartbeat
  const args = redis ? ['--redis', redis.url, '--concurrency', '0'] : ['--concurrency', '1']
  const t0 = Date.now()
  const start = spawnCli(['queue', 'start', ...args, '--data-dir', head])
  await start.exited
  const process = (Date.now() - t0) / 1000
  worker?.child.kill('SIGTERM')
  await worker?.exited
  const [t] = timings(head)
  if (!t) throw new Error(`the run did not complete:\n${start.output().stderr}`)
  return { ...t, process }
}

async function grid(redis: RedisServer, workers: number): Promise<number> {
  const head = mkdtempSync(join(tmpdir(), 'nin-lab-bench-grid-'))
  runCli(['queue', 'add', ...RUN, '--grid', 'model.microConvs=0,1,2,3', '--data-dir', head])
  const procs = Array.from({ length: workers }, (_, i) =>
    spawnCli(
      [
        'worker',
        '--redis',
        redis.url,
        '--name',
        `grid-w${i}`,
        '--work-dir',
        mkdtempSync(join(tmpdir(), 'nin-lab-bench-gw-')),
      ],
      {
        env: { NIN_LAB_TORCH_THREADS: '1', NIN_LAB_FLEET_KEY: loadFleetKey(head).key },
      },
    ),
  )
  await new Promise((r) => setTimeout(r, 4000))
  const t0 = Date.now()
  const start = spawnCli([
    'queue',
    'start',
    '--redis',
    redis.url,
    '--concurrency',
    '0',
    '--data-dir',
    head,
  ])
  await start.exited
  const seconds = (Date.now() - t0) / 1000
  for (const p of procs) p.child.kill('SIGTERM')
  await Promise.all(procs.map((p) => p.exited))
  const images = timings(head).reduce((s, t) => s + t.images, 0)
  return images / seconds
}

/** Step messages per second the head ingests (validated, fenced, persisted). */
async function ingestion(redis: RedisServer): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'nin-lab-bench-ingest-'))
  const store = RunStore.open(dataDir)
  const [run] = store.addRuns('ingest', [validateExperimentConfig({ train: { epochs: 1 } })]).added
  const key = loadFleetKey(dataDir).key
  const fleet = new Fleet(store, {
    redisUrl: redis.url,
    key: () => key,
    maxAutoResumes: 2,
    onMessage: () => {},
    onChange: () => {},
    onWarning: (m) => console.error(m),
    onDiskProblem: () => {},
    onRedisFull: (m) => console.error(m),
  })
  // Dispatch it through the fleet's own path (a claim with a fencing attempt).
  const client = new Redis(redisOptions(redis.url))
  const beat = {
    name: 'fake',
    host: 'bench',
    pid: 1,
    slots: 1,
    gpus: [],
    running: [],
    offers: 'none',
    version: 'bench',
    startedAt: Date.now(),
    beatAt: Date.now(),
    draining: false,
  }
  await client.set(workerKey('fake'), sign(key, 'beat', JSON.stringify(beat)), 'PX', 60_000)
  await fleet.tick(
    () => store.getRun(run!.id),
    () => true,
  )
  const attempt = store.requireRun(run!.id).attempt
  await client.get(attemptKey(run!.id))
  const BATCHES = 200
  const PER = 50
  for (let b = 0; b < BATCHES; b++) {
    const messages: StepMessage[] = Array.from({ length: PER }, (_, i) => {
      const step = b * PER + i + 1
      return {
        type: 'step',
        runId: run!.id,
        time: step,
        epoch: 1,
        step,
        stepInEpoch: step,
        loss: 1,
        acc: 0.5,
        examplesPerSec: 100,
      }
    })
    const report: Report = {
      kind: 'messages',
      runId: run!.id,
      attempt,
      worker: 'fake',
      session: 'bench-session',
      seq: b + 1,
      host: 'bench',
      pid: 1,
      gpu: null,
      messages,
    }
    await pushReport(client, sign(key, 'report', JSON.stringify(report)))
  }
  const t0 = Date.now()
  const total = BATCHES * PER
  while (store.events(run!.id, { limit: total + 10 }).length < total)
    await new Promise((r) => setTimeout(r, 50))
  const rate = total / ((Date.now() - t0) / 1000)
  client.disconnect()
  await fleet.close()
  store.close()
  return rate
}

it('remote workers: broker overhead, ingestion, two workers against one', async () => {
  assertBuilt()
  const redis = await startRedis()
  try {
    const load = loadavg()[0] ?? 0
    const local: Timed[] = []
    const remote: Timed[] = []
    for (let i = 0; i < ROUNDS; i++) {
      local.push(await oneRun(null, i))
      remote.push(await oneRun(redis, i))
      process.stderr.write(
        `round ${i + 1}: local ${local[i]!.wall.toFixed(1)} s (queue start ${local[i]!.process?.toFixed(1)} s), remote ${remote[i]!.wall.toFixed(1)} s (queue start ${remote[i]!.process?.toFixed(1)} s), training ${local[i]!.training.toFixed(1)} s\n`,
      )
    }
    const overhead = local.map((l, i) => ((remote[i]!.wall - l.wall) / l.training) * 100)
    // The same from the user's side: \`queue start\` until the queue is empty.
    const overheadProcess = local.map(
      (l, i) => (((remote[i]!.process ?? 0) - (l.process ?? 0)) / l.training) * 100,
    )
    // A Redis of its own: the run it dispatches stays in that server's queue (no worker takes it
    // there), and a worker of the grids below would otherwise train it.
    const ingestRedis = await startRedis()
    const rate = await ingestion(ingestRedis).finally(() => ingestRedis.stop())
    process.stderr.write(`ingestion: ${Math.round(rate)} step messages/s\n`)
    const one = await grid(redis, 1)
    process.stderr.write(`grid, one worker: ${one.toFixed(0)} images/s\n`)
    const two = await grid(redis, 2)
    const rows = {
      cores: cpus().length,
      loadAverageAtStart: load,
      rounds: ROUNDS,
      localWallS: local.map((t) => t.wall),
      remoteWallS: remote.map((t) => t.wall),
      localProcessS: local.map((t) => t.process ?? 0),
      remoteProcessS: remote.map((t) => t.process ?? 0),
      overheadProcessPctOfTraining: overheadProcess,
      trainingS: local.map((t) => t.training),
      overheadPctOfTraining: overhead,
      ingestMessagesPerS: rate,
      gridImagesPerS: { oneWorker: one, twoWorkers: two, ratio: two / one },
    }
    console.log(
      `\nRemote workers on this machine (${cpus().length} cores, load ${load.toFixed(2)} at start), ${new Date().toISOString()}\n`,
    )
    console.log('| measure | value |')
    console.log('|---|---:|')
    console.log(
      `| run on a local slot, claim → completed (median of ${ROUNDS}) | ${median(rows.localWallS).toFixed(2)} s |`,
    )
    console.log(
      `| the same run on a worker through Redis (median of ${ROUNDS}) | ${median(rows.remoteWallS).toFixed(2)} s |`,
    )
    console.log(`| its training time (median) | ${median(rows.trainingS).toFixed(2)} s |`)
    console.log(
      `| broker overhead, % of training time (median; goal ≤ 3%) | ${median(overhead).toFixed(1)}% |`,
    )
    console.log(
      `| \`queue start\` to an empty queue: local, remote (medians) | ${median(rows.localProcessS).toFixed(2)} s, ${median(rows.remoteProcessS).toFixed(2)} s (${median(overheadProcess).toFixed(1)}% of training) |`,
    )
    console.log(`| head ingestion, step messages/s | ${Math.round(rate)} |`)
    console.log(`| 4-run grid, one worker, images/s | ${one.toFixed(0)} |`)
    console.log(
      `| 4-run grid, two workers, images/s | ${two.toFixed(0)} (× ${(two / one).toFixed(2)}) |`,
    )
    const dir = join(import.meta.dirname, 'results')
    mkdirSync(dir, { recursive: true })
    const file = join(dir, `fleet-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
    writeFileSync(file, JSON.stringify(rows, null, 2))
    console.log(`\nwritten to ${file}`)
  } finally {
    await redis.stop()
  }
})
