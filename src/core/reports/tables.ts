/**
 * The tables of a report as plain text cells, rendered by the HTML and Markdown writers (which
 * escape every cell): one description of the content, two notations.
 */
import type { Quantity, Stat } from '@shared/ablation'
import type { Report, ReportRun } from '@shared/report'
import { bytes, int, linkedText, pct, signed, valueText as formatValue } from '@shared/format'
import { HEALTH_LABELS } from '@shared/health'

export interface Table {
  readonly header: readonly string[]
  readonly rows: readonly (readonly string[])[]
  /** Right-align numeric columns. */
  readonly numeric: readonly boolean[]
}

const seconds = (s: number | null): string => (s === null ? '–' : `${s.toFixed(1)} s`)

const FORMAT: Record<Quantity, { label: string; value: (x: number) => string }> = {
  params: { label: 'params', value: int },
  macs: { label: 'MACs / image', value: int },
  trainMemory: { label: 'training memory', value: bytes },
  secondsPerEpoch: { label: 'time / epoch', value: (x) => `${x.toFixed(1)} s` },
  finalTestAcc: { label: 'final test acc', value: (x) => pct(x) },
}

/** No-break spaces around ±: a value and its spread never wrap apart. */
const PM = '\u00a0±\u00a0'

function statText(q: Quantity, s: Stat): string {
  if (s.mean === null) return '–'
  const f = FORMAT[q].value
  return s.n > 1 ? `${f(s.mean)}${PM}${f(s.std ?? 0)}` : f(s.mean)
}

/**
 * The change from the baseline row, on its own line (writers show it under the value, HTML, or
 * after it, Markdown): accuracy in percentage points ("+1.20 pp"), which a relative change of a
 * percentage would be confused with; costs as the amount and the relative change ("+12.3%").
 */
export function deltaText(q: Quantity, d: number | null, base: number | null): string {
  if (d === null) return ''
  const minus = (text: string): string => text.replace(/^-/, '−')
  if (q === 'finalTestAcc') {
    return `\n(Δ\u00a0${minus(signed((d * 100).toFixed(2), d))}\u00a0pp)`
  }
  const f = FORMAT[q].value
  const amount = signed(d < 0 ? `−${f(-d)}` : f(d), d)
  const relative =
    base !== null && base !== 0 ? `,\u00a0${minus(signed(((d / base) * 100).toFixed(1), d))}%` : ''
  return `\n(Δ\u00a0${amount}${relative})`
}

/** A config value for display: strings without their JSON quotes, null as "none". */
function valueText(json: string): string {
  return formatValue(JSON.parse(json) as unknown)
}

export function runsTable(report: Report): Table {
  return {
    header: [
      'run',
      'experiment',
      'status',
      'params',
      'MACs / image',
      'training memory',
      'time / epoch',
      'final test acc',
      'best test acc',
    ],
    numeric: [false, false, false, true, true, true, true, true, true],
    rows: report.runs.map((r) => [
      `${r.name} (${r.id})`,
      r.experiment,
      r.status,
      int(r.params),
      int(r.macs),
      bytes(r.trainMemoryBytes),
      seconds(r.secondsPerEpoch),
      pct(r.finalTestAcc),
      pct(r.bestTestAcc),
    ]),
  }
}

export function ablationTable(report: Report, index: number): Table {
  const table = report.ablations[index]
  if (!table) throw new Error(`no ablation table ${index}`)
  const quantities: Quantity[] = [
    'params',
    'macs',
    'trainMemory',
    'secondsPerEpoch',
    'finalTestAcc',
  ]
  return {
    header: [table.field, 'runs', ...quantities.map((q) => FORMAT[q].label)],
    numeric: [false, true, ...quantities.map(() => true)],
    rows: table.rows.map((row) => [
      valueText(row.value),
      String(row.runIds.length),
      ...quantities.map(
        (q) =>
          statText(q, row.stats[q]) +
          deltaText(q, row.delta[q], table.rows[0]?.stats[q].mean ?? null),
      ),
    ]),
  }
}

export function diffTable(report: Report): Table {
  return {
    header: ['field', ...report.runs.map((r) => r.name)],
    numeric: [false, ...report.runs.map(() => false)],
    rows: report.configDiff.map((d) => [
      d.path,
      ...d.values.map((v) => (v === undefined ? '–' : formatValue(v))),
    ]),
  }
}

export function layerTableOf(run: ReportRun): Table {
  return {
    header: ['layer', 'type', 'output', 'params', 'MACs'],
    numeric: [false, false, true, true, true],
    rows: run.layers.map((l) => [
      l.name,
      l.type,
      l.outputShape.join('×'),
      int(l.params),
      int(l.macs),
    ]),
  }
}

export function perClassTable(run: ReportRun): Table | null {
  if (!run.perClassAccuracy || !run.classNames) return null
  return {
    header: ['class', 'test accuracy'],
    numeric: [false, true],
    rows: run.classNames.map((name, i) => [name, pct(run.perClassAccuracy?.[i] ?? null)]),
  }
}

export function epochTable(run: ReportRun): Table {
  return {
    header: ['epoch', 'train loss', 'train acc', 'test loss', 'test acc', 'seconds', 'img/s'],
    numeric: [true, true, true, true, true, true, true],
    rows: run.epochs.map((e) => [
      String(e.epoch),
      e.trainLoss.toFixed(4),
      pct(e.trainAcc),
      e.testLoss.toFixed(4),
      pct(e.testAcc),
      e.seconds.toFixed(1),
      int(e.examplesPerSec),
    ]),
  }
}

export function environmentLines(report: Report): string[] {
  const env = report.environment
  return [
    `Engines: ${env.engines.join(', ') || '–'}; backends: ${env.backends.join(', ') || '–'}; ` +
      `precision: ${env.precisions?.join(', ') || '–'}`,
    `Hosts: ${env.hosts.join(', ') || '–'}`,
    `Versions: ${
      Object.entries(env.versions)
        .map(([k, v]) => `${k} ${v.join('/')}`)
        .join(', ') || '–'
    }`,
  ]
}

/**
 * The lines under a run's heading that qualify its numbers: its health when it is at chance or
 * still improving (the reason says what it means and what to do), and where a linked run was
 * trained. Plain text: each format escapes it.
 */
export function runCaveats(run: ReportRun): string[] {
  const lines: string[] = []
  const h = run.health
  if (h && (h.status === 'chance' || h.status === 'not-converged'))
    lines.push(`${HEALTH_LABELS[h.status]}: ${h.reason}`)
  if (run.linkedFrom) lines.push(`${linkedText(run.linkedFrom)} (not trained again)`)
  return lines
}
