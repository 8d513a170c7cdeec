/**
 * `nin-lab summary`: the layer table and cost totals of one or many variants, before any
 * training (d2l's layer_summary, plus parameters, MACs and memory).
 */
import { parseArgs } from 'node:util'
import {
  layerSummary,
  layerTable,
  minimumInputSize,
  type Layer,
  type LayerSummary,
} from '@shared/architecture'
import type { ExperimentConfig } from '@shared/config/experiment'
import { costTotals, type CostTotals } from '@shared/cost'
import { resolveConfigs } from '../config-input'
import { UsageError } from '../errors'
import { bytes, int, si } from '@shared/format'
import { table } from '../format'

export const summaryHelp = `Usage: nin-lab summary [CONFIG.json | --preset NAME] [--set PATH=VALUE ...] [--json]

Prints the layer table (output shape, parameters, MACs per layer) and the totals: parameters,
MACs and FLOPs per image, and the memory needed to predict and to train. CONFIG.json may hold
one config or an array of them (one summary each, in order).`

export interface ConfigSummary {
  readonly layers: LayerSummary[]
  readonly totals: {
    readonly params: number
    readonly macs: number
    readonly flops: number
    readonly trainFlopsPerImage: number
    readonly minimumInputSize: number | null
    readonly memory: CostTotals['memory']
  }
}

export function summarize(config: ExperimentConfig): ConfigSummary {
  const layers = layerTable(config.model)
  const totals = costTotals(layers, config.train)
  return {
    layers: layers.map(layerSummary),
    totals: {
      params: totals.params,
      macs: totals.macs,
      flops: totals.flops,
      trainFlopsPerImage: totals.trainFlopsPerImage,
      minimumInputSize: minimumInputSize(config.model),
      memory: totals.memory,
    },
  }
}

function describeLayer(l: Layer): string {
  switch (l.type) {
    case 'conv':
      return (
        `${l.kernel}×${l.kernel}` +
        (l.stride > 1 ? ` /${l.stride}` : '') +
        (l.padding > 0 ? ` p${l.padding}` : '')
      )
    case 'maxpool':
      return `${l.kernel}×${l.kernel} /${l.stride}`
    case 'dropout':
      return `p=${l.rate}`
    case 'dense':
      return l.activation === 'relu' ? 'relu' : ''
    default:
      return ''
  }
}

/** The precision the memory figures are for: auto is figured as fp32 (the most it can need). */
const precisionText = (p: ExperimentConfig['train']['precision']): string =>
  p === 'auto' ? 'fp32 (precision auto: bf16 where native halves the activations)' : p

export function renderSummary(config: ExperimentConfig): string {
  const layers = layerTable(config.model)
  const t = costTotals(layers, config.train)
  const m = config.model
  const rows = layers.map((l) => [
    l.name,
    l.type,
    describeLayer(l),
    l.outputShape.join('×'),
    int(l.params),
    int(l.macs),
  ])
  const mem = t.memory
  const train = mem.training
  return [
    `${config.name}: NiN, ${m.inputChannels}×${m.inputSize}×${m.inputSize} input, ${m.numClasses} classes, ` +
      `${m.microConvs} micro conv${m.microConvs === 1 ? '' : 's'} of ${m.microKernel}×${m.microKernel}, ` +
      `${m.head === 'gap' ? 'GAP' : `FC from ${m.fcFrom}`} head`,
    '',
    table(['layer', 'type', 'kernel', 'output', 'params', 'MACs'], rows, [
      'left',
      'left',
      'left',
      'right',
      'right',
      'right',
    ]),
    '',
    `parameters   ${int(t.params)}`,
    `compute      ${int(t.macs)} MACs per image (${si(t.flops, 2)}FLOPs forward, ` +
      `≈ ${si(t.trainFlopsPerImage, 2)}FLOPs per image per training step)`,
    `prediction   ${bytes(mem.prediction.perImage)} for one image, ` +
      `${bytes(mem.prediction.batch)} for a batch of ${mem.prediction.batchSize} ` +
      `(weights ${bytes(mem.prediction.weights)} + activation peak ${bytes(mem.prediction.activationsPerImage)} per image)`,
    `training     ${bytes(train.total)} at batch ${train.batchSize} in ${precisionText(config.train.precision)}: weights ${bytes(train.weights)}` +
      (train.castWeights > 0 ? ` + ${mem.precision} copy ${bytes(train.castWeights)}` : '') +
      ` + gradients ${bytes(train.gradients)} + ${config.train.optimizer} state ${bytes(train.optimizerState)}` +
      ` + activations ${bytes(train.activations)}`,
    `input size   smallest that works: ${minimumInputSize(m) ?? 'none up to 1024'} px`,
  ].join('\n')
}

export function summaryCommand(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      preset: { type: 'string' },
      set: { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(summaryHelp)
    return 0
  }
  if (positionals.length > 1)
    throw new UsageError(`summary takes one CONFIG file (got ${positionals.length})`)
  const { configs, isArray } = resolveConfigs({
    file: positionals[0],
    preset: values.preset,
    sets: values.set,
  })
  if (values.json) {
    const out = configs.map(summarize)
    console.log(JSON.stringify(isArray ? out : out[0]))
  } else {
    console.log(configs.map(renderSummary).join('\n\n'))
  }
  return 0
}
