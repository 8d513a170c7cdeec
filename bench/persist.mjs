// What persisting a run costs its training: the same run trained (a) by a bare trainer process
// whose messages go to /dev/null, and (b) by `nin-lab run`, which writes every message to the
// SQLite store (batched) and the run folder. Compares the training time the trainer itself
// measures (sum of step times per epoch) — the parent's writes can only slow training by
// competing for the CPU — and the wall time of the whole run. Alternates a/b to spread noise.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const cli = join(root, 'bin/nin-lab.mjs')
const trainer = join(root, 'out/main/trainer.js')
const ROUNDS = Number(process.env.ROUNDS ?? 5)
// TensorFlow.js: steps long enough (~0.1 s) that a per-message cost would show.
const SETS = [
  'engine=tfjs',
  'data.trainLimit=4000',
  'data.testLimit=500',
  'train.epochs=1',
  'train.batchSize=32',
]

const tmp = mkdtempSync(join(tmpdir(), 'nin-lab-persist-'))
const dataDir = join(tmp, 'data') // shared dataset cache; each mode gets its own runs
const config = JSON.parse(
  spawnSync(
    process.execPath,
    [cli, 'config', '--preset', 'small-28', ...SETS.flatMap((s) => ['--set', s])],
    {
      encoding: 'utf8',
    },
  ).stdout,
)

function bare(round) {
  const runDir = join(tmp, `bare-${round}`)
  mkdirSync(runDir, { recursive: true })
  const job = join(runDir, 'job.json')
  writeFileSync(
    job,
    JSON.stringify({ runId: `bare-${round}`, config, dataDir, runDir, resume: false }),
  )
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [trainer, '--job', job], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  })
  const wall = (performance.now() - t0) / 1000
  const epoch = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .find((m) => m.type === 'epoch')
  return { wall, train: epoch.seconds, steps: epoch.step }
}

function stored(round) {
  const t0 = performance.now()
  const r = spawnSync(
    process.execPath,
    [
      cli,
      'run',
      '--preset',
      'small-28',
      ...SETS.flatMap((s) => ['--set', s]),
      '--experiment',
      `persist-${round}`,
      '--data-dir',
      dataDir,
      '--json',
    ],
    { encoding: 'utf8' },
  )
  const wall = (performance.now() - t0) / 1000
  const run = JSON.parse(r.stdout.trim().split('\n').at(-1))
  return { wall, train: run.epochs[0].seconds, steps: null }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
bare('warm') // builds the dataset cache once
const a = []
const b = []
for (let i = 0; i < ROUNDS; i++) {
  a.push(bare(i))
  b.push(stored(i))
  process.stderr.write(
    `round ${i + 1}/${ROUNDS}: bare ${a.at(-1).train.toFixed(2)} s, stored ${b.at(-1).train.toFixed(2)} s\n`,
  )
}
const steps = a[0].steps
const trainA = median(a.map((x) => x.train))
const trainB = median(b.map((x) => x.train))
const wallA = median(a.map((x) => x.wall))
const wallB = median(b.map((x) => x.wall))
console.log(
  `\nPersistence overhead: small-28, 4,000 images, batch 32 (${steps} steps, ${steps * 3} metric points + ${steps} events), median of ${ROUNDS}\n`,
)
console.log('| | bare trainer | nin-lab run (store) | overhead |')
console.log('|---|---:|---:|---:|')
console.log(
  `| training time (s) | ${trainA.toFixed(2)} | ${trainB.toFixed(2)} | ${(((trainB - trainA) / trainA) * 100).toFixed(1)}% |`,
)
console.log(
  `| wall time incl. start-up and evaluation (s) | ${wallA.toFixed(2)} | ${wallB.toFixed(2)} | ${(((wallB - wallA) / wallA) * 100).toFixed(1)}% |`,
)
