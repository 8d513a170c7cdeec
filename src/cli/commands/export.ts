/** `nin-lab export`: a comparison of runs as HTML, Markdown, CSV, JSON or PDF. */
import { basename, dirname, extname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { REPORT_FORMATS, type ExportedFile, type ReportFormat } from '@shared/api/contract'
import { checkTarget, writeFilesSafely } from '@core/files'
import { withCore } from '../core'
import { runIdsOf } from '../run-ids'
import { UsageError } from '../errors'

export const exportHelp = `Usage: nin-lab export [ID...] [--experiment NAME ...] --out PATH [--format html|md|csv|json|pdf]
                     [--title T] [--data-dir D]

Writes a report comparing the runs: environment, the ablation (runs grouped by every config
field that varies; each group's final test accuracy as n, mean ± std and 95% CI, its difference
from the baseline with 95% CI, paired or Welch, Holm-adjusted p and a verdict against seed noise;
costs with their Δ; wall-clock time per epoch, never compared), curves, the config diff, and each
run's layer table and per-class accuracy (\`nin-lab compare\` prints the statistics alone). --experiment NAME
takes every run of that experiment (repeatable, and with IDs). The format comes from --format,
else from PATH's extension.
html: one self-contained file · md: Markdown + PNG charts beside it · csv: PATH (runs),
PATH-metrics.csv (long format) and PATH-groups.csv (the ablation's statistics) · json:
everything, with a schema version · pdf: via Chromium.`

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
      experiment: { type: 'string', multiple: true },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(exportHelp)
    return 0
  }
  const experiments = values.experiment ?? []
  if (positionals.length === 0 && experiments.length === 0)
    throw new UsageError(
      'export needs run IDs or --experiment NAME (see `nin-lab ls`, which lists both)',
    )
  const out = values.out
  if (!out) throw new UsageError('--out PATH is required: where to write the report')
  const format = formatOf(values.format, out)
  // Before the core renders anything: a path that cannot take the report fails at once.
  checkTarget(out)
  const { files } = await withCore(
    values['data-dir'],
    async (core) => {
      const unique = await runIdsOf(core, positionals, experiments)
      return core.api.exportReport({
        ids: unique,
        format,
        title: values.title,
        fileName: basename(out),
      })
    },
    // Export only reads the store: it works on a data folder this user may only read.
    { readonly: true },
  )
  for (const path of writeFiles(out, files)) console.log(path)
  return 0
}
