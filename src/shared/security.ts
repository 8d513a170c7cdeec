/**
 * The security rules that more than one process applies, once: the app's Content-Security-Policy
 * (sent by the Electron main process and the web server as a header, and put in index.html as a
 * meta tag at build time), the policy of exported HTML reports, HTML escaping of user text, and
 * the neutralising of invisible and direction-changing characters in user text wherever it is
 * shown (visibleText, terminalText).
 */

const APP_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  // ECharts and Vue set inline style attributes; no inline scripts are allowed.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'none'",
] as const

/** The app's policy as an HTTP header: nothing remote, ever. */
export const APP_CSP = APP_POLICY.join('; ')

/** The same policy for a `<meta>` tag, where browsers ignore (and warn about) frame-ancestors. */
export const APP_CSP_META = APP_POLICY.filter((d) => !d.startsWith('frame-ancestors')).join('; ')

/** Exported HTML reports: static files with inline styles and data: images, no scripts at all. */
export const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

const HTML_ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

/** For HTML text and attribute values: user text is always shown as text, never as markup. */
export const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => HTML_ENTITIES[c] ?? c)

/**
 * Characters that change how the text around them reads without showing themselves: C0 and C1
 * controls (ESC starts terminal escape sequences; CR rewrites a terminal line), bidirectional
 * overrides, embeddings, isolates and marks (U+202E shows `exe.txt` as `txt.exe`), zero-width
 * and other invisible characters (they make two different names look the same, or hide text),
 * line and paragraph separators, lone surrogates, and the Unicode tag characters (invisible
 * ASCII look-alikes). Tab and line feed are matched too: callers keep them where text may span
 * lines. Zero-width joiners inside emoji sequences are marked as well: a run name is not the
 * place for them, and showing every invisible character is the one rule that cannot be fooled.
 */
const INVISIBLE =
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u115f\u1160\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb]|\udb40[\udc00-\udc7f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

const marker = (c: string): string =>
  `⟨U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}⟩`

export interface VisibleTextOptions {
  /** Keep line feeds and tabs (notes); CRLF becomes LF. Otherwise they are marked too (names). */
  readonly multiline?: boolean
}

/**
 * User text (run names, notes, tags, experiment names) as it should be shown anywhere — the
 * app, reports, the terminal: every invisible or direction-changing character replaced by a
 * visible marker such as ⟨U+202E⟩, so what is shown is what is there. Apply it when showing
 * text, never when storing it: the stored text stays exactly as the user wrote it. Escaping
 * for the sink's own syntax (HTML, Markdown, CSV) comes after this.
 */
export function visibleText(text: string, options: VisibleTextOptions = {}): string {
  const source = options.multiline ? text.replace(/\r\n/g, '\n') : text
  return source.replace(INVISIBLE, (c) =>
    options.multiline && (c === '\n' || c === '\t') ? c : marker(c),
  )
}

/**
 * Text for a terminal line (a table cell, a status line): visibleText on one line, so escape
 * sequences (ESC, CSI U+009B), carriage returns and line breaks in a run name can neither
 * recolour, move the cursor, rewrite the screen, nor break the table's layout.
 */
export const terminalText = (text: string): string => visibleText(text)
