// GPU slots from the trainer's probe. The probe is a stand-in here (no GPU on this machine or in
// CI): it answers as `trainer.js --probe` does on a machine with two GPUs, or with none.
import { describe, expect, it } from 'vitest'
import type { QueueSettings } from '@shared/api/types'
import type { MachineProbe } from '@shared/protocol/probe'
import { resolveSlots } from '@core/queue/slots'

const H200 = (index: number) => ({ index, name: 'NVIDIA H200', memoryMB: 143_771 })
const twoGpus = async (): Promise<MachineProbe> => ({
  engine: 'torch',
  backend: 'cuda',
  detail: 'PyTorch 2.4 on CUDA (2 × NVIDIA H200)',
  gpus: [H200(0), H200(1)],
})
const noGpu = async (): Promise<MachineProbe> => ({
  engine: 'torch',
  backend: 'cpu',
  detail: 'PyTorch 1.13.0a0 on the CPU (2 threads)',
  gpus: [],
})
const settings = (gpus: QueueSettings['gpus'], concurrency = 2): QueueSettings => ({
  gpus,
  concurrency,
  redis: null,
})

describe('resolveSlots', () => {
  it('--gpus auto: one slot per GPU the probe sees, each with its name and memory', async () => {
    const { slots, note } = await resolveSlots(settings('auto'), twoGpus)
    expect(slots).toEqual([
      { id: 'gpu0', gpu: H200(0) },
      { id: 'gpu1', gpu: H200(1) },
    ])
    expect(note).toBeNull()
  })

  it('--gpus auto without a GPU: --concurrency CPU slots, saying why', async () => {
    const { slots, note } = await resolveSlots(settings('auto', 2), noGpu)
    expect(slots).toEqual([
      { id: 'cpu0', gpu: null },
      { id: 'cpu1', gpu: null },
    ])
    expect(note).toBe(
      '--gpus auto found no GPU (PyTorch 1.13.0a0 on the CPU (2 threads)): training on 2 CPU slots (--concurrency)',
    )
  })

  it('--gpus 0,2: the listed GPUs only, and a GPU PyTorch does not see is named', async () => {
    const { slots, note } = await resolveSlots(settings([0, 2]), twoGpus)
    expect(slots.map((s) => s.id)).toEqual(['gpu0', 'gpu2'])
    expect(slots[0]!.gpu).toEqual(H200(0))
    expect(slots[1]!.gpu).toEqual({ index: 2, name: 'GPU 2', memoryMB: 0 })
    expect(note).toMatch(/^PyTorch does not see GPU 2 \(PyTorch 2\.4 on CUDA/)
  })

  it('a probe that fails falls back like a machine without a GPU, naming the failure', async () => {
    const failing = async (): Promise<MachineProbe> => {
      throw new Error('spawn python3 ENOENT\nmore')
    }
    const { slots, note } = await resolveSlots(settings('auto', 1), failing)
    expect(slots).toEqual([{ id: 'cpu0', gpu: null }])
    expect(note).toBe(
      '--gpus auto found no GPU (the probe failed: spawn python3 ENOENT): training on 1 CPU slot (--concurrency)',
    )
  })

  it('no --gpus: CPU slots, without asking the probe', async () => {
    let asked = false
    const { slots, note } = await resolveSlots(settings(null, 3), async () => {
      asked = true
      return twoGpus()
    })
    expect(slots.map((s) => s.id)).toEqual(['cpu0', 'cpu1', 'cpu2'])
    expect(note).toBeNull()
    expect(asked).toBe(false)
  })
})
