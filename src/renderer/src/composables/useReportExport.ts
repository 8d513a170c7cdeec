/**
 * Exporting a report of some runs (Compare → Export): the chosen format, whether an export is on
 * its way, and a line saying where the files went or why they did not.
 */
import { ref, toValue, type MaybeRefOrGetter, type Ref } from 'vue'
import type { ReportFormat } from '@shared/api/contract'
import { errorMessage } from '../api'
import { exportRuns } from '../lib/export-report'

export interface ReportExport {
  readonly format: Ref<ReportFormat>
  readonly exporting: Readonly<Ref<boolean>>
  readonly message: Readonly<Ref<string | null>>
  exportReport(): Promise<void>
}

export function useReportExport(ids: MaybeRefOrGetter<readonly string[]>): ReportExport {
  const format = ref<ReportFormat>('html')
  const exporting = ref(false)
  const message = ref<string | null>(null)

  async function exportReport(): Promise<void> {
    exporting.value = true
    message.value = null
    try {
      const written = await exportRuns(toValue(ids), format.value)
      message.value = written === null ? 'Export cancelled' : `Saved ${written.join(', ')}`
    } catch (err) {
      message.value = `Export failed: ${errorMessage(err)}`
    } finally {
      exporting.value = false
    }
  }

  return { format, exporting, message, exportReport }
}
