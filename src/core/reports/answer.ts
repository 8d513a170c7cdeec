/**
 * An exercise's answer as report tables and paragraphs (plain text cells; the HTML and Markdown
 * writers escape them), shown before the rest of the report: the question, the table that answers
 * it, the comparisons with the baseline, caveats, conclusions, what the scale changes and the
 * analytic costs at the chosen scale and at d2l's.
 */
import type { AnalyticRow } from '@shared/exercises'
import type { ExerciseAnswer } from '@shared/exercise-answer'
import { bytes, int, si } from '@shared/format'
import { VERDICT_TEXT, type Interval } from '@shared/statistics'
import type { Table } from './tables'

const pctOf = (x: number | null): string => (x === null ? '–' : `${(x * 100).toFixed(2)}%`)
const ppOf = (x: number | null): string =>
  x === null ? '–' : `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(2)} pp`
const ciOf = (ci: Interval | null, pp = false): string =>
  ci === null
    ? '–'
    : `${(ci[0] * 100).toFixed(2)} to ${(ci[1] * 100).toFixed(2)}${pp ? ' pp' : '%'}`

/** Per variant: runs, n, mean ± std and 95% CI of final test accuracy, health. */
export function answerGroupsTable(a: ExerciseAnswer): Table {
  return {
    header: [
      'variant',
      'n',
      'final test acc (mean)',
      'std',
      '95% CI',
      'at chance',
      'not converged',
      'open',
    ],
    numeric: [false, true, true, true, true, true, true, true],
    rows: a.groups.map((g) => [
      g.variant === a.baseline ? `${g.label} (baseline)` : g.label,
      String(g.finalTestAcc.n),
      pctOf(g.finalTestAcc.mean),
      g.finalTestAcc.std === null ? '–' : `${(g.finalTestAcc.std * 100).toFixed(2)} pp`,
      ciOf(g.finalTestAcc.ci95),
      String(g.health.chance),
      String(g.health.notConverged),
      String(g.open),
    ]),
  }
}

/** Each variant against the baseline: Δ, its 95% CI, paired or Welch, Holm-adjusted p, verdict. */
export function answerComparisonsTable(a: ExerciseAnswer): Table {
  return {
    header: ['variant', 'Δ vs baseline', '95% CI', 'test', 'p (Holm)', 'verdict'],
    numeric: [false, true, true, false, true, false],
    rows: a.comparisons.map((c) => [
      c.label,
      ppOf(c.diff),
      ciOf(c.ci95, true),
      c.paired ? 'paired by seed' : 'Welch',
      c.pAdjusted === null ? '–' : c.pAdjusted.toPrecision(2),
      VERDICT_TEXT[c.verdict],
    ]),
  }
}

/** The analytic costs of each variant (params, MACs, memory to train and to predict). */
export function analyticTable(rows: readonly AnalyticRow[]): Table {
  return {
    header: [
      'variant',
      'input',
      'last map',
      'params',
      'MACs / image',
      'training memory',
      'prediction memory (batch)',
      'prediction (1 image)',
      'batch',
    ],
    numeric: [false, true, false, true, true, true, true, true, true],
    rows: rows.map((r) => [
      r.label,
      `${r.inputSize} px`,
      r.lastMap,
      int(r.params),
      si(r.macs),
      bytes(r.trainMemoryBytes),
      bytes(r.predictMemoryBytes),
      bytes(r.predictMemoryPerImageBytes),
      String(r.batchSize),
    ]),
  }
}

/** The measured peaks beside the count (exercise 4), or null when nothing was measured. */
export function memoryTable(a: ExerciseAnswer): Table | null {
  const m = a.memory
  const row = a.analytic.scale.find((r) => r.inputSize === m?.inputSize) ?? a.analytic.scale[0]
  if (!m || !row) return null
  return {
    header: [
      '',
      'counted',
      `measured (${m.engine} ${m.backend}, ${m.source})`,
      'measured / counted',
    ],
    numeric: [false, true, true, true],
    rows: [
      [
        'training step',
        bytes(row.trainMemoryBytes),
        bytes(m.trainPeakBytes),
        (m.trainPeakBytes / row.trainMemoryBytes).toFixed(2),
      ],
      [
        'prediction',
        bytes(row.predictMemoryBytes),
        bytes(m.predictPeakBytes),
        (m.predictPeakBytes / row.predictMemoryBytes).toFixed(2),
      ],
    ],
  }
}

/** The answer's sections in order, for a writer to render: headings, paragraphs, lists, tables. */
export type AnswerPart =
  | { readonly kind: 'heading'; readonly text: string }
  | { readonly kind: 'paragraph'; readonly text: string }
  | { readonly kind: 'list'; readonly items: readonly string[] }
  | { readonly kind: 'table'; readonly id: string; readonly table: Table }

export function answerParts(a: ExerciseAnswer): AnswerPart[] {
  const noise =
    a.noise === null
      ? 'no estimate of seed noise yet (every group has fewer than 2 finished runs)'
      : `seed-to-seed noise (pooled std of final test accuracy): ${(a.noise * 100).toFixed(2)} pp`
  const parts: AnswerPart[] = [
    { kind: 'heading', text: `Exercise ${a.exercise}: ${a.title}` },
    { kind: 'paragraph', text: a.question },
    {
      kind: 'paragraph',
      text: `Scale ${a.preset}; experiment “${a.experiment}”; ${a.runs.completed} of ${a.runs.total} runs finished; ${noise}.`,
    },
    { kind: 'heading', text: 'Conclusions' },
    { kind: 'list', items: a.conclusions },
  ]
  if (a.caveats.length > 0)
    parts.push({ kind: 'heading', text: 'Caveats' }, { kind: 'list', items: a.caveats })
  parts.push({ kind: 'table', id: 'answer-groups', table: answerGroupsTable(a) })
  if (a.comparisons.length > 0) {
    parts.push({ kind: 'table', id: 'answer-comparisons', table: answerComparisonsTable(a) })
  }
  const memory = memoryTable(a)
  if (memory)
    parts.push(
      { kind: 'heading', text: 'Measured memory' },
      { kind: 'table', id: 'answer-memory', table: memory },
    )
  parts.push(
    { kind: 'heading', text: 'What the scale changes' },
    { kind: 'list', items: a.scaleNotes },
  )
  // At d2l's own scale the two cost tables would be the same table twice.
  if (a.scale !== '224') {
    parts.push(
      { kind: 'heading', text: `Costs at ${a.preset}` },
      { kind: 'table', id: 'answer-costs-scale', table: analyticTable(a.analytic.scale) },
    )
  }
  parts.push(
    { kind: 'heading', text: 'Costs at d2l’s scale (224 px)' },
    { kind: 'table', id: 'answer-costs-d2l', table: analyticTable(a.analytic.d2l) },
  )
  return parts
}
