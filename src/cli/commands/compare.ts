/**
 * `nin-lab compare`: the runs grouped by every config field that varies, each group's final test
 * accuracy with n, std and 95% CI, and each group against a baseline (paired by seed or Welch,
 * Holm-adjusted) with a verdict against seed noise — the statistics of src/shared/comparison.ts,
 * through the core's `compareRuns`.
 */
import { parseArgs } from 'node:util'
import {
  comparisonWords,
  healthWords,
  mixesWords,
  noiseWords,
  pText,
  pp,
  ppInterval,
  ppSigned,
  shortField,
  valueLabel,
  type Comparison,
} from '@shared/comparison'
import { parseOverride } from '@shared/config/overrides'
import { pct } from '@shared/format'
import { VERDICT_TEXT } from '@shared/statistics'
import { terminalText as t } from '@shared/security'
import { withCore } from '../core'
import { UsageError } from '../errors'
import { table } from '../format'
import { runIdsOf } from '../run-ids'

export const compareHelp = `Usage: nin-lab compare (--experiment NAME | ID...) [--by FIELD[,FIELD]]
                      [--average-over FIELD[,FIELD]] [--baseline FIELD=VALUE] [--json] [--data-dir D]

Groups the runs by every config field that varies among them (fields that do not apply to a
run, such as model.fcFrom under a GAP head, never split it), and prints each group's final test
accuracy (n, mean ± std, 95% CI) and its difference from the baseline: 95% CI, paired by seed
where the runs differ in nothing else (else Welch), p Holm-adjusted across the table, and a
verdict: larger than seed noise, within seed noise, or one seed: no estimate of noise.
--by groups by these fields only; the others are averaged over and each group names them.
--average-over averages over these fields on purpose. --baseline picks the group every other
is compared with (default: the d2l setting, 2 micro convs, 1x1, GAP; else the first group).
--json prints { by, averagedOver, noise, groups, baselineIndex, comparisons }.`

const fields = (values: readonly string[] | undefined): string[] | undefined =>
  values
    ?.flatMap((v) => v.split(','))
    .map((f) => f.trim())
    .filter(Boolean)

function baselineOf(text: string | undefined): { field: string; value: unknown } | undefined {
  if (text === undefined) return undefined
  const parsed = parseOverride(text)
  if ('message' in parsed) {
    throw new UsageError(`--baseline ${text}: expected FIELD=VALUE, e.g. --baseline model.head=gap`)
  }
  return { field: parsed.path, value: parsed.value }
}

/** The comparison as a table a person reads, then the noise and the caveats. */
export function comparisonText(c: Comparison): string {
  if (c.groups.length === 0) return 'No runs to compare.'
  const byGroup = new Map(c.comparisons.map((x) => [x.otherIndex, x]))
  const header = [
    ...c.by.map(shortField),
    'n',
    'final test acc',
    'std',
    '95% CI',
    'Δ vs baseline',
    '95% CI of Δ',
    'test',
    'Holm p',
    'verdict',
  ]
  const rows = c.groups.map((g, i) => {
    const x = byGroup.get(i)
    const s = g.finalTestAcc
    return [
      ...c.by.map((f) => (Object.hasOwn(g.key, f) ? valueLabel(g.key[f]) : 'n/a')),
      g.n === g.runIds.length ? String(g.n) : `${g.n}/${g.runIds.length}`,
      pct(s.mean),
      pp(s.std),
      s.ci95 ? `${pct(s.ci95[0])} to ${pct(s.ci95[1])}` : '—',
      x ? ppSigned(x.diff) : 'baseline',
      x ? ppInterval(x.ci95) : '',
      x ? (x.pAdjusted === null ? '—' : x.paired ? 'paired' : 'Welch') : '',
      x ? pText(x.pAdjusted) : '',
      x ? VERDICT_TEXT[x.verdict] : '',
    ]
  })
  const align = header.map((_, i) => (i >= c.by.length && i < header.length - 1 ? 'right' : 'left'))
  const averaged = c.averagedOver.map(shortField)
  const base = c.baselineIndex === null ? null : c.groups[c.baselineIndex]
  const lines = [
    `Grouped by ${c.by.map(shortField).join(', ') || 'nothing (one setting)'}` +
      `${averaged.length > 0 ? `, averaged over ${averaged.join(', ')}` : ''}; baseline: ${base?.label ?? '—'}.`,
    '',
    table(header, rows, align),
    '',
    noiseWords(c),
  ]
  const caveats = c.groups.flatMap((g) =>
    [healthWords(g), mixesWords(g)]
      .filter((w): w is string => w !== null)
      .map((w) => `  ${t(g.label)}: ${w}`),
  )
  if (caveats.length > 0) lines.push('Caveats:', ...caveats)
  lines.push(
    '',
    ...c.comparisons.map((x) => `${t(x.other)} vs ${t(x.baseline)}: ${comparisonWords(x)}`),
  )
  return lines.join('\n')
}

export async function compareCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      experiment: { type: 'string', multiple: true },
      by: { type: 'string', multiple: true },
      'average-over': { type: 'string', multiple: true },
      baseline: { type: 'string' },
      json: { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(compareHelp)
    return 0
  }
  const experiments = values.experiment ?? []
  if (positionals.length === 0 && experiments.length === 0)
    throw new UsageError('compare needs run IDs or --experiment NAME (see `nin-lab ls`)')
  const baseline = baselineOf(values.baseline)
  const comparison = await withCore(
    values['data-dir'],
    async (core) =>
      core.api.compareRuns({
        ids: await runIdsOf(core, positionals, experiments),
        by: fields(values.by),
        averageOver: fields(values['average-over']),
        baseline,
      }),
    { readonly: true },
  )
  console.log(values.json ? JSON.stringify(comparison, null, 1) : comparisonText(comparison))
  return 0
}
