/**
 * `nin-lab run`: trains one run in the foreground with a live progress line, recorded in the
 * store like any queued run. The run's folder (<data-dir>/runs/<id>/) keeps its checkpoints, the
 * final model and a JSON-lines copy of every trainer message; `--resume ID` continues a stopped
 * or crashed run from its last checkpoint.
 */
import { parseArgs } from 'node:util'
import { listAllRuns } from '@shared/api/list-pages'
import type { Run } from '@shared/api/types'
import { configIdentity } from '@shared/grid'
import { canRetry } from '@shared/run-state'
import { terminalText as t } from '@shared/security'
import { RunExecution } from '@core/queue/run-execution'
import { openCore, type Core } from '../core'
import { resolveConfigs } from '../config-input'
import { UsageError } from '../errors'
import { ProgressReporter } from '../progress'
import { runJson } from '../run-json'

export const runHelp = `Usage: nin-lab run [CONFIG.json] [--preset NAME] [--set PATH=VALUE ...] [--data-dir D] [--json]
       nin-lab run --resume ID [--data-dir D] [--json]

Trains one run in the foreground with a live progress line (epoch, step, loss, accuracy,
images/s, ETA). Ctrl-C stops it cleanly after the current step (twice: at once); --resume then
continues from the last epoch checkpoint, redoing the steps after it. With --json
the last line of stdout is the run as one JSON object. --resume continues a run that was
stopped or killed, from its last checkpoint (one per epoch).`

export async function runCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      preset: { type: 'string' },
      set: { type: 'string', multiple: true },
      experiment: { type: 'string', default: 'default' },
      'data-dir': { type: 'string' },
      resume: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(runHelp)
    return 0
  }
  const core = openCore(values['data-dir'])
  try {
    let run: Run
    if (values.resume !== undefined) {
      if (positionals.length > 0 || values.preset || values.set) {
        throw new UsageError(
          '--resume continues a run with its own config: give no CONFIG, --preset or --set',
        )
      }
      run = await core.api.retryRun({ id: values.resume })
    } else {
      if (positionals.length > 1)
        throw new UsageError(`run takes one CONFIG file (got ${positionals.length})`)
      const { configs, isArray } = resolveConfigs({
        file: positionals[0],
        preset: values.preset,
        sets: values.set,
      })
      const [config] = configs
      if (isArray || !config)
        throw new UsageError('run trains one config; to queue several use `nin-lab queue add`')
      const { added } = await core.api.addRuns({
        experiment: values.experiment,
        base: config,
        axes: [],
        seeds: 1,
        // `run` is asked to train, in the foreground: a completed twin elsewhere is no reason not to.
        reuse: 'train',
      })
      const queued = added[0]
      if (!queued) {
        const identity = configIdentity(config)
        const runs = await listAllRuns((p) => core.api.listRuns(p), {
          experiment: values.experiment,
        })
        const twin = runs.find((r) => configIdentity(r.config) === identity)
        throw new UsageError(
          `experiment "${values.experiment}" already has this exact config as run ${twin?.id ?? '?'} (${twin?.status ?? '?'}); ` +
            (twin && canRetry(twin.status)
              ? `continue it with \`nin-lab run --resume ${twin.id}\``
              : `see it with \`nin-lab show ${twin?.id ?? ''}\`, or change train.seed / --experiment to run it again`),
        )
      }
      run = queued
    }
    return await execute(core, run, values.json, values['data-dir'])
  } finally {
    await core.close()
  }
}

/** The one command that trains in this process: it drives a RunExecution over the core's store. */
async function execute(
  core: Core,
  queued: Run,
  json: boolean,
  dataDirFlag?: string,
): Promise<number> {
  const dataDir = core.store.dataDir
  const progress = new ProgressReporter(process.stderr, queued.config)
  if (!json)
    console.log(`run ${queued.id} (${t(queued.config.name)}) in ${core.store.runDir(queued.id)}`)
  let execution: RunExecution
  try {
    execution = new RunExecution(core.store, queued, {
      dataDir,
      ownerKind: 'run',
      onWarning: (message) => progress.note(`warning: ${message}`),
      onMessage: (m) => progress.update(m),
      onStoreError: (err) =>
        progress.note(`warning: could not save progress (${err.message}); retrying`),
    })
  } catch (err) {
    throw new UsageError(
      `run ${queued.id} could not start here: ${err instanceof Error ? err.message : String(err)} ` +
        '(a scheduler running this data folder may have picked it up: see `nin-lab queue ls`)',
    )
  }
  let interrupts = 0
  const onInterrupt = (): void => {
    interrupts++
    if (interrupts === 1) {
      progress.note('stopping after the current step… (Ctrl-C again to kill it now)')
      execution.stop('cancel')
    } else execution.kill()
  }
  process.on('SIGINT', onInterrupt)
  process.on('SIGTERM', onInterrupt)
  const { exit } = await execution.done
  process.off('SIGINT', onInterrupt)
  process.off('SIGTERM', onInterrupt)
  if (!exit.terminal) execution.persistCrash(exit)
  const detail = await core.api.getRun({ id: queued.id })
  const run = detail.run
  if (exit.terminal) progress.finish(exit.terminal)
  else progress.note(`failed: ${run.error ?? exit.crash ?? 'the trainer died'}`)

  if (json) console.log(JSON.stringify(runJson(detail)))
  if (run.status === 'completed') return 0
  if (run.status === 'cancelled') {
    const from =
      run.lastCheckpointEpoch > 0
        ? `from the checkpoint after epoch ${run.lastCheckpointEpoch} (the steps since are trained again)`
        : 'from the start (no epoch had finished, so there is no checkpoint yet)'
    console.error(
      `Stopped. Resume ${from} with: nin-lab run --resume ${run.id}${dataDirFlag ? ` --data-dir ${dataDirFlag}` : ''}`,
    )
    return 130
  }
  return 1
}
