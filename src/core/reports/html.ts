/**
 * The HTML report: one self-contained file — inline CSS, charts as inline SVG, no scripts and
 * no reference to anything outside the file — readable offline, printable to PDF, safe to mail.
 */
import type { Report } from '@shared/report'
import type { ReportChart } from './charts'
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
import { escapeHtml, REPORT_CSP, visibleText } from '@shared/security'
import type { ExerciseAnswer } from '@shared/exercise-answer'
import { answerParts } from './answer'

/** Text for HTML: invisible characters made visible (user text), then HTML-escaped. */
const e = (text: string): string => escapeHtml(visibleText(text))

const CSS = `
body { font: 14px/1.45 "DejaVu Sans", Helvetica, Arial, sans-serif; color: #1b1f24; margin: 32px auto; max-width: 1040px; padding: 0 16px; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #d9dee4; padding-bottom: 4px; }
h3 { font-size: 15px; margin-top: 24px; } .meta { color: #5b6470; margin: 2px 0; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border-bottom: 1px solid #e3e7ec; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f5f7fa; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { min-width: 5em; white-space: nowrap; }
table[data-table="ablation"] td:not(.num) { min-width: 12em; }
figure { margin: 12px 0 24px; break-inside: avoid; }
.runs { break-before: page; } .notes { white-space: pre-line; }
@page { size: A4; margin: 14mm; }
@media print {
  body { margin: 0; max-width: none; padding: 0; font-size: 12px; }
  tr, td, th { break-inside: avoid; } thead { display: table-header-group; }
  h2, h3 { break-after: avoid; } table { font-size: 11px; }
  figure svg { max-width: 100%; height: auto; }
}
`

/** A cell's lines, each escaped, joined by line breaks of our own (never escaped as text). */
const cell = (c: Cell): string => cellLines(c).map(e).join('<br>')

function table(t: Table, testId: string): string {
  const cls = (i: number): string => (t.numeric[i] ? ' class="num"' : '')
  return (
    `<table data-table="${e(testId)}"><thead><tr>${t.header.map((h, i) => `<th${cls(i)}>${e(h)}</th>`).join('')}</tr></thead>` +
    `<tbody>${t.rows.map((r) => `<tr>${r.map((c, i) => `<td${cls(i)}>${cell(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`
  )
}

export function renderHtml(report: Report, charts: readonly ReportChart[]): string {
  const parts: string[] = []
  parts.push(`<h1>${e(report.title)}</h1>`)
  parts.push(
    `<p class="meta">${e(new Date(report.createdAt).toUTCString())} · ${e(report.generator)} · ${report.runs.length} runs</p>`,
  )
  for (const line of environmentLines(report)) parts.push(`<p class="meta">${e(line)}</p>`)
  if (report.answer) parts.push(answerHtml(report.answer))

  parts.push('<h2>Runs</h2>', table(runsTable(report), 'runs'))
  if (report.ablation.comparison.groups.length > 1) {
    parts.push('<h2>Ablation</h2>')
    for (const note of ablationNotes(report)) parts.push(`<p class="meta">${e(note)}</p>`)
    parts.push(table(ablationTable(report), 'ablation'))
    parts.push('<h3>Cost of each group</h3>', table(ablationCostTable(report), 'ablation-cost'))
  }
  if (charts.length > 0) {
    parts.push('<h2>Curves</h2>')
    for (const c of charts)
      // The chart draws its own title: a caption would only repeat it.
      parts.push(`<figure data-chart="${e(c.id)}" aria-label="${e(c.title)}">${c.svg}</figure>`)
  }
  parts.push('<h2>Config differences</h2>')
  parts.push(
    report.configDiff.length > 0
      ? table(diffTable(report), 'diff')
      : '<p>All runs share one config.</p>',
  )

  parts.push('<div class="runs"><h2>Run details</h2>')
  for (const run of report.runs) {
    parts.push(
      `<h3>${e(run.name)} <span class="meta">(${e(run.id)}, ${e(run.experiment)}, ${e(run.status)})</span></h3>`,
    )
    for (const line of runCaveats(run)) parts.push(`<p class="meta">${e(line)}</p>`)
    if (run.notes)
      parts.push(`<p class="notes">${escapeHtml(visibleText(run.notes, { multiline: true }))}</p>`)
    if (run.tags.length > 0) parts.push(`<p class="meta">tags: ${e(run.tags.join(', '))}</p>`)
    if (run.epochs.length > 0) parts.push(table(epochTable(run), `epochs:${run.id}`))
    const perClass = perClassTable(run)
    if (perClass) parts.push(table(perClass, `per-class:${run.id}`))
    parts.push(table(layerTableOf(run), `layers:${run.id}`))
  }
  parts.push('</div>')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}">
<title>${e(report.title)}</title><style>${CSS}</style></head>
<body>
${parts.join('\n')}
</body></html>
`
}

/** An exercise's answer, first in the report (exportExerciseAnswer). */
function answerHtml(a: ExerciseAnswer): string {
  const html = answerParts(a).map((p) => {
    switch (p.kind) {
      case 'heading':
        return `<h3>${e(p.text)}</h3>`
      case 'paragraph':
        return `<p>${e(p.text)}</p>`
      case 'list':
        return `<ul>${p.items.map((i) => `<li>${e(i)}</li>`).join('')}</ul>`
      case 'table':
        return table(p.table, p.id)
    }
  })
  return `<section data-section="answer"><h2>Answer</h2>${html.join('\n')}</section>`
}
