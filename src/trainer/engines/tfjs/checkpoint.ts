/**
 * Checkpoints and the final model, in TensorFlow.js' weights format (a JSON manifest of tensor
 * specs beside one binary file, as `tf.io.encodeWeights` writes it), each folder closed by a
 * SHA256SUMS file (../../checksums.ts).
 *
 *   runDir/checkpoints/epoch-NNNN/  weights.bin, optimizer.bin, checkpoint.json, SHA256SUMS
 *   runDir/model/                   weights.bin, model.json, SHA256SUMS
 *
 * A folder is written under a temporary name — each file flushed to disk, SHA256SUMS last — and
 * renamed into place, so a crash or a full disk mid-write leaves the previous checkpoint intact
 * and never a half-written one that looks valid. The two newest checkpoints are kept: when the
 * newest turns out damaged on resume (its checksums do not match), the run resumes from the one
 * before, saying so, instead of training on from garbage.
 */
import { mkdir, readdir, rename } from 'node:fs/promises'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import type { NamedTensor } from '@tensorflow/tfjs-core/dist/tensor_types'
import type { Layer } from '@shared/architecture'
import type { ExperimentConfig } from '@shared/config/experiment'
import { verifySums, writeSums } from '../../checksums'
import {
  diskFullMessage,
  fsyncDir,
  isDiskFull,
  readRegularFile,
  removeDir,
  writeFileDurable,
} from '../../files'
import type { Network } from './network'

/** 2: with SHA256SUMS. 1 (NiN Lab before checksums) is still read, unverified. */
const CHECKPOINT_VERSION = 2
const READABLE_VERSIONS = [1, 2]
const DIR_PATTERN = /^epoch-(\d{4,})$/
/** checkpoint.json holds tensor specs only: a few KB. */
const MANIFEST_MAX_BYTES = 4 * 1024 ** 2

export interface CheckpointState {
  /** Epochs completed. */
  readonly epoch: number
  /** Global steps completed. */
  readonly step: number
}

interface CheckpointManifest extends CheckpointState {
  readonly version: number
  /** 'tfjs' (absent in version 1); the torch engine writes 'torch'. */
  readonly engine?: string
  readonly weightSpecs: tf.io.WeightsManifestEntry[]
  readonly optimizerSpecs: tf.io.WeightsManifestEntry[]
  /**
   * Every random draw of a run is a pure function of (seed, epoch, step): the epoch's shuffle is
   * seeded by (seed, epoch) and each step's dropout by (seed, step). The RNG position is therefore
   * fully given by `epoch` and `step`; this records the rule for readers of the file.
   */
  readonly rng: string
}

/** A checkpoint that exists but cannot be used for this run (another network). */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'CheckpointError'
  }
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

const dirName = (epoch: number): string => `epoch-${String(epoch).padStart(4, '0')}`

/** The checkpoint folders of `root`, newest first. */
async function checkpointDirs(root: string): Promise<{ name: string; epoch: number }[]> {
  let entries: string[]
  try {
    entries = await readdir(root)
  } catch {
    return []
  }
  return entries
    .flatMap((name) => {
      const m = DIR_PATTERN.exec(name)
      return m ? [{ name, epoch: Number(m[1]) }] : []
    })
    .sort((a, b) => b.epoch - a.epoch)
}

/**
 * Writes a folder atomically: `fill` writes its files into a temp folder beside `final`, then
 * SHA256SUMS, each flushed; the temp folder replaces `final`. On any failure the temp folder is
 * removed and `final` is untouched; a full disk is reported with `diskFull`'s message.
 */
async function writeFolderAtomic(
  final: string,
  tmp: string,
  fill: (dir: string) => Promise<void>,
  diskFull: () => string,
): Promise<void> {
  const parent = join(final, '..')
  try {
    await removeDir(tmp)
    await mkdir(tmp, { recursive: true })
    await fill(tmp)
    await writeSums(tmp)
    await fsyncDir(tmp)
    await removeDir(final)
    await rename(tmp, final)
    await fsyncDir(parent)
  } catch (err) {
    await removeDir(tmp).catch(() => undefined)
    if (isDiskFull(err)) throw new Error(diskFull(), { cause: err })
    throw err
  }
}

export async function saveCheckpoint(
  runDir: string,
  state: CheckpointState,
  net: Network,
  optimizer: tf.Optimizer,
): Promise<string> {
  const root = join(runDir, 'checkpoints')
  const name = dirName(state.epoch)
  const final = join(root, name)
  const older = (await checkpointDirs(root)).filter((c) => c.epoch < state.epoch)
  const weights = await encode(namedWeights(net))
  const opt = await encode(await optimizer.getWeights())
  const manifest: CheckpointManifest = {
    version: CHECKPOINT_VERSION,
    engine: 'tfjs',
    ...state,
    weightSpecs: weights.specs,
    optimizerSpecs: opt.specs,
    rng: 'shuffle(seed, epoch); dropout(seed, step)',
  }
  // The temp folder's mkdir creates checkpoints/ too, inside writeFolderAtomic's disk-full check.
  await writeFolderAtomic(
    final,
    join(root, `.${name}.tmp-${process.pid}`),
    async (dir) => {
      await writeFileDurable(join(dir, 'weights.bin'), weights.data)
      await writeFileDurable(join(dir, 'optimizer.bin'), opt.data)
      await writeFileDurable(join(dir, 'checkpoint.json'), JSON.stringify(manifest, null, 1))
    },
    // A retry resumes from the newest checkpoint before this one (still intact).
    () => diskFullMessage(root, older[0]?.epoch ?? 0),
  )
  // Keep this checkpoint and the one before it; drop the rest (older ones, leftovers of crashed
  // writes, and any newer ones a resume from further back has made obsolete).
  const keep = new Set([name, older[0]?.name])
  for (const entry of await readdir(root)) if (!keep.has(entry)) await removeDir(join(root, entry))
  return final
}

/** Bytes a tensor spec occupies in a weights file (null for a dtype of no fixed size). */
function specBytes(specs: readonly tf.io.WeightsManifestEntry[]): number | null {
  const size: Record<string, number> = { float32: 4, int32: 4, bool: 1 }
  let total = 0
  for (const s of specs) {
    const each = size[s.dtype]
    if (each === undefined) return null
    total += s.shape.reduce((a, b) => a * b, 1) * each
  }
  return total
}

/** A weights file, refused unless it has exactly the size its specs promise. */
async function readWeights(
  file: string,
  specs: tf.io.WeightsManifestEntry[],
): Promise<tf.NamedTensorMap> {
  const expected = specBytes(specs)
  const data = await readRegularFile(file, expected ?? 4 * 1024 ** 3 - 1)
  if (expected !== null && data.length !== expected)
    throw new Error(`${file} is ${data.length} bytes, its manifest says ${expected}`)
  return tf.io.decodeWeights(toArrayBuffer(data), specs)
}

async function readCheckpoint(dir: string): Promise<{
  manifest: CheckpointManifest
  weights: tf.NamedTensorMap
  optimizer: tf.NamedTensorMap
}> {
  const manifest = JSON.parse(
    (await readRegularFile(join(dir, 'checkpoint.json'), MANIFEST_MAX_BYTES)).toString('utf8'),
  ) as CheckpointManifest
  const weights = await readWeights(join(dir, 'weights.bin'), manifest.weightSpecs)
  const optimizer = await readWeights(join(dir, 'optimizer.bin'), manifest.optimizerSpecs)
  return { manifest, weights, optimizer }
}

/** The manifest's version and engine, or nulls when it cannot be read (a damaged folder). */
async function manifestHead(dir: string): Promise<{ version: number | null; engine: string }> {
  try {
    const raw = JSON.parse(
      (await readRegularFile(join(dir, 'checkpoint.json'), MANIFEST_MAX_BYTES)).toString('utf8'),
    ) as { version?: unknown; engine?: unknown } | null
    return {
      version: typeof raw?.version === 'number' ? raw.version : null,
      engine: typeof raw?.engine === 'string' ? raw.engine : 'tfjs',
    }
  } catch {
    return { version: null, engine: 'tfjs' }
  }
}

/**
 * Restores the newest sound checkpoint into `net` and `optimizer`; returns its state, or null
 * when the run has none. A damaged checkpoint (checksums, sizes or format wrong) is named in a
 * warning and the one before it is tried; when none is sound, a warning says the run starts from
 * the beginning. Weights whose shapes do not match the network are an error: the run's config
 * changed under its checkpoint, and no older checkpoint would fit either.
 */
export async function restoreLatestCheckpoint(
  runDir: string,
  net: Network,
  optimizer: tf.Optimizer,
  warn: (message: string) => void = () => undefined,
): Promise<(CheckpointState & { path: string }) | null> {
  const root = join(runDir, 'checkpoints')
  const candidates = await checkpointDirs(root)
  for (const { name } of candidates) {
    const dir = join(root, name)
    const { version, engine } = await manifestHead(dir)
    const damage = await verifySums(dir)
    // Format 1 (before checksums) has no SHA256SUMS: read it as it is, saying so.
    const legacy = version === 1 && damage !== null && damage.startsWith('it has no ')
    if ((damage === null || legacy) && engine !== 'tfjs')
      throw new CheckpointError(
        `checkpoint ${dir} was written by the ${engine} engine: resume this run with ${engine}, ` +
          'or start a new run',
      )
    if (legacy) {
      warn(`checkpoint ${dir} predates checksums (format version 1): resuming from it unverified`)
    } else if (damage !== null) {
      warn(`checkpoint ${dir} is damaged: ${damage}; skipped`)
      continue
    } else if (version === null || !READABLE_VERSIONS.includes(version)) {
      warn(`checkpoint ${dir} has an unknown format version ${String(version)}: skipped`)
      continue
    }
    let loaded: Awaited<ReturnType<typeof readCheckpoint>>
    try {
      loaded = await readCheckpoint(dir)
    } catch (err) {
      warn(`checkpoint ${dir} cannot be read (${(err as Error).message}): skipped`)
      continue
    }
    try {
      for (const { name: weight, variable } of net.named) {
        const t = loaded.weights[weight]
        if (!t || t.shape.join('x') !== variable.shape.join('x')) {
          throw new CheckpointError(
            `checkpoint ${dir} does not fit this network (weight ${weight}): the run's config changed; ` +
              'start a new run instead of resuming',
          )
        }
        variable.assign(t)
      }
      const optimizerList = loaded.manifest.optimizerSpecs.map((s) => {
        const tensor = loaded.optimizer[s.name]
        if (!tensor) throw new CheckpointError(`checkpoint ${dir} lacks optimizer weight ${s.name}`)
        return { name: s.name, tensor }
      })
      await optimizer.setWeights(optimizerList)
    } finally {
      // assign() and setWeights() keep their own references to the data.
      Object.values(loaded.weights).forEach((t) => t.dispose())
      Object.values(loaded.optimizer).forEach((t) => t.dispose())
    }
    return { epoch: loaded.manifest.epoch, step: loaded.manifest.step, path: dir }
  }
  if (candidates.length > 0)
    warn(`no sound checkpoint in ${root}: the run starts again from the beginning (epoch 0)`)
  return null
}

/**
 * The trained model: `model.json` (layer table, config, weights manifest) + `weights.bin` +
 * SHA256SUMS. `resumeEpoch`: the checkpoint a retry would resume from if the disk is full.
 */
export async function saveModel(
  runDir: string,
  net: Network,
  layers: readonly Layer[],
  config: ExperimentConfig,
  resumeEpoch: number,
): Promise<string> {
  const dir = join(runDir, 'model')
  const { data, specs } = await encode(namedWeights(net))
  const model = {
    format: 'nin-lab-layers',
    generatedBy: `nin-lab (TensorFlow.js ${tf.version_core})`,
    convertedBy: null,
    dataFormat: 'NHWC',
    modelTopology: { layers, config },
    weightsManifest: [{ paths: ['weights.bin'], weights: specs }],
  }
  await writeFolderAtomic(
    dir,
    join(runDir, `.model.tmp-${process.pid}`),
    async (tmp) => {
      await writeFileDurable(join(tmp, 'weights.bin'), data)
      await writeFileDurable(join(tmp, 'model.json'), JSON.stringify(model, null, 1))
    },
    () => diskFullMessage(runDir, resumeEpoch),
  )
  return dir
}
