/** `nin-lab export`: a comparison of runs as HTML, Markdown, CSV, JSON or PDF. */
import { parseArgs } from 'node:util'
import { resolveDataDir } from '@core/paths'
import { buildReport } from '@core/reports/build'
import { EXPORT_FORMATS, exportReport, type ExportFormat } from '@core/reports/export'
import { PdfUnavailableError } from '@core/reports/pdf'
import { RunStore } from '@core/store'
import { UsageError } from '../errors'

export const exportHelp = `Usage: nin-lab export ID... --format html|md|csv|json|pdf --out PATH [--title T] [--data-dir D]

Writes a report comparing the runs: environment, ablation tables for every config field that
varies (Δ params, MACs, memory, time per epoch, final test accuracy; mean ± std over seeds),
curves, the config diff, and each run's layer table and per-class accuracy.
html: one self-contained file · md: Markdown + PNG charts beside it · csv: PATH (runs) and
PATH-metrics.csv (long format) · json: everything, with a schema version · pdf: via Chromium.`

export function exportCommand(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: 'string' },
      out: { type: 'string' },
      title: { type: 'string' },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(exportHelp)
    return 0
  }
  if (positionals.length === 0)
    throw new UsageError('export needs at least one run ID (see `nin-lab ls`)')
  const format = values.format as ExportFormat | undefined
  if (!format || !EXPORT_FORMATS.includes(format)) {
    throw new UsageError(
      `--format must be one of ${EXPORT_FORMATS.join(', ')} (got ${values.format ?? 'nothing'})`,
    )
  }
  if (!values.out) throw new UsageError('--out PATH is required: where to write the report')
  const store = RunStore.open(resolveDataDir(values['data-dir']))
  try {
    const report = buildReport(store, positionals, { title: values.title })
    let files: string[]
    try {
      files = exportReport(report, format, values.out)
    } catch (err) {
      if (err instanceof PdfUnavailableError) throw new UsageError(err.message)
      throw err
    }
    for (const f of files) console.log(f)
    return 0
  } finally {
    store.close()
  }
}
