/**
 * Configs as flat path → value maps, for the config diff, the "fields that vary" columns and
 * group-by. Objects are walked; lists of objects (blocks) by index; other lists are one value.
 */
import { parseExperimentConfig } from './config/experiment'
import { canonicalJson } from './grid'

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

export function flattenConfig(
  value: unknown,
  prefix = '',
  out = new Map<string, unknown>(),
): Map<string, unknown> {
  if (isRecord(value)) {
    for (const [key, v] of Object.entries(value)) {
      flattenConfig(v, prefix ? `${prefix}.${key}` : key, out)
    }
  } else if (Array.isArray(value) && value.some(isRecord)) {
    value.forEach((v, i) => flattenConfig(v, `${prefix}[${i}]`, out))
    if (value.length === 0) out.set(prefix, value)
  } else {
    out.set(prefix, value)
  }
  return out
}

export interface FieldDiff {
  readonly path: string
  /** One value per config, in the order given; undefined where a config lacks the path. */
  readonly values: readonly unknown[]
}

/**
 * The fields whose values differ between configs (paths in first-seen order). `ignore` drops
 * fields that always differ and say nothing, like the run name.
 */
export function differingFields(
  configs: readonly unknown[],
  ignore: readonly string[] = ['name'],
): FieldDiff[] {
  // A config stored before a field existed lacks it: compare it with that field's default, not
  // with nothing (validation fills defaults and changes nothing else of a valid config).
  const flat = configs.map((c) => {
    const parsed = parseExperimentConfig(c)
    return flattenConfig(parsed.ok ? parsed.value : c)
  })
  const paths: string[] = []
  for (const f of flat) for (const p of f.keys()) if (!paths.includes(p)) paths.push(p)
  const diffs: FieldDiff[] = []
  for (const path of paths) {
    if (ignore.includes(path)) continue
    const values = flat.map((f) => f.get(path))
    const texts = new Set(values.map((v) => (v === undefined ? '\u0000' : canonicalJson(v))))
    if (texts.size > 1) diffs.push({ path, values })
  }
  return diffs
}

/** The value at a flat path of a config (as flattenConfig names it). */
export const valueAtPath = (config: unknown, path: string): unknown =>
  flattenConfig(config).get(path)
