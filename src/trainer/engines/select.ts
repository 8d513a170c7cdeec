/**
 * Which engine trains a run. `engine: "auto"` takes the fastest that works here, in the order
 * torch with CUDA → tfjs-node-gpu → torch on CPU → tfjs-node → tfjs wasm (→ tfjs cpu), and
 * records why each faster one was passed over. PyTorch on a CPU is several times faster than
 * TensorFlow.js' wasm backend on the same cores (docs/engines.md: about 7–9× on the d2l NiN),
 * hence its place before tfjs-node.
 */
import type { ExperimentConfig } from '@shared/config/experiment'
import type { SkippedBackend } from '@shared/protocol/trainer'
import { selectBackend } from './tfjs/backends'
import { installHint, probeTorch, startTorchTrainer, type TorchProbe } from './torch/python'
import type { WaitingTorchTrainer } from './torch/waiting-trainer'

export type EngineChoice =
  | { readonly engine: 'tfjs'; readonly skipped: SkippedBackend[] }
  | {
      readonly engine: 'torch'
      readonly probe: TorchProbe
      readonly skipped: SkippedBackend[]
      /** For a run (`forRun`): the Python that probed, waiting for the job; else null. */
      readonly trainer: WaitingTorchTrainer | null
    }

export class EngineError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'EngineError'
  }
}

/**
 * The engine for `config`. With `forRun`, a torch choice comes with its trainer already started
 * (waiting-trainer.ts); any other outcome lets that Python go.
 */
export async function chooseEngine(
  config: ExperimentConfig,
  opts: { readonly forRun?: boolean } = {},
): Promise<EngineChoice> {
  if (config.engine === 'tfjs') return { engine: 'tfjs', skipped: [] }
  const { found, tried, trainer } = opts.forRun
    ? await startTorchTrainer()
    : { ...(await probeTorch()), trainer: null }
  let choice: EngineChoice | undefined
  try {
    choice = await pick(config, found, tried, trainer)
    return choice
  } finally {
    if (choice?.engine !== 'torch') trainer?.release()
  }
}

async function pick(
  config: ExperimentConfig,
  found: TorchProbe | null,
  tried: readonly string[],
  trainer: WaitingTorchTrainer | null,
): Promise<EngineChoice> {
  if (config.engine === 'torch') {
    if (!found)
      throw new EngineError(
        `engine is "torch" but no Python with PyTorch was found (${tried.join('; ')}): ${installHint}`,
      )
    return { engine: 'torch', probe: found, skipped: [], trainer }
  }
  const skipped: SkippedBackend[] = []
  const noTorch = `no Python with PyTorch (${tried.join('; ')})`
  if (found?.cuda) return { engine: 'torch', probe: found, skipped, trainer }
  skipped.push({
    backend: 'torch (CUDA)',
    reason: found ? `PyTorch ${found.torch} sees no CUDA device` : noTorch,
  })
  // A tfjs backend other than auto is the user's explicit wish: honour it.
  if (config.train.backend !== 'auto') return { engine: 'tfjs', skipped }
  try {
    await selectBackend('tfjs-node-gpu')
    return { engine: 'tfjs', skipped }
  } catch (err) {
    skipped.push({
      backend: 'tfjs-node-gpu',
      reason: (err as Error).message
        .replace(/^train\.backend is "tfjs-node-gpu" but it cannot be used: /, '')
        .replace(/; set train\.backend.*$/, ''),
    })
  }
  if (found) return { engine: 'torch', probe: found, skipped, trainer }
  // The last place PyTorch was passed over says how to get it (the same words as `engine: torch`).
  skipped.push({ backend: 'torch (CPU)', reason: `${noTorch}: ${installHint}` })
  return { engine: 'tfjs', skipped }
}
