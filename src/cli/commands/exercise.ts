/**
 * `nin-lab exercise …`: d2l §8.3's six NiN exercises as studies (src/shared/exercises.ts): list
 * them, show one (its question, the grid it queues and the time it would take at each scale,
 * what the scale changes, its costs at d2l's scale), queue it, and answer it from its runs.
 * Everything goes through the core's API, like every other command.
 */
import { basename, dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { REPORT_FORMATS, type ExerciseStudy, type ExportedFile } from '@shared/api/contract'
import type { ExerciseAnswer } from '@shared/exercise-answer'
import {
  DEFAULT_SEEDS,
  EXERCISE_SCALES,
  EXERCISES,
  exerciseById,
  isExerciseScale,
  SCALE_LABELS,
  SEEDS_NOTE,
  type Exercise,
  type ExerciseScale,
} from '@shared/exercises'
import { duration } from '@shared/format'
import { terminalText as t } from '@shared/security'
import { checkTarget, writeFilesSafely } from '@core/files'
import { answerParts, type AnswerPart } from '@core/reports/answer'
import { cellLines } from '@core/reports/tables'
import { withCore } from '../core'
import { explainReuse, reuseFlag } from '../reuse'
import { UsageError } from '../errors'
import { table, type Align } from '../format'

export const exerciseHelp = `Usage: nin-lab exercise list
       nin-lab exercise show N [--scale small|96|224] [--seeds K] [--set PATH=VALUE ...]
       nin-lab exercise queue N [--scale small|96|224] [--seeds K] [--set PATH=VALUE ...] [--priority P] [--link | --train]
       nin-lab exercise answer N [--scale small|96|224] [--format md|html|pdf|json] [--out PATH] [--measure-memory]
All take --data-dir D.

d2l §8.3's six NiN exercises as studies. show prints the question, the variants it trains, the
runs and the time it would take here at each scale, what the chosen scale changes (default
small: the small-28 preset, minutes on a CPU) and the costs at d2l's own 224 px. queue adds the
runs (${DEFAULT_SEEDS} seeds per variant unless --seeds) to the experiment "exercise N (PRESET)";
run them with \`nin-lab queue start\`. answer builds the answer from that experiment's finished
runs: per variant n, mean ± std and 95% CI of final test accuracy, each variant against the
baseline (paired by seed, Holm-adjusted), health caveats and conclusions. Without --format it
prints them; json prints the answer object (or writes it to --out); md, html and pdf write the
report of the runs with the answer first. --measure-memory (exercise 4) also measures peak
memory of one prediction and one training step in the engine.`

const common = {
  scale: { type: 'string', default: 'small' },
  seeds: { type: 'string' },
  set: { type: 'string', multiple: true },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const

function exerciseArg(text: string | undefined): Exercise {
  const ex = text === undefined ? undefined : exerciseById(Number(text))
  if (!ex) {
    throw new UsageError(
      `name an exercise: 1–${EXERCISES.length} (got ${text ?? 'nothing'}); \`nin-lab exercise list\` lists them`,
    )
  }
  return ex
}

function scaleArg(text: string): ExerciseScale {
  if (!isExerciseScale(text)) {
    throw new UsageError(`--scale must be one of ${EXERCISE_SCALES.join(', ')} (got ${text})`)
  }
  return text
}

function seedsArg(text: string | undefined): number {
  if (text === undefined) return DEFAULT_SEEDS
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1 || n > 20) {
    throw new UsageError(`--seeds must be an integer from 1 to 20 (got ${text})`)
  }
  return n
}

export async function exerciseCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv
  switch (sub) {
    case 'list':
      return list()
    case 'show':
      return show(rest)
    case 'queue':
      return queue(rest)
    case 'answer':
      return answer(rest)
    case undefined:
    case '--help':
    case '-h':
      console.log(exerciseHelp)
      return sub === undefined ? 2 : 0
    default:
      throw new UsageError(`unknown subcommand "${sub}"; it takes list, show, queue or answer`)
  }
}

function list(): number {
  console.log(
    table(
      ['#', 'exercise', 'variants', 'baseline'],
      EXERCISES.map((e) => [
        String(e.id),
        e.title,
        e
          .variants('small')
          .map((v) => v.key)
          .join(', '),
        e.baseline,
      ]),
      ['right', 'left', 'left', 'left'],
    ),
  )
  return 0
}

const estimateText = (s: ExerciseStudy): string =>
  s.estimate.seconds === null
    ? `unknown (${s.estimate.detail})`
    : `about ${duration(s.estimate.seconds)} (${s.estimate.detail})`

async function show(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: common })
  if (values.help) {
    console.log(exerciseHelp)
    return 0
  }
  const ex = exerciseArg(positionals[0])
  const scale = scaleArg(values.scale)
  const seeds = seedsArg(values.seeds)
  const { studies, answerShape } = await withCore(
    values['data-dir'],
    async (core) => ({
      studies: await Promise.all(
        EXERCISE_SCALES.map((s) =>
          core.api.exerciseStudy({ exercise: ex.id, scale: s, seeds, set: values.set }),
        ),
      ),
      answerShape: await core.api.exerciseAnswer({ exercise: ex.id, scale }),
    }),
    { readonly: true },
  )
  console.log(`Exercise ${ex.id}: ${ex.title}\n\n${ex.question}\n\n${ex.approach}\n`)
  console.log(`Seeds: ${seeds} per variant: ${SEEDS_NOTE}.\n`)
  console.log(
    table(
      ['scale', 'variants', 'runs', 'experiment', 'time here'],
      studies.map((s) => [
        SCALE_LABELS[s.scale],
        s.variants.map((v) => v.label).join('; '),
        String(s.runs),
        s.experiment,
        estimateText(s),
      ]),
      ['left', 'left', 'right', 'left', 'left'],
    ),
  )
  // Before training, only the part that needs no runs: what the scale changes and the costs.
  const all = answerParts(answerShape)
  const parts = all.slice(all.findIndex((q) => q.kind === 'heading' && q.text.startsWith('What')))
  console.log(`\nAt ${SCALE_LABELS[scale]}:`)
  printParts(parts)
  return 0
}

async function queue(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...common,
      priority: { type: 'string' },
      link: { type: 'boolean', default: false },
      train: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    console.log(exerciseHelp)
    return 0
  }
  const ex = exerciseArg(positionals[0])
  const scale = scaleArg(values.scale)
  const seeds = seedsArg(values.seeds)
  const priority = values.priority === undefined ? undefined : Number(values.priority)
  if (priority !== undefined && !Number.isInteger(priority)) {
    throw new UsageError(`--priority must be an integer (got ${values.priority})`)
  }
  const reuse = reuseFlag(values)
  const result = await withCore(values['data-dir'], (core) =>
    core.api
      .queueExercise({ exercise: ex.id, scale, seeds, set: values.set, priority, reuse })
      .catch(explainReuse),
  )
  const linked = result.linked.length
  console.log(
    `queued ${result.added.length} runs of exercise ${ex.id} into experiment "${t(result.experiment)}"` +
      (linked > 0
        ? `; linked ${linked} to completed run${linked === 1 ? '' : 's'} with the same config`
        : '') +
      (result.skipped > 0 ? ` (${result.skipped} it already had were skipped)` : '') +
      '; train them with `nin-lab queue start`, then `nin-lab exercise answer ' +
      `${ex.id} --scale ${scale}\``,
  )
  return 0
}

function printParts(parts: readonly AnswerPart[]): void {
  for (const p of parts) {
    if (p.kind === 'heading') console.log(`\n${t(p.text)}`)
    else if (p.kind === 'paragraph') console.log(t(p.text))
    else if (p.kind === 'list') for (const item of p.items) console.log(`  - ${t(item)}`)
    else {
      const align = p.table.numeric.map((n): Align => (n ? 'right' : 'left'))
      const rows = p.table.rows.map((r) => r.map((c) => cellLines(c).join(' ')))
      console.log(table(p.table.header, rows, align))
    }
  }
}

function writeExported(out: string, files: readonly ExportedFile[]): string[] {
  const written = files.map((file) => ({
    path: join(dirname(out), basename(file.name)),
    data: Buffer.from(file.base64, 'base64'),
  }))
  writeFilesSafely(written, { createFolder: true })
  return written.map((f) => f.path)
}

async function answer(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...common,
      format: { type: 'string' },
      out: { type: 'string' },
      'measure-memory': { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    console.log(exerciseHelp)
    return 0
  }
  const ex = exerciseArg(positionals[0])
  const scale = scaleArg(values.scale)
  const format = values.format
  if (format !== undefined && !(REPORT_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format must be one of md, html, pdf, json (got ${format})`)
  }
  if (format === 'csv') throw new UsageError('--format csv: use `nin-lab export` for CSV')
  if (format === undefined || format === 'json') {
    const a: ExerciseAnswer = await withCore(
      values['data-dir'],
      (core) =>
        core.api.exerciseAnswer({
          exercise: ex.id,
          scale,
          set: values.set,
          measureMemory: values['measure-memory'] || undefined,
        }),
      { readonly: true },
    )
    if (format === undefined) printParts(answerParts(a))
    else if (values.out) {
      writeFilesSafely([{ path: values.out, data: JSON.stringify(a, null, 1) + '\n' }], {
        createFolder: true,
      })
      console.log(values.out)
    } else console.log(JSON.stringify(a, null, 1))
    return 0
  }
  const out = values.out ?? `exercise-${ex.id}-${scale}.${format}`
  checkTarget(out)
  const { files } = await withCore(
    values['data-dir'],
    (core) =>
      core.api.exportExerciseAnswer({
        exercise: ex.id,
        scale,
        format: format as 'md' | 'html' | 'pdf',
        fileName: basename(out),
      }),
    { readonly: true },
  )
  for (const path of writeExported(out, files)) console.log(path)
  return 0
}
