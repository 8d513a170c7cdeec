/**
 * Config paths and JSON from outside that name JavaScript's object machinery (`__proto__`,
 * `constructor`, `prototype`) or nest absurdly deep: refused with an error that names the path
 * (or the limit), never a TypeError, a stack overflow or a silently changed prototype.
 */
import { afterEach, describe, expect, it } from 'vitest'
import {
  ConfigError,
  defaultExperimentConfig,
  parseExperimentConfig,
} from '@shared/config/experiment'
import { applyOverride, mergeInput, parseOverride } from '@shared/config/overrides'
import { splitPath } from '@shared/config/schema'
import { expandGrid, parseGridAxis } from '@shared/grid'
import { jsonNestingDepth, JsonTooDeepError, MAX_JSON_DEPTH, parseJson } from '@shared/json'

const reservedMessage = (path: string, segment: string): string =>
  `${path}: "${segment}" cannot be part of a config path (it is JavaScript's object machinery, ` +
  'not a config field); paths look like model.microConvs or model.blocks[0].channels'

function configError(fn: () => unknown): ConfigError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return err as ConfigError
  }
  throw new Error('expected a ConfigError')
}

afterEach(() => {
  // Nothing here may have reached the prototype every object shares.
  expect(({} as Record<string, unknown>)['x']).toBeUndefined()
  expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
})

describe('reserved path segments', () => {
  const cases: [string, string][] = [
    ['__proto__.x', '__proto__'],
    ['model.__proto__', '__proto__'],
    ['constructor.prototype.x', 'constructor'],
    ['model.blocks[0].constructor', 'constructor'],
    ['prototype', 'prototype'],
  ]

  it.each(cases)('--set %s=1 is an issue naming the path', (path, segment) => {
    expect(parseOverride(`${path}=1`)).toEqual({ path, message: reservedMessage(path, segment) })
  })

  it.each(cases)('--grid %s=1,2 is a ConfigError naming the path', (path, segment) => {
    const err = configError(() => parseGridAxis(`${path}=1,2`))
    expect(err.issues).toEqual([{ path, message: reservedMessage(path, segment) }])
    expect(err.message).toBe(`grid is invalid (1 problem):\n  - ${reservedMessage(path, segment)}`)
  })

  it('grid axes from the API (not parsed from text) are refused the same way', () => {
    const err = configError(() =>
      expandGrid({}, [
        { path: '__proto__', values: [1, 2] },
        { path: 'constructor', values: [{ polluted: true }] },
        { path: 'model.microConvs', values: [1, 2] },
      ]),
    )
    expect(err.issues).toEqual([
      { path: '__proto__', message: reservedMessage('__proto__', '__proto__') },
      { path: 'constructor', message: reservedMessage('constructor', 'constructor') },
    ])
  })

  it('inherited names that are not reserved are unknown fields, not TypeErrors', () => {
    const err = configError(() =>
      expandGrid({}, [
        { path: 'toString', values: [1, 2] },
        { path: 'model.hasOwnProperty', values: [1, 2] },
      ]),
    )
    expect(err.issues.map((i) => i.message)).toEqual([
      'grid axis toString: not a config field',
      'grid axis model.hasOwnProperty: not a config field',
    ])
  })

  it('applyOverride and splitPath refuse them before touching anything', () => {
    const input = { model: {} }
    expect(() => applyOverride(input, { path: '__proto__.polluted', value: 1 })).toThrow(
      ConfigError,
    )
    expect(() => splitPath('constructor.prototype.polluted')).toThrow(
      reservedMessage('constructor.prototype.polluted', 'constructor'),
    )
    expect(Object.getPrototypeOf(input)).toBe(Object.prototype)
  })
})

describe('JSON input with own __proto__ keys (JSON.parse makes them own properties)', () => {
  it('the validator refuses them as unknown fields', () => {
    const parsed = parseExperimentConfig(JSON.parse('{"__proto__": {"x": 1}}'))
    expect(parsed.ok).toBe(false)
    if (parsed.ok) return
    expect(parsed.issues.map((i) => i.path)).toEqual(['__proto__'])
    expect(parsed.issues[0]?.message).toMatch(/^__proto__ is not a known field; a config takes/)
  })

  it('merging a config file onto a preset keeps them visible to the validator', () => {
    const file = JSON.parse('{"model": {"__proto__": {"microConvs": 3}}, "__proto__": {"x": 1}}')
    const merged = mergeInput(defaultExperimentConfig(), file)
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype)
    const parsed = parseExperimentConfig(merged)
    expect(parsed.ok).toBe(false)
    if (parsed.ok) return
    expect(parsed.issues.map((i) => i.path).sort()).toEqual(['__proto__', 'model.__proto__'])
  })
})

describe('JSON nesting depth', () => {
  const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n)

  it('counts brackets outside strings only', () => {
    expect(jsonNestingDepth('{"a": [1, {"b": "[[[{{{"}], "c": "\\\\\\"[["}')).toBe(3)
    expect(jsonNestingDepth('"[[[["')).toBe(0)
    expect(jsonNestingDepth(deep(MAX_JSON_DEPTH))).toBe(MAX_JSON_DEPTH)
  })

  it('parseJson refuses 100,000 levels before parsing, naming the limit', () => {
    expect(parseJson(deep(MAX_JSON_DEPTH))).toBeInstanceOf(Array)
    expect(() => parseJson(deep(100_000))).toThrow(JsonTooDeepError)
    expect(() => parseJson(deep(100_000))).toThrow(
      'nests arrays and objects deeper than the limit of 64 levels',
    )
  })

  it('--set and --grid values that nest too deeply are issues, not stack overflows', () => {
    expect(parseOverride(`model.fcHidden=${deep(100_000)}`)).toEqual({
      path: 'model.fcHidden',
      message:
        '--set model.fcHidden: the value nests arrays and objects deeper than the limit of 64 levels',
    })
    const err = configError(() => parseGridAxis(`model.fcHidden=[],${deep(100_000)}`))
    expect(err.issues[0]?.message).toMatch(
      /^--grid model\.fcHidden=.*: a value nests arrays and objects deeper than the limit of 64 levels$/,
    )
  })

  it('a deeply nested value that was never text still gets a message', () => {
    let value: unknown = []
    for (let i = 0; i < 100_000; i++) value = [value]
    const parsed = parseExperimentConfig({ model: { fcHidden: value } })
    expect(parsed.ok).toBe(false)
    if (parsed.ok) return
    expect(parsed.issues[0]?.message).toMatch(
      /model\.fcHidden\[0\] must be .* \(got a deeply nested array of 1 item\)/,
    )
  })
})
