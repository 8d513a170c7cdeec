/**
 * Where a command's experiment configs come from: a JSON file (one config or an array of them),
 * a preset, and `--set PATH=VALUE` overrides, applied in that order (preset, then file, then sets).
 */
import { readFileSync } from 'node:fs'
import {
  ConfigError,
  defaultExperimentConfig,
  parseExperimentConfig,
  type ExperimentConfig,
} from '@shared/config/experiment'
import { applyOverride, mergeInput, parseOverride, type Override } from '@shared/config/overrides'
import { isPresetName, PRESET_NAMES, presetInput } from '@shared/config/presets'
import type { ConfigIssue } from '@shared/config/schema'
import { JsonTooDeepError, parseJson } from '@shared/json'
import { UsageError } from './errors'

export interface ConfigSources {
  readonly file?: string
  readonly preset?: string
  readonly sets?: readonly string[]
}

/** Reads and parses a JSON file, with errors that name the file and the position. */
export function readJsonFile(file: string): unknown {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : String(err)
    throw new UsageError(`cannot read config ${file}: ${why}`)
  }
  try {
    return parseJson(text)
  } catch (err) {
    if (err instanceof JsonTooDeepError) {
      throw new UsageError(`${file} ${err.message}; a NiN Lab config needs only a few`)
    }
    throw new UsageError(
      `${file} is not valid JSON: ${(err as Error).message}; fix the file or pass --preset NAME`,
    )
  }
}

/**
 * The validated configs the sources describe. A file holding a JSON array gives one config per
 * item, in order; every problem of every item is reported at once.
 */
export function resolveConfigs({ file, preset, sets = [] }: ConfigSources): {
  configs: ExperimentConfig[]
  isArray: boolean
} {
  // Overrides apply to a complete config, so `--set model.blocks[0].channels=64` finds the
  // default blocks to edit even when neither the preset nor the file lists them.
  let base: unknown = defaultExperimentConfig()
  if (preset !== undefined) {
    if (!isPresetName(preset)) {
      throw new UsageError(`unknown preset "${preset}"; presets: ${PRESET_NAMES.join(', ')}`)
    }
    base = mergeInput(base, presetInput(preset))
  }
  const fromFile = file === undefined ? undefined : readJsonFile(file)
  const isArray = Array.isArray(fromFile)
  const items: unknown[] = isArray ? (fromFile as unknown[]) : [fromFile ?? {}]
  if (isArray && items.length === 0)
    throw new UsageError(`${file} holds an empty array: nothing to do`)

  const overrides = sets.map(parseOverride)
  const badSets = overrides.filter((o): o is ConfigIssue => 'message' in o)
  if (badSets.length > 0) throw new ConfigError(badSets, '--set')

  const issues: ConfigIssue[] = []
  const configs: ExperimentConfig[] = []
  /** Whether the config is invalid before any --set (else only the sets made it so). */
  let baseInvalid = false
  items.forEach((item, index) => {
    const unset = mergeInput(base, item)
    let input = unset
    for (const o of overrides) if (!('message' in o)) input = applyOverride(input, o)
    const parsed = parseExperimentConfig(input)
    if (parsed.ok) configs.push(parsed.value)
    else {
      if (sets.length === 0 || !parseExperimentConfig(unset).ok) baseInvalid = true
      const prefix = isArray ? `[${index}] ` : ''
      issues.push(...parsed.issues.map((i) => ({ path: i.path, message: prefix + i.message })))
    }
  })
  if (issues.length > 0) throw new ConfigError(issues, sourceOf(issues, baseInvalid))
  return { configs, isArray }

  /** What to blame: the --set(s) when the config was valid without them, else file or preset. */
  function sourceOf(found: readonly ConfigIssue[], base: boolean): string {
    const origin = file ?? (preset ? `preset ${preset}` : 'config')
    if (base) return origin
    const related = (path: string): boolean =>
      found.some(
        (i) =>
          i.path === path ||
          i.path.startsWith(`${path}.`) ||
          i.path.startsWith(`${path}[`) ||
          path.startsWith(`${i.path}.`) ||
          i.path === '',
      )
    const valid = overrides.filter((o): o is Override => !('message' in o))
    const named = valid.filter((o) => related(o.path))
    const shown = (named.length > 0 ? named : valid).map(
      (o) => `--set ${sets[overrides.indexOf(o)] ?? o.path}`,
    )
    return `${shown.join(', ')} (on ${origin})`
  }
}
