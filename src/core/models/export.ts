/**
 * A run's trained model as files for a client to save: the API's `exportModel`. The core holds
 * no framework, so a trainer process does the work (`trainer.js --export-model`, which runs the
 * PyTorch engine's exporter for torch runs: src/trainer/export/model.ts) into a private temporary
 * folder; the core hands back every file's bytes, like a report (../reports/files.ts).
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { promisify } from 'node:util'
import { ApiError, type ExportedFile, type Params } from '@shared/api/contract'
import { trainerEntry } from '../queue/trainer-process'
import type { RunStore } from '../store'
import { Turns } from '../turns'

const execFileAsync = promisify(execFile)

/** Exports at once (an ONNX export of the d2l NiN takes seconds and a core), and how many wait. */
const exports = new Turns('model exports', 1, 4)
const EXPORT_TIMEOUT_MS = 600_000

const MIME_TYPES: Readonly<Record<string, string>> = {
  'model.onnx': 'application/octet-stream',
  'model.safetensors': 'application/octet-stream',
  'model.pt': 'application/octet-stream',
  'model.json': 'application/json',
  'weights.bin': 'application/octet-stream',
}

export async function modelFiles(
  store: RunStore,
  p: Params<'exportModel'>,
): Promise<{ files: ExportedFile[] }> {
  const run = store.requireRun(p.id) // a missing run is a 404 before any work
  const modelDir = join(store.runDir(run.id), 'model')
  if (!existsSync(join(modelDir, 'model.json')))
    throw new ApiError(
      'illegal-state',
      `run ${run.id} has no trained model yet (it is ${run.status}): a model is saved when a run finishes`,
    )
  return exports.run(async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'nin-lab-model-'))
    try {
      let stdout: string
      try {
        ;({ stdout } = await execFileAsync(
          process.execPath,
          [trainerEntry(), '--export-model', modelDir, '--format', p.format, '--out-dir', outDir],
          { timeout: EXPORT_TIMEOUT_MS, maxBuffer: 1 << 20 },
        ))
      } catch (err) {
        const detail = (err as { stderr?: string }).stderr?.trim().split('\n').at(-1)
        throw new ApiError(
          'invalid-params',
          `run ${run.id}'s model cannot be exported as ${p.format}: ${detail || (err as Error).message}`,
        )
      }
      const line = stdout.split('\n').find((l) => l.startsWith('EXPORTED '))
      const { files } = JSON.parse(line?.slice('EXPORTED '.length) ?? '{"files":[]}') as {
        files: string[]
      }
      if (files.length === 0) throw new ApiError('internal', 'the model export wrote no file')
      return {
        files: files.map((file) => ({
          name: `${run.id}-${basename(file)}`,
          mimeType: MIME_TYPES[basename(file)] ?? 'application/octet-stream',
          base64: readFileSync(file).toString('base64'),
        })),
      }
    } finally {
      rmSync(outDir, { recursive: true, force: true })
    }
  })
}
