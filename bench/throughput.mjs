// `npm run bench`: training throughput of NiN Lab's best backend here, beside the PyTorch peer
// (shared/peers/torch_nin_bench.py, when present) measured in the same sitting on the same
// models and batches. Prints a table with the ratio and writes bench/results/throughput-*.json.
// Benchmarks live here, never as timed assertions in tests: this machine is shared and noisy.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const cli = join(root, 'bin/nin-lab.mjs')
const peer = [process.env.NIN_LAB_PEER, join(root, '../shared/peers/torch_nin_bench.py')].find(
  (p) => p && existsSync(p),
)
const python = process.env.NIN_LAB_PYTHON ?? '/usr/bin/python3'

const CASES = [
  { preset: 'd2l-96', batch: 128, steps: 5, warmup: 2 },
  { preset: 'd2l', batch: 32, steps: 4, warmup: 2 },
  { preset: 'small-28', batch: 128, steps: 10, warmup: 3 },
]

if (!existsSync(join(root, 'out/main/trainer.js'))) {
  console.error('Build first: npm run build')
  process.exit(2)
}

function resultLine(stdout) {
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT ') || l.startsWith('{'))
  return line ? JSON.parse(line.replace(/^RESULT /, '')) : null
}

const tmp = mkdtempSync(join(tmpdir(), 'nin-lab-bench-'))
const rows = []
for (const c of CASES) {
  // The peer trains with plain SGD; so does this measurement, whatever the preset's optimizer.
  const sets = [
    '--set',
    `train.batchSize=${c.batch}`,
    '--set',
    'train.optimizer="sgd"',
    '--set',
    'train.momentum=0',
  ]
  process.stderr.write(`${c.preset} batch ${c.batch}: nin-lab… `)
  const ours = spawnSync(
    process.execPath,
    [
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
    ],
    { encoding: 'utf8' },
  )
  const mine = ours.status === 0 ? resultLine(ours.stdout) : null
  if (!mine) process.stderr.write(`failed: ${ours.stderr.trim()}\n`)
  let theirs = null
  if (peer) {
    process.stderr.write('PyTorch peer… ')
    // The peer reads the `model` section of the same resolved config.
    const configFile = join(tmp, `${c.preset}.json`)
    writeFileSync(configFile, resolvedConfig(c.preset))
    const p = spawnSync(
      python,
      [
        peer,
        '--config',
        configFile,
        '--batch',
        String(c.batch),
        '--steps',
        String(c.steps),
        '--warmup',
        String(c.warmup),
        '--threads',
        String(cpus().length),
      ],
      { encoding: 'utf8' },
    )
    theirs = p.status === 0 ? resultLine(p.stdout) : null
    if (!theirs)
      process.stderr.write(
        `peer failed: ${(p.stderr || p.error?.message || '').trim().split('\n').at(-1)}\n`,
      )
  }
  process.stderr.write('done\n')
  rows.push({
    ...c,
    nin: mine,
    peer: theirs,
    ratio: mine && theirs ? mine.imgPerS / theirs.imgPerS : null,
  })
}

function resolvedConfig(preset) {
  const r = spawnSync(process.execPath, [cli, 'config', '--preset', preset], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(r.stderr)
  return r.stdout
}

const fmt = (x, d = 1) => (x == null ? '–' : x.toFixed(d))
console.log(
  `\nTraining throughput, images/s (median step, random data, SGD), ${cpus().length} cores, ${new Date().toISOString()}\n`,
)
console.log('| model | batch | NiN Lab (backend) | PyTorch peer | ratio | NiN Lab peak RSS |')
console.log('|---|---:|---:|---:|---:|---:|')
for (const r of rows) {
  const backend = r.nin ? `${r.nin.backend}${r.nin.threads ? ` ×${r.nin.threads}` : ''}` : 'failed'
  console.log(
    `| ${r.preset} (${r.nin?.inputSize ?? '?'} px) | ${r.batch} | ${fmt(r.nin?.imgPerS)} (${backend}) | ` +
      `${r.peer ? `${fmt(r.peer.imgPerS)} (${r.peer.engine}, ${r.peer.threads} threads)` : peer ? 'failed' : 'not found'} | ` +
      `${fmt(r.ratio, 3)} | ${r.nin ? `${r.nin.peakRssMB} MB` : '–'} |`,
  )
}
const outDir = join(root, 'bench/results')
mkdirSync(outDir, { recursive: true })
const file = join(outDir, `throughput-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
writeFileSync(file, JSON.stringify({ cores: cpus().length, rows }, null, 2))
console.log(`\nwritten to ${file}`)
