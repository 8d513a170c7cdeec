/**
 * A run's trained model out of NiN Lab (`trainer.js --export-model DIR --format F --out-dir D`,
 * which the core runs for its `exportModel` call). The model folder is checked against its
 * SHA256SUMS first. A tfjs model (model.json with dataFormat NHWC + weights.bin) is copied as the
 * TF.js format, or converted here to safetensors; a torch model (NCHW, model.pt) is exported by
 * the PyTorch engine's src/torch-engine/export_model.py (ONNX, safetensors, TorchScript).
 *
 * safetensors, from either engine: float32 tensors named `<layer row>.weight` / `.bias` after the
 * layer table (src/shared/architecture.ts), in PyTorch's layouts (conv [out, in, kh, kw], dense
 * [out, in]), with the table in the metadata — nin_torch/safetensors.py reads and writes the
 * same, so a model trained on either engine loads into the other.
 */
import { execFile } from 'node:child_process'
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import type { Layer } from '@shared/architecture'
import { MODEL_FORMATS_BY_ENGINE, type ModelFormat } from '@shared/api/contract'
import { verifySums } from '../checksums'
import { readRegularFile } from '../files'
import { probeTorch, torchTrainerScript, installHint } from '../engines/torch/python'

const execFileAsync = promisify(execFile)

/** model.json is the layer table, the config and a weights manifest: tens of KB. */
const MODEL_JSON_MAX_BYTES = 16 * 1024 ** 2
/** A NiN's weights are a few MB; the largest presets stay far below this. */
const WEIGHTS_MAX_BYTES = 1024 ** 3

export class ModelExportError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ModelExportError'
  }
}

interface TfjsWeightSpec {
  readonly name: string
  readonly shape: readonly number[]
  readonly dtype: string
}
interface ModelManifest {
  readonly format: string
  readonly dataFormat: 'NHWC' | 'NCHW'
  readonly modelTopology: { readonly layers: Layer[] }
  readonly weightsManifest?: readonly { readonly weights: readonly TfjsWeightSpec[] }[]
}

async function readManifest(modelDir: string): Promise<ModelManifest> {
  const damage = await verifySums(modelDir)
  if (damage !== null)
    throw new ModelExportError(`the model in ${modelDir} cannot be exported: ${damage}`)
  const raw = JSON.parse(
    (await readRegularFile(join(modelDir, 'model.json'), MODEL_JSON_MAX_BYTES)).toString('utf8'),
  ) as Partial<ModelManifest>
  if (
    raw.format !== 'nin-lab-layers' ||
    (raw.dataFormat !== 'NHWC' && raw.dataFormat !== 'NCHW') ||
    !Array.isArray(raw.modelTopology?.layers)
  )
    throw new ModelExportError(`${modelDir}/model.json is not a NiN Lab model`)
  return raw as ModelManifest
}

/** Exports the model of `modelDir` into `outDir`; returns the paths written. */
export async function exportModel(
  modelDir: string,
  format: ModelFormat,
  outDir: string,
): Promise<string[]> {
  const manifest = await readManifest(modelDir)
  const engine = manifest.dataFormat === 'NHWC' ? 'tfjs' : 'torch'
  const allowed = MODEL_FORMATS_BY_ENGINE[engine]
  if (!allowed.includes(format))
    throw new ModelExportError(
      `a ${engine} run's model exports as ${allowed.join(' or ')}, not ${format}` +
        (engine === 'tfjs' ? ' (safetensors loads into the torch engine: export that)' : ''),
    )
  mkdirSync(outDir, { recursive: true })
  if (engine === 'torch')
    return [await exportTorch(modelDir, format, join(outDir, `model.${ext(format)}`))]
  if (format === 'tfjs') {
    for (const name of ['model.json', 'weights.bin'])
      copyFileSync(join(modelDir, name), join(outDir, name))
    return [join(outDir, 'model.json'), join(outDir, 'weights.bin')]
  }
  const weights = await readRegularFile(join(modelDir, 'weights.bin'), WEIGHTS_MAX_BYTES)
  const file = join(outDir, 'model.safetensors')
  writeFileSync(file, tfjsToSafetensors(manifest, weights))
  return [file]
}

const ext = (format: ModelFormat): string =>
  format === 'torchscript' ? 'pt' : format === 'onnx' ? 'onnx' : 'safetensors'

async function exportTorch(modelDir: string, format: ModelFormat, out: string): Promise<string> {
  const { found, tried } = await probeTorch()
  if (!found)
    throw new ModelExportError(
      `exporting a torch model needs a Python with PyTorch (${tried.join('; ')}): ${installHint}`,
    )
  const script = join(dirname(torchTrainerScript()), 'export_model.py')
  let stdout: string
  try {
    ;({ stdout } = await execFileAsync(
      found.python,
      [script, modelDir, '--format', format, '--out', out],
      { timeout: 600_000, maxBuffer: 16 << 20 },
    ))
  } catch (err) {
    stdout = (err as { stdout?: string }).stdout ?? ''
    const answer = lastJson(stdout)
    throw new ModelExportError(
      typeof answer?.error === 'string' ? answer.error : `export_model.py failed: ${String(err)}`,
    )
  }
  if (typeof lastJson(stdout)?.file !== 'string')
    throw new ModelExportError(`export_model.py gave no answer: ${stdout.slice(-200)}`)
  return out
}

function lastJson(stdout: string): Record<string, unknown> | null {
  try {
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>
  } catch {
    return null
  }
}

/**
 * A tfjs model's weights as NiN Lab safetensors: `<row>/kernel` [kh, kw, in, out] becomes
 * `<row>.weight` [out, in, kh, kw]; a dense kernel [in, out] becomes [out, in] (both engines
 * flatten in (C, H, W) order, so no reordering of the dense rows is needed); biases keep their
 * shape.
 */
export function tfjsToSafetensors(manifest: ModelManifest, weights: Buffer): Buffer {
  const specs = manifest.weightsManifest?.flatMap((g) => g.weights) ?? []
  if (weights.byteLength % 4 !== 0) throw new ModelExportError('weights.bin is not float32 data')
  // A copy: a Buffer's byte offset need not be a multiple of 4, a Float32Array's must.
  const floats = new Float32Array(Uint8Array.from(weights).buffer)
  const tensors: { name: string; shape: number[]; data: Float32Array }[] = []
  let offset = 0
  for (const spec of specs) {
    if (spec.dtype !== 'float32')
      throw new ModelExportError(`weight ${spec.name} is ${spec.dtype}, not float32`)
    const count = spec.shape.reduce((a, b) => a * b, 1)
    if (offset + count > floats.length)
      throw new ModelExportError(`weights.bin is shorter than its manifest (at ${spec.name})`)
    const values = floats.subarray(offset, offset + count)
    offset += count
    const [row, kind] = spec.name.split('/')
    if (kind === 'bias') tensors.push({ name: `${row}.bias`, shape: [...spec.shape], data: values })
    else if (kind === 'kernel' && spec.shape.length === 4)
      tensors.push({ name: `${row}.weight`, ...permuteConv(values, spec.shape) })
    else if (kind === 'kernel' && spec.shape.length === 2)
      tensors.push({ name: `${row}.weight`, ...transpose(values, spec.shape) })
    else throw new ModelExportError(`weight ${spec.name} is not a conv or dense kernel or bias`)
  }
  if (offset !== floats.length)
    throw new ModelExportError(`weights.bin holds more than its manifest lists`)
  return encodeSafetensors(tensors, {
    format: 'nin-lab-safetensors',
    layout: 'torch: conv [out, in, kh, kw], dense [out, in]; input NCHW',
    engine: 'tfjs',
    layers: JSON.stringify(manifest.modelTopology.layers),
  })
}

/** [kh, kw, in, out] → [out, in, kh, kw]. */
function permuteConv(
  v: Float32Array,
  shape: readonly number[],
): { shape: number[]; data: Float32Array } {
  const [kh, kw, cin, cout] = shape as [number, number, number, number]
  const out = new Float32Array(v.length)
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++)
          out[((o * cin + i) * kh + y) * kw + x] = v[((y * kw + x) * cin + i) * cout + o]!
  return { shape: [cout, cin, kh, kw], data: out }
}

/** [in, out] → [out, in]. */
function transpose(
  v: Float32Array,
  shape: readonly number[],
): { shape: number[]; data: Float32Array } {
  const [rows, cols] = shape as [number, number]
  const out = new Float32Array(v.length)
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = v[r * cols + c]!
  return { shape: [cols, rows], data: out }
}

/** The safetensors container: u64 LE header length, JSON header (8-byte aligned), raw data. */
export function encodeSafetensors(
  tensors: readonly { name: string; shape: readonly number[]; data: Float32Array }[],
  metadata: Readonly<Record<string, string>>,
): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata }
  let offset = 0
  for (const t of tensors) {
    header[t.name] = {
      dtype: 'F32',
      shape: t.shape,
      data_offsets: [offset, offset + t.data.byteLength],
    }
    offset += t.data.byteLength
  }
  let text = JSON.stringify(header)
  text += ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8)
  const head = Buffer.alloc(8)
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(text)))
  // Little-endian float32: what every machine Node runs on stores (x86-64, arm64).
  const data = tensors.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))
  return Buffer.concat([head, Buffer.from(text), ...data])
}
