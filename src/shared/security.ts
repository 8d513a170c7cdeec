/**
 * The security rules that more than one process applies, once: the app's Content-Security-Policy
 * (sent by the Electron main process and the web server as a header, and put in index.html as a
 * meta tag at build time), the policy of exported HTML reports, and HTML escaping of user text.
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
