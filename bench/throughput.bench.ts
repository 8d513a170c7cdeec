// Training throughput of NiN Lab's two engines on this machine — TensorFlow.js on its best
// backend here, and PyTorch where it is installed — beside a plain PyTorch NiN benchmark, the
// peer ($NIN_LAB_PEER, else ../shared/peers/torch_nin_bench.py beside the checkout when the
// workspace has one; the table says when there is none), measured in the same sitting on the same models
// and batches (median step on random data after warm-up, plain SGD as the peer trains). Prints a
// table with the ratios and writes bench/results/throughput-*.json. Runs under vitest
// (bench/vitest.config.ts) for the TypeScript imports; it asserts nothing.
// Benchmarks live here, never as timed assertions in tests: this machine is shared and noisy.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { it } from 'vitest'
import { parseBenchOutput, type BenchResult } from '@shared/protocol/bench'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const cli = join(root, 'bin/nin-lab.mjs')
const peer = [process.env.NIN_LAB_PEER, join(root, '../shared/peers/torch_nin_bench.py')].find(
  (p) => p && existsSync(p),
)
const python = process.env.NIN_LAB_PYTHON ?? '/usr/bin/python3'

interface Case {
  readonly preset: string
  readonly batch: number
  readonly steps: number
  readonly warmup: number
}

const CASES: readonly Case[] = [
  { preset: 'd2l-96', batch: 128, steps: 5, warmup: 2 },
  { preset: 'd2l', batch: 32, steps: 4, warmup: 2 },
  { preset: 'small-28', batch: 128, steps: 10, warmup: 3 },
]

/** The same as `nin-lab bench`, for one engine; null when that engine cannot run here. */
function ours(c: Case, engine: 'tfjs' | 'torch'): BenchResult | null {
  const sets = [
    `train.batchSize=${c.batch}`,
    'train.optimizer="sgd"',
    'train.momentum=0',
    `engine="${engine}"`,
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

it('training throughput beside the PyTorch peer', () => {
  if (!existsSync(join(root, 'out/main/trainer.js'))) throw new Error('Build first: npm run build')
  const tmp = mkdtempSync(join(tmpdir(), 'nin-lab-bench-'))
  const rows = []
  for (const c of CASES) {
    process.stderr.write(`${c.preset} batch ${c.batch}: tfjs… `)
    const tfjs = ours(c, 'tfjs')
    process.stderr.write('torch… ')
    const torch = ours(c, 'torch')
    process.stderr.write('peer… ')
    const ref = peerRun(c, tmp)
    process.stderr.write('done\n')
    const ratio = (x: BenchResult | null): number | null =>
      x && ref ? x.imgPerS / ref.imgPerS : null
    rows.push({ ...c, tfjs, torch, peer: ref, tfjsRatio: ratio(tfjs), torchRatio: ratio(torch) })
  }

  const fmt = (x: number | null | undefined, d = 1): string => (x == null ? '–' : x.toFixed(d))
  const engine = (r: BenchResult | null): string =>
    r ? `${fmt(r.imgPerS)} (${r.backend}${r.threads ? ` ×${r.threads}` : ''})` : '–'
  console.log(
    `\nTraining throughput, images/s (median step, random data, SGD), ${cpus().length} cores, ${new Date().toISOString()}\n`,
  )
  console.log(
    '| model | batch | tfjs engine | ÷ peer | torch engine | ÷ peer | PyTorch peer | tfjs peak RSS |',
  )
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|')
  for (const r of rows) {
    console.log(
      `| ${r.preset} (${r.tfjs?.inputSize ?? '?'} px) | ${r.batch} | ${engine(r.tfjs)} | ${fmt(r.tfjsRatio, 3)} | ` +
        `${engine(r.torch)} | ${fmt(r.torchRatio, 3)} | ${r.peer ? `${fmt(r.peer.imgPerS)} (${r.peer.threads} threads)` : peer ? 'failed' : 'not found'} | ` +
        `${r.tfjs ? `${r.tfjs.peakRssMB} MB` : '–'} |`,
    )
  }
  const outDir = join(root, 'bench/results')
  mkdirSync(outDir, { recursive: true })
  const file = join(outDir, `throughput-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, JSON.stringify({ cores: cpus().length, rows }, null, 2))
  console.log(`\nwritten to ${file}`)
})
