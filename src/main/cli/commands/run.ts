/**
 * `nin-lab run`: trains one run in the foreground with a live progress line. The run's folder
 * (<data-dir>/runs/<id>/) keeps its config, every trainer message (messages.jsonl), checkpoints
 * and the final model; `--resume ID` continues an interrupted run from its last checkpoint.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { validateExperimentConfig, type ExperimentConfig } from '@shared/config/experiment'
import type { TrainerJob, TrainerMessage } from '@shared/protocol/trainer'
import { foldMessages, type RunRecord } from '@shared/run-record'
import { resolveDataDir, runDirOf } from '../../core/paths'
import { crashMessage, startTrainer } from '../../core/trainer-process'
import { resolveConfigs } from '../config-input'
import { UsageError } from '../errors'
import { ProgressReporter } from '../progress'

export const runHelp = `Usage: nin-lab run [CONFIG.json] [--preset NAME] [--set PATH=VALUE ...] [--data-dir D] [--json]
       nin-lab run --resume ID [--data-dir D] [--json]

Trains one run in the foreground with a live progress line (epoch, step, loss, accuracy,
images/s, ETA). Ctrl-C stops it cleanly after the current step (twice: at once). With --json
the last line of stdout is the run as one JSON object. --resume continues a run that was
stopped or killed, from its last checkpoint (one per epoch).`

export interface RunJson {
  id: string
  name: string
  status: RunRecord['status']
  engine: string | null
  backend: string | null
  params: number | null
  epochs: RunRecord['epochs']
  error?: string
}

export function runJson(id: string, config: ExperimentConfig, record: RunRecord): RunJson {
  return {
    id,
    name: config.name,
    status: record.status,
    engine: record.engine,
    backend: record.backend,
    params: record.params,
    epochs: record.epochs,
    ...(record.error ? { error: record.error } : {}),
  }
}

const newRunId = (): string => {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)
  return `${t}-${Math.random().toString(36).slice(2, 6)}`
}

export function readMessages(runDir: string): TrainerMessage[] {
  const file = join(runDir, 'messages.jsonl')
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as TrainerMessage]
      } catch {
        return [] // a line cut short by a crash mid-write
      }
    })
}

export async function runCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      preset: { type: 'string' },
      set: { type: 'string', multiple: true },
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
  const dataDir = resolveDataDir(values['data-dir'])
  let id: string
  let config: ExperimentConfig
  if (values.resume !== undefined) {
    if (positionals.length > 0 || values.preset || values.set) {
      throw new UsageError(
        '--resume continues a run with its own config: give no CONFIG, --preset or --set',
      )
    }
    id = values.resume
    const runDir = runDirOf(dataDir, id)
    if (!existsSync(join(runDir, 'config.json'))) {
      throw new UsageError(`no run ${id} in ${dataDir} (no ${join(runDir, 'config.json')})`)
    }
    config = validateExperimentConfig(
      JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')),
      id,
    )
  } else {
    if (positionals.length > 1)
      throw new UsageError(`run takes one CONFIG file (got ${positionals.length})`)
    const { configs, isArray } = resolveConfigs({
      file: positionals[0],
      preset: values.preset,
      sets: values.set,
    })
    const [first] = configs
    if (isArray || !first)
      throw new UsageError('run trains one config; to queue several use `nin-lab queue add`')
    config = first
    id = newRunId()
  }

  const runDir = runDirOf(dataDir, id)
  mkdirSync(runDir, { recursive: true })
  writeFileSync(join(runDir, 'config.json'), JSON.stringify(config, null, 2))
  const job: TrainerJob = {
    runId: id,
    config,
    dataDir,
    runDir,
    resume: values.resume !== undefined,
  }
  const messagesFile = join(runDir, 'messages.jsonl')
  const progress = new ProgressReporter(process.stderr, config)
  if (!values.json) console.log(`run ${id} (${config.name}) in ${runDir}`)

  const record = (m: TrainerMessage): void => {
    appendFileSync(messagesFile, JSON.stringify(m) + '\n')
    progress.update(m)
  }
  const trainer = startTrainer(job, record)
  let interrupts = 0
  const onInterrupt = (): void => {
    interrupts++
    if (interrupts === 1) {
      progress.note('stopping after the current step… (Ctrl-C again to kill it now)')
      trainer.stop()
    } else trainer.kill()
  }
  process.on('SIGINT', onInterrupt)
  process.on('SIGTERM', onInterrupt)
  const exit = await trainer.done
  const final = exit.terminal ?? crashMessage(id, exit)
  if (!exit.terminal) record(final)
  process.off('SIGINT', onInterrupt)
  process.off('SIGTERM', onInterrupt)
  progress.finish(final)

  const folded = foldMessages(readMessages(runDir))
  if (values.json) console.log(JSON.stringify(runJson(id, config, folded)))
  if (final.type === 'finished') return 0
  if (final.type === 'cancelled') {
    console.error(
      `Stopped. Resume with: nin-lab run --resume ${id}${values['data-dir'] ? ` --data-dir ${values['data-dir']}` : ''}`,
    )
    return 130
  }
  return 1
}
