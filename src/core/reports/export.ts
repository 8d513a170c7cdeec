/**
 * Writes a report in one format. HTML and PDF are one file; Markdown is a file with its charts as
 * PNGs beside it (`<name>-<chart>.png`); CSV is two files, `<name>-runs.csv` and
 * `<name>-metrics.csv` (or `<name>.csv` and `<name>-metrics.csv` when OUT ends in .csv); JSON is
 * the report document itself. Files are written to a temporary name and renamed, so a failed
 * export never leaves a half-written file behind.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { basename, dirname, extname, join } from 'node:path'
import { Resvg } from '@resvg/resvg-js'
import type { Report } from '@shared/report'
import { reportCharts } from './charts'
import { metricsCsv, runsCsv } from './csv'
import { renderHtml } from './html'
import { renderMarkdown } from './markdown'
import { htmlToPdf } from './pdf'

export const EXPORT_FORMATS = ['html', 'md', 'csv', 'json', 'pdf'] as const
export type ExportFormat = (typeof EXPORT_FORMATS)[number]

function writeAtomic(path: string, data: string | Buffer): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`)
  writeFileSync(tmp, data)
  renameSync(tmp, path)
}

export const svgToPng = (svg: string): Buffer =>
  Buffer.from(
    new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, background: '#ffffff' }).render().asPng(),
  )

/** Writes the report; returns every file written. */
export function exportReport(report: Report, format: ExportFormat, out: string): string[] {
  mkdirSync(dirname(out) || '.', { recursive: true })
  const stem = out.slice(0, out.length - extname(out).length)
  switch (format) {
    case 'html':
      writeAtomic(out, renderHtml(report, reportCharts(report)))
      return [out]
    case 'json':
      writeAtomic(out, JSON.stringify(report, null, 1) + '\n')
      return [out]
    case 'csv': {
      const runsFile = extname(out) === '.csv' ? out : `${stem}-runs.csv`
      const metricsFile = `${stem}-metrics.csv`
      writeAtomic(runsFile, runsCsv(report))
      writeAtomic(metricsFile, metricsCsv(report))
      return [runsFile, metricsFile]
    }
    case 'md': {
      const charts = reportCharts(report).map((c) => ({
        ...c,
        file: `${basename(stem)}-${c.id}.png`,
      }))
      for (const c of charts) writeAtomic(join(dirname(out), c.file), svgToPng(c.svg))
      writeAtomic(out, renderMarkdown(report, charts))
      return [out, ...charts.map((c) => join(dirname(out), c.file))]
    }
    case 'pdf': {
      const tmp = join(dirname(out), `.${basename(out)}.tmp-${process.pid}.pdf`)
      try {
        htmlToPdf(renderHtml(report, reportCharts(report)), tmp)
        renameSync(tmp, out)
      } finally {
        rmSync(tmp, { force: true })
      }
      return [out]
    }
  }
}
