/**
 * Terminal layout: aligned text tables (numbers and sizes are formatted by @shared/format).
 * Every cell passes through terminalText (@shared/security): run names, experiments and tags are
 * user text, and an escape sequence or a bidi override in one must not recolour the terminal,
 * move the cursor or reorder the table.
 */
import { terminalText } from '@shared/security'

export type Align = 'left' | 'right'

/** Renders rows as an aligned text table; numbers are right-aligned by the caller's choice. */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly Align[],
): string {
  const shownHeader = header.map(terminalText)
  const shownRows = rows.map((r) => r.map(terminalText))
  const widths = shownHeader.map((h, i) =>
    Math.max(h.length, ...shownRows.map((r) => (r[i] ?? '').length)),
  )
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (align[i] === 'right' ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd()
  return [
    line(shownHeader),
    widths.map((w) => '─'.repeat(w)).join('  '),
    ...shownRows.map(line),
  ].join('\n')
}
