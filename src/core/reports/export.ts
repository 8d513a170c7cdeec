/**
 * Writes a report in one format. HTML and PDF are one file; Markdown is a file with its charts as
 * PNGs beside it (`<name>-<chart>.png`); CSV is three files, `<name>-runs.csv`,
 * `<name>-metrics.csv` and `<name>-groups.csv` (the runs file is `<name>.csv` when OUT ends in
 * .csv); JSON is
 * the report document itself. Every file goes through writeFilesSafely (../files.ts): only a
 * regular file is ever replaced, and a failed export leaves no file half-written and no
 * temporary file behind.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, extname, join } from 'node:path'
import { Resvg } from '@resvg/resvg-js'
import type { Report } from '@shared/report'
import { checkTarget, writeFilesSafely, type FileToWrite } from '../files'
import { reportCharts } from './charts'
import { groupsCsv, metricsCsv, runsCsv } from './csv'
import { renderHtml } from './html'
import { renderMarkdown } from './markdown'
import { htmlToPdf } from './pdf'

export const EXPORT_FORMATS = ['html', 'md', 'csv', 'json', 'pdf'] as const
export type ExportFormat = (typeof EXPORT_FORMATS)[number]

export const svgToPng = (svg: string): Buffer =>
  Buffer.from(
    new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, background: '#ffffff' }).render().asPng(),
  )

/** The PDF, made by Chromium in a private folder of ours (it writes where it is told). */
function pdfBytes(html: string): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'nin-lab-pdf-out-'))
  try {
    const file = join(dir, 'report.pdf')
    htmlToPdf(html, file)
    return readFileSync(file)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The files of a report in one format, not yet written. */
function reportFiles(report: Report, format: ExportFormat, out: string): FileToWrite[] {
  const stem = out.slice(0, out.length - extname(out).length)
  switch (format) {
    case 'html':
      return [{ path: out, data: renderHtml(report, reportCharts(report)) }]
    case 'json':
      return [{ path: out, data: JSON.stringify(report, null, 1) + '\n' }]
    case 'csv':
      return [
        { path: extname(out) === '.csv' ? out : `${stem}-runs.csv`, data: runsCsv(report) },
        { path: `${stem}-metrics.csv`, data: metricsCsv(report) },
        { path: `${stem}-groups.csv`, data: groupsCsv(report) },
      ]
    case 'md': {
      const charts = reportCharts(report).map((c) => ({
        ...c,
        file: `${basename(stem)}-${c.id}.png`,
      }))
      return [
        { path: out, data: renderMarkdown(report, charts) },
        ...charts.map((c) => ({ path: join(dirname(out), c.file), data: svgToPng(c.svg) })),
      ]
    }
    case 'pdf':
      return [{ path: out, data: pdfBytes(renderHtml(report, reportCharts(report))) }]
  }
}

/** Writes the report (creating OUT's folder when needed); returns every file written. */
export function exportReport(report: Report, format: ExportFormat, out: string): string[] {
  // Before rendering, which for a PDF takes a while: a path that cannot be written fails fast.
  checkTarget(out)
  const files = reportFiles(report, format, out)
  writeFilesSafely(files, { createFolder: true })
  return files.map((f) => f.path)
}
