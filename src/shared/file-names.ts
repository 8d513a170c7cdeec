/**
 * File names NiN Lab suggests (report exports): made from user text (experiment names), so they
 * are cut down to what every file system takes — letters, digits, `.`, `_`, `-` — with no
 * leading dot (a hidden file), no Windows device name (`CON`, `NUL`, `COM1`, …), and a bounded
 * length.
 */

const MAX_STEM = 80
const WINDOWS_DEVICES = /^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i

/** `text` as a file-name stem: safe on Linux, macOS and Windows; `fallback` when nothing is left. */
export function safeFileStem(text: string, fallback = 'nin-lab'): string {
  const stem = text
    .normalize('NFKC')
    // Anything else (spaces, slashes, quotes, control and bidi characters) becomes one dash.
    .replace(/[^\p{L}\p{N}._-]+/gu, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
  // Cut by code points, never inside a surrogate pair.
  const cut = [...stem]
    .slice(0, MAX_STEM)
    .join('')
    .replace(/[-.]+$/, '')
  if (cut === '') return fallback
  return WINDOWS_DEVICES.test(cut) ? `${cut}-report` : cut
}

/**
 * The default name of a report of runs: named after their experiment (or the first of several,
 * and how many others), then the date, e.g. `micro-vs-head-report-2026-12-07.html`,
 * `micro-vs-head-and-2-more-report-2026-12-07.pdf`.
 */
export function reportFileName(experiments: readonly string[], date: Date, format: string): string {
  const unique = [...new Set(experiments)]
  const first = safeFileStem(unique[0] ?? '', 'nin-lab')
  const more = unique.length > 1 ? `-and-${unique.length - 1}-more` : ''
  return `${first}${more}-report-${date.toISOString().slice(0, 10)}.${format}`
}
