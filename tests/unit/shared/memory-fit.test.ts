// The one memory rule of every engine (src/shared/memory-fit.ts), with the engines' models.
import { describe, expect, it } from 'vitest'
import { layerTable } from '@shared/architecture'
import { validateExperimentConfig, type ExperimentConfig } from '@shared/config/experiment'
import { presetInput, type PresetName } from '@shared/config/presets'
import {
  ENGINE_MEMORY_MODELS,
  checkMemoryFit,
  fitText,
  memoryFit,
  memoryFitError,
  type EngineMemoryModel,
  type MemoryLimit,
} from '@shared/memory-fit'
import { WASM_HEAP_LIMIT } from '@shared/wasm-heap'

const GiB = 1024 ** 3
const MiB = 1024 ** 2
const plenty: MemoryLimit = { bytes: 1024 * GiB, what: 'a terabyte' }

const config = (preset: PresetName, batchSize: number, inputSize?: number): ExperimentConfig => {
  const input = presetInput(preset)
  return validateExperimentConfig({
    ...input,
    model: { ...input.model, ...(inputSize ? { inputSize } : {}) },
    train: { ...input.train, batchSize },
  })
}
const check = (
  c: ExperimentConfig,
  model: EngineMemoryModel,
  limits: readonly MemoryLimit[],
): ReturnType<typeof checkMemoryFit> => checkMemoryFit(layerTable(c.model), c.train, model, limits)
const wasm = (preset: PresetName, batchSize: number): ReturnType<typeof checkMemoryFit> =>
  check(config(preset, batchSize), ENGINE_MEMORY_MODELS.wasm, [WASM_HEAP_LIMIT, plenty])

describe('memory check: wasm heap', () => {
  // docs/engines.md: d2l at 224 px trains at batch 32 on wasm; batch 128 does not fit the heap.
  it('lets the configurations that train on wasm through', () => {
    expect(wasm('d2l', 32).fits).toBe(true)
    expect(wasm('d2l-96', 128).fits).toBe(true)
    expect(wasm('small-28', 128).fits).toBe(true)
  })

  it('refuses d2l at 224 px batch 128 and names the batch size that fits', () => {
    const heap = wasm('d2l', 128)
    expect(heap.fits).toBe(false)
    expect(heap.limit).toBe(WASM_HEAP_LIMIT)
    expect(heap.maxBatchSize).toBeGreaterThanOrEqual(32)
    expect(heap.maxBatchSize).toBeLessThan(128)
    expect(wasm('d2l', heap.maxBatchSize).fits).toBe(true)
    expect(wasm('d2l', heap.maxBatchSize + 1).fits).toBe(false)
    expect(memoryFitError(heap, { batchSize: 128 }, 224, ENGINE_MEMORY_MODELS.wasm)).toMatch(
      /^train\.batchSize 128 at model\.inputSize 224 needs about \d+\.\d GiB on the wasm backend, more than the 4\.0 GiB wasm heap \(TensorFlow\.js' cap\): lower train\.batchSize to at most \d+ \(or model\.inputSize\), or train with the torch engine$/,
    )
  })
})

describe('memory check: any engine, any limit', () => {
  it('the tightest limit decides, and is the one named', () => {
    const ram: MemoryLimit = { bytes: 1 * GiB, what: 'the 1.0 GiB of memory available here' }
    const fit = check(config('d2l-96', 512), ENGINE_MEMORY_MODELS.torchCpu, [plenty, ram])
    expect(fit.limit).toBe(ram)
    expect(fit.fits).toBe(false)
    expect(
      check(config('d2l-96', fit.maxBatchSize), ENGINE_MEMORY_MODELS.torchCpu, [ram]).fits,
    ).toBe(true)
    expect(
      check(config('d2l-96', fit.maxBatchSize + 1), ENGINE_MEMORY_MODELS.torchCpu, [ram]).fits,
    ).toBe(false)
    expect(memoryFitError(fit, { batchSize: 512 }, 96, ENGINE_MEMORY_MODELS.torchCpu)).toBe(
      `train.batchSize 512 at model.inputSize 96 needs about ${(fit.predictedBytes / GiB).toFixed(1)} GiB ` +
        `on the torch engine (CPU), more than the 1.0 GiB of memory available here: lower ` +
        `train.batchSize to at most ${fit.maxBatchSize} (or model.inputSize)`,
    )
  })

  it('d2l at 1024 px, batch 4096 needs about a TiB, and says when not even one image fits', () => {
    const fit = check(config('d2l', 4096, 1024), ENGINE_MEMORY_MODELS.torchCpu, [
      { bytes: 16 * GiB, what: '16 GiB' },
    ])
    expect(fit.predictedBytes).toBeGreaterThan(512 * GiB)
    expect(fit.maxBatchSize).toBeGreaterThan(0)
    const tiny = check(config('d2l', 4096, 1024), ENGINE_MEMORY_MODELS.torchCpu, [
      { bytes: 400 * MiB, what: '400 MiB' },
    ])
    expect(tiny.maxBatchSize).toBe(0)
    expect(memoryFitError(tiny, { batchSize: 4096 }, 1024, ENGINE_MEMORY_MODELS.torchCpu)).toMatch(
      /more than 400 MiB: not even a batch of one fits: lower model\.inputSize or narrow the network$/,
    )
  })

  // The calibration behind ENGINE_MEMORY_MODELS.torchCpu: peak RSS of the Python trainer over
  // one epoch of real training (PyTorch 1.13 on this machine's CPU, one thread). The model must
  // stay above every measurement, by less than a third, so it refuses what would not fit
  // without refusing what would.
  it.each([
    ['small-28', 32, 328],
    ['small-28', 128, 399],
    ['small-28', 512, 686],
    ['d2l-96', 32, 384],
    ['d2l-96', 128, 511],
    ['d2l', 32, 610],
  ] as const)('torch CPU model covers %s at batch %i (measured %i MiB)', (preset, batch, mib) => {
    const predicted = check(config(preset, batch), ENGINE_MEMORY_MODELS.torchCpu, [
      plenty,
    ]).predictedBytes
    expect(predicted).toBeGreaterThan(mib * MiB)
    expect(predicted).toBeLessThan((4 / 3) * mib * MiB)
  })
})

// The form's check before queueing (memoryFit) must refuse exactly what the trainer would, in the
// trainer's words, so a config is never queued only to fail and be retried in vain.
describe('memory fit before queueing (the New experiment form)', () => {
  it('agrees with the trainer on the wasm heap, and says the same refusal', () => {
    const form = memoryFit(config('d2l', 128), { kind: 'wasm' })
    const trainer = wasm('d2l', 128)
    expect(form?.fits).toBe(false)
    expect(form?.limit).toBe(WASM_HEAP_LIMIT)
    expect(form?.predictedBytes).toBe(trainer.predictedBytes)
    expect(form?.maxBatchSize).toBe(trainer.maxBatchSize)
    expect(fitText(form!, config('d2l', 128))).toBe(
      memoryFitError(trainer, { batchSize: 128 }, 224, ENGINE_MEMORY_MODELS.wasm),
    )
    const fits = memoryFit(config('d2l', trainer.maxBatchSize), { kind: 'wasm' })
    expect(fits?.fits).toBe(true)
    expect(fitText(fits!, config('d2l', trainer.maxBatchSize))).toMatch(
      /^fits: needs about \d+\.\d GiB of the 4\.0 GiB wasm heap \(TensorFlow\.js' cap\)$/,
    )
  })

  it('checks a GPU of known size less the trainer’s margin, and names the batch size that fits', () => {
    const small = { kind: 'gpu', name: 'tiny GPU', memoryMB: 2048 } as const
    const fit = memoryFit(config('d2l', 512), small)
    expect(fit?.fits).toBe(false)
    // 2 GiB less the 512 MiB minimum margin.
    expect(fit?.limit.bytes).toBe(1.5 * GiB)
    expect(fit?.maxBatchSize).toBeGreaterThan(0)
    expect(memoryFit(config('d2l', fit?.maxBatchSize ?? 0), small)?.fits).toBe(true)
    expect(memoryFit(config('d2l', (fit?.maxBatchSize ?? 0) + 1), small)?.fits).toBe(false)
    expect(fitText(fit!, config('d2l', 512))).toMatch(
      /on the torch engine \(CUDA\), more than the 1\.5 GiB of tiny GPU \(2\.0 GiB less a 512\.0 MiB margin\): lower train\.batchSize to at most \d+/,
    )
    expect(
      memoryFit(config('d2l', 128), { kind: 'gpu', name: 'H200', memoryMB: 143_771 })?.fits,
    ).toBe(true)
  })

  it('is null for a network that does not build (the form says why elsewhere)', () => {
    const c = config('d2l', 32)
    expect(memoryFit({ ...c, model: { ...c.model, inputSize: 8 } }, { kind: 'wasm' })).toBeNull()
  })
})
