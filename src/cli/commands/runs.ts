/** `nin-lab ls` and `nin-lab show`: the runs in the store. */
import { parseArgs } from 'node:util'
import { listAllRuns } from '@shared/api/list-pages'
import { EPOCH_TABLE_HEADER, linkedText, loadText, placementText } from '@shared/format'
import { HEALTH_LABELS } from '@shared/health'
import type { Run } from '@shared/api/types'
import { RUN_STATUSES, type RunStatus } from '@shared/run-state'
import { pct } from '@shared/format'
import { terminalText as t } from '@shared/security'
import type { EpochSummary } from '@shared/protocol/trainer'
import { withCore } from '../core'

/** ls and show only read: they work on a data folder this user may only read. */
const READ_ONLY = { readonly: true } as const
import { UsageError } from '../errors'
import { table } from '../format'
import { healthJson, linkJson, runJson } from '../run-json'

export const lsHelp = `Usage: nin-lab ls [--status S] [--experiment NAME] [--json] [--data-dir D]

Lists runs: id, name, experiment, status, key config fields, final test accuracy.`

export const showHelp = `Usage: nin-lab show ID [--json] [--data-dir D]

One run: its status, epochs, config and files. --json prints the same object as \`run --json\`
plus "config" and "files".`

/** The config fields an ablation usually varies, shown in listings. */
function keyFields(run: Run): Record<string, unknown> {
  const { model, train } = run.config
  return {
    inputSize: model.inputSize,
    microConvs: model.microConvs,
    microKernel: model.microKernel,
    head: model.head === 'fc' ? `fc:${model.fcFrom}` : 'gap',
    optimizer: train.optimizer,
    lr: train.lr,
    batchSize: train.batchSize,
    epochs: train.epochs,
    seed: train.seed,
  }
}

export async function lsCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      status: { type: 'string', multiple: true },
      experiment: { type: 'string' },
      json: { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(lsHelp)
    return 0
  }
  for (const s of values.status ?? []) {
    if (!(RUN_STATUSES as readonly string[]).includes(s)) {
      throw new UsageError(`--status must be one of ${RUN_STATUSES.join(', ')} (got ${s})`)
    }
  }
  return withCore(
    values['data-dir'],
    async (core) => {
      // Page through: one answer holds at most MAX_LIST runs.
      const runs: Run[] = await listAllRuns((p) => core.api.listRuns(p), {
        status: values.status as RunStatus[] | undefined,
        experiment: values.experiment,
      })
      if (values.json) console.log(JSON.stringify(runs.map(lsJson)))
      else if (runs.length === 0)
        console.log(
          'no runs yet: `nin-lab run --preset small-28` trains one, `nin-lab queue add` queues some',
        )
      else console.log(lsTable(runs))
      return 0
    },
    READ_ONLY,
  )
}

/** One run as `ls --json` prints it. */
const lsJson = (r: Run): Record<string, unknown> => ({
  id: r.id,
  name: r.name,
  experiment: r.experiment,
  status: r.status,
  config: keyFields(r),
  engine: r.engine,
  backend: r.backend,
  precision: r.precision,
  params: r.params,
  epochsDone: r.epochsDone,
  finalTestAcc: r.finalTestAcc,
  bestTestAcc: r.bestTestAcc,
  health: healthJson(r),
  placement: r.placement,
  linkedFrom: linkJson(r.linkedFrom),
})

/** The runs as `ls` prints them: a row each, the variant in a few words. */
function lsTable(runs: readonly Run[]): string {
  const rows = runs.map((r) => {
    const k = keyFields(r)
    return [
      r.id,
      r.status,
      r.name,
      r.experiment,
      `${String(k.inputSize)}px m${String(k.microConvs)} k${String(k.microKernel)} ${String(k.head)}`,
      r.precision ?? '',
      `${r.epochsDone}/${r.config.train.epochs}`,
      r.finalTestAcc === null ? '' : pct(r.finalTestAcc),
      r.health.status === 'pending' ? '' : HEALTH_LABELS[r.health.status],
    ]
  })
  return table(
    ['id', 'status', 'name', 'experiment', 'variant', 'precision', 'epochs', 'test acc', 'health'],
    rows,
    ['left', 'left', 'left', 'left', 'left', 'left', 'right', 'right', 'left'],
  )
}

/** `show`'s table of a run's epochs (a compiled epoch's wait for the compiler beside its time). */
function epochTable(epochs: readonly EpochSummary[]): string {
  return table(
    EPOCH_TABLE_HEADER,
    epochs.map((e) => [
      String(e.epoch),
      e.trainLoss.toFixed(4),
      pct(e.trainAcc),
      e.testLoss.toFixed(4),
      pct(e.testAcc),
      e.seconds.toFixed(1) +
        (e.compileSeconds === undefined ? '' : ` + ${e.compileSeconds.toFixed(1)} compiling`),
      String(Math.round(e.examplesPerSec)),
      loadText(e.load),
    ]),
    ['right', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
  )
}

export async function showCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(showHelp)
    return 0
  }
  const [id] = positionals
  if (!id) throw new UsageError('show needs a run ID (see `nin-lab ls`)')
  return withCore(
    values['data-dir'],
    async (core) => {
      const detail = await core.api.getRun({ id })
      const { run, runDir: dir } = detail
      const newest = (kind: 'checkpoint' | 'model'): string | null =>
        detail.artifacts
          .filter((a) => a.kind === kind)
          .sort((a, b) => (b.epoch ?? 0) - (a.epoch ?? 0))[0]?.path ?? null
      const files = {
        dir,
        messages: `${dir}/messages.jsonl`,
        trainerLog: `${dir}/trainer.log`,
        checkpoint: newest('checkpoint'),
        model: newest('model'),
      }
      const out = { ...runJson(detail), experiment: run.experiment, config: run.config, files }
      if (values.json) {
        console.log(JSON.stringify(out))
        return 0
      }
      console.log(
        `${run.id}  ${t(run.name)}  (${t(run.experiment)})  ${run.status}${run.error ? `: ${t(run.error)}` : ''}`,
      )
      console.log(
        `engine ${run.engine ?? '–'} · backend ${run.backend ?? '–'} · precision ${run.precision ?? '–'} · ${run.params?.toLocaleString('en-US') ?? '?'} parameters` +
          (run.placement ? ` · on ${t(placementText(run.placement))}` : ''),
      )
      if (detail.precisionReason) console.log(`precision: ${t(detail.precisionReason)}`)
      console.log(`health: ${HEALTH_LABELS[run.health.status]} — ${t(run.health.reason)}`)
      if (run.linkedFrom) console.log(linkedText(run.linkedFrom))
      if (out.epochs.length > 0) console.log(epochTable(out.epochs))
      console.log(`files: ${dir}`)
      return 0
    },
    READ_ONLY,
  )
}
