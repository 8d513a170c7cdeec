/**
 * Ablation grids: axes of values over config paths (`model.microConvs=1,2,3`), expanded into one
 * validated config per combination and seed, each with a readable, unique name. Shared by the
 * CLI (`queue add --grid`) and the UI's axis picker, so both name and validate runs alike.
 */
import {
  ConfigError,
  defaultExperimentConfig,
  LATER_TRAIN_DEFAULTS,
  experimentSchema,
  parseExperimentConfig,
  type ExperimentConfig,
} from './config/experiment'
import { applyOverride, mergeInput } from './config/overrides'
import { JsonTooDeepError, parseJson } from './json'
import {
  editDistance,
  enumValue,
  fieldAt,
  show,
  splitPath,
  type ConfigIssue,
  type Field,
} from './config/schema'

export interface GridAxis {
  /** A config path as `--set` takes it: `model.microConvs`, `model.blocks[0].channels`. */
  readonly path: string
  readonly values: readonly unknown[]
}

export interface GridExpansion {
  /** Cartesian product in axis order (last axis fastest), seeds innermost. */
  readonly configs: ExperimentConfig[]
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v)

// --- parsing `PATH=V1,V2,...` ----------------------------------------------------------------

/**
 * Splits a value list on the commas that separate values: not those inside brackets, braces or
 * JSON strings, so `[],[512],[512,256]` is three lists. Returns undefined when the brackets or
 * quotes do not balance.
 */
function splitValues(list: string): string[] | undefined {
  const parts: string[] = []
  let depth = 0
  let inString = false
  let start = 0
  for (let i = 0; i < list.length; i++) {
    const c = list[i]
    if (inString) {
      if (c === '\\') i++
      else if (c === '"') inString = false
    } else if (c === '"') inString = true
    else if (c === '[' || c === '{') depth++
    else if (c === ']' || c === '}') {
      if (--depth < 0) return undefined
    } else if (c === ',' && depth === 0) {
      parts.push(list.slice(start, i))
      start = i + 1
    }
  }
  if (depth !== 0 || inString) return undefined
  parts.push(list.slice(start))
  return parts
}

/** A value as JSON where it parses (numbers, null, lists), else as the (trimmed) text. */
function parseValue(raw: string): unknown {
  const text = raw.trim()
  try {
    return parseJson(text)
  } catch (err) {
    if (err instanceof JsonTooDeepError) throw err
    return text
  }
}

/**
 * Parses `model.microConvs=1,2,3` into an axis. Values are JSON where they parse, else strings
 * (`model.head=gap,fc`); list values are split on top-level commas only
 * (`model.fcHidden=[],[512],[512,256]`). Throws a ConfigError for text that is not PATH=VALUES;
 * whether the path and values fit the config is `expandGrid`'s business, so that every problem
 * of every axis is reported together.
 */
export function parseGridAxis(text: string): GridAxis {
  const eq = text.indexOf('=')
  const fail = (why: string): never => {
    throw new ConfigError([{ path: '', message: `--grid ${text}: ${why}` }], 'grid')
  }
  if (eq <= 0 || text.slice(0, eq).trim() === '') {
    return fail('expected PATH=V1,V2,…, e.g. --grid model.microConvs=1,2,3')
  }
  const path = text.slice(0, eq).trim()
  try {
    splitPath(path)
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(err.issues, 'grid')
    throw err
  }
  const list = text.slice(eq + 1)
  if (list.trim() === '') return { path, values: [] }
  const parts = splitValues(list)
  if (parts === undefined) return fail('unbalanced brackets or quotes in the values')
  try {
    return { path, values: parts.map(parseValue) }
  } catch (err) {
    if (err instanceof JsonTooDeepError) return fail(`a value ${err.message}`)
    throw err
  }
}

// --- naming ----------------------------------------------------------------------------------

/** A value as a user typed it: strings bare, everything else as JSON. */
const valueText = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v))

/** Keeps names usable as they are in shells, file names and URLs. */
const sanitize = (s: string): string =>
  s
    .replace(/[^A-Za-z0-9._+-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '')

const numberList = (v: unknown): string | undefined =>
  Array.isArray(v) && v.every((x) => typeof x === 'number')
    ? v.length === 0
      ? '0'
      : v.join('-')
    : undefined

/**
 * Short codes for the axes people sweep most, so a name reads like the ablation it is
 * (`nin-m3-fc-s2`). Anything else falls back to the field name and the value.
 */
const CODES: Readonly<Record<string, (v: unknown) => string | undefined>> = {
  'model.microConvs': (v) => `m${valueText(v)}`,
  'model.microKernel': (v) => `k${valueText(v)}`,
  'model.head': valueText,
  'model.fcFrom': valueText,
  'model.inputSize': (v) => `${valueText(v)}px`,
  'model.dropout': (v) => `d${valueText(v)}`,
  'model.fcHidden': (v) => {
    const list = numberList(v)
    return list === undefined ? undefined : `fc${list}`
  },
  'model.headChannels': (v) => {
    const list = numberList(v)
    return list === undefined ? undefined : `h${list}`
  },
  'model.blocks': (v) =>
    Array.isArray(v) && v.every((b) => isRecord(b) && typeof b.channels === 'number')
      ? `c${v.map((b: Record<string, unknown>) => String(b.channels)).join('-')}`
      : undefined,
  'data.dataset': valueText,
  'data.trainLimit': (v) => (v === null ? 'nall' : `n${valueText(v)}`),
  'train.optimizer': valueText,
  'train.lr': (v) => `lr${valueText(v)}`,
  'train.batchSize': (v) => `b${valueText(v)}`,
  'train.epochs': (v) => `e${valueText(v)}`,
  'train.momentum': (v) => `mom${valueText(v)}`,
  'train.weightDecay': (v) => `wd${valueText(v)}`,
  'train.seed': (v) => `seed${valueText(v)}`,
  'train.backend': valueText,
  'train.precision': valueText,
  engine: valueText,
  name: valueText,
}

/** The name code of one axis value, e.g. microConvs 3 → `m3`, headChannels [192,48] → `h192-48`. */
export function axisValueCode(path: string, value: unknown): string {
  const parts = splitPath(path)
  const key = parts.join('.')
  const code = Object.hasOwn(CODES, key) ? CODES[key]?.(value) : undefined
  if (code !== undefined) return sanitize(code)
  const last = [...parts].reverse().find((p) => !/^\d+$/.test(p)) ?? key
  return sanitize(`${last}${valueText(value)}`)
}

const MAX_NAME = 120

function runName(base: string, codes: readonly string[], seed: number | undefined): string {
  const suffix = [...codes, ...(seed === undefined ? [] : [`s${seed}`])]
    .filter((c) => c.length > 0)
    .join('-')
  if (suffix === '') return base
  if (base === '') return suffix.slice(0, MAX_NAME)
  // The codes are what tell runs apart: shorten the base name, not them.
  const room = MAX_NAME - suffix.length - 1
  return room <= 0 ? suffix.slice(0, MAX_NAME) : `${base.slice(0, room)}-${suffix}`
}

// --- path checks -----------------------------------------------------------------------------

/** Every field path of the schema (`model.microConvs`, `model.blocks[0].kernel`, …). */
function schemaPaths(field: Field, prefix = ''): string[] {
  const inner = field.kind === 'nullable' ? field.inner : field
  if (inner.kind === 'array') return schemaPaths(inner.item, `${prefix}[0]`)
  if (inner.kind !== 'object') return []
  return Object.entries(inner.fields).flatMap(([key, sub]) => {
    const path = prefix ? `${prefix}.${key}` : key
    return [path, ...schemaPaths(sub, path)]
  })
}

const closeEnough = (a: string, b: string): boolean =>
  editDistance(a.toLowerCase(), b.toLowerCase()) <= Math.max(2, Math.floor(a.length / 3))

/**
 * The path the user probably meant: each misspelled segment corrected (`model.microconv` →
 * `model.microConvs`), or a bare field name completed (`microConvs` → `model.microConvs`).
 */
function suggestPath(path: string): string | undefined {
  const parts = splitPath(path)
  const fixed: string[] = []
  let field: Field | undefined = experimentSchema
  for (const part of parts) {
    if (field?.kind === 'nullable') field = field.inner
    if (field?.kind === 'array' && /^\d+$/.test(part)) {
      fixed.push(part)
      field = field.item
      continue
    }
    if (field?.kind !== 'object') break
    const keys: string[] = Object.keys(field.fields)
    let best: string | undefined = keys.includes(part) ? part : undefined
    if (best === undefined) {
      let bestDistance = Infinity
      for (const k of keys) {
        const d = editDistance(part.toLowerCase(), k.toLowerCase())
        if (d < bestDistance) [best, bestDistance] = [k, d]
      }
      if (best !== undefined && !closeEnough(part, best)) best = undefined
    }
    if (best === undefined) break
    fixed.push(best)
    field = field.fields[best]
  }
  if (fixed.length === parts.length && field !== undefined) return fixed.join('.')
  // A field named without its section: match the last segment against every field's name.
  const tail = parts[parts.length - 1] ?? ''
  const candidates = schemaPaths(experimentSchema).filter((p) => {
    const name = p.slice(p.lastIndexOf('.') + 1)
    return name.toLowerCase() === tail.toLowerCase()
  })
  if (candidates.length === 1) return candidates[0]
  const near = schemaPaths(experimentSchema).filter((p) => closeEnough(path, p))
  return near.length === 1 ? near[0] : undefined
}

/** `model.blocks[5].kernel` on a config with three blocks: the message saying so. */
function missingIndex(root: unknown, path: string): string | undefined {
  const parts = splitPath(path)
  let node: unknown = root
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string
    if (Array.isArray(node) && /^\d+$/.test(part)) {
      if (Number(part) >= node.length) {
        const list = parts.slice(0, i).join('.')
        return `${list} has ${node.length} item${node.length === 1 ? '' : 's'} (indices 0 to ${node.length - 1})`
      }
      node = node[Number(part)]
    } else if (isRecord(node)) node = node[part]
    else return undefined
  }
  return undefined
}

const normalize = (path: string): string => splitPath(path).join('.')
const within = (inner: string, outer: string): boolean =>
  inner === outer || inner.startsWith(`${outer}.`)

// --- canonical JSON and identity ---------------------------------------------------------------

function canonical(value: unknown): string | undefined {
  if (value === null) return 'null'
  if (Array.isArray(value)) return `[${value.map((v) => canonical(v) ?? 'null').join(',')}]`
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return JSON.stringify(value)
    case 'object': {
      const toJSON = (value as { toJSON?: unknown }).toJSON
      if (typeof toJSON === 'function') return canonical(toJSON.call(value))
      const record = value as Record<string, unknown>
      const members: string[] = []
      // Plain code-unit order (not localeCompare): the same on every machine and locale.
      for (const key of Object.keys(record).sort()) {
        const v = canonical(record[key])
        if (v !== undefined) members.push(`${JSON.stringify(key)}:${v}`)
      }
      return `{${members.join(',')}}`
    }
    case 'bigint':
      throw new TypeError('canonicalJson: BigInt has no JSON form')
    default:
      return undefined // undefined, functions, symbols: left out, as JSON.stringify does
  }
}

/**
 * JSON with object keys sorted at every level, so equal values give equal text whatever order
 * their keys were written in: the input to config hashes.
 */
export function canonicalJson(value: unknown): string {
  return canonical(value) ?? 'null'
}

/**
 * What makes two runs the same experiment: the whole config except its name (renaming a run
 * does not change what it trains). The store hashes this to skip runs already queued.
 */
export function configIdentity(config: ExperimentConfig): string {
  const { name: _name, ...rest } = config
  // Fields added after runs were first stored are left out at the value earlier runs had, so
  // every config stored before them keeps its identity (and re-adding an old grid adds nothing).
  const train: Record<string, unknown> = { ...rest.train }
  for (const [key, earlier] of Object.entries(LATER_TRAIN_DEFAULTS)) {
    if (train[key] === earlier) delete train[key]
  }
  return canonicalJson({ ...rest, train })
}

// --- expansion -------------------------------------------------------------------------------

/** How many runs a grid gives (before validation), e.g. for "→ 18 runs" next to the form. */
export function gridRunCount(axes: readonly GridAxis[], seeds = 1): number {
  return axes.reduce((n, a) => n * a.values.length, 1) * Math.max(1, Math.floor(seeds))
}

interface Combination {
  /** Index into each usable axis's values. */
  readonly choice: readonly number[]
  readonly input: unknown
}

/**
 * Expands a base config (partial input or full config) over grid axes and seeds into validated
 * configs. Throws one ConfigError listing every problem: unknown or duplicate axes, empty value
 * lists, bad values (each reported once, named by its axis, however many combinations hold it),
 * and combinations that cannot work together.
 */
export function expandGrid(base: unknown, axes: readonly GridAxis[], seeds = 1): GridExpansion {
  const steps = expansionSteps(base, axes, seeds)
  for (;;) {
    const step = steps.next()
    if (step.done) return step.value
  }
}

/**
 * expandGrid that lets the event loop turn every `every` configs (`pause` resolves on the next
 * turn): a grid of 10,000 runs takes seconds to validate, and a server answers other calls
 * meanwhile.
 */
export async function expandGridYielding(
  base: unknown,
  axes: readonly GridAxis[],
  seeds: number,
  pause: () => Promise<void>,
  every = 100,
): Promise<GridExpansion> {
  const steps = expansionSteps(base, axes, seeds)
  for (let n = 1; ; n++) {
    const step = steps.next()
    if (step.done) return step.value
    if (n % every === 0) await pause()
  }
}

/** Reports one problem of a grid: where (a config path) and what. */
type Problem = (path: string, message: string) => void

/** expandGrid's work, one step per config (or per combination) handled. */
function* expansionSteps(
  base: unknown,
  axes: readonly GridAxis[],
  seeds: number,
): Generator<undefined, GridExpansion, void> {
  const issues: ConfigIssue[] = []
  const problem: Problem = (path, message) => {
    issues.push({ path, message })
  }

  if (!Number.isInteger(seeds) || seeds < 1) {
    problem('seeds', `seeds must be an integer of at least 1 (got ${show(seeds)})`)
  }
  const seedCount = Number.isInteger(seeds) && seeds >= 1 ? seeds : 1

  // Axes address a complete config, as --set does, so `model.blocks[0].channels` finds the
  // default blocks even when the base does not list them.
  const root = mergeInput(defaultExperimentConfig(), base ?? {})

  const usable = usableAxes(axes, root, issues)
  const combinations = yield* combine(usable, root, problem)
  const configs = yield* seededConfigs(root, usable, combinations, seedCount, problem)
  if (issues.length === 0) yield* uniqueConfigs(configs, problem)

  if (issues.length > 0) throw new ConfigError(issues, 'grid')
  return { configs }
}

/**
 * The axes a grid can expand, each checked (a config field, no repeats or overlaps, values
 * given once, enum values named as the schema names them); every other axis adds its problem to
 * `issues`.
 */
function usableAxes(axes: readonly GridAxis[], root: unknown, issues: ConfigIssue[]): GridAxis[] {
  const problem: Problem = (path, message) => {
    issues.push({ path, message })
  }
  const usable: GridAxis[] = []
  const seen: string[] = []
  for (let axis of axes) {
    let key: string
    try {
      key = normalize(axis.path)
    } catch (err) {
      // A reserved segment (__proto__, constructor, prototype): refused with the path named.
      if (!(err instanceof ConfigError)) throw err
      issues.push(...err.issues)
      continue
    }
    if (key === '') {
      problem('', `grid axis "${axis.path}": needs a config path, e.g. model.microConvs=1,2,3`)
      continue
    }
    if (seen.includes(key)) {
      problem(axis.path, `grid axis ${axis.path} is given twice: list all its values in one axis`)
      continue
    }
    const overlap = seen.find((s) => within(key, s) || within(s, key))
    seen.push(key)
    if (overlap !== undefined) {
      problem(
        axis.path,
        `grid axes ${overlap} and ${axis.path} overlap: one would overwrite the other`,
      )
      continue
    }
    if (fieldAt(experimentSchema, axis.path) === undefined) {
      const hint = suggestPath(axis.path)
      problem(
        axis.path,
        `grid axis ${axis.path}: not a config field${hint === undefined ? '' : ` (did you mean ${hint}?)`}`,
      )
      continue
    }
    const missing = missingIndex(root, axis.path)
    if (missing !== undefined) {
      problem(axis.path, `grid axis ${axis.path}: ${missing}`)
      continue
    }
    if (axis.values.length === 0) {
      problem(axis.path, `grid axis ${axis.path}: no values (expected ${axis.path}=V1,V2,…)`)
      continue
    }
    // Enum values in any case name the value (`model.head=GAP,FC`): named and compared as such.
    const field = fieldAt(experimentSchema, axis.path)
    const inner = field?.kind === 'nullable' ? field.inner : field
    if (inner?.kind === 'enum') {
      axis = { ...axis, values: axis.values.map((v) => enumValue(inner, v) ?? v) }
    }
    const texts = axis.values.map(canonicalJson)
    const repeated = texts.filter((t, i) => texts.indexOf(t) !== i)
    if (repeated.length > 0) {
      for (const t of new Set(repeated)) {
        problem(axis.path, `grid axis ${axis.path}: value ${t} is listed twice`)
      }
      continue
    }
    usable.push(axis)
  }

  return usable
}

/** Every combination of the axes' values applied to the root config (the cartesian product). */
function* combine(
  usable: readonly GridAxis[],
  root: unknown,
  problem: Problem,
): Generator<undefined, Combination[], void> {
  // Cartesian product, last axis fastest.
  const combinations: Combination[] = []
  const total = usable.reduce((n, a) => n * a.values.length, 1)
  for (let index = 0; index < total; index++) {
    const choice: number[] = []
    let rest = index
    for (let a = usable.length - 1; a >= 0; a--) {
      const n = (usable[a] as GridAxis).values.length
      choice[a] = rest % n
      rest = Math.floor(rest / n)
    }
    let input = root
    let broken = false
    usable.forEach((axis, a) => {
      const value = axis.values[choice[a] as number]
      try {
        input = applyOverride(input, { path: axis.path, value })
      } catch (err) {
        broken = true
        problem(axis.path, `grid axis ${axis.path}=${valueText(value)}: ${(err as Error).message}`)
      }
    })
    if (!broken) combinations.push({ choice, input })
    yield
  }

  return combinations
}

/**
 * Each combination as a config per seed, named after its axis values and validated; a problem
 * is reported once, worded by the axis values that cause it (blame).
 */
function* seededConfigs(
  root: unknown,
  usable: readonly GridAxis[],
  combinations: readonly Combination[],
  seedCount: number,
  problem: Problem,
): Generator<undefined, ExperimentConfig[], void> {
  const baseName = isRecord(root) && typeof root.name === 'string' ? root.name : 'nin'
  const configs: ExperimentConfig[] = []
  /** Each problem message, with the combinations it occurs in. */
  const found = new Map<string, { path: string; combos: Set<number> }>()
  for (const [c, combo] of combinations.entries()) {
    const codes = usable.map((axis, a) =>
      axisValueCode(axis.path, axis.values[combo.choice[a] as number]),
    )
    const train = isRecord(combo.input) ? combo.input.train : undefined
    const baseSeed = isRecord(train) && typeof train.seed === 'number' ? train.seed : 0
    for (let s = 0; s < seedCount; s++) {
      const seed = baseSeed + s
      let input = applyOverride(combo.input, {
        path: 'name',
        value: runName(baseName, codes, seedCount > 1 ? seed : undefined),
      })
      if (s > 0) input = applyOverride(input, { path: 'train.seed', value: seed })
      const result = parseExperimentConfig(input)
      if (result.ok) configs.push(result.value)
      else {
        for (const issue of result.issues) {
          const entry = found.get(issue.message) ?? { path: issue.path, combos: new Set() }
          entry.combos.add(c)
          found.set(issue.message, entry)
        }
      }
      yield
    }
  }

  for (const [message, { path, combos }] of found) {
    problem(path, blame(message, path, combos, usable, combinations))
  }

  return configs
}

/** Makes the configs' names unique and refuses identical configs (mutates the names). */
function* uniqueConfigs(
  configs: readonly ExperimentConfig[],
  problem: Problem,
): Generator<undefined, void, void> {
  // Names: sanitizing can map distinct values to one code, so make them unique at the end.
  const used = new Set<string>()
  for (const config of configs) {
    let name = config.name
    for (let n = 2; used.has(name); n++) name = `${config.name}-${n}`
    used.add(name)
    config.name = name
  }
  // Identical configs: e.g. a train.seed axis whose values collide with --seeds.
  const byIdentity = new Map<string, string>()
  for (const config of configs) {
    const id = configIdentity(config)
    const first = byIdentity.get(id)
    if (first !== undefined) {
      problem('', `grid gives the same config twice (${first} and ${config.name})`)
    } else byIdentity.set(id, config.name)
    yield
  }
}

/**
 * Words a validation problem by what causes it. A problem found in exactly the combinations
 * holding one axis value is that value's (`grid axis model.microConvs=5: …`), reported once; one
 * found everywhere is the base config's; one tied to a pair of values names both; anything else
 * names the first combination that shows it.
 */
function blame(
  message: string,
  path: string,
  combos: ReadonlySet<number>,
  axes: readonly GridAxis[],
  combinations: readonly Combination[],
): string {
  const label = (a: number, v: number): string => {
    const axis = axes[a] as GridAxis
    return `${axis.path}=${valueText(axis.values[v])}`
  }
  const matches = (test: (choice: readonly number[]) => boolean): boolean => {
    let count = 0
    for (let c = 0; c < combinations.length; c++) {
      const hit = test((combinations[c] as Combination).choice)
      if (hit !== combos.has(c)) return false
      if (hit) count++
    }
    return count === combos.size
  }
  const related = (a: number): boolean => {
    const axisPath = normalize((axes[a] as GridAxis).path)
    const issuePath = normalize(path)
    return within(issuePath, axisPath) || within(axisPath, issuePath)
  }

  const singles: [number, number][] = []
  axes.forEach((axis, a) =>
    axis.values.forEach((_, v) => {
      if (matches((choice) => choice[a] === v)) singles.push([a, v])
    }),
  )
  const everywhere = combos.size === combinations.length
  const single = singles.find(([a]) => related(a)) ?? (everywhere ? undefined : singles[0])
  if (single !== undefined) return `grid axis ${label(...single)}: ${message}`
  if (everywhere) return message

  for (let a = 0; a < axes.length; a++) {
    for (let b = a + 1; b < axes.length; b++) {
      for (let v = 0; v < (axes[a] as GridAxis).values.length; v++) {
        for (let w = 0; w < (axes[b] as GridAxis).values.length; w++) {
          if (matches((choice) => choice[a] === v && choice[b] === w)) {
            return `grid axes ${label(a, v)} × ${label(b, w)}: ${message}`
          }
        }
      }
    }
  }
  const first = [...combos][0] ?? 0
  const choice = (combinations[first] as Combination).choice
  const where = choice.map((v, a) => label(a, v)).join(' × ')
  const more = combos.size > 1 ? ` (and ${combos.size - 1} more combinations)` : ''
  return `grid combination ${where}${more}: ${message}`
}
