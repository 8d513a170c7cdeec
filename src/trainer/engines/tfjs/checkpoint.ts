/**
 * Checkpoints and the final model, in TensorFlow.js' weights format (a JSON manifest of tensor
 * specs beside one binary file, as `tf.io.encodeWeights` writes it).
 *
 * A checkpoint is written to a temporary folder and renamed into place, so a crash mid-write
 * leaves the previous checkpoint intact and never a half-written one that looks valid. Only the
 * newest checkpoint is kept: resuming needs nothing older.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import type { NamedTensor } from '@tensorflow/tfjs-core/dist/tensor_types'
import type { Layer } from '@shared/architecture'
import type { ExperimentConfig } from '@shared/config/experiment'
import type { Network } from './network'

const CHECKPOINT_VERSION = 1
const DIR_PATTERN = /^epoch-(\d{4,})$/

export interface CheckpointState {
  /** Epochs completed. */
  readonly epoch: number
  /** Global steps completed. */
  readonly step: number
}

interface CheckpointManifest extends CheckpointState {
  readonly version: number
  readonly weightSpecs: tf.io.WeightsManifestEntry[]
  readonly optimizerSpecs: tf.io.WeightsManifestEntry[]
  /**
   * Every random draw of a run is a pure function of (seed, epoch, step): the epoch's shuffle is
   * seeded by (seed, epoch) and each step's dropout by (seed, step). The RNG position is therefore
   * fully given by `epoch` and `step`; this records the rule for readers of the file.
   */
  readonly rng: string
}

const toArrayBuffer = (b: Buffer): ArrayBuffer =>
  b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer

async function encode(
  tensors: NamedTensor[],
): Promise<{ data: Buffer; specs: tf.io.WeightsManifestEntry[] }> {
  const { data, specs } = await tf.io.encodeWeights(tensors)
  return { data: Buffer.from(data), specs }
}

const namedWeights = (net: Network): NamedTensor[] =>
  net.named.map(({ name, variable }) => ({ name, tensor: variable }))

export async function saveCheckpoint(
  runDir: string,
  state: CheckpointState,
  net: Network,
  optimizer: tf.Optimizer,
): Promise<string> {
  const root = join(runDir, 'checkpoints')
  mkdirSync(root, { recursive: true })
  const name = `epoch-${String(state.epoch).padStart(4, '0')}`
  const final = join(root, name)
  const tmp = join(root, `.${name}.tmp-${process.pid}`)
  rmSync(tmp, { recursive: true, force: true })
  mkdirSync(tmp)

  const weights = await encode(namedWeights(net))
  const optimizerWeights = await optimizer.getWeights()
  const opt = await encode(optimizerWeights)
  writeFileSync(join(tmp, 'weights.bin'), weights.data)
  writeFileSync(join(tmp, 'optimizer.bin'), opt.data)
  const manifest: CheckpointManifest = {
    version: CHECKPOINT_VERSION,
    ...state,
    weightSpecs: weights.specs,
    optimizerSpecs: opt.specs,
    rng: 'shuffle(seed, epoch); dropout(seed, step)',
  }
  // The manifest is written last: a folder without it is incomplete by definition.
  writeFileSync(join(tmp, 'checkpoint.json'), JSON.stringify(manifest, null, 1))
  rmSync(final, { recursive: true, force: true })
  renameSync(tmp, final)

  for (const entry of readdirSync(root)) {
    if (entry !== name) rmSync(join(root, entry), { recursive: true, force: true })
  }
  return final
}

function readCheckpoint(dir: string): {
  manifest: CheckpointManifest
  weights: tf.NamedTensorMap
  optimizer: tf.NamedTensorMap
} {
  const manifest = JSON.parse(
    readFileSync(join(dir, 'checkpoint.json'), 'utf8'),
  ) as CheckpointManifest
  if (manifest.version !== CHECKPOINT_VERSION)
    throw new Error(`checkpoint version ${manifest.version} is unknown`)
  const weights = tf.io.decodeWeights(
    toArrayBuffer(readFileSync(join(dir, 'weights.bin'))),
    manifest.weightSpecs,
  )
  const optimizer = tf.io.decodeWeights(
    toArrayBuffer(readFileSync(join(dir, 'optimizer.bin'))),
    manifest.optimizerSpecs,
  )
  return { manifest, weights, optimizer }
}

/**
 * Restores the newest complete checkpoint into `net` and `optimizer`; returns its state, or null
 * when the run has none. Weights whose shapes do not match the network are an error (the run's
 * config changed under its checkpoint).
 */
export async function restoreLatestCheckpoint(
  runDir: string,
  net: Network,
  optimizer: tf.Optimizer,
): Promise<(CheckpointState & { path: string }) | null> {
  const root = join(runDir, 'checkpoints')
  let entries: string[]
  try {
    entries = readdirSync(root)
  } catch {
    return null
  }
  const candidates = entries
    .map((e) => ({ e, m: DIR_PATTERN.exec(e) }))
    .filter((c): c is { e: string; m: RegExpExecArray } => c.m !== null)
    .sort((a, b) => Number(b.m[1]) - Number(a.m[1]))
  for (const { e } of candidates) {
    const dir = join(root, e)
    let loaded: ReturnType<typeof readCheckpoint>
    try {
      loaded = readCheckpoint(dir)
    } catch {
      continue // incomplete or damaged: try an older one
    }
    for (const { name, variable } of net.named) {
      const t = loaded.weights[name]
      if (!t || t.shape.join('x') !== variable.shape.join('x')) {
        throw new Error(
          `checkpoint ${dir} does not fit this network (weight ${name}): the run's config changed; ` +
            'start a new run instead of resuming',
        )
      }
      variable.assign(t)
    }
    const optimizerList = loaded.manifest.optimizerSpecs.map((s) => {
      const tensor = loaded.optimizer[s.name]
      if (!tensor) throw new Error(`checkpoint ${dir} lacks optimizer weight ${s.name}`)
      return { name: s.name, tensor }
    })
    await optimizer.setWeights(optimizerList)
    // assign() and setWeights() keep their own references to the data.
    Object.values(loaded.weights).forEach((t) => t.dispose())
    Object.values(loaded.optimizer).forEach((t) => t.dispose())
    return { epoch: loaded.manifest.epoch, step: loaded.manifest.step, path: dir }
  }
  return null
}

/** The trained model: `model.json` (layer table, config, weights manifest) + `weights.bin`. */
export async function saveModel(
  runDir: string,
  net: Network,
  layers: readonly Layer[],
  config: ExperimentConfig,
): Promise<string> {
  const dir = join(runDir, 'model')
  const tmp = join(runDir, `.model.tmp-${process.pid}`)
  rmSync(tmp, { recursive: true, force: true })
  mkdirSync(tmp, { recursive: true })
  const { data, specs } = await encode(namedWeights(net))
  writeFileSync(join(tmp, 'weights.bin'), data)
  writeFileSync(
    join(tmp, 'model.json'),
    JSON.stringify(
      {
        format: 'nin-lab-layers',
        generatedBy: `nin-lab (TensorFlow.js ${tf.version_core})`,
        convertedBy: null,
        dataFormat: 'NHWC',
        modelTopology: { layers, config },
        weightsManifest: [{ paths: ['weights.bin'], weights: specs }],
      },
      null,
      1,
    ),
  )
  rmSync(dir, { recursive: true, force: true })
  renameSync(tmp, dir)
  return dir
}
