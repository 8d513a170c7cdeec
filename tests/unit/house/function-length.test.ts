// The 80-line rule (eslint.config.mjs): a function of src/ outside the renderer longer than 80
// lines (blank lines and comments not counted) fails lint; one that must stay one piece passes
// only with a disable comment that says why, and a disable without its why fails lint itself.
// Fixtures are linted as if they lived where the rule applies.
import { join } from 'node:path'
import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '../../..')
const eslint = new ESLint({ cwd: ROOT })

/** A function of exactly `lines` lines, with blank lines and comments that do not count. */
function fixture(lines: number, before = ''): string {
  const body = Array.from({ length: lines - 4 }, () => '  x += 1')
  return [
    `${before}export function long(): number {`,
    '  let x = 0',
    '',
    '  // a comment is not a line of code',
    ...body,
    '  return x',
    '}',
    '',
  ].join('\n')
}

const UNUSED = /^Unused eslint-disable directive/

/** The rule ids ESLint reports for `code` placed at `file` ('unused-directive' for a stale disable). */
async function ruleIds(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, file) })
  const messages = result?.messages ?? []
  // A parse or configuration error would make every case pass: never let it.
  expect(messages.filter((m) => m.fatal || (m.ruleId === null && !UNUSED.test(m.message)))).toEqual(
    [],
  )
  return messages.map((m) => m.ruleId ?? 'unused-directive')
}

describe('the 80-line rule', () => {
  it('counts only code lines', () => {
    const text = fixture(81)
    expect(
      text.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('//')),
    ).toHaveLength(81)
  })

  it.each([
    'src/core/probe.ts',
    'src/shared/probe.ts',
    'src/trainer/data/probe.ts',
    'src/cli/probe.ts',
  ])('refuses an 81-line function in %s and lets an 80-line one pass', async (file) => {
    expect(await ruleIds(file, fixture(81))).toEqual(['max-lines-per-function'])
    expect(await ruleIds(file, fixture(80))).toEqual([])
  })

  it('lets a function that must stay one piece pass when its disable says why', async () => {
    const why =
      '// eslint-disable-next-line max-lines-per-function -- one table of statements, read as one\n'
    expect(await ruleIds('src/core/probe.ts', fixture(81, why))).toEqual([])
  })

  it('refuses a disable comment that does not say why', async () => {
    for (const bare of [
      '// eslint-disable-next-line max-lines-per-function\n',
      '// eslint-disable-next-line max-lines-per-function --\n',
      '/* eslint-disable max-lines-per-function */\n',
    ]) {
      expect(await ruleIds('src/core/probe.ts', fixture(81, bare))).toContain(
        'house/disable-needs-why',
      )
    }
  })

  it('refuses a disable that disables nothing', async () => {
    const stale = '// eslint-disable-next-line max-lines-per-function -- it was long once\n'
    expect(await ruleIds('src/core/probe.ts', fixture(20, stale))).toEqual(['unused-directive'])
  })

  it('leaves tests alone: a describe block is one piece', async () => {
    expect(await ruleIds('tests/unit/core/probe.test.ts', fixture(81))).toEqual([])
  })
})
