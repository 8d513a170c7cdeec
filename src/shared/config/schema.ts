/**
 * A tiny declarative schema language for the experiment config and the API's parameters.
 *
 * Why not a library: the schema is the one source of truth for three consumers — the
 * validator (errors that name the JSON path, the allowed range and the value given), the
 * TypeScript types (inferred below), and the UI form (labels, ranges, choices). A schema that
 * is plain data serves all three; a validation library would still need a second description
 * for the form. The API contract (src/shared/api/contract.ts) declares each method's
 * parameters in the same language, so their types and their checks cannot drift apart.
 *
 * Config fields all have defaults (`{}` is a complete config). API parameters also need fields
 * that must be given (`required`), may be left out (`optional`), or are checked elsewhere
 * (`unknownValue`, e.g. a config validated by its own schema after the call is routed).
 */

interface FieldBase {
  /** One line shown in forms and in `nin-lab summary --help`-style listings. */
  readonly description: string
}

export interface IntField extends FieldBase {
  readonly kind: 'int'
  readonly min: number
  readonly max: number
  readonly default: number
}

export interface NumberField extends FieldBase {
  readonly kind: 'number'
  readonly min: number
  readonly max: number
  /** When true the minimum itself is not allowed (e.g. a learning rate must be > 0). */
  readonly exclusiveMin?: boolean
  readonly default: number
}

export interface EnumField<V extends string | number = string | number> extends FieldBase {
  readonly kind: 'enum'
  readonly values: readonly V[]
  readonly default: V
}

export interface StringField extends FieldBase {
  readonly kind: 'string'
  readonly maxLength: number
  readonly default: string
  /** A regular expression (source) the whole string must match, e.g. a run id. */
  readonly pattern?: string
  /** What the pattern means, for errors: "a run id". */
  readonly patternDescription?: string
}

export interface BoolField extends FieldBase {
  readonly kind: 'bool'
  readonly default: boolean
}

/** Any JSON value, passed through as it is: checked later by whoever interprets it. */
export interface UnknownField extends FieldBase {
  readonly kind: 'unknown'
}

/** May be left out: absent stays absent (no default filled in). */
export interface OptionalField<F extends Field = Field> extends FieldBase {
  readonly kind: 'optional'
  readonly inner: F
}

/** Must be given: absent is an error instead of the default. */
export interface RequiredField<F extends Field = Field> extends FieldBase {
  readonly kind: 'required'
  readonly inner: F
}

export interface NullableField<F extends Field = Field> extends FieldBase {
  readonly kind: 'nullable'
  readonly inner: F
  readonly default: null
}

export interface ArrayField<F extends Field = Field> extends FieldBase {
  readonly kind: 'array'
  readonly item: F
  readonly minItems: number
  readonly maxItems: number
  /** Typed by `arrayOf`; kept loose here so the recursive Field union stays shallow for tsc. */
  readonly default: readonly unknown[]
}

export interface ObjectField<S extends Shape = Shape> extends FieldBase {
  readonly kind: 'object'
  readonly fields: S
}

export type Field =
  | IntField
  | NumberField
  | EnumField
  | StringField
  | BoolField
  | UnknownField
  | OptionalField
  | RequiredField
  | NullableField
  | ArrayField
  | ObjectField

export type Shape = { readonly [key: string]: Field }

/** The TypeScript type of a value that passed validation. */
export type Infer<F> = F extends IntField | NumberField
  ? number
  : F extends EnumField<infer V>
    ? V
    : F extends StringField
      ? string
      : F extends BoolField
        ? boolean
        : F extends UnknownField
          ? unknown
          : F extends OptionalField<infer I>
            ? Infer<I> | undefined
            : F extends RequiredField<infer I>
              ? Infer<I>
              : F extends NullableField<infer I>
                ? Infer<I> | null
                : F extends ArrayField<infer I>
                  ? Infer<I>[]
                  : F extends ObjectField<infer S>
                    ? { [K in keyof S]: Infer<S[K]> }
                    : never

/** Deep-partial input: what a user may write in a config file. */
export type PartialInput<F> =
  F extends ObjectField<infer S>
    ? { [K in keyof S]?: PartialInput<S[K]> }
    : F extends ArrayField<infer I>
      ? PartialInput<I>[]
      : F extends NullableField<infer I>
        ? PartialInput<I> | null
        : Infer<F>

// --- constructors (keep literal types so Infer sees enum values) ---------------------------

export const int = (o: Omit<IntField, 'kind'>): IntField => ({ kind: 'int', ...o })
export const num = (o: Omit<NumberField, 'kind'>): NumberField => ({ kind: 'number', ...o })
export const str = (o: Omit<StringField, 'kind'>): StringField => ({ kind: 'string', ...o })
export const bool = (o: Omit<BoolField, 'kind'>): BoolField => ({ kind: 'bool', ...o })
export const unknownValue = (description: string): UnknownField => ({
  kind: 'unknown',
  description,
})
export const optional = <F extends Field>(inner: F): OptionalField<F> => ({
  kind: 'optional',
  inner,
  description: inner.description,
})
export const required = <F extends Field>(inner: F): RequiredField<F> => ({
  kind: 'required',
  inner,
  description: inner.description,
})
export const oneOf = <const V extends string | number>(
  values: readonly V[],
  o: { default: NoInfer<V>; description: string },
): EnumField<V> => ({ kind: 'enum', values, ...o })
export const nullable = <F extends Field>(inner: F, description: string): NullableField<F> => ({
  kind: 'nullable',
  inner,
  default: null,
  description,
})
export const arrayOf = <F extends Field>(
  item: F,
  o: { minItems: number; maxItems: number; default: readonly Infer<F>[]; description: string },
): ArrayField<F> => ({ kind: 'array', item, ...o })
export const object = <S extends Shape>(fields: S, description = ''): ObjectField<S> => ({
  kind: 'object',
  fields,
  description,
})

// --- validation ----------------------------------------------------------------------------

export interface ConfigIssue {
  /** JSON path of the offending value, e.g. `model.blocks[1].kernel`; '' for the root. */
  readonly path: string
  readonly message: string
}

/** Every problem of a config (or a grid, or a path), each naming its JSON path. */
export class ConfigError extends Error {
  constructor(
    readonly issues: readonly ConfigIssue[],
    readonly source = 'config',
  ) {
    super(
      `${source} is invalid (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n` +
        issues.map((i) => `  - ${i.message}`).join('\n'),
    )
    this.name = 'ConfigError'
  }
}

export type ParseResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] }

/** Renders a value for an error message: short, unambiguous, never the whole document. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing'
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value)
  if (Array.isArray(value)) {
    if (value.length > 6) return `an array of ${value.length} items`
    try {
      return JSON.stringify(value)
    } catch {
      // Nested too deeply for JSON.stringify's stack (only unparsed values get here).
      return `a deeply nested array of ${value.length} item${value.length === 1 ? '' : 's'}`
    }
  }
  if (value !== null && typeof value === 'object') return 'an object'
  return JSON.stringify(value)
}

const fmt = (n: number): string => (Number.isInteger(n) ? String(n) : String(n))

/** Human description of what a field accepts, used in errors and forms. */
export function describeAllowed(field: Field): string {
  switch (field.kind) {
    case 'int':
      return `an integer from ${fmt(field.min)} to ${fmt(field.max)}`
    case 'number':
      return field.exclusiveMin
        ? `a number greater than ${fmt(field.min)} and at most ${fmt(field.max)}`
        : `a number from ${fmt(field.min)} to ${fmt(field.max)}`
    case 'enum':
      return `one of ${field.values.map((v) => JSON.stringify(v)).join(', ')}`
    case 'string':
      return field.patternDescription ?? `a string of at most ${field.maxLength} characters`
    case 'bool':
      return 'true or false'
    case 'unknown':
      return 'any JSON value'
    case 'optional':
    case 'required':
      return describeAllowed(field.inner)
    case 'nullable':
      return `${describeAllowed(field.inner)}, or null`
    case 'array':
      return field.minItems === field.maxItems
        ? `a list of exactly ${field.minItems} items`
        : `a list of ${field.minItems} to ${field.maxItems} items`
    case 'object':
      return 'an object'
  }
}

const joinPath = (base: string, key: string | number): string =>
  typeof key === 'number' ? `${base}[${key}]` : base ? `${base}.${key}` : key

/** Edit distance, for "did you mean" hints on misspelled field names. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0] ?? 0
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const up = row[j] ?? 0
      row[j] = Math.min(up + 1, (row[j - 1] ?? 0) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1))
      diag = up
    }
  }
  return row[b.length] ?? 0
}

function suggest(key: string, known: readonly string[]): string {
  let best = ''
  let bestDistance = Infinity
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase())
    if (d < bestDistance) [best, bestDistance] = [k, d]
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean "${best}"?)` : ''
}

/**
 * Validates `input` against `field`, filling defaults for absent values, and collects every
 * problem (not only the first) so a user fixes a config in one pass.
 */
export function parseField<F extends Field>(
  field: F,
  input: unknown,
  path = '',
): ParseResult<Infer<F>> {
  return checkField(field, input, path) as ParseResult<Infer<F>>
}

/** parseField without the inferred type, for callers that type the value themselves. */
export function checkField(field: Field, input: unknown, path = ''): ParseResult<unknown> {
  const issues: ConfigIssue[] = []
  const value = walk(field, input, path, issues)
  return issues.length === 0 ? { ok: true, value } : { ok: false, issues }
}

/** The value of a field when the user gave nothing: every default, recursively. */
export function defaultsOf<F extends Field>(field: F): Infer<F> {
  return walk(field, undefined, '', []) as Infer<F>
}

function walk(field: Field, input: unknown, path: string, issues: ConfigIssue[]): unknown {
  switch (field.kind) {
    case 'optional':
      return input === undefined ? undefined : walk(field.inner, input, path, issues)
    case 'required':
      if (input === undefined) {
        issues.push({
          path,
          message: `${path || 'the value'} is required: ${describeAllowed(field)}`,
        })
        return undefined
      }
      return walk(field.inner, input, path, issues)
    case 'unknown':
      return input
  }
  if (input === undefined && field.kind !== 'object') {
    return field.kind === 'array' ? field.default.map((v) => structuredClone(v)) : field.default
  }
  switch (field.kind) {
    case 'enum': {
      const value = enumValue(field, input)
      return value === undefined ? refuse(field, input, path, issues) : value
    }
    case 'nullable':
      if (input === null) return null
      return walk(field.inner, input, path, issues)
    case 'array': {
      if (!Array.isArray(input) || input.length < field.minItems || input.length > field.maxItems)
        return refuse(field, input, path, issues)
      return input.map((item, i) => walk(field.item, item, joinPath(path, i), issues))
    }
    case 'object':
      return walkObject(field, input, path, issues)
    default:
      return scalarAllowed(field, input) ? input : refuse(field, input, path, issues)
  }
}

/** Notes that `input` is not what `field` allows; undefined stands for the refused value. */
function refuse(field: Field, input: unknown, path: string, issues: ConfigIssue[]): undefined {
  issues.push({
    path,
    message: `${path || 'the config'} must be ${describeAllowed(field)} (got ${show(input)})`,
  })
  return undefined
}

/** Whether a number, string or boolean is one the field allows (range, length, pattern). */
function scalarAllowed(
  field: IntField | NumberField | StringField | BoolField,
  input: unknown,
): boolean {
  switch (field.kind) {
    case 'int':
      return (
        typeof input === 'number' &&
        Number.isInteger(input) &&
        input >= field.min &&
        input <= field.max
      )
    case 'number':
      return (
        typeof input === 'number' &&
        Number.isFinite(input) &&
        input <= field.max &&
        (field.exclusiveMin ? input > field.min : input >= field.min)
      )
    case 'string':
      return (
        typeof input === 'string' &&
        input.length <= field.maxLength &&
        (field.pattern === undefined || new RegExp(`^(?:${field.pattern})$`).test(input))
      )
    case 'bool':
      return typeof input === 'boolean'
  }
}

/** An object's known fields walked (an absent one: its defaults); an unknown one is a problem. */
function walkObject(
  field: ObjectField,
  input: unknown,
  path: string,
  issues: ConfigIssue[],
): Record<string, unknown> | undefined {
  if (input === undefined) input = {}
  if (input === null || typeof input !== 'object' || Array.isArray(input))
    return refuse(field, input, path, issues)
  const known = Object.keys(field.fields)
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(input)) {
    if (!known.includes(key)) {
      issues.push({
        path: joinPath(path, key),
        message: `${joinPath(path, key)} is not a known field${suggest(key, known)}; ${
          path ? `${path} takes` : 'a config takes'
        } ${known.join(', ')}`,
      })
    }
  }
  for (const key of known) {
    const sub = field.fields[key]
    if (!sub) continue
    const value = walk(sub, (input as Record<string, unknown>)[key], joinPath(path, key), issues)
    // An optional field left out stays out (no `key: undefined`).
    if (value !== undefined || sub.kind !== 'optional') out[key] = value
  }
  return out
}

/**
 * The enum value `input` names: the value itself, or the one string value that equals it in
 * another case (`FC` → `fc`, `Adam` → `adam`: the app shows labels in capitals, and a person
 * types what they read). Undefined when it names none, or more than one, of the values.
 */
export function enumValue<V extends string | number>(
  field: EnumField<V>,
  input: unknown,
): V | undefined {
  if ((field.values as readonly unknown[]).includes(input)) return input as V
  if (typeof input !== 'string') return undefined
  const lower = input.toLowerCase()
  const matches = field.values.filter((v) => typeof v === 'string' && v.toLowerCase() === lower)
  return matches.length === 1 ? matches[0] : undefined
}

/** Finds the schema field at a dotted path (`model.blocks.0.kernel` or `model.blocks[0].kernel`). */
export function fieldAt(root: Field, path: string): Field | undefined {
  let field: Field | undefined = root
  for (const part of splitPath(path)) {
    if (!field) return undefined
    if (field.kind === 'nullable' || field.kind === 'optional' || field.kind === 'required')
      field = field.inner
    // Own fields only: `toString` is not a field because every object inherits one.
    if (field.kind === 'object')
      field = Object.hasOwn(field.fields, part) ? field.fields[part] : undefined
    else if (field.kind === 'array' && /^\d+$/.test(part)) field = field.item
    else return undefined
  }
  return field
}

/**
 * Path segments that name JavaScript's object machinery rather than a field. Setting
 * `__proto__.x` would change the prototype of the config object (and `constructor.prototype.x`
 * that of every object) instead of setting a field, so no path may contain them.
 */
export const RESERVED_PATH_SEGMENTS: ReadonlySet<string> = new Set([
  '__proto__',
  'constructor',
  'prototype',
])

/**
 * `model.blocks[0].kernel` and `model.blocks.0.kernel` both → ['model','blocks','0','kernel'].
 * The one parser of config paths (--set, --grid, the API's grid axes, the form): throws a
 * ConfigError naming the path for a segment in RESERVED_PATH_SEGMENTS.
 */
export function splitPath(path: string): string[] {
  const parts = path
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter((p) => p.length > 0)
  const reserved = parts.find((p) => RESERVED_PATH_SEGMENTS.has(p))
  if (reserved !== undefined) {
    throw new ConfigError(
      [
        {
          path,
          message:
            `${path}: "${reserved}" cannot be part of a config path (it is JavaScript's object ` +
            'machinery, not a config field); paths look like model.microConvs or model.blocks[0].channels',
        },
      ],
      'config path',
    )
  }
  return parts
}
