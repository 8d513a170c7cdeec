/**
 * Finding a Python that has PyTorch, for the torch engine: $NIN_LAB_PYTHON, else the project's
 * own environment (`.venv/bin/python` at the installation's root, made by
 * `node scripts/python-env.mjs` with the pinned PyTorch 2), else `python3` on PATH, else Debian's
 * /usr/bin/python3 (where `apt-get install python3-torch` puts torch, even when another python3
 * comes first on PATH). Each candidate answers `trainer.py --probe`.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { GpuInfo } from '@shared/api/types'
import type { ResolvedPrecision } from '@shared/config/experiment'
import { spawnWaitingTrainer, type WaitingTorchTrainer } from './waiting-trainer'

const execFileAsync = promisify(execFile)

export const PYTHON_ENV = 'NIN_LAB_PYTHON'

/**
 * src/torch-engine/trainer.py of this installation: the nearest folder above this module
 * that has it (out/main/trainer.js in a build, src/trainer/engines/torch/ under the tests).
 */
export function torchTrainerScript(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let up = 0; up < 8; up++) {
    const path = join(dir, 'src/torch-engine/trainer.py')
    if (existsSync(path)) return path
    dir = dirname(dir)
  }
  throw new Error('src/torch-engine/trainer.py is missing from this installation')
}

/**
 * The project's Python environment, `.venv/bin/python` beside `src/` in this installation
 * (scripts/python-env.mjs), or null when there is none.
 */
export function projectVenvPython(script: string = torchTrainerScript()): string | null {
  const python = join(dirname(dirname(dirname(script))), '.venv/bin/python')
  return existsSync(python) ? python : null
}

export interface CudaMemory {
  readonly freeBytes: number
  readonly totalBytes: number
}

export interface TorchProbe {
  readonly python: string
  readonly torch: string
  readonly cuda: boolean
  readonly device: string
  readonly threads: number
  /** The CUDA devices PyTorch sees (those CUDA_VISIBLE_DEVICES leaves it), in index order. */
  readonly gpus: readonly GpuInfo[]
  /**
   * Device 0's free and total memory when probed, for the memory check before a run (a run
   * trains on device 0); null: no CUDA, or torch cannot say.
   */
  readonly cudaMemory: CudaMemory | null
  /**
   * What `train.precision: auto` resolves to where a run on this Python trains (CUDA device 0,
   * else the CPU), and why (src/torch-engine/nin_torch/precision.py); fp32 from a
   * trainer that does not say.
   */
  readonly precisionAuto: { readonly precision: ResolvedPrecision; readonly reason: string }
}

function precisionAutoOf(v: unknown): TorchProbe['precisionAuto'] {
  const p = (typeof v === 'object' && v !== null ? v : {}) as { auto?: unknown; reason?: unknown }
  const precision = p.auto === 'bf16' || p.auto === 'fp16' ? p.auto : 'fp32'
  return {
    precision,
    reason: typeof p.reason === 'string' ? p.reason : 'this PyTorch trainer does not say: fp32',
  }
}

const isCudaMemory = (v: unknown): v is CudaMemory =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as CudaMemory).freeBytes === 'number' &&
  typeof (v as CudaMemory).totalBytes === 'number'

export interface ProbeOutcome {
  readonly found: TorchProbe | null
  /** Why each candidate was not used (for the run's record and the error message). */
  readonly tried: readonly string[]
}

export async function probeTorch(env: NodeJS.ProcessEnv = process.env): Promise<ProbeOutcome> {
  const { found, tried } = await findTorch(env, async (python, script) => {
    const { stdout } = await execFileAsync(python, [script, '--probe'], {
      timeout: PROBE_TIMEOUT_MS,
    })
    return { stdout, trainer: null }
  })
  return { found, tried }
}

/**
 * probeTorch for a run: the Python that answers stays, waiting for the run's job
 * (`trainer.py --probe --then-job`, waiting-trainer.ts), so a run imports torch once, not twice.
 * Whoever gets a trainer hands it a job or releases it.
 */
export async function startTorchTrainer(
  env: NodeJS.ProcessEnv = process.env,
): Promise<ProbeOutcome & { readonly trainer: WaitingTorchTrainer | null }> {
  return findTorch(env, (python, script) => spawnWaitingTrainer(python, script, PROBE_TIMEOUT_MS))
}

/** A Python that does not answer the probe within this long is passed over. */
const PROBE_TIMEOUT_MS = 60_000

type Asker = (
  python: string,
  script: string,
) => Promise<{ stdout: string; trainer: WaitingTorchTrainer | null }>

/** The candidates in order, each asked by `ask`, until one has torch. */
async function findTorch(
  env: NodeJS.ProcessEnv,
  ask: Asker,
): Promise<ProbeOutcome & { readonly trainer: WaitingTorchTrainer | null }> {
  const tried: string[] = []
  let script: string
  try {
    script = torchTrainerScript()
  } catch (err) {
    return { found: null, tried: [(err as Error).message], trainer: null }
  }
  const venv = projectVenvPython(script)
  const candidates = env[PYTHON_ENV]
    ? [env[PYTHON_ENV]]
    : [...(venv ? [venv] : []), 'python3', '/usr/bin/python3']
  for (const python of [...new Set(candidates)]) {
    if (!python) continue
    let answer: Awaited<ReturnType<Asker>>
    try {
      answer = await ask(python, script)
    } catch (err) {
      tried.push(`${python}: ${whyNoProbe(err as { code?: string; stdout?: string })}`)
      continue
    }
    let found: TorchProbe | null = null
    try {
      found = probeFromLine(python, answer.stdout)
    } catch {
      // not a probe answer: passed over below
    }
    if (found) return { found, tried, trainer: answer.trainer }
    answer.trainer?.release()
    tried.push(`${python}: ${whyNoProbe({ stdout: answer.stdout }, 'no torch')}`)
  }
  return { found: null, tried, trainer: null }
}

/** The probe's answer (its last stdout line), or null when it names no torch version. */
function probeFromLine(python: string, stdout: string): TorchProbe | null {
  const probe = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Partial<
    Omit<TorchProbe, 'cudaMemory' | 'precisionAuto'>
  > & { torch?: string | null; cudaMemory?: unknown; precision?: unknown }
  if (typeof probe.torch !== 'string') return null
  return {
    python,
    torch: probe.torch,
    cuda: probe.cuda === true,
    device: probe.device ?? 'cpu',
    threads: probe.threads ?? 1,
    gpus: Array.isArray(probe.gpus) ? probe.gpus : [],
    cudaMemory: isCudaMemory(probe.cudaMemory) ? probe.cudaMemory : null,
    precisionAuto: precisionAutoOf(probe.precision),
  }
}

/** Why a candidate gave no probe: not there, or the error line its probe printed. */
function whyNoProbe(
  e: { code?: string; stdout?: string },
  otherwise = 'cannot import torch',
): string {
  let why = e.code === 'ENOENT' ? 'not found' : otherwise
  try {
    const parsed = JSON.parse((e.stdout ?? '').trim().split('\n').at(-1) ?? '') as {
      error?: string
    }
    if (parsed.error) why = parsed.error.split('\n')[0] ?? why
  } catch {
    // not a probe answer
  }
  return why
}

/**
 * What to install, the same words as the README's "Installing PyTorch": the project's pinned
 * PyTorch 2 (CUDA wheels from PyPI), CPU-only wheels, or Debian's package.
 */
export const installHint =
  'install PyTorch: in this project, `node scripts/python-env.mjs` (PyTorch 2.15 from PyPI into ' +
  '.venv, with CUDA libraries: about 5.8 GB); a CPU-only machine: `pip install torch==2.15.0 ' +
  '--index-url https://download.pytorch.org/whl/cpu`; Debian/Ubuntu: `apt-get install ' +
  `python3-torch\` (PyTorch 1.13, CPU); or point ${PYTHON_ENV} at a Python that has torch`
