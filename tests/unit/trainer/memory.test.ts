// The machine's limits as the trainer measures them before a run (src/trainer/engines/memory.ts),
// and the torch engine's choice between them. The GPU is mocked (a probe answer): this machine
// has none.
import { describe, expect, it } from 'vitest'
import { validateExperimentConfig } from '@shared/config/experiment'
import { presetInput } from '@shared/config/presets'
import { gpuLimit, MemoryFitError, ramLimit } from '@trainer/engines/memory'
import { checkTorchMemory } from '@trainer/engines/torch/run'
import type { TorchProbe } from '@trainer/engines/torch/python'

const GiB = 1024 ** 3

describe('machine limits', () => {
  it('RAM: what the kernel says is available, less a margin of at least 512 MiB', () => {
    const limit = ramLimit()
    expect(limit.bytes).toBeGreaterThan(0)
    expect(limit.what).toMatch(
      /^the [\d.]+ (MiB|GiB) of memory available here \((MemAvailable|free memory|the cgroup's remaining allowance) [\d.]+ (MiB|GiB) less a [\d.]+ (MiB|GiB) margin\)$/,
    )
  })

  it('GPU: the free memory the torch probe saw, less 5% of the device (at least 512 MiB)', () => {
    expect(gpuLimit({ freeBytes: 70 * GiB, totalBytes: 80 * GiB })).toEqual({
      bytes: 66 * GiB,
      what: 'the 66.0 GiB of GPU memory free (70.0 GiB free of 80.0 GiB, less a 4.0 GiB margin)',
    })
    expect(gpuLimit({ freeBytes: 0.25 * GiB, totalBytes: 4 * GiB }).bytes).toBe(0)
  })
})

describe('the torch engine checks the memory it will train in', () => {
  const d2l = (batchSize: number): ReturnType<typeof validateExperimentConfig> =>
    validateExperimentConfig({
      ...presetInput('d2l'),
      engine: 'torch',
      train: { ...presetInput('d2l').train, batchSize },
    })
  const probe = (
    cudaMemory: TorchProbe['cudaMemory'],
    cuda = true,
    auto: 'fp32' | 'bf16' = 'fp32',
  ): TorchProbe => ({
    python: '/usr/bin/python3',
    torch: '2.4.0',
    cuda,
    device: 'a mocked GPU',
    threads: 8,
    gpus: cuda ? [{ index: 0, name: 'a mocked GPU', memoryMB: 81_920 }] : [],
    cudaMemory,
    precisionAuto: { precision: auto, reason: 'a mocked answer' },
  })

  it('on CUDA, against the free GPU memory, not the RAM', () => {
    const small = probe({ freeBytes: 2 * GiB, totalBytes: 4 * GiB })
    expect(() => checkTorchMemory(d2l(512), small)).toThrow(MemoryFitError)
    expect(() => checkTorchMemory(d2l(512), small)).toThrow(
      /on the torch engine \(CUDA\), more than the 1\.5 GiB of GPU memory free \(2\.0 GiB free of 4\.0 GiB, less a 512\.0 MiB margin\): lower train\.batchSize to at most \d+/,
    )
    expect(checkTorchMemory(d2l(128), probe({ freeBytes: 70 * GiB, totalBytes: 80 * GiB }))).toBe(
      null,
    )
  })

  it('in the precision the run will train in: auto as the probe resolved it', () => {
    // d2l at batch 512 on CUDA: ≈ 6.0 GiB in fp32, ≈ 3.1 GiB in bf16 (activations at half).
    const gpu = { freeBytes: 4.5 * GiB, totalBytes: 8 * GiB }
    const withPrecision = (precision: string) =>
      validateExperimentConfig({ ...d2l(512), train: { ...d2l(512).train, precision } })
    expect(() => checkTorchMemory(withPrecision('auto'), probe(gpu))).toThrow(MemoryFitError)
    expect(() => checkTorchMemory(withPrecision('fp32'), probe(gpu, true, 'bf16'))).toThrow(
      /needs about 6\.0 GiB on the torch engine \(CUDA\)/,
    )
    expect(checkTorchMemory(withPrecision('auto'), probe(gpu, true, 'bf16'))).toBe(null)
    expect(checkTorchMemory(withPrecision('bf16'), probe(gpu))).toBe(null)
    expect(checkTorchMemory(withPrecision('fp16'), probe(gpu))).toBe(null)
  })

  it('on CUDA without a memory answer, says it could not check', () => {
    expect(checkTorchMemory(d2l(128), probe(null))).toBe(
      'GPU memory is not checked before this run: PyTorch 2.4.0 cannot report it',
    )
  })
})
