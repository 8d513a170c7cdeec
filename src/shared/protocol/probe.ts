/**
 * What the trainer's `--probe` mode prints: what a run with `engine: "auto"` would train on
 * here, and the GPUs PyTorch sees. The head reads it for `--gpus auto`, a worker to say what it
 * offers. One JSON line on stdout.
 */
import type { GpuInfo } from '../api/types'

export interface MachineProbe {
  /** "torch" or "tfjs": what `engine: auto` picks. */
  readonly engine: 'torch' | 'tfjs'
  /** e.g. "cuda", "cpu", "wasm", "tfjs-node". */
  readonly backend: string
  /** One line for people: "PyTorch 2.4 on CUDA (2 × NVIDIA H200)". */
  readonly detail: string
  readonly gpus: readonly GpuInfo[]
}

export function parseProbe(stdout: string): MachineProbe {
  const line = stdout.trim().split('\n').at(-1) ?? ''
  const raw = JSON.parse(line) as Partial<MachineProbe>
  if ((raw.engine !== 'torch' && raw.engine !== 'tfjs') || typeof raw.backend !== 'string') {
    throw new Error(`the trainer's probe printed no engine: ${line.slice(0, 120)}`)
  }
  return {
    engine: raw.engine,
    backend: raw.backend,
    detail: typeof raw.detail === 'string' ? raw.detail : `${raw.engine} ${raw.backend}`,
    gpus: Array.isArray(raw.gpus) ? raw.gpus : [],
  }
}
