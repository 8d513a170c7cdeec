/**
 * JSON from outside (request bodies, config files, `--set` values) with a cap on how deeply it
 * nests. JSON.parse itself copes with deep nesting, but everything after it that walks the value
 * recursively (validation, merging, structuredClone, JSON.stringify in an error message) runs out
 * of stack on 100,000 nested brackets and fails with "Maximum call stack size exceeded". No config
 * or API call nests more than a handful of levels, so text nesting deeper than MAX_JSON_DEPTH is
 * refused before it is parsed, with an error that names the limit.
 */

/** Deepest nesting of arrays and objects accepted; NiN Lab's own documents need fewer than 10. */
export const MAX_JSON_DEPTH = 64

/**
 * The deepest nesting of `[` and `{` in JSON text, by one linear scan that skips string
 * contents (with their escapes). Stops as soon as the depth passes `stopAbove`. The text need
 * not be valid JSON: this only bounds what a parser would build.
 */
export function jsonNestingDepth(text: string, stopAbove = Infinity): number {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c /* \ */) i++
      else if (c === 0x22 /* " */) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      depth++
      if (depth > deepest) {
        deepest = depth
        if (deepest > stopAbove) return deepest
      }
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth = Math.max(0, depth - 1)
  }
  return deepest
}

export class JsonTooDeepError extends Error {
  constructor(readonly limit: number) {
    super(`nests arrays and objects deeper than the limit of ${limit} levels`)
    this.name = 'JsonTooDeepError'
  }
}

/**
 * JSON.parse, after refusing text that nests deeper than `maxDepth`: throws JsonTooDeepError
 * (before parsing anything) or JSON.parse's own SyntaxError.
 */
export function parseJson(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  if (jsonNestingDepth(text, maxDepth) > maxDepth) throw new JsonTooDeepError(maxDepth)
  return JSON.parse(text) as unknown
}

/**
 * Whether an already-parsed value (an IPC message, a structured clone) nests arrays and objects
 * deeper than `maxDepth`: an explicit stack, so the check itself cannot run out of stack.
 */
export function nestsDeeperThan(value: unknown, maxDepth = MAX_JSON_DEPTH): boolean {
  const stack: { v: unknown; depth: number }[] = [{ v: value, depth: 0 }]
  let visited = 0
  while (stack.length > 0) {
    const { v, depth } = stack.pop() as { v: unknown; depth: number }
    if (typeof v !== 'object' || v === null) continue
    if (depth + 1 > maxDepth) return true
    // Bounded work: a value wider than this is refused later by the parameter checks anyway.
    if (++visited > 1_000_000) return true
    for (const child of Array.isArray(v) ? v : Object.values(v))
      stack.push({ v: child, depth: depth + 1 })
  }
  return false
}
