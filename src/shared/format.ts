/**
 * Number, size and time formatting for every place that shows them (the app, the CLI, reports):
 * one place, one style. Missing values (null, NaN) print as "—".
 */

const INT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })

/** 1992166 → "1,992,166"; null/NaN → "—". */
export const int = (n: number | null | undefined): string =>
  n === null || n === undefined || !Number.isFinite(n) ? '—' : INT.format(n)

/** A number with up to `digits` decimals and thousands separators. */
export const num = (n: number | null | undefined, digits = 3): string =>
  n === null || n === undefined || !Number.isFinite(n)
    ? '—'
    : new Intl.NumberFormat('en-US', { maximumFractionDigits: digits }).format(n)

const SI = [
  { value: 1e12, suffix: 'T' },
  { value: 1e9, suffix: 'G' },
  { value: 1e6, suffix: 'M' },
  { value: 1e3, suffix: 'K' },
]

/** 762_300_000 → "762.3 M" (for MACs and FLOPs). */
export function si(n: number | null | undefined, digits = 1): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—'
  const unit = SI.find((u) => Math.abs(n) >= u.value)
  return unit ? `${(n / unit.value).toFixed(digits)} ${unit.suffix}` : INT.format(n)
}

/**
 * An axis tick in SI units with no trailing zeros: 130_000 → "130 K", 1_926_000 → "1.93 M".
 * Two decimals so that ticks a few thousand apart stay distinct (parameter counts of a study).
 */
export const siTick = (n: number): string => si(n, 2).replace(/\.?0+ /, ' ')

const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB']

/** Bytes in binary units: 1_992_166 * 4 → "7.6 MiB". */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—'
  let value = n
  let i = 0
  while (Math.abs(value) >= 1024 && i < BINARY.length - 1) {
    value /= 1024
    i++
  }
  return i === 0 ? `${INT.format(value)} B` : `${value.toFixed(1)} ${BINARY[i]}`
}

/** Seconds as a short duration: "45 s", "7.5 min", "1 h 20 min", "2 d 3 h". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return '—'
  }
  if (seconds < 1) return `${seconds.toFixed(2)} s`
  if (seconds < 90) return `${Math.round(seconds)} s`
  const minutes = seconds / 60
  if (minutes < 10) return `${minutes.toFixed(1)} min`
  if (minutes < 90) return `${Math.round(minutes)} min`
  const hours = Math.floor(minutes / 60)
  if (hours < 48) return `${hours} h ${Math.round(minutes - hours * 60)} min`
  const days = Math.floor(hours / 24)
  return `${days} d ${hours - days * 24} h`
}

/** An accuracy in [0, 1] as a percentage: 0.8912 → "89.12%". */
export const pct = (acc: number | null | undefined, digits = 2): string =>
  acc === null || acc === undefined || !Number.isFinite(acc)
    ? '—'
    : `${(acc * 100).toFixed(digits)}%`

/**
 * The decimals that write a tick value exactly (at most `max`): 2.3026 → 4, 2.5 → 1, 3 → 0.
 * Axis ticks are multiples of the axis interval, so labels written with these never read alike
 * (a loss axis near ln 10 used to read "2.3" on every tick).
 */
export function tickDecimals(v: number, max = 8): number {
  if (!Number.isFinite(v)) return 0
  for (let d = 0; d < max; d++) {
    if (Math.abs(Number(v.toFixed(d)) - v) <= 1e-9 * Math.max(1, Math.abs(v))) return d
  }
  return max
}

/**
 * The decimals an axis from `min` to `max` needs for its ticks (ECharts picks about five ticks at
 * a 1, 2, 3 or 5 × 10^k interval), so every tick of one axis has as many: 2.3020, 2.3025, 2.3030.
 */
export function axisDecimals(min: number, max: number, splits = 5): number {
  const span = max - min
  if (!Number.isFinite(span) || span <= 0) return 0
  return Math.max(0, Math.min(8, Math.ceil(-Math.log10(span / splits))))
}

/**
 * An accuracy as a chart axis label: as many decimals as the tick needs (one at least where it
 * has any): 0.5 → "50%", 0.123 → "12.3%", 0.10025 → "10.025%".
 */
export const pctTick = (acc: number): string => {
  const v = acc * 100
  return `${v.toFixed(tickDecimals(v, 4))}%`
}

/** Unix ms → "2025-01-31 14:05:09" in local time. */
export function dateTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—'
  const d = new Date(ms)
  const p = (n: number): string => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

/** Unix ms → "14:05:09". */
export function clock(ms: number): string {
  const d = new Date(ms)
  const p = (n: number): string => String(n).padStart(2, '0')
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

/** A config value as text: strings bare, null as "none", everything else as JSON. */
export function valueText(v: unknown): string {
  if (v === null) return 'none'
  if (v === undefined) return '—'
  if (typeof v === 'string') return v
  return JSON.stringify(v)
}

/** A signed difference: "+1.2" for positive x, the text as it is otherwise (it has its "−"). */
export const signed = (text: string, x: number): string => (x > 0 ? `+${text}` : text)

/** Where a run trains: "this machine", "worker w1 (gpu-box)", plus ", GPU 0 NVIDIA H200". */
export function placementText(
  p: {
    readonly host: string
    readonly worker: string | null
    readonly gpu: { readonly index: number; readonly name: string } | null
  } | null,
): string {
  if (p === null) return '—'
  const where = p.worker ? `worker ${p.worker}${p.host ? ` (${p.host})` : ''}` : 'this machine'
  return p.gpu ? `${where}, GPU ${p.gpu.index} ${p.gpu.name}` : where
}

/**
 * What every wall-clock epoch time is labelled with: a time measured in its own sitting, under
 * whatever else the machine ran then, so it says little about the variant next to it (a
 * same-sitting interleaved benchmark does: Compare's "measure speed now", src/shared/speed.ts).
 */
export const WALL_CLOCK_NOTE = 'wall clock, other sittings'

/** The columns of a run's epoch table, one list for `nin-lab show` and the reports. */
export const EPOCH_TABLE_HEADER: readonly string[] = [
  'epoch',
  'train loss',
  'train acc',
  'test loss',
  'test acc',
  `seconds (${WALL_CLOCK_NOTE})`,
  'img/s',
  'machine load',
]

/** A machine load as "load 1.9 on 2 CPUs" (– when not recorded: older runs). */
export const loadText = (load: { loadAvg1: number; cpus: number } | null | undefined): string =>
  load ? `load ${load.loadAvg1.toFixed(1)} on ${load.cpus} CPU${load.cpus === 1 ? '' : 's'}` : '–'

/**
 * "linked from experiment X (run rABC), trained 2026-12-07": how a linked run (one not trained
 * again, its source's metrics shown) is marked in Run detail, reports and the CLI. User text: the
 * caller escapes it for its medium.
 */
export function linkedText(link: {
  readonly runId: string
  readonly experiment: string
  readonly trainedAt: number | null
}): string {
  const when =
    link.trainedAt === null
      ? ''
      : `, trained ${new Date(link.trainedAt).toISOString().slice(0, 10)}`
  return `linked from experiment ${link.experiment} (run ${link.runId})${when}`
}
