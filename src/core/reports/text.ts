/** Escaping per report format (HTML escaping itself lives in @shared/security). */
import { escapeHtml } from '@shared/security'

/**
 * For Markdown table cells and text: HTML-escape (Markdown passes raw HTML through), then escape
 * the characters that make emphasis, code, links or table columns, and keep a cell on one line.
 */
export const escapeMarkdown = (text: string): string =>
  escapeHtml(text)
    .replace(/([\\`*_[\]|~])/g, '\\$1')
    .replace(/\r?\n/g, ' ')

/**
 * For CSV cells (RFC 4180), and neutralising spreadsheet formulas: a cell starting with
 * = + - @ (or a tab/CR) would run as a formula in Excel or LibreOffice, so it gets a leading '.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return ''
  let text =
    typeof value === 'string'
      ? value
      : typeof value === 'number'
        ? String(value)
        : JSON.stringify(value)
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}
