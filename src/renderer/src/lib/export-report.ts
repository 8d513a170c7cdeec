/**
 * Exports a report of runs (Compare → Export). The core renders every format; in the desktop app
 * the files are saved through a native save dialog and PDFs are printed by Electron itself, in a
 * browser they are downloaded.
 */
import type { ExportedFile, ReportFormat } from '@shared/api/contract'
import { api } from '../api'
import { downloadBlob } from './download'

const bytesOf = (base64: string): Uint8Array<ArrayBuffer> => {
  const bin = atob(base64)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}

/** Returns where the files went: paths (desktop), names (downloads), or null if cancelled. */
export async function exportRuns(
  ids: readonly string[],
  format: ReportFormat,
): Promise<string[] | null> {
  const desktop = window.ninLab?.files
  if (desktop) {
    if (format === 'pdf') {
      // Electron prints the HTML report itself: no Chromium needed beside the app.
      const { files } = await api.exportReport({ ids: [...ids], format: 'html' })
      const html = files[0]
      if (!html) throw new Error('the core returned no report')
      const pdf = await desktop.printPdf(
        new TextDecoder().decode(bytesOf(html.base64)),
        html.name.replace(/\.html$/, '.pdf'),
      )
      return desktop.save([pdf])
    }
    const { files } = await api.exportReport({ ids: [...ids], format })
    return desktop.save(files)
  }
  const { files } = await api.exportReport({ ids: [...ids], format })
  files.forEach((f: ExportedFile) =>
    downloadBlob(new Blob([bytesOf(f.base64)], { type: f.mimeType }), f.name),
  )
  return files.map((f) => f.name)
}
