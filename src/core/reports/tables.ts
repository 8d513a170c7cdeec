/**
 * The tables of a report as plain text cells, rendered by the HTML and Markdown writers (which
 * escape every cell): one description of the content, two notations.
 */
import type { GroupCost, Range } from '@shared/ablation'
import {
  displayNames,
  healthWords,
  mixesWords,
  noiseWords,
  pText,
  pp,
  ppInterval,
  ppSigned,
  shortField,
  valueLabel,
  type ComparisonGroup,
  type GroupComparison,
} from '@shared/comparison'
import type { Report, ReportRun } from '@shared/report'
import { VERDICT_TEXT } from '@shared/statistics'
import {
  bytes,
  int,
  linkedText,
  loadText,
  pct,
  signed,
  valueText as formatValue,
  EPOCH_TABLE_HEADER,
} from '@shared/format'
import { HEALTH_LABELS } from '@shared/health'

/**
 * A cell: one line, or several that belong together (a value and its interval). Writers escape
 * each line and join them in their own notation (HTML: a line break; Markdown: a space), so no
 * line break of ours ever reaches the escaping of user text (which would show it as ⟨U+000A⟩).
 */
export type Cell = string | readonly string[]

/** The lines of a cell. */
export const cellLines = (cell: Cell): readonly string[] =>
  typeof cell === 'string' ? [cell] : cell

export interface Table {
  readonly header: readonly string[]
  readonly rows: readonly (readonly Cell[])[]
  /** Right-align numeric columns. */
  readonly numeric: readonly boolean[]
}

const seconds = (s: number | null): string => (s === null ? '–' : `${s.toFixed(1)} s`)

/** No-break spaces around ±: a value and its spread never wrap apart. */
const PM = '\u00a0±\u00a0'

/**
 * The change of a cost from the baseline's, as the amount and the relative change
 * ("Δ +21,838, +17.3%"). Costs are exact (no noise), so they need no interval.
 */
export function costDelta(format: (x: number) => string, d: number, base: number): string {
  const minus = (text: string): string => text.replace(/^-/, '−')
  const amount = signed(d < 0 ? `−${format(-d)}` : format(d), d)
  const relative = base !== 0 ? `,\u00a0${minus(signed(((d / base) * 100).toFixed(1), d))}%` : ''
  return `(Δ\u00a0${amount}${relative})`
}

/** A cost cell: the value (or the range a mixed group spans) and its change from the baseline. */
function costCell(r: Range, base: Range | undefined, format: (x: number) => string): Cell {
  if (r.min === null || r.max === null) return '–'
  const value = r.min === r.max ? format(r.min) : `${format(r.min)}–${format(r.max)}`
  if (!base || base.min === null || base.min !== base.max || r.min !== r.max || r === base)
    return value
  const d = r.min - base.min
  return d === 0 ? value : [value, costDelta(format, d, base.min)]
}

const minusSign = (text: string): string => text.replace(/^-/, '−')

function accuracyCell(g: ComparisonGroup): Cell {
  const s = g.finalTestAcc
  if (s.mean === null) return '–'
  if (s.std === null) return [pct(s.mean), 'one run: no spread']
  const ci = s.ci95 ? `95% CI ${minusSign(pct(s.ci95[0]))} to ${minusSign(pct(s.ci95[1]))}` : ''
  return [`${pct(s.mean)}${PM}${pp(s.std)}`, ci]
}

function deltaCell(c: GroupComparison | undefined): Cell {
  if (!c) return 'baseline'
  if (c.diff === null) return '–'
  const lines = [`Δ\u00a0${ppSigned(c.diff)}`]
  if (c.ci95) lines.push(`95% CI ${ppInterval(c.ci95)}`)
  if (c.pAdjusted !== null)
    lines.push(`${c.paired ? 'paired by seed' : 'Welch'}, Holm p\u00a0${pText(c.pAdjusted)}`)
  return lines
}

function verdictCell(g: ComparisonGroup, c: GroupComparison | undefined): Cell {
  const lines = c ? [VERDICT_TEXT[c.verdict]] : []
  if (c?.note && c.verdict !== 'no-estimate') lines.push(c.note)
  const health = healthWords(g)
  if (health) lines.push(health)
  const mixes = mixesWords(g)
  if (mixes) lines.push(mixes)
  return lines.length > 0 ? lines : '–'
}

/** A run's final accuracy with its caveat beside it: at chance, or still improving. */
function runHealthCell(r: ReportRun): Cell {
  const value = pct(r.finalTestAcc)
  if (r.health?.status === 'chance') return [value, 'at chance']
  if (r.health?.status === 'not-converged') {
    const more = r.health.moreEpochs
    return [value, more === null ? 'still improving' : `still improving (~${more} more epochs)`]
  }
  return value
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
      'wall-clock / epoch',
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
      runHealthCell(r),
      pct(r.bestTestAcc),
    ]),
  }
}

const groupCells = (report: Report, g: ComparisonGroup): string[] => {
  const c = report.ablation.comparison
  return [
    ...c.by.map((f) => (Object.hasOwn(g.key, f) ? valueLabel(g.key[f]) : 'n/a')),
    g.n === g.runIds.length ? String(g.n) : `${g.n} of ${g.runIds.length} finished`,
  ]
}

/**
 * The ablation's statistics: one row per group, its final test accuracy and its difference from
 * the baseline (the baseline's row says so), the verdict and the caveats beside them.
 */
export function ablationTable(report: Report): Table {
  const { comparison: c, costs } = report.ablation
  const byGroup = new Map(c.comparisons.map((x) => [x.otherIndex, x]))
  return {
    header: [
      ...c.by.map(shortField),
      'runs',
      'final test acc (mean ± std)',
      'vs baseline',
      'verdict',
      'wall-clock / epoch¹',
    ],
    numeric: [...c.by.map(() => false), true, true, true, false, true],
    rows: c.groups.map((g, i) => {
      const wall = costs[i]?.wallClockSecondsPerEpoch
      return [
        ...groupCells(report, g),
        accuracyCell(g),
        deltaCell(byGroup.get(i)),
        verdictCell(g, byGroup.get(i)),
        wall && wall.mean !== null ? seconds(wall.mean) : '–',
      ]
    }),
  }
}

/** The ablation's cost per group: exact (the cost model's), so its Δ needs no interval. */
export function ablationCostTable(report: Report): Table {
  const { comparison: c, costs } = report.ablation
  const base = c.baselineIndex === null ? undefined : costs[c.baselineIndex]
  const cost = (i: number, pick: (g: GroupCost) => Range, f: (x: number) => string): Cell => {
    const own = costs[i]
    return own ? costCell(pick(own), base && pick(base), f) : '–'
  }
  return {
    header: [...c.by.map(shortField), 'runs', 'params', 'MACs / image', 'training memory'],
    numeric: [...c.by.map(() => false), true, true, true, true],
    rows: c.groups.map((g, i) => [
      ...groupCells(report, g),
      cost(i, (x) => x.params, int),
      cost(i, (x) => x.macs, int),
      cost(i, (x) => x.trainMemory, bytes),
    ]),
  }
}

/** The sentences a reader needs before the ablation table: baseline, noise, what is averaged. */
export function ablationNotes(report: Report): string[] {
  const c = report.ablation.comparison
  const baseline = c.baselineIndex === null ? null : c.groups[c.baselineIndex]
  const averaged = c.averagedOver.map(shortField)
  return [
    baseline
      ? `Baseline: ${baseline.label}. Each row is the runs that share every config field that varies here${averaged.length > 0 ? `, averaged over ${averaged.join(', ')}` : ''}; final test accuracy is the mean ± sample standard deviation with its 95% confidence interval (Student t). Δ is the row minus the baseline, paired by seed where the runs differ in nothing else (else Welch), with p-values Holm-adjusted across this table; a verdict needs an adjusted p below 0.05.`
      : 'No runs to compare.',
    noiseWords(c),
    '¹ Wall-clock time per epoch of these runs, from different sittings and whatever else the machine was running: no Δ, and no conclusion about speed (measure speed in one sitting with the interleaved benchmark).',
  ]
}

export function diffTable(report: Report): Table {
  const names = displayNames(report.runs)
  return {
    header: ['field', ...report.runs.map((r) => names.get(r.id) ?? r.name)],
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
    header: EPOCH_TABLE_HEADER,
    numeric: [true, true, true, true, true, true, true, false],
    rows: run.epochs.map((e) => [
      String(e.epoch),
      e.trainLoss.toFixed(4),
      pct(e.trainAcc),
      e.testLoss.toFixed(4),
      pct(e.testAcc),
      e.seconds.toFixed(1),
      int(e.examplesPerSec),
      loadText(e.load),
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
