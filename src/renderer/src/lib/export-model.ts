/**
 * Downloads a run's trained model (Run detail → Download model). The core exports it (a trainer
 * process does the work); the desktop app saves the files through its save dialog, a browser
 * downloads them.
 */
import type { ExportedFile, ModelFormat } from '@shared/api/contract'
import { api } from '../api'
import { downloadBlob } from './download'

const bytesOf = (base64: string): Uint8Array<ArrayBuffer> => {
  const bin = atob(base64)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}

/** Returns where the files went: paths (desktop), names (downloads), or null if cancelled. */
export async function downloadModel(id: string, format: ModelFormat): Promise<string[] | null> {
  const { files } = await api.exportModel({ id, format })
  const desktop = window.ninLab?.files
  if (desktop) return desktop.save(files)
  files.forEach((f: ExportedFile) =>
    downloadBlob(new Blob([bytesOf(f.base64)], { type: f.mimeType }), f.name),
  )
  return files.map((f) => f.name)
}
