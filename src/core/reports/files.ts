/**
 * A report as files for a client to save: the API's `exportReport`. The core renders into a
 * private temporary folder and hands back every file's bytes; where they are saved is the
 * client's choice (a save dialog, a browser download, the CLI's --out), never a path a request
 * names on this machine.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, extname, join } from 'node:path'
import { ApiError, type ExportedFile, type Params } from '@shared/api/contract'
import type { RunStore } from '../store'
import { buildReport } from './build'
import { exportReport } from './export'
import { PdfUnavailableError } from './pdf'

const MIME_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html',
  '.md': 'text/markdown',
  '.csv': 'text/csv',
  '.json': 'application/json',
  '.pdf': 'application/pdf',
  '.png': 'image/png',
}

export function reportFiles(store: RunStore, p: Params<'exportReport'>): { files: ExportedFile[] } {
  if (p.ids.length === 0) throw new ApiError('invalid-params', 'ids must name at least one run')
  const report = buildReport(store, p.ids, { title: p.title })
  const name = p.fileName ?? `nin-lab-report-${report.createdAt.slice(0, 10)}.${p.format}`
  const dir = mkdtempSync(join(tmpdir(), 'nin-lab-export-'))
  try {
    let written: string[]
    try {
      written = exportReport(report, p.format, join(dir, basename(name)))
    } catch (err) {
      if (err instanceof PdfUnavailableError) throw new ApiError('unavailable', err.message)
      throw err
    }
    return {
      files: written.map((file) => ({
        name: basename(file),
        mimeType: MIME_TYPES[extname(file)] ?? 'application/octet-stream',
        base64: readFileSync(file).toString('base64'),
      })),
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
