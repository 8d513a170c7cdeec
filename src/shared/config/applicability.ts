/**
 * Which config fields mean something for a given config. A field that does not apply (e.g.
 * `model.fcFrom` under a GAP head, the SGD momentum under Adam) changes nothing about the run:
 * grouping and ablation tables must never split runs by it, nor make a table of it for those
 * runs. The rules follow the network src/shared/architecture.ts builds and the trainers' use
 * of each field; the one place they are written down.
 */
import type { ExperimentConfig } from './experiment'

/** Whether the class block (a conv to numClasses) exists: GAP, or FC on the class maps. */
const hasClassBlock = (c: ExperimentConfig): boolean =>
  c.model.head === 'gap' || c.model.fcFrom === 'classmaps'

/** Whether any conv uses `model.microConvs` (blocks without their own widths, head blocks, the
 * NiN class block). */
function usesMicroConvs(c: ExperimentConfig): boolean {
  const m = c.model
  return (
    m.blocks.some((b) => b.micro.length === 0) ||
    m.headChannels.length > 0 ||
    (hasClassBlock(c) && m.classBlock === 'nin')
  )
}

/** Whether the network has any micro conv at all (their kernel is `model.microKernel`). */
function hasMicroConvs(c: ExperimentConfig): boolean {
  return (
    c.model.blocks.some((b) => b.micro.length > 0) || (usesMicroConvs(c) && c.model.microConvs > 0)
  )
}

/**
 * The rules, by flat path (as `flattenConfig` names them) or by a prefix ending in `.`; a path
 * without a rule always applies.
 */
const RULES: readonly {
  readonly path: string
  readonly applies: (c: ExperimentConfig) => boolean
}[] = [
  { path: 'model.fcFrom', applies: (c) => c.model.head === 'fc' },
  { path: 'model.fcHidden', applies: (c) => c.model.head === 'fc' },
  { path: 'model.classBlock', applies: hasClassBlock },
  { path: 'model.microConvs', applies: usesMicroConvs },
  { path: 'model.microKernel', applies: hasMicroConvs },
  { path: 'train.momentum', applies: (c) => c.train.optimizer === 'sgd' },
  { path: 'data.labels', applies: (c) => c.data.dataset === 'cifar100' },
  { path: 'data.color', applies: (c) => c.data.dataset === 'folder' },
  { path: 'data.imageSize', applies: (c) => c.data.dataset === 'folder' },
  // The TensorFlow.js backend means nothing to a run the torch engine trains.
  { path: 'train.backend', applies: (c) => c.engine !== 'torch' },
  // torch.compile is the torch engine's; TensorFlow.js has nothing like it.
  { path: 'train.compile', applies: (c) => c.engine !== 'tfjs' },
]

/** Whether the field at `path` changes anything about a run of `config`. */
export function fieldApplies(config: ExperimentConfig, path: string): boolean {
  const rule = RULES.find((r) => r.path === path)
  return rule ? rule.applies(config) : true
}
