/**
 * User text in each report format: Markdown (inline and block syntax at line starts), CSV
 * (formulas, invisible characters), and table() of the CLI — each sink's own escaping, after
 * visibleText.
 */
import { describe, expect, it } from 'vitest'
import { csvCell, escapeMarkdown } from '@core/reports/text'
import { table } from '@cli/format'

describe('escapeMarkdown', () => {
  it('block syntax at the start of any line is text, not a block', () => {
    const cases: [string, string][] = [
      ['# Not a heading', '\\# Not a heading'],
      ['## also #not# closed ##', '\\#\\# also \\#not\\# closed \\#\\#'],
      ['- not a list', '\\- not a list'],
      ['+ not a list', '\\+ not a list'],
      ['* not a list', '\\* not a list'],
      ['1. not a list', '1\\. not a list'],
      ['12) not a list', '12\\) not a list'],
      ['---', '\\---'],
      ['===', '\\==='],
      ['___', '\\_\\_\\_'],
      ['> not a quote', '&gt; not a quote'],
      ['```js', '\\`\\`\\`js'],
      ['~~~', '\\~\\~\\~'],
      ['    not code', '&#32;   not code'],
      ['\tnot code', '&#32;not code'],
      ['<div>html</div>', '&lt;div&gt;html&lt;/div&gt;'],
      ['[ref]: https://example.com', '\\[ref\\]: https://example.com'],
      ['| a | b |', '\\| a \\| b \\|'],
    ]
    for (const [text, escaped] of cases) expect(escapeMarkdown(text), text).toBe(escaped)
  })

  it('every line of a multi-line note is escaped, and the note stays one paragraph', () => {
    expect(escapeMarkdown('fine\n# heading\n- item\n  2. item')).toBe(
      'fine \\# heading \\- item &#32; 2\\. item',
    )
  })

  it('numbers and ordinary text mid-line stay readable', () => {
    expect(escapeMarkdown('lr 0.05 - best so far (3.1 s)')).toBe('lr 0.05 - best so far (3.1 s)')
  })

  it('invisible and bidi characters are shown as markers', () => {
    expect(escapeMarkdown('a\u202Eb\u200Bc\u001b[1m')).toBe('a⟨U+202E⟩b⟨U+200B⟩c⟨U+001B⟩\\[1m')
  })
})

describe('csvCell', () => {
  it('marks invisible characters, keeps line breaks of notes, neutralises formulas', () => {
    expect(csvCell('name\u202Eexe.txt')).toBe('name⟨U+202E⟩exe.txt')
    expect(csvCell('line 1\nline 2')).toBe('"line 1\nline 2"')
    expect(csvCell('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`)
    expect(csvCell('\u200B=1+1')).toBe('⟨U+200B⟩=1+1')
    expect(csvCell(0.5)).toBe('0.5')
  })
})

describe('the CLI table', () => {
  it('shows escape sequences and bidi overrides as markers, and stays aligned', () => {
    const out = table(
      ['id', 'name'],
      [
        ['r1', '\u001b[31mred\u001b[0m'],
        ['r2', 'evil\u202Etxt.exe'],
      ],
      ['left', 'left'],
    )
    // eslint-disable-next-line no-control-regex -- control characters are what is looked for
    expect(out).not.toMatch(/[\u001b\u202e]/)
    const lines = out.split('\n')
    expect(lines[2]).toBe('r1  ⟨U+001B⟩[31mred⟨U+001B⟩[0m')
    expect(lines[3]).toBe('r2  evil⟨U+202E⟩txt.exe')
    expect(lines[1]).toBe('──  ' + '─'.repeat(lines[2]!.length - 4))
  })
})
