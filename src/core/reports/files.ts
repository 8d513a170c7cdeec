/**
 * A report as files for a client to save: the API's `exportReport`. The report worker renders
 * it into a private temporary folder, in its own process (worker.ts), and the core hands back
 * every file's bytes; where they are saved is the client's choice (a save dialog, a browser
 * download, the CLI's --out), never a path a request names on this machine.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, extname, join } from 'node:path'
import { promisify } from 'node:util'
import { reportFileName } from '@shared/file-names'
import { ApiError, type ExportedFile, type Params } from '@shared/api/contract'
import { builtEntry } from '../entries'
import type { RunStore } from '../store'
import { Turns } from '../turns'
import type { ExerciseAnswer } from '@shared/exercise-answer'
import type { ReportAnswer, ReportJob } from './report-worker'

const execFileAsync = promisify(execFile)

const MIME_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html',
  '.md': 'text/markdown',
  '.csv': 'text/csv',
  '.json': 'application/json',
  '.pdf': 'application/pdf',
  '.png': 'image/png',
}

/** Exports at once (each may run a Chromium), and how many may wait. */
const exports = new Turns('report exports', 2, 4)
/** A PDF of a few hundred runs takes a minute or two on a slow machine. */
const EXPORT_TIMEOUT_MS = 600_000

export async function reportFiles(
  store: RunStore,
  p: Params<'exportReport'>,
  /** An exercise's answer, shown first (exportExerciseAnswer). */
  exerciseAnswer?: ExerciseAnswer,
): Promise<{ files: ExportedFile[] }> {
  if (p.ids.length === 0) throw new ApiError('invalid-params', 'ids must name at least one run')
  // A missing run is a 404 before any work; the runs' experiments name the default file.
  const experiments = p.ids.map((id) => store.requireRun(id).experiment)
  const fileName = basename(p.fileName ?? reportFileName(experiments, new Date(), p.format))
  return exports.run(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nin-lab-export-'))
    try {
      const job: ReportJob = {
        dataDir: store.dataDir,
        ids: p.ids,
        format: p.format,
        title: p.title,
        fileName,
        outDir: join(dir, 'out'),
        ...(exerciseAnswer ? { answer: exerciseAnswer } : {}),
      }
      const jobFile = join(dir, 'job.json')
      writeFileSync(jobFile, JSON.stringify(job))
      let stdout: string
      try {
        ;({ stdout } = await execFileAsync(
          process.execPath,
          [builtEntry('report-worker'), jobFile],
          {
            timeout: EXPORT_TIMEOUT_MS,
            maxBuffer: 1 << 20,
          },
        ))
      } catch (err) {
        const detail = (err as { stderr?: string }).stderr?.trim().split('\n').at(-1)
        throw new ApiError(
          'internal',
          `the report could not be rendered: ${detail || (err as Error).message}`,
        )
      }
      const answer = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as ReportAnswer
      if ('error' in answer) throw new ApiError(answer.error.code, answer.error.message)
      return {
        files: answer.files.map((file) => ({
          name: basename(file),
          mimeType: MIME_TYPES[extname(file)] ?? 'application/octet-stream',
          base64: readFileSync(file).toString('base64'),
        })),
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
}
