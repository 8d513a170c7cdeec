/**
 * What the draft's network costs: its layer table and totals (parameters, MACs, memory), as soon
 * as the model part is valid, even while, say, the learning rate is not: the architecture is what
 * a user looks at while editing. Derived from the draft; owns no state of its own.
 */
import { defineStore } from 'pinia'
import { computed } from 'vue'
import { ArchitectureError, layerTable, type Layer } from '@shared/architecture'
import { modelSchema, plannedPrecision, trainSchema } from '@shared/config/experiment'
import { parseField } from '@shared/config/schema'
import { costTotals, type CostTotals } from '@shared/cost'
import { useDraftStore } from './draft'

interface Architecture {
  readonly layers: Layer[] | null
  readonly totals: CostTotals | null
  /** Why the model has no layer table (an input too small for its strides), else null. */
  readonly error: string | null
}

export const useCostStore = defineStore('cost', () => {
  const draft = useDraftStore()

  const architecture = computed<Architecture>(() => {
    const model = parseField(modelSchema, draft.valueAt('model'), 'model')
    if (!model.ok) return { layers: null, totals: null, error: null }
    let layers: Layer[]
    try {
      layers = layerTable(model.value)
    } catch (err) {
      if (err instanceof ArchitectureError)
        return { layers: null, totals: null, error: err.message }
      throw err
    }
    const train = parseField(trainSchema, draft.valueAt('train'), 'train')
    if (!train.ok) return { layers, totals: null, error: null }
    const engine = draft.valueAt('engine')
    const precision = plannedPrecision({
      engine: engine === 'tfjs' || engine === 'torch' ? engine : 'auto',
      train: train.value,
    })
    return { layers, totals: costTotals(layers, { ...train.value, precision }), error: null }
  })

  const layers = computed(() => architecture.value.layers)
  const totals = computed(() => architecture.value.totals)
  const error = computed(() => architecture.value.error)

  return { layers, totals, error }
})
