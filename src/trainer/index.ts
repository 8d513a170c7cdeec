/**
 * A trainer process: trains one run and streams typed messages (src/shared/protocol/trainer.ts)
 * to its parent — over the IPC channel when started with one (fork), else as JSON lines on
 * stdout (standalone: `node out/main/trainer.js --job JOB.json`).
 *
 * One process per run (docs/architecture.md, "Processes"): cancelling is a signal, GPU memory is
 * released on exit, and a native crash fails this run only. SIGTERM stops it cleanly before the
 * next step; if its parent dies it exits by itself.
 */
import { parseArgs } from 'node:util'
import { defaultExperimentConfig, validateExperimentConfig } from '@shared/config/experiment'
import type { MachineProbe } from '@shared/protocol/probe'
import { formatBenchLine } from '@shared/protocol/bench'
import type { TrainerJob, TrainerMessage, Unstamped } from '@shared/protocol/trainer'
import { measureThroughput } from './engines/tfjs/throughput'
import { chanceStop } from './engines/chance-stop'
import { chooseEngine } from './engines/select'
import { selectBackend } from './engines/tfjs/backends'
import { trainTfjs } from './engines/tfjs/train'
import { EngineCrash, measureTorchThroughput, trainTorch } from './engines/torch/run'
import { readRegularFile } from './files'
import { MODEL_FORMATS, type ModelFormat } from '@shared/api/contract'
import { exportModel } from './export/model'

/** Exit status when the engine's own process died: no final message, like any crash. */
const EXIT_ENGINE_CRASHED = 70

const { values: args } = parseArgs({
  options: {
    job: { type: 'string' },
    // Throughput measurement instead of a run: --bench CONFIG.json [--steps N] [--warmup N].
    bench: { type: 'string' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    // --bench: also measure peak memory of one prediction and one training step (BenchMemory).
    memory: { type: 'boolean', default: false },
    // What `engine: auto` trains on here, and the GPUs PyTorch sees (src/shared/protocol/probe.ts).
    probe: { type: 'boolean', default: false },
    // A trained model out: --export-model MODEL_DIR --format F --out-dir DIR (src/trainer/export).
    'export-model': { type: 'string' },
    format: { type: 'string' },
    'out-dir': { type: 'string' },
  },
})

/**
 * A job or config file: a regular file of at most JOB_MAX_BYTES, read asynchronously, so a
 * wrong path (a FIFO, a device) neither blocks the process beyond the reach of its signal
 * handlers nor fills its memory.
 */
const JOB_MAX_BYTES = 16 * 1024 ** 2
const readJsonFile = async (path: string): Promise<unknown> =>
  JSON.parse((await readRegularFile(path, JOB_MAX_BYTES)).toString('utf8'))

async function readJob(): Promise<TrainerJob> {
  const values = args
  if (!values.job) throw new Error('usage: trainer --job JOB.json | --bench CONFIG.json')
  const job = (await readJsonFile(values.job)) as TrainerJob
  // The parent validated the config already; validating again costs nothing and guards the
  // standalone entry point, which takes a hand-written job file.
  return { ...job, config: validateExperimentConfig(job.config, `${values.job} (config)`) }
}

let runId = 'unknown'
const send = (message: Unstamped<TrainerMessage>): void => {
  const stamped = { ...message, runId, time: Date.now() } as TrainerMessage
  if (process.send && process.connected) process.send(stamped)
  else process.stdout.write(JSON.stringify(stamped) + '\n')
}

// A stop request is a flag checked before every step, and an abort of whatever is loading.
let stopRequested = false
const stopController = new AbortController()
const requestStop = (): void => {
  stopRequested = true
  stopController.abort(new Error('the run was asked to stop'))
}
process.on('SIGTERM', requestStop)
process.on('SIGINT', requestStop)

// Exit when the parent is gone: the IPC channel closes, or (standalone) we are re-parented.
const parentPid = process.ppid
process.on('disconnect', () => process.exit(3))
setInterval(() => {
  if (process.ppid !== parentPid) process.exit(3)
}, 1000).unref()

/** Prints `RESULT {json}` (src/shared/protocol/bench.ts) and exits. */
async function bench(configFile: string): Promise<number> {
  const config = validateExperimentConfig(await readJsonFile(configFile), configFile)
  const opts = { steps: Number(args.steps), warmup: Number(args.warmup), memory: args.memory }
  // The engine a run of this config would get measures it.
  const choice = await chooseEngine(config)
  const result =
    choice.engine === 'torch'
      ? await measureTorchThroughput(config, choice.probe, opts)
      : await measureThroughput(config, opts)
  process.stdout.write(formatBenchLine(result))
  return 0
}

/** Prints what a run with `engine: auto` would train on here (MachineProbe) and exits. */
async function probe(): Promise<number> {
  const choice = await chooseEngine(defaultExperimentConfig())
  let answer: MachineProbe
  if (choice.engine === 'torch') {
    const { probe: torch } = choice
    const backend = torch.cuda ? 'cuda' : 'cpu'
    answer = {
      engine: 'torch',
      backend,
      detail: torch.cuda
        ? `PyTorch ${torch.torch} on CUDA (${torch.gpus.length} × ${torch.gpus[0]?.name ?? torch.device})`
        : `PyTorch ${torch.torch} on the CPU (${torch.threads} threads)`,
      gpus: torch.gpus,
    }
  } else {
    const { backend, threads } = await selectBackend('auto')
    const detail = `TensorFlow.js on ${backend}${threads ? ` ×${threads}` : ''}`
    answer = { engine: 'tfjs', backend, detail, gpus: [] }
  }
  process.stdout.write(JSON.stringify(answer) + '\n')
  return 0
}

/** Prints `EXPORTED {"files": [...]}` and exits 0, or the reason on stderr and exits 1. */
async function exportModelCommand(modelDir: string): Promise<number> {
  const format = args.format as ModelFormat
  if (!(MODEL_FORMATS as readonly string[]).includes(format) || !args['out-dir'])
    throw new Error(
      `usage: trainer --export-model DIR --format ${MODEL_FORMATS.join('|')} --out-dir D`,
    )
  try {
    const files = await exportModel(modelDir, format, args['out-dir'])
    process.stdout.write(`EXPORTED ${JSON.stringify({ files })}\n`)
    return 0
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
    return 1
  }
}

async function main(): Promise<number> {
  if (args.probe) return probe()
  if (args['export-model']) return exportModelCommand(args['export-model'])
  if (args.bench) return bench(args.bench)
  let job: TrainerJob
  try {
    job = await readJob()
  } catch (err) {
    send({
      type: 'failed',
      error: `cannot read the job: ${err instanceof Error ? err.message : String(err)}`,
    })
    return 2
  }
  runId = job.runId
  try {
    const control = { stopRequested: () => stopRequested, signal: stopController.signal }
    const chance = chanceStop(job.config, requestStop)
    const emit = (m: Unstamped<TrainerMessage>): void => {
      send(m)
      chance.watch(m)
    }
    const choice = await chooseEngine(job.config, { forRun: true })
    const final = chance.final(
      choice.engine === 'torch'
        ? await trainTorch(job, emit, control, choice)
        : await trainTfjs(job, emit, control, choice.skipped),
    )
    send(final)
    // Exit 1 after `failed` whichever engine reported it (a PyTorch failure arrives as a message).
    return final.type === 'failed' ? 1 : 0
  } catch (err) {
    if (err instanceof EngineCrash) {
      console.error(err.message)
      return EXIT_ENGINE_CRASHED
    }
    send({ type: 'failed', error: err instanceof Error ? err.message : String(err) })
    return 1
  }
}

// Exit explicitly: wasm pthread workers would otherwise keep the process alive.
main().then(
  (code) => {
    if (process.send && process.connected) process.disconnect()
    process.exit(code)
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err))
    process.exit(1)
  },
)
