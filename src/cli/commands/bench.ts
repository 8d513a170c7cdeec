/**
 * `nin-lab bench`: how fast this machine trains a variant, measured in a fresh trainer process
 * on the backend a run would get (median step time on random images, after warm-up).
 */
import { parseArgs } from 'node:util'
import { withCore } from '../core'
import { resolveConfigs } from '../config-input'
import { UsageError } from '../errors'

export const benchHelp = `Usage: nin-lab bench [CONFIG.json | --preset NAME] [--set PATH=VALUE ...] [--steps N] [--warmup N] [--json] [--data-dir D]

Measures training throughput (images/s) of one variant on the backend a run would use: the
median of N training steps (default 5) on random images after warm-up steps (default 2), at the
config's batch size and input size.`

const positiveInt = (name: string, text: string): number => {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`--${name} must be a positive integer (got ${text})`)
  return n
}

export async function benchCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      preset: { type: 'string' },
      set: { type: 'string', multiple: true },
      steps: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
      json: { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(benchHelp)
    return 0
  }
  const steps = positiveInt('steps', values.steps)
  const warmup = positiveInt('warmup', values.warmup)
  const { configs, isArray } = resolveConfigs({
    file: positionals[0],
    preset: values.preset,
    sets: values.set,
  })
  const [config] = configs
  if (isArray || !config) throw new UsageError('bench measures one config')

  const result = await withCore(values['data-dir'], (core) =>
    core.api.benchmark({ config, steps, warmup }),
  )
  if (values.json) console.log(JSON.stringify(result))
  else
    console.log(
      `${config.name}: ${result.imgPerS} images/s on ${result.backend}${result.threads ? ` ×${result.threads}` : ''}${result.precision ? ` in ${result.precision}` : ''} ` +
        `(median step ${result.medianStepS} s at batch ${config.train.batchSize}, ${config.model.inputSize} px; peak RSS ${result.peakRssMB} MB)`,
    )
  return 0
}
