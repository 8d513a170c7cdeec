/** `nin-lab export-model`: a run's trained model as ONNX, safetensors, TorchScript or TF.js. */
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { MODEL_FORMATS, type ModelFormat } from '@shared/api/contract'
import { writeFilesSafely } from '@core/files'
import { withCore } from '../core'
import { UsageError } from '../errors'

export const exportModelHelp = `Usage: nin-lab export-model RUN --format onnx|safetensors|torchscript|tfjs --out PATH
                     [--data-dir D]

Writes RUN's trained model. Torch runs: onnx (opset 17, dynamic batch; input "images"
[batch, C, S, S] float32, preprocessed as in training, output "logits"), safetensors, torchscript
(a traced module). TensorFlow.js runs: tfjs (PATH is a folder: model.json + weights.bin) and
safetensors. safetensors tensors are named after the layer table (\`block1.conv.weight\`) in
PyTorch's layouts whichever engine trained the run, so a model from either engine loads into the
other.`

const isFormat = (s: string): s is ModelFormat => (MODEL_FORMATS as readonly string[]).includes(s)

export async function exportModelCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: 'string' },
      out: { type: 'string' },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(exportModelHelp)
    return 0
  }
  const [id, ...more] = positionals
  if (!id || more.length > 0)
    throw new UsageError('export-model takes exactly one run ID (see `nin-lab ls`)')
  const format = values.format?.toLowerCase()
  if (!format || !isFormat(format))
    throw new UsageError(
      `--format must be one of ${MODEL_FORMATS.join(', ')} (got ${values.format ?? 'nothing'})`,
    )
  const out = values.out
  if (!out) throw new UsageError('--out PATH is required: where to write the model')
  const { files } = await withCore(
    values['data-dir'],
    (core) => core.api.exportModel({ id, format }),
    { readonly: true },
  )
  // One file: PATH is that file. TF.js' two files: PATH is their folder, made if missing.
  const written = files.map((f) => ({
    path: files.length === 1 ? out : join(out, f.name.slice(id.length + 1)),
    data: Buffer.from(f.base64, 'base64'),
  }))
  writeFilesSafely(written, { createFolder: true })
  for (const f of written) console.log(f.path)
  return 0
}
