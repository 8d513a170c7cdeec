// The architecture against PyTorch on 15 variants (every head, micro-conv and preset shape).
// The fixture is made by tests/fixtures/torch_reference.py with Debian's python3-torch.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { layerTable } from '@shared/architecture'
import { validateExperimentConfig } from '@shared/config/experiment'
import { costTotals } from '@shared/cost'

interface ReferenceRow {
  name: string
  model: Record<string, unknown>
  params: number
  macs: number
  outputShape: number[]
  weightedLayers: { params: number; outputShape: number[] }[]
}

const rows = JSON.parse(
  readFileSync(new URL('../../fixtures/torch-reference.json', import.meta.url), 'utf8'),
) as ReferenceRow[]

describe('layerTable equals PyTorch', () => {
  it('has the reference variants', () => expect(rows.length).toBeGreaterThanOrEqual(15))

  it.each(rows.map((r) => [r.name, r] as const))('%s', (_name, row) => {
    const config = validateExperimentConfig({ model: row.model })
    const layers = layerTable(config.model)
    const totals = costTotals(layers, config.train)
    expect(totals.params).toBe(row.params)
    expect(totals.macs).toBe(row.macs)
    expect(layers.at(-1)?.outputShape).toEqual(row.outputShape)
    const weighted = layers.filter((l) => l.type === 'conv' || l.type === 'dense')
    expect(weighted.map((l) => ({ params: l.params, outputShape: l.outputShape }))).toEqual(
      row.weightedLayers,
    )
  })
})
