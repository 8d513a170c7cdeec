/**
 * Escaping per report format (HTML escaping and the visibleText rule live in @shared/security).
 * User text is first made visible (invisible and direction-changing characters as ⟨U+…⟩ markers),
 * then escaped for the format's own syntax.
 */
import { escapeHtml, visibleText } from '@shared/security'

/**
 * What makes a Markdown block when it starts a line (after up to three spaces): ATX headings
 * (#), list items (- + * 1. 1)), thematic breaks and setext underlines (--- *** ___ ===),
 * blockquotes (>), fenced code (``` ~~~), indented code (four spaces or a tab), HTML blocks (<),
 * tables (|), link reference definitions ([x]: url). Characters escaped everywhere (below) need
 * nothing here; the rest get a backslash, and leading blanks an entity.
 */
function escapeLineStart(line: string): string {
  return line
    .replace(/^([ \t]*)([+\-=])/, '$1\\$2')
    .replace(/^([ \t]*)(\d{1,9})([.)])/, '$1$2\\$3')
    .replace(/^[ \t]/, '&#32;')
}

/**
 * For Markdown table cells and text: HTML-escape (Markdown passes raw HTML through, and this
 * also defuses > and <), escape everywhere the characters that make emphasis, code, links,
 * headings (# also closes one) or table columns, escape what makes a block at the start of each
 * line, and keep a cell on one line.
 */
export const escapeMarkdown = (text: string): string =>
  escapeHtml(visibleText(text, { multiline: true }))
    .replace(/([\\`*_[\]|~#])/g, '\\$1')
    .split('\n')
    .map(escapeLineStart)
    .join(' ')

/**
 * For CSV cells (RFC 4180), and neutralising spreadsheet formulas: a cell starting with
 * = + - @ (or a tab/CR) would run as a formula in Excel or LibreOffice, so it gets a leading '.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return ''
  let text =
    typeof value === 'string'
      ? visibleText(value, { multiline: true })
      : typeof value === 'number'
        ? String(value)
        : JSON.stringify(value)
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}
