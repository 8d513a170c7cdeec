/**
 * `--set PATH=VALUE` overrides, shared by the CLI and any other text interface.
 * VALUE is parsed as JSON where it parses (numbers, booleans, null, arrays, objects),
 * else taken as a string, so `model.head=fc` and `model.fcHidden=[512]` both work.
 */
import { JsonTooDeepError, parseJson } from '../json'
import type { ConfigIssue } from './schema'
import { ConfigError, splitPath } from './schema'

export interface Override {
  readonly path: string
  readonly value: unknown
}

export function parseOverride(text: string): Override | ConfigIssue {
  const eq = text.indexOf('=')
  if (eq <= 0) {
    return {
      path: '',
      message: `--set ${text}: expected PATH=VALUE, e.g. --set model.microConvs=3`,
    }
  }
  const path = text.slice(0, eq).trim()
  try {
    splitPath(path)
  } catch (err) {
    if (err instanceof ConfigError && err.issues[0]) return err.issues[0]
    throw err
  }
  const raw = text.slice(eq + 1)
  let value: unknown = raw
  try {
    value = parseJson(raw)
  } catch (err) {
    if (err instanceof JsonTooDeepError)
      return { path, message: `--set ${path}: the value ${err.message}` }
    // not JSON: keep the text as a string value
  }
  return { path, value }
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v)

/**
 * Sets `value` at `path` inside a copy of `input`, creating objects on the way. Array indices
 * address existing items; validation later reports unknown fields and bad values by path.
 */
export function applyOverride(input: unknown, { path, value }: Override): unknown {
  const parts = splitPath(path)
  const root: unknown = structuredClone(input ?? {})
  if (parts.length === 0) return value
  let node: unknown = root
  for (let i = 0; i < parts.length; i++) {
    const key = parts[i] as string
    const last = i === parts.length - 1
    if (Array.isArray(node) && /^\d+$/.test(key)) {
      const index = Number(key)
      if (last) node[index] = value
      else {
        if (!isRecord(node[index]) && !Array.isArray(node[index])) node[index] = {}
        node = node[index]
      }
    } else if (isRecord(node)) {
      if (last) node[key] = value
      else {
        if (!isRecord(node[key]) && !Array.isArray(node[key])) node[key] = {}
        node = node[key]
      }
    } else {
      throw new Error(`cannot set ${path}: ${parts.slice(0, i).join('.')} is not an object`)
    }
  }
  return root
}

/**
 * Deep-merges `over` onto `base` (objects merge, everything else replaces). Keys are set as own
 * data properties: JSON.parse gives `{"__proto__": …}` an own key of that name, and a plain
 * assignment would instead replace the prototype of the result, hiding the key from the
 * validator, which refuses it as an unknown field only if it can see it.
 */
export function mergeInput(base: unknown, over: unknown): unknown {
  if (!isRecord(base) || !isRecord(over)) return structuredClone(over === undefined ? base : over)
  const out: Record<string, unknown> = structuredClone(base)
  for (const [k, v] of Object.entries(over)) {
    const merged = mergeInput(Object.hasOwn(out, k) ? out[k] : undefined, v)
    Object.defineProperty(out, k, {
      value: merged,
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  return out
}
