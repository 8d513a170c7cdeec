/** Plain-text formatting for terminal output: thousands separators, byte sizes, aligned tables. */

export const formatInt = (n: number): string => Math.round(n).toLocaleString('en-US')

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(value >= 100 ? 0 : value >= 10 ? 1 : 2)} ${units[unit]}`
}

/** Engineering notation for large counts: 762.3 M, 1.52 G. */
export function formatCount(n: number): string {
  const steps: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ]
  for (const [size, suffix] of steps) {
    if (n >= size)
      return `${(n / size).toFixed(n / size >= 100 ? 0 : n / size >= 10 ? 1 : 2)} ${suffix}`
  }
  return String(n)
}

export type Align = 'left' | 'right'

/** Renders rows as an aligned text table; numbers are right-aligned by the caller's choice. */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly Align[],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (align[i] === 'right' ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd()
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}
