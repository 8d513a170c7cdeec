// The TensorFlow.js network is built from the shared layer table: its parameter count must equal
// the cost model's for every preset, and training must not leak tensors.
import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { layerTable } from '@shared/architecture'
import { validateExperimentConfig } from '@shared/config/experiment'
import { PRESET_NAMES, presetInput } from '@shared/config/presets'
import { costTotals } from '@shared/cost'
import { buildNetwork } from '@trainer/engines/tfjs/network'
import { makeOptimizer, trainStep } from '@trainer/engines/tfjs/train'
import { initWasmBackend, shutdownWasm } from '@trainer/engines/tfjs/wasm'

const tiny = validateExperimentConfig({
  model: {
    inputSize: 20,
    blocks: [
      { channels: 6, kernel: 5, stride: 1, padding: 2 },
      { channels: 8, kernel: 3, stride: 2, padding: 1 },
    ],
    microConvs: 1,
    head: 'fc',
    fcFrom: 'classmaps',
    fcHidden: [12],
    dropout: 0,
  },
  train: { batchSize: 4, optimizer: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 1e-3 },
})

function batchOf(
  size: number,
  inputSize: number,
  seed: number,
): { x: Float32Array; y: Int32Array; size: number; index: number } {
  const x = new Float32Array(size * inputSize * inputSize)
  let s = seed
  for (let i = 0; i < x.length; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31
    x[i] = s / 2 ** 31
  }
  return { x, y: Int32Array.from({ length: size }, (_, i) => (i * 3 + seed) % 10), size, index: 0 }
}

describe('tfjs network', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu')
  })

  it.each(PRESET_NAMES)('%s has exactly the cost model’s parameter count', (name) => {
    const config = validateExperimentConfig(presetInput(name))
    const layers = layerTable(config.model)
    const net = buildNetwork(layers, 0)
    expect(net.countParams()).toBe(costTotals(layers, config.train).params)
    if (name === 'd2l') expect(net.countParams()).toBe(1_992_166)
    net.dispose()
  })

  it('outputs logits of the right shape for every head', () => {
    for (const model of [
      { head: 'gap' },
      { head: 'fc', fcFrom: 'features', fcHidden: [16] },
      { head: 'fc', fcFrom: 'classmaps' },
    ]) {
      const config = validateExperimentConfig({ model: { ...tiny.model, ...model } })
      const net = buildNetwork(layerTable(config.model), 1)
      const logits = net.forward(tf.zeros([3, 20, 20, 1]), false)
      expect(logits.shape).toEqual([3, 10])
      logits.dispose()
      net.dispose()
    }
  })

  it('initialises identically for the same seed and differently for another', async () => {
    const layers = layerTable(tiny.model)
    const [a, b, c] = [buildNetwork(layers, 7), buildNetwork(layers, 7), buildNetwork(layers, 8)]
    const first = (n: typeof a): Promise<Float32Array> =>
      n.variables[0]!.data() as Promise<Float32Array>
    expect(await first(a)).toEqual(await first(b))
    expect(await first(a)).not.toEqual(await first(c))
    // Xavier-uniform bound for the 5×5 conv from 1 to 6 channels: sqrt(6 / (25 + 150)).
    const limit = Math.sqrt(6 / (25 * 1 + 25 * 6))
    const values = await first(a)
    expect(Math.max(...values.map(Math.abs))).toBeLessThanOrEqual(limit)
    expect(Math.max(...values.map(Math.abs))).toBeGreaterThan(limit * 0.8)
    expect(await a.variables[1]!.data()).toEqual(new Float32Array(6)) // zero biases
    ;[a, b, c].forEach((n) => n.dispose())
  })

  it('keeps the tensor count flat across training steps (no leaks)', async () => {
    const net = buildNetwork(layerTable(tiny.model), 0)
    const optimizer = makeOptimizer(tiny.train)
    const counts: number[] = []
    for (let i = 0; i < 5; i++) {
      await trainStep(net, optimizer, batchOf(4, 20, i), 20, 10, tiny.train.weightDecay, i)
      counts.push(tf.memory().numTensors)
    }
    // The optimizer creates its momentum slots on the first step; after that nothing may grow.
    expect(new Set(counts.slice(1)).size).toBe(1)
    optimizer.dispose()
    net.dispose()
  })
})

describe('one training step on wasm equals the cpu backend', () => {
  afterAll(async () => {
    shutdownWasm()
    await tf.setBackend('cpu')
  })

  it('gives the same loss and updated weights (relative error ≤ 1e-4)', async () => {
    const run = async (): Promise<{ loss: number; weights: Float32Array[] }> => {
      const net = buildNetwork(layerTable(tiny.model), 3)
      const optimizer = makeOptimizer(tiny.train)
      let loss = 0
      for (let i = 0; i < 2; i++) {
        loss = (
          await trainStep(net, optimizer, batchOf(4, 20, i), 20, 10, tiny.train.weightDecay, i)
        ).loss
      }
      const weights = await Promise.all(net.variables.map((v) => v.data() as Promise<Float32Array>))
      optimizer.dispose()
      net.dispose()
      return { loss, weights }
    }
    await tf.setBackend('cpu')
    const cpu = await run()
    await initWasmBackend({ threads: 1 })
    expect(tf.getBackend()).toBe('wasm')
    const wasm = await run()
    expect(Math.abs(wasm.loss - cpu.loss) / Math.abs(cpu.loss)).toBeLessThan(1e-4)
    cpu.weights.forEach((expected, i) => {
      const got = wasm.weights[i]!
      let maxDiff = 0
      let maxAbs = 0
      for (let j = 0; j < expected.length; j++) {
        maxDiff = Math.max(maxDiff, Math.abs(got[j]! - expected[j]!))
        maxAbs = Math.max(maxAbs, Math.abs(expected[j]!))
      }
      expect(maxDiff / (maxAbs || 1), `variable ${i}`).toBeLessThan(1e-4)
    })
  })
})
