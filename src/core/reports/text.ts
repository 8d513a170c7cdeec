/** Escaping and number formatting shared by the report formats. */

/** For HTML text and attribute values: user text is always shown as text, never as markup. */
export const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  )

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

export const int = (n: number): string => Math.round(n).toLocaleString('en-US')
export const pct = (x: number | null): string => (x === null ? '–' : `${(x * 100).toFixed(2)}%`)
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB']
  let v = n
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return `${v.toFixed(v >= 100 || u === 0 ? 0 : 1)} ${units[u]}`
}
export const signed = (s: string, x: number): string => (x > 0 ? `+${s}` : s)
