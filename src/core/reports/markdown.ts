/** The Markdown report: the HTML report's tables, with the charts as PNG files beside it. */
import type { Report } from '@shared/report'
import {
  ablationCostTable,
  ablationNotes,
  ablationTable,
  cellLines,
  diffTable,
  environmentLines,
  epochTable,
  layerTableOf,
  perClassTable,
  runsTable,
  type Cell,
  type Table,
  runCaveats,
} from './tables'
import { escapeMarkdown as m } from './text'
import type { ExerciseAnswer } from '@shared/exercise-answer'
import { answerParts } from './answer'

function table(t: Table): string {
  // A cell's lines side by side: a Markdown table cell is one line.
  const cell = (c: Cell): string => cellLines(c).filter(Boolean).map(m).join(' ')
  const row = (cells: readonly Cell[]): string => `| ${cells.map(cell).join(' | ')} |`
  return [
    row(t.header),
    `|${t.numeric.map((n) => (n ? '---:' : '---')).join('|')}|`,
    ...t.rows.map(row),
  ].join('\n')
}

/** `charts`: the chart ids and the PNG file names written beside the Markdown file. */
export function renderMarkdown(
  report: Report,
  charts: readonly { title: string; file: string }[],
): string {
  const out: string[] = []
  out.push(`# ${m(report.title)}`, '')
  out.push(
    `${m(new Date(report.createdAt).toUTCString())} · ${m(report.generator)} · ${report.runs.length} runs`,
    '',
  )
  for (const line of environmentLines(report)) out.push(`- ${m(line)}`)
  if (report.answer) out.push('', ...answerMarkdown(report.answer))
  out.push('', '## Runs', '', table(runsTable(report)), '')
  if (report.ablation.comparison.groups.length > 1) {
    out.push('## Ablation', '')
    for (const note of ablationNotes(report)) out.push(m(note), '')
    out.push(table(ablationTable(report)), '')
    out.push('### Cost of each group', '', table(ablationCostTable(report)), '')
  }
  if (charts.length > 0) {
    out.push('## Curves', '')
    for (const c of charts) out.push(`![${m(c.title)}](${encodeURI(c.file)})`, '')
  }
  out.push('## Config differences', '')
  out.push(
    report.configDiff.length > 0 ? table(diffTable(report)) : 'All runs share one config.',
    '',
  )
  out.push('## Run details', '')
  for (const run of report.runs) {
    out.push(`### ${m(run.name)} (${m(run.id)}, ${m(run.experiment)}, ${m(run.status)})`, '')
    for (const line of runCaveats(run)) out.push(m(line), '')
    if (run.notes) out.push(m(run.notes), '')
    if (run.tags.length > 0) out.push(`Tags: ${m(run.tags.join(', '))}`, '')
    if (run.epochs.length > 0) out.push(table(epochTable(run)), '')
    const perClass = perClassTable(run)
    if (perClass) out.push(table(perClass), '')
    out.push(table(layerTableOf(run)), '')
  }
  return out.join('\n')
}

/** An exercise's answer, first in the report (exportExerciseAnswer). */
function answerMarkdown(a: ExerciseAnswer): string[] {
  const out = ['## Answer', '']
  for (const p of answerParts(a)) {
    if (p.kind === 'heading') out.push(`### ${m(p.text)}`, '')
    else if (p.kind === 'paragraph') out.push(m(p.text), '')
    else if (p.kind === 'list') out.push(...p.items.map((i) => `- ${m(i)}`), '')
    else out.push(table(p.table), '')
  }
  return out
}
