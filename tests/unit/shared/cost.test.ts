import { describe, expect, it } from 'vitest'
import { layerTable } from '@shared/architecture'
import { costTotals } from '@shared/cost'
import { defaultExperimentConfig } from '@shared/config/experiment'

const d2l = defaultExperimentConfig()
const layers = layerTable(d2l.model)

describe('cost model', () => {
  it('counts weights, gradients and optimizer state by optimizer', () => {
    const sgd = costTotals(layers, { optimizer: 'sgd', momentum: 0, batchSize: 128 })
    const momentum = costTotals(layers, { optimizer: 'sgd', momentum: 0.9, batchSize: 128 })
    const adam = costTotals(layers, { optimizer: 'adam', momentum: 0, batchSize: 128 })
    const w = 1_992_166 * 4
    expect(sgd.memory.training.weights).toBe(w)
    expect(sgd.memory.training.gradients).toBe(w)
    expect(sgd.memory.training.optimizerState).toBe(0)
    expect(momentum.memory.training.optimizerState).toBe(w)
    expect(adam.memory.training.optimizerState).toBe(2 * w)
  })

  it('keeps the input and every layer output (plus dropout masks) for backward', () => {
    const t = costTotals(layers, { optimizer: 'sgd', momentum: 0, batchSize: 2 })
    // Hand count for the d2l NiN at 224 px, values per image:
    const input = 224 * 224
    const block1 = 3 * 96 * 54 * 54 + 96 * 26 * 26
    const block2 = 3 * 256 * 26 * 26 + 256 * 12 * 12
    const block3 = 3 * 384 * 12 * 12 + 384 * 5 * 5
    const dropout = 2 * 384 * 5 * 5
    const classes = 3 * 10 * 5 * 5 + 10
    const perImage = input + block1 + block2 + block3 + dropout + classes
    expect(t.memory.training.activations).toBe(2 * perImage * 4)
    expect(t.memory.training.total).toBe(2 * 1_992_166 * 4 + 2 * perImage * 4)
  })

  it('prediction peak is the largest input + output pair (block1 conv → micro conv)', () => {
    const t = costTotals(layers, { optimizer: 'sgd', momentum: 0, batchSize: 128 })
    const peak = 2 * 96 * 54 * 54
    expect(t.memory.prediction.activationsPerImage).toBe(peak * 4)
    expect(t.memory.prediction.perImage).toBe(1_992_166 * 4 + peak * 4)
    expect(t.memory.prediction.batch).toBe(1_992_166 * 4 + 128 * peak * 4)
  })

  it('FLOPs are 2 × MACs forward and 3 × that for a training step', () => {
    const t = costTotals(layers, { optimizer: 'sgd', momentum: 0, batchSize: 1 })
    expect(t.flops).toBe(2 * 762_297_352)
    expect(t.trainFlopsPerImage).toBe(3 * t.flops)
  })
})
