import { describe, expect, it } from 'vitest'
import { layerTable } from '@shared/architecture'
import { validateExperimentConfig } from '@shared/config/experiment'
import { presetInput } from '@shared/config/presets'
import { checkWasmHeap, heapErrorMessage } from '@shared/wasm-heap'

const check = (
  preset: 'd2l' | 'd2l-96' | 'small-28',
  batchSize: number,
): ReturnType<typeof checkWasmHeap> => {
  const c = validateExperimentConfig({
    ...presetInput(preset),
    train: { ...presetInput(preset).train, batchSize },
  })
  return checkWasmHeap(layerTable(c.model), c.train)
}

describe('wasm heap check', () => {
  // docs/engines.md: d2l at 224 px trains at batch 32 on wasm; batch 128 does not fit the heap.
  it('lets the configurations that train on wasm through', () => {
    expect(check('d2l', 32).fits).toBe(true)
    expect(check('d2l-96', 128).fits).toBe(true)
    expect(check('small-28', 128).fits).toBe(true)
  })

  it('refuses d2l at 224 px batch 128 and names the batch size that fits', () => {
    const heap = check('d2l', 128)
    expect(heap.fits).toBe(false)
    expect(heap.maxBatchSize).toBeGreaterThanOrEqual(32)
    expect(heap.maxBatchSize).toBeLessThan(128)
    expect(check('d2l', heap.maxBatchSize).fits).toBe(true)
    expect(check('d2l', heap.maxBatchSize + 1).fits).toBe(false)
    const c = validateExperimentConfig({})
    expect(heapErrorMessage(heap, c.train, 224)).toMatch(
      /^train\.batchSize 128 at model\.inputSize 224 needs about \d+\.\d GiB on the wasm backend, whose heap is capped at 4\.0 GiB: lower train\.batchSize to at most \d+/,
    )
  })
})
