/**
 * Runs the PyTorch trainer (src/torch-engine/trainer.py) as this process's child and
 * relays its messages. This process stays the run's process for the parent — one protocol, one
 * pid, the same cancel and crash handling whatever the engine — while PyTorch does the work.
 *
 * It prepares what the Python side cannot: the dataset cache file (written by the TypeScript data
 * layer) and the layer table (from src/shared/architecture), passed in the job file.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface, type Interface } from 'node:readline'
import { promisify } from 'node:util'
import { layerTable } from '@shared/architecture'
import type { ExperimentConfig, ResolvedPrecision } from '@shared/config/experiment'
import { ENGINE_MEMORY_MODELS } from '@shared/memory-fit'
import { parseBenchOutput, type BenchResult } from '@shared/protocol/bench'
import {
  checkTrainerMessage,
  isTerminal,
  ProtocolError,
  type SkippedBackend,
  type TerminalMessage,
  type TrainerJob,
  type TrainerMessage,
  type Unstamped,
} from '@shared/protocol/trainer'
import { checkDatasetFits, dataOptionsFor } from '../../data'
import { datasetCacheFile } from '../../data/cache-file'
import { diskFullMessage, isDiskFull, writeFileAtomic } from '../../files'
import { gpuLimit, ramLimit, refuseIfTooBig } from '../memory'
import { CANCELLED_BEFORE_START, loadUnlessStopped, type Emit, type TrainControl } from '../control'
import { torchTrainerScript, type TorchProbe } from './python'
import { exitOf, type TrainerExit, type WaitingTorchTrainer } from './waiting-trainer'

const execFileAsync = promisify(execFile)

/**
 * PyTorch's CPU threads: $NIN_LAB_TORCH_THREADS, else all cores (null). On a busy small machine
 * (tests running side by side) fewer threads than cores avoids threads waiting on each other.
 */
function torchThreads(): number | null {
  const n = Number(process.env['NIN_LAB_TORCH_THREADS'])
  return Number.isInteger(n) && n > 0 ? n : null
}

/**
 * Refuses, before the dataset or PyTorch is touched, a run whose step will not fit: in the free
 * GPU memory the probe saw on CUDA, in the RAM available on the CPU. Returns a note when it
 * cannot check (CUDA, but torch cannot report its memory).
 */
export function checkTorchMemory(config: ExperimentConfig, probe: TorchProbe): string | null {
  const layers = layerTable(config.model)
  const { model } = config
  const train = { ...config.train, precision: torchPrecision(config, probe) }
  if (!probe.cuda) {
    refuseIfTooBig(layers, train, model.inputSize, ENGINE_MEMORY_MODELS.torchCpu, [ramLimit()])
    return null
  }
  if (!probe.cudaMemory)
    return `GPU memory is not checked before this run: PyTorch ${probe.torch} cannot report it`
  refuseIfTooBig(layers, train, model.inputSize, ENGINE_MEMORY_MODELS.torchCuda, [
    gpuLimit(probe.cudaMemory),
  ])
  return null
}

/**
 * The precision a run will compute in on this Python, for the memory check: what the config
 * asks, with `auto` as the probe resolved it (the trainer resolves it again, the same way).
 */
export function torchPrecision(config: ExperimentConfig, probe: TorchProbe): ResolvedPrecision {
  const asked = config.train.precision
  return asked === 'auto' ? probe.precisionAuto.precision : asked
}

/** The job file for the Python trainer, written atomically; a full disk says so. */
async function writeTorchJob(file: string, text: string): Promise<void> {
  try {
    await writeFileAtomic(file, text)
  } catch (err) {
    if (isDiskFull(err)) throw new Error(diskFullMessage(dirname(file)), { cause: err })
    throw err
  }
}

const unstamp = <T extends TrainerMessage>(m: T): Unstamped<T> => {
  const { runId: _runId, time: _time, ...rest } = m
  return rest as unknown as Unstamped<T>
}

/**
 * Trains `job` on PyTorch: the waiting trainer of the engine choice when it has one (it probed,
 * and imported torch, already), else a new `trainer.py --job`. A waiting trainer not handed the
 * job (a refusal, a stop while the data loads) is let go.
 */
export async function trainTorch(
  job: TrainerJob,
  emit: Emit,
  control: TrainControl,
  engine: {
    readonly probe: TorchProbe
    readonly skipped: readonly SkippedBackend[]
    readonly trainer?: WaitingTorchTrainer | null
  },
): Promise<Unstamped<TerminalMessage>> {
  try {
    return await prepareAndTrain(job, emit, control, engine)
  } finally {
    engine.trainer?.release() // a no-op once it has the job
  }
}

async function prepareAndTrain(
  job: TrainerJob,
  emit: Emit,
  control: TrainControl,
  { probe, skipped, trainer }: Parameters<typeof trainTorch>[3],
): Promise<Unstamped<TerminalMessage>> {
  const { config } = job
  const unchecked = checkTorchMemory(config, probe)
  if (unchecked) emit({ type: 'log', level: 'info', message: unchecked })
  const cache = await loadUnlessStopped(control, (signal) =>
    datasetCacheFile({
      ...dataOptionsFor(config),
      dataDir: job.dataDir,
      log: (message) => emit({ type: 'log', level: 'info', message }),
      signal,
    }),
  )
  if (cache === null) return CANCELLED_BEFORE_START
  checkDatasetFits(cache, config.model, `data.path ${config.data.path ?? '(embedded)'}`)
  const jobFile = join(job.runDir, 'torch-job.json')
  await writeTorchJob(
    jobFile,
    JSON.stringify({
      ...job,
      layers: layerTable(config.model),
      datasetCache: { file: cache.file },
      classNames: cache.classNames,
      torch: { device: 'auto', threads: torchThreads(), channelsLast: true },
    }),
  )
  const { child, lines, exited } = trainer ?? spawnTrainer(probe.python, jobFile)
  let terminal: TerminalMessage | null = null
  lines.on('line', (line) => {
    terminal = relayLine(line, job.runId, skipped, emit) ?? terminal
  })
  trainer?.start(jobFile)
  // Relay a stop request (SIGTERM to this process) to PyTorch, once.
  const poll = setInterval(() => {
    if (control.stopRequested()) {
      clearInterval(poll)
      child.kill('SIGTERM')
    }
  }, 100)
  const exit = await exited
  clearInterval(poll)
  await new Promise((resolve) => setImmediate(resolve)) // let the last lines arrive
  lines.close()
  if (terminal) return unstamp(terminal as TerminalMessage)
  throw new EngineCrash(
    exit.signal !== null
      ? `the PyTorch trainer was killed by ${exit.signal}`
      : `the PyTorch trainer (${probe.python}) exited with code ${exit.code} without finishing`,
  )
}

/** A new `trainer.py --job FILE` (no waiting trainer: a caller that probed on its own). */
function spawnTrainer(
  python: string,
  jobFile: string,
): { child: ChildProcess; lines: Interface; exited: Promise<TrainerExit> } {
  const child = spawn(python, [torchTrainerScript(), '--job', jobFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = exitOf(child)
  child.stderr.pipe(process.stderr)
  return { child, lines: createInterface({ input: child.stdout }), exited }
}

/**
 * One stdout line of the PyTorch trainer: a checked protocol message is relayed as this
 * trainer's own, except a terminal one, which is returned (the run's last word comes after the
 * process exits); anything else is kept in the log.
 */
function relayLine(
  line: string,
  runId: string,
  skipped: readonly SkippedBackend[],
  emit: Emit,
): TerminalMessage | null {
  let raw: unknown
  try {
    raw = JSON.parse(line)
  } catch {
    process.stderr.write(`${line}\n`) // not a protocol line: keep it in the log
    return null
  }
  let m: TrainerMessage
  try {
    // Another process, another language: check the shape before relaying it as ours.
    m = checkTrainerMessage(raw, runId)
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err
    process.stderr.write(`refused a malformed message from the PyTorch trainer: ${err.message}\n`)
    return null
  }
  if (isTerminal(m)) return m
  if (m.type === 'started') emit({ ...unstamp(m), skipped: [...skipped, ...m.skipped] })
  else emit(unstamp(m))
  return null
}

/**
 * The engine's process died without a final message (killed, out of memory, a native crash).
 * The trainer process then exits without one too, so its parent treats the run exactly like a
 * crashed trainer: interrupted, and resumed from its last checkpoint.
 */
export class EngineCrash extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'EngineCrash'
  }
}

/** `trainer.py --bench`: the PyTorch engine's throughput on random data, as a parsed RESULT. */
export async function measureTorchThroughput(
  config: ExperimentConfig,
  probe: TorchProbe,
  opts: { steps: number; warmup: number; memory?: boolean },
): Promise<BenchResult> {
  checkTorchMemory(config, probe)
  const dir = mkdtempSync(join(tmpdir(), 'nin-lab-torch-bench-'))
  try {
    const jobFile = join(dir, 'job.json')
    writeFileSync(jobFile, JSON.stringify({ config, layers: layerTable(config.model) }))
    const { stdout } = await execFileAsync(
      probe.python,
      [
        torchTrainerScript(),
        '--bench',
        jobFile,
        '--steps',
        String(opts.steps),
        '--warmup',
        String(opts.warmup),
        ...(opts.memory ? ['--memory'] : []),
      ],
      { timeout: 600_000, maxBuffer: 1 << 20 },
    )
    return parseBenchOutput(stdout, 'torch')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
