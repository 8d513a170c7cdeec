/**
 * The report worker: a process of its own (out/main/report-worker.js) that renders one report
 * into a folder. The core runs exports here so that a big one (hundreds of runs, a PDF through
 * Chromium, seconds of CPU) never blocks the event loop that answers every other request.
 *
 * Input: the path of a job file (ReportJob, JSON). Output: one line of JSON on stdout,
 * `{"files": [...]}` or `{"error": {"code", "message"}}`; the exit status is 0 either way, so
 * the parent can tell an answer from a crash.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ReportFormat } from '@shared/api/contract'
import type { ExerciseAnswer } from '@shared/exercise-answer'
import { RunStore } from '../store'
import { buildReport } from './build'
import { exportReport } from './export'
import { PdfUnavailableError } from './pdf'

export interface ReportJob {
  readonly dataDir: string
  readonly ids: readonly string[]
  readonly format: ReportFormat
  readonly title?: string
  readonly fileName: string
  readonly outDir: string
  /** An exercise's answer, computed by the core, shown first. */
  readonly answer?: ExerciseAnswer
}

export type ReportAnswer =
  | { readonly files: readonly string[] }
  | {
      readonly error: {
        readonly code: 'not-found' | 'unavailable' | 'internal'
        readonly message: string
      }
    }

function answer(a: ReportAnswer): void {
  process.stdout.write(JSON.stringify(a) + '\n')
}

function main(): void {
  const file = process.argv[2]
  if (!file) throw new Error('usage: report-worker JOB.json')
  const job = JSON.parse(readFileSync(file, 'utf8')) as ReportJob
  // It only reads: read-only, so that it works on a data folder it may not write to as well.
  const store = RunStore.open(job.dataDir, { readonly: true })
  try {
    const report = buildReport(store, job.ids, { title: job.title, answer: job.answer })
    answer({ files: exportReport(report, job.format, join(job.outDir, job.fileName)) })
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    const code =
      err instanceof PdfUnavailableError
        ? 'unavailable'
        : (err as { code?: string }).code === 'not-found'
          ? 'not-found'
          : 'internal'
    answer({ error: { code, message } })
  } finally {
    store.close()
  }
}

main()
