/**
 * visibleText and terminalText: what is shown is what is there. Every invisible or
 * direction-changing character becomes a ⟨U+XXXX⟩ marker; ordinary text in any script, emoji
 * included, passes unchanged.
 */
import { describe, expect, it } from 'vitest'
import { terminalText, visibleText } from '@shared/security'

describe('visibleText', () => {
  it('leaves ordinary text alone, in any script', () => {
    for (const text of [
      'small-28-m3-fc-s2',
      'Überprüfung',
      'مرحبا',
      '日本語のラン',
      'run 🚀',
      'a\tb',
    ]) {
      expect(visibleText(text, { multiline: true })).toBe(text)
    }
  })

  it('marks bidi overrides, embeddings, isolates and marks', () => {
    expect(visibleText('invoice\u202Etxt.exe')).toBe('invoice⟨U+202E⟩txt.exe')
    expect(visibleText('\u202A\u202B\u202C\u202D\u2066\u2067\u2068\u2069\u200E\u200F\u061C')).toBe(
      '⟨U+202A⟩⟨U+202B⟩⟨U+202C⟩⟨U+202D⟩⟨U+2066⟩⟨U+2067⟩⟨U+2068⟩⟨U+2069⟩⟨U+200E⟩⟨U+200F⟩⟨U+061C⟩',
    )
  })

  it('marks zero-width and other invisible characters', () => {
    expect(visibleText('run\u200B-a')).toBe('run⟨U+200B⟩-a')
    expect(visibleText('\u200C\u200D\u2060\uFEFF\u00AD\u180E\u3164')).toBe(
      '⟨U+200C⟩⟨U+200D⟩⟨U+2060⟩⟨U+FEFF⟩⟨U+00AD⟩⟨U+180E⟩⟨U+3164⟩',
    )
    // Unicode tag characters: invisible ASCII look-alikes (U+E0041 is TAG LATIN CAPITAL A).
    expect(visibleText('a\u{E0041}b')).toBe('a⟨U+E0041⟩b')
    // A lone surrogate, which no font can show.
    expect(visibleText('x\uD800y')).toBe('x⟨U+D800⟩y')
  })

  it('marks C0 and C1 controls, ESC and CR included; keeps LF and tab only when multiline', () => {
    expect(visibleText('\u001b[31mred\u001b[0m')).toBe('⟨U+001B⟩[31mred⟨U+001B⟩[0m')
    expect(visibleText('a\u0000b\u0007c\u007f\u009b')).toBe('a⟨U+0000⟩b⟨U+0007⟩c⟨U+007F⟩⟨U+009B⟩')
    expect(visibleText('line 1\nline 2\ttab')).toBe('line 1⟨U+000A⟩line 2⟨U+0009⟩tab')
    expect(visibleText('line 1\r\nline 2\rover', { multiline: true })).toBe(
      'line 1\nline 2⟨U+000D⟩over',
    )
    expect(visibleText('a\u2028b\u2029c', { multiline: true })).toBe('a⟨U+2028⟩b⟨U+2029⟩c')
  })
})

describe('terminalText', () => {
  it('leaves no byte a terminal would act on', () => {
    const hostile = '\u001b]0;pwned\u0007\u001b[2J\u001b[31mred\r\u009b1A\u202Eevil\nnext'
    const shown = terminalText(hostile)
    // eslint-disable-next-line no-control-regex -- control characters are what is looked for
    expect(shown).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e]/)
    expect(shown).toBe(
      '⟨U+001B⟩]0;pwned⟨U+0007⟩⟨U+001B⟩[2J⟨U+001B⟩[31mred⟨U+000D⟩⟨U+009B⟩1A⟨U+202E⟩evil⟨U+000A⟩next',
    )
  })
})
