/** `nin-lab config`: the complete, validated config a preset, a file and overrides resolve to. */
import { parseArgs } from 'node:util'
import { resolveConfigs } from '../config-input'

export const configHelp = `Usage: nin-lab config [CONFIG.json | --preset NAME] [--set PATH=VALUE ...]

Prints the complete experiment config (every default filled in) as JSON, after validating it:
a starting point for a config file, or a way to see what a preset means.`

export function configCommand(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      preset: { type: 'string' },
      set: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(configHelp)
    return 0
  }
  const { configs, isArray } = resolveConfigs({
    file: positionals[0],
    preset: values.preset,
    sets: values.set,
  })
  console.log(JSON.stringify(isArray ? configs : configs[0], null, 2))
  return 0
}
