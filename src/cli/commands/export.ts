/** `nin-lab export`: a comparison of runs as HTML, Markdown, CSV, JSON or PDF. */
import { basename, dirname, extname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { REPORT_FORMATS, type ExportedFile, type ReportFormat } from '@shared/api/contract'
import { checkTarget, writeFilesSafely } from '@core/files'
import { withCore } from '../core'
import { UsageError } from '../errors'

export const exportHelp = `Usage: nin-lab export ID... --out PATH [--format html|md|csv|json|pdf] [--title T] [--data-dir D]

Writes a report comparing the runs: environment, ablation tables for every config field that
varies (Δ params, MACs, memory, time per epoch, final test accuracy; mean ± std over seeds),
curves, the config diff, and each run's layer table and per-class accuracy. The format comes
from --format, else from PATH's extension.
html: one self-contained file · md: Markdown + PNG charts beside it · csv: PATH (runs) and
PATH-metrics.csv (long format) · json: everything, with a schema version · pdf: via Chromium.`

const isFormat = (s: string): s is ReportFormat => (REPORT_FORMATS as readonly string[]).includes(s)

/** --format, else the extension of --out (`report.html` → html). */
function formatOf(flag: string | undefined, out: string): ReportFormat {
  const given = flag?.toLowerCase()
  if (given !== undefined) {
    if (isFormat(given)) return given
    throw new UsageError(`--format must be one of ${REPORT_FORMATS.join(', ')} (got ${flag})`)
  }
  const ext = extname(out).slice(1).toLowerCase()
  if (isFormat(ext)) return ext
  throw new UsageError(
    `--format is needed: ${out} does not end in ${REPORT_FORMATS.map((f) => `.${f}`).join(', ')}`,
  )
}

/**
 * Writes the exported files into the folder of `out`. The core named them after `out`'s file
 * name (the report itself, and siblings such as `<name>-metrics.csv` or chart PNGs). Through
 * writeFilesSafely: only regular files are replaced, all or none, no temporary file left.
 */
function writeFiles(out: string, files: readonly ExportedFile[]): string[] {
  const dir = dirname(out)
  const written = files.map((file) => ({
    path: join(dir, basename(file.name)),
    data: Buffer.from(file.base64, 'base64'),
  }))
  writeFilesSafely(written, { createFolder: true })
  return written.map((f) => f.path)
}

export async function exportCommand(argv: string[]): Promise<number> {
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
  const out = values.out
  if (!out) throw new UsageError('--out PATH is required: where to write the report')
  const format = formatOf(values.format, out)
  // Before the core renders anything: a path that cannot take the report fails at once.
  checkTarget(out)
  const { files } = await withCore(values['data-dir'], (core) =>
    core.api.exportReport({
      ids: positionals,
      format,
      title: values.title,
      fileName: basename(out),
    }),
  )
  for (const path of writeFiles(out, files)) console.log(path)
  return 0
}
