import { describe, expect, it } from 'vitest'
import { validateExperimentConfig } from '@shared/config/experiment'
import { presetInput } from '@shared/config/presets'
import { fitText, memoryFit } from '@shared/memory-fit'

const d2l = (batchSize: number) =>
  validateExperimentConfig({ ...presetInput('d2l'), train: { ...presetInput('d2l').train, batchSize } })

describe('memory fit before queueing', () => {
  it('agrees with the trainer’s wasm heap check (docs/engines.md: d2l at 224 px, batch ≤ 96)', () => {
    const big = memoryFit(d2l(128), { kind: 'wasm' })
    expect(big?.fits).toBe(false)
    expect(big?.maxBatchSize).toBe(96)
    expect(memoryFit(d2l(96), { kind: 'wasm' })?.fits).toBe(true)
    expect(fitText(big!, d2l(128))).toMatch(
      /^train\.batchSize 128 at model\.inputSize 224 needs about 5\.\d GiB of the wasm heap \(4\.0 GiB\): lower train\.batchSize to at most 96/,
    )
  })

  it('checks a GPU of known size, and names the batch size that fits it', () => {
    const small = { kind: 'gpu', name: 'tiny GPU', memoryMB: 2048 } as const
    const fit = memoryFit(d2l(512), small)
    expect(fit?.fits).toBe(false)
    expect(memoryFit(d2l(fit?.maxBatchSize ?? 0), small)?.fits).toBe(true)
    expect(memoryFit(d2l(128), { kind: 'gpu', name: 'H200', memoryMB: 143_771 })?.fits).toBe(true)
  })
})
