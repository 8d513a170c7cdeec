// `nin-lab export-model`: trained models out of NiN Lab, checked by the tools that read them.
// A torch run and a TensorFlow.js run train for real (the CLI, real Fashion-MNIST images), then:
// - ONNX Runtime gives the torch model's logits within 1e-4 on real test images, at two batch
//   sizes (the batch axis is dynamic), from an opset ≥ 17 graph;
// - TorchScript gives the same logits; the reference `safetensors` library reads our file as
//   the state dict itself, tensor for tensor, named after the layer table;
// - the tfjs run's safetensors file, loaded into the torch network, scores the tfjs run's own
//   test accuracy on the same test images;
// - a malformed file, a foreign safetensors file, a damaged model and a format the engine does
//   not export are refused with a message that says why.
import { spawnSync } from 'node:child_process'
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, assertBuilt, runCli } from '../helpers/cli'
import { seededTempDir } from '../helpers/datasets'
import { PYTHON, probeTorch, warnSkipped } from '../fixtures/torch/torch-python'

/** `nin-lab ARGS…` as a real process, bounded by `timeoutMs` (a hang, not a speed check). */
const runCliFor = (timeoutMs: number, args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: timeoutMs })

const CHECK = fileURLToPath(new URL('../fixtures/torch/model_check.py', import.meta.url))
const { skipReason: noTorch } = probeTorch()
const tools = spawnSync(PYTHON, ['-c', 'import onnx, onnxruntime, safetensors'])
const skipReason =
  noTorch ??
  (tools.status === 0
    ? null
    : `${PYTHON} lacks onnx, onnxruntime or safetensors (node scripts/python-env.mjs)`)
if (skipReason) warnSkipped('model export', skipReason)

const check = <T>(request: object): T => {
  const r = spawnSync(PYTHON, [CHECK], {
    input: JSON.stringify(request),
    encoding: 'utf8',
    timeout: 300_000,
  })
  if (r.status !== 0) throw new Error(`model_check.py failed (${r.status}): ${r.stderr}`)
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as T
}

/** `nin-lab run --json`'s last line (src/cli/run-json.ts), the fields used here. */
interface RunJson {
  id: string
  status: string
  epochs: { testAcc: number }[]
}
const finalTestAcc = (r: RunJson): number => r.epochs.at(-1)?.testAcc ?? Number.NaN

describe.skipIf(skipReason !== null)('export-model', () => {
  let dataDir: string
  let out: string
  let cache: string
  let torchRun: RunJson
  let tfjsRun: RunJson

  const train = (engine: 'torch' | 'tfjs', trainLimit: number): RunJson => {
    // The CLI's own bound (240 s) is too short for 4,000 wasm images on a loaded 2-core machine.
    const r = runCliFor(900_000, [
      'run',
      '--preset',
      'small-28',
      ...['--set', `engine=${engine}`, '--set', `data.trainLimit=${trainLimit}`],
      ...['--set', 'data.testLimit=200', '--set', 'train.epochs=2', '--set', 'train.batchSize=32'],
      ...['--set', 'train.precision=fp32', '--data-dir', dataDir, '--json'],
    ])
    if (r.status !== 0) throw new Error(`the ${engine} run failed: ${r.stderr}`)
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as RunJson
  }
  const exportModel = (id: string, format: string, path: string) =>
    runCli(['export-model', id, '--format', format, '--out', path, '--data-dir', dataDir])

  beforeAll(async () => {
    assertBuilt()
    dataDir = await seededTempDir('nin-model-export-')
    out = join(dataDir, 'exported')
    torchRun = train('torch', 640)
    // Enough Adam steps to leave the ln 10 plateau, so equal accuracies mean equal models.
    tfjsRun = train('tfjs', 2000)
    cache = join(dataDir, 'datasets', readdirSync(join(dataDir, 'datasets'))[0]!)
  }, 900_000)
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

  const modelDir = (id: string) => join(dataDir, 'runs', id, 'model')

  it('ONNX: ONNX Runtime gives the torch logits within 1e-4, any batch size, opset ≥ 17', () => {
    const file = join(out, 'model.onnx')
    const r = exportModel(torchRun.id, 'onnx', file)
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe(file)
    const got = check<{ maxAbsDiff: number; opset: number; batchDims: unknown[] }>({
      op: 'onnx',
      modelDir: modelDir(torchRun.id),
      file,
      cache,
      count: 64,
    })
    expect(got.maxAbsDiff).toBeLessThan(1e-4)
    expect(got.opset).toBeGreaterThanOrEqual(17)
    expect(got.batchDims).toEqual(['batch', 1, 28, 28])
  })

  it('TorchScript gives the same logits', () => {
    const file = join(out, 'model.pt')
    expect(exportModel(torchRun.id, 'torchscript', file).status).toBe(0)
    const got = check<{ maxAbsDiff: number }>({
      op: 'torchscript',
      modelDir: modelDir(torchRun.id),
      file,
      cache,
      count: 64,
    })
    expect(got.maxAbsDiff).toBeLessThan(1e-5)
  })

  it('safetensors: the reference library reads the state dict, named after the layer table', () => {
    const file = join(out, 'torch.safetensors')
    expect(exportModel(torchRun.id, 'safetensors', file).status).toBe(0)
    const got = check<{ names: string[]; equal: boolean; metadata: Record<string, string> }>({
      op: 'safetensors',
      modelDir: modelDir(torchRun.id),
      file,
    })
    expect(got.equal).toBe(true)
    expect(got.names).toContain('block1.conv.weight')
    expect(got.metadata).toMatchObject({ format: 'nin-lab-safetensors', engine: 'torch' })
  })

  it('a tfjs-trained model, loaded into the torch network, scores its own test accuracy', () => {
    expect(tfjsRun.status).toBe('completed')
    expect(finalTestAcc(tfjsRun)).toBeGreaterThan(0.3) // it learned: chance is 0.1
    const file = join(out, 'tfjs.safetensors')
    const r = exportModel(tfjsRun.id, 'safetensors', file)
    expect(r.status, r.stderr).toBe(0)
    const got = check<{ testAcc: number; count: number }>({
      op: 'evaluate',
      file,
      cache,
      testLimit: 200,
      seed: 0,
      normalize: false,
    })
    expect(got.count).toBe(200)
    // Both compute in float32 but sum in different orders: a near-tie may flip one image.
    expect(Math.abs(got.testAcc - finalTestAcc(tfjsRun))).toBeLessThanOrEqual(1 / 200)
  })

  it('tfjs runs export the TF.js format as they saved it', () => {
    const dir = join(out, 'tfjs-model')
    const r = exportModel(tfjsRun.id, 'tfjs', dir)
    expect(r.status, r.stderr).toBe(0)
    expect(readdirSync(dir).sort()).toEqual(['model.json', 'weights.bin'])
    expect(readFileSync(join(dir, 'weights.bin'))).toEqual(
      readFileSync(join(modelDir(tfjsRun.id), 'weights.bin')),
    )
  })

  it('refuses what it cannot export or load, saying why', () => {
    const wrong = exportModel(tfjsRun.id, 'onnx', join(out, 'x.onnx'))
    expect(wrong.status).toBe(2)
    expect(wrong.stderr).toMatch(/a tfjs run's model exports as tfjs or safetensors, not onnx/)

    // A malformed file and a safetensors file from elsewhere (no NiN Lab metadata).
    const junk = join(out, 'junk.safetensors')
    writeFileSync(junk, 'not a model at all')
    expect(
      check<{ error: string }>({ op: 'load', modelDir: modelDir(torchRun.id), file: junk }),
    ).toMatchObject({ error: expect.stringMatching(/is not a NiN Lab safetensors model/) })
    const foreign = join(out, 'foreign.safetensors')
    const header = Buffer.from(
      JSON.stringify({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }),
    )
    const len = Buffer.alloc(8)
    len.writeBigUInt64LE(BigInt(header.length))
    writeFileSync(foreign, Buffer.concat([len, header, Buffer.alloc(4)]))
    expect(
      check<{ error: string }>({ op: 'load', modelDir: modelDir(torchRun.id), file: foreign }),
    ).toMatchObject({ error: expect.stringMatching(/format=nin-lab-safetensors/) })
    // A damaged model folder is refused before anything is exported (the last test: it breaks
    // the torch run's model for good).
    const damaged = join(modelDir(torchRun.id), 'model.pt')
    const bytes = readFileSync(damaged)
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1)
    writeFileSync(damaged, bytes)
    const r = exportModel(torchRun.id, 'onnx', join(out, 'damaged.onnx'))
    expect(r.status).not.toBe(0)
    expect(r.stderr).toMatch(/model\.pt does not match its sha256/)
  })
})
