/**
 * `nin-lab queue …`: add runs (one config or an ablation grid), run the scheduler in the
 * foreground, and manage the queue. Every subcommand but `start` only writes to the store; a
 * scheduler running elsewhere (another `queue start`, the app, `nin-lab serve`) picks changes up
 * within a second or two.
 */
import { parseArgs } from 'node:util'
import { parseGridAxis } from '@shared/grid'
import { terminalText as t } from '@shared/security'
import { openCore, withCore, type Core } from '../core'
import { resolveConfigs } from '../config-input'
import { UsageError } from '../errors'
import { explainReuse, reuseFlag } from '../reuse'
import { duration, placementText } from '@shared/format'
import { ProgressReporter } from '../progress'
import { table } from '../format'
import type { Run } from '@shared/api/types'
import { CONFIRM_GRID_RUNS, MAX_GRID_RUNS, type QueueState } from '@shared/api/contract'
import { HEALTH_LABELS } from '@shared/health'
import { parseGpuList, type QueueSettings } from '@shared/api/types'
import { checkRedisUrl } from '../redis-url'
import { workerKey } from '@shared/protocol/worker'

export const queueHelp = `Usage: nin-lab queue add [CONFIG] [--preset NAME] [--set PATH=VALUE ...] [--experiment NAME]
                       [--grid PATH=V1,V2 ...] [--seeds N] [--priority P] [--yes] [--link | --train]
       nin-lab queue start [--watch] [--concurrency N] [--gpus auto|0,1,…] [--redis URL]
       nin-lab queue ls [--all] [--json]
       nin-lab queue workers [--redis URL] [--json]
       nin-lab queue pause | resume
       nin-lab queue cancel ID | retry ID | move ID INDEX
All take --data-dir D.

add queues the config, or with --grid the cartesian product of the axes (e.g.
--grid model.microConvs=1,2,3 --grid model.head=gap,fc --seeds 3 → 18 runs), skipping runs the
experiment already has; more than ${CONFIRM_GRID_RUNS} runs at once need --yes, and at most
${MAX_GRID_RUNS} are queued by one command. start runs the queue until it is empty, then exits
(--watch: keeps waiting for new runs). Ctrl-C stops after the current step; on the next start
the run resumes from its last checkpoint (the end of its last finished epoch), redoing the steps
since. A full or read-only disk halts the queue with an error saying what to do.
A run whose config (engine and precision included) a completed run of another experiment
already trained is not queued silently: add lists them and asks for --link (link that run: no
training, its metrics shown in both experiments) or --train (train anew).`

const common = {
  'data-dir': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const

export async function queueCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv
  switch (sub) {
    case 'add':
      return queueAdd(rest)
    case 'start':
      return queueStart(rest)
    case 'ls':
    case 'pause':
    case 'resume':
    case 'cancel':
    case 'retry':
    case 'move':
      return queueManage(sub, rest)
    case 'workers':
      return queueWorkers(rest)
    case undefined:
    case '--help':
    case '-h':
      console.log(queueHelp)
      return sub === undefined ? 2 : 0
    default:
      throw new UsageError(`unknown queue command "${sub}"\n\n${queueHelp}`)
  }
}

async function queueAdd(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...common,
      preset: { type: 'string' },
      set: { type: 'string', multiple: true },
      experiment: { type: 'string', default: 'default' },
      grid: { type: 'string', multiple: true },
      seeds: { type: 'string', default: '1' },
      priority: { type: 'string', default: '0' },
      yes: { type: 'boolean', short: 'y', default: false },
      link: { type: 'boolean', default: false },
      train: { type: 'boolean', default: false },
    },
  })
  if (values.help) return help()
  const reuse = reuseFlag(values)
  const seeds = Number(values.seeds)
  if (!Number.isInteger(seeds) || seeds < 1 || seeds > 100) {
    throw new UsageError(`--seeds must be an integer from 1 to 100 (got ${values.seeds})`)
  }
  const priority = Number(values.priority)
  if (!Number.isInteger(priority))
    throw new UsageError(`--priority must be an integer (got ${values.priority})`)
  if (positionals.length > 1)
    throw new UsageError(`queue add takes one CONFIG file (got ${positionals.length})`)
  const { configs, isArray } = resolveConfigs({
    file: positionals[0],
    preset: values.preset,
    sets: values.set,
  })
  const axes = (values.grid ?? []).map(parseGridAxis)
  if (isArray && axes.length > 0)
    throw new UsageError('--grid expands one config; CONFIG holds an array')

  return withCore(values['data-dir'], async (core) => {
    // An array file queues each config as it is; otherwise the one config, expanded by the grid.
    const bases = isArray ? configs : configs.slice(0, 1)
    let added: Run[] = []
    let linked: Run[] = []
    let skipped = 0
    for (const base of bases) {
      const r = await addOrExplain(core, {
        experiment: values.experiment,
        base,
        axes: axes.map((a) => ({ path: a.path, values: [...a.values] })),
        seeds,
        priority,
        confirm: values.yes,
        reuse,
      })
      added = added.concat(r.added)
      linked = linked.concat(r.linked)
      skipped += r.skipped
    }
    if (values.json) {
      const brief = (r: Run): { id: string; name: string } => ({ id: r.id, name: r.name })
      const links = linked.map((r) => ({ ...brief(r), linkedFrom: r.linkedFrom?.runId ?? null }))
      console.log(JSON.stringify({ added: added.map(brief), linked: links, skipped }))
    } else printAdded(values.experiment, added, linked, skipped)
    return 0
  })
}

/**
 * addRuns, with its question about reusable runs (needs-confirmation, one issue per run) turned
 * into a usage error that lists them and names the two flags.
 */
async function addOrExplain(
  core: Core,
  params: Parameters<Core['api']['addRuns']>[0],
): ReturnType<Core['api']['addRuns']> {
  try {
    return await core.api.addRuns(params)
  } catch (err) {
    explainReuse(err)
  }
}

function printAdded(experiment: string, added: Run[], linked: Run[], skipped: number): void {
  console.log(
    `queued ${added.length} run${added.length === 1 ? '' : 's'} in experiment "${t(experiment)}"` +
      (linked.length > 0
        ? `; linked ${linked.length} to completed run${linked.length === 1 ? '' : 's'} with the same config`
        : '') +
      (skipped > 0 ? `; skipped ${skipped} the experiment already has` : ''),
  )
  for (const r of added) console.log(`  ${r.id}  ${t(r.name)}`)
  for (const r of linked) {
    const from = r.linkedFrom
    console.log(
      `  ${r.id}  ${t(r.name)}  linked from ${from?.runId ?? '?'} of experiment "${t(from?.experiment ?? '?')}" (${HEALTH_LABELS[r.health.status]})`,
    )
  }
  if (added.length > 0) console.log('Run them with `nin-lab queue start` (or in the app).')
}

async function queueStart(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...common,
      watch: { type: 'boolean', default: false },
      concurrency: { type: 'string' },
      gpus: { type: 'string' },
      redis: { type: 'string' },
    },
  })
  if (values.help) return help()
  // Flags override the data folder's saved queue settings for this process only.
  const queue = queueOverrides(values)
  // Another scheduler on this data folder is an ApiError (illegal-state), shown as usage.
  const core: Core = openCore(values['data-dir'], { scheduler: true, queue })
  const scheduler = core.scheduler
  if (!scheduler) throw new Error('internal: no scheduler')
  reportProgress(scheduler)

  let interrupted = false
  const stop = (): void => {
    if (interrupted) return
    interrupted = true
    console.error(
      'stopping after the current step; the next `queue start` resumes the run from its last ' +
        'checkpoint (the end of its last finished epoch), redoing the steps since…',
    )
    void core.close().then(() => process.exit(130))
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)

  if (!values.watch) return untilEmpty(core, scheduler)
  await new Promise<never>(() => {})
  return 0
}

/** The scheduler a `queue start` core runs. */
type Scheduler = NonNullable<Core['scheduler']>

type QueueOverrides = { concurrency?: number; gpus?: QueueSettings['gpus']; redis?: string | null }

/** `queue start`'s --concurrency, --gpus and --redis, checked. */
function queueOverrides(values: {
  concurrency?: string
  gpus?: string
  redis?: string
}): QueueOverrides {
  const queue: QueueOverrides = {}
  if (values.concurrency !== undefined) {
    const concurrency = Number(values.concurrency)
    if (!Number.isInteger(concurrency) || concurrency < 0 || concurrency > 64) {
      throw new UsageError(
        `--concurrency must be an integer from 0 (remote workers only) to 64 (got ${values.concurrency})`,
      )
    }
    queue.concurrency = concurrency
  }
  if (values.gpus !== undefined) {
    const gpus = parseGpuList(values.gpus)
    if (gpus !== null && typeof gpus === 'object' && 'error' in gpus)
      throw new UsageError(`--${gpus.error}`)
    queue.gpus = gpus
  }
  if (values.redis !== undefined) {
    if (values.redis !== '') checkRedisUrl(values.redis)
    queue.redis = values.redis === '' ? null : values.redis
  }
  return queue
}

/** Prints each run's start, progress and end on stderr. */
function reportProgress(scheduler: Scheduler): void {
  const reporters = new Map<string, ProgressReporter>()
  scheduler.on('runStarted', (run) => {
    console.error(`▶ ${run.id} ${t(run.name)} (${t(run.experiment)})`)
    reporters.set(run.id, new ProgressReporter(process.stderr, run.config))
  })
  scheduler.on('message', (runId, m) => reporters.get(runId)?.update(m))
  scheduler.on('runFinished', (run) => {
    reporters.delete(run.id)
    const acc = run.finalTestAcc === null ? '' : `, test accuracy ${run.finalTestAcc.toFixed(4)}`
    console.error(
      `■ ${run.id} ${t(run.name)}: ${run.status}${acc}${run.error ? ` (${t(run.error)})` : ''}`,
    )
  })
  scheduler.on('storeError', (runId, err) =>
    console.error(`warning: could not save progress of ${runId}: ${err.message}`),
  )
  scheduler.on('halted', (halt) => console.error(`✗ ${halt.reason}`))
}

/** Waits until the queue is empty (or halted), closes the core; the exit status. */
async function untilEmpty(core: Core, scheduler: Scheduler): Promise<number> {
  await new Promise<void>((resolve) => {
    const check = (): void => {
      if (scheduler.isIdle()) resolve()
    }
    scheduler.on('idle', check)
    check()
  })
  const halt = scheduler.halt
  if (halt) {
    await core.close()
    console.error(`queue halted: ${halt.reason}`)
    return 1
  }
  const failed = (await core.api.listRuns({ status: ['failed', 'diverged'], limit: 1 })).total
  await core.close()
  console.error(
    failed > 0
      ? `queue empty; ${failed} run(s) failed or diverged: see \`nin-lab queue ls\``
      : 'queue empty',
  )
  return 0
}

function printQueue(state: QueueState): void {
  const rows = state.runs.map((r) => {
    const p = state.progress[r.id]
    return [
      r.id,
      r.status,
      r.name,
      r.experiment,
      p ? `${p.epoch}/${p.epochs} · ${p.stepInEpoch}/${p.stepsPerEpoch}` : '',
      p?.loss == null ? '' : p.loss.toFixed(4),
      p?.examplesPerSec == null ? '' : String(Math.round(p.examplesPerSec)),
      p?.etaSeconds == null ? '' : duration(p.etaSeconds),
      r.status === 'running' ? placementText(r.placement) : '',
    ]
  })
  console.log(
    `queue ${state.paused ? 'PAUSED' : 'active'}; scheduler ${state.schedulerRunning ? 'running' : 'not running (start one with `nin-lab queue start`)'}`,
  )
  if (state.halted) console.log(`HALTED: ${state.halted.reason}`)
  if (rows.length === 0) console.log('nothing queued: add runs with `nin-lab queue add`')
  else
    console.log(
      table(
        ['id', 'status', 'name', 'experiment', 'epoch · step', 'loss', 'img/s', 'ETA', 'where'],
        rows,
        ['left', 'left', 'left', 'left', 'right', 'right', 'right', 'right', 'left'],
      ),
    )
  const listed = state.runs.filter((r) => r.status === 'queued').length
  if (state.queuedTotal > listed)
    console.log(`… and ${state.queuedTotal - listed} more queued (\`queue ls --all\` lists them)`)
}

async function queueManage(sub: string, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...common, all: { type: 'boolean', default: false } },
  })
  if (values.help) return help()
  // `ls` only reads: it works on a data folder this user may only read.
  return withCore(
    values['data-dir'],
    async (core) => {
      const id = (): string => {
        const [runId] = positionals
        if (!runId) throw new UsageError(`queue ${sub} needs a run ID (see \`nin-lab queue ls\`)`)
        return runId
      }
      switch (sub) {
        case 'ls': {
          const state = await core.api.queueState(values.all ? { limit: MAX_GRID_RUNS } : {})
          if (values.json) console.log(JSON.stringify(state))
          else printQueue(state)
          break
        }
        case 'pause':
          printQueue(await core.api.pauseQueue({}))
          break
        case 'resume':
          printQueue(await core.api.resumeQueue({}))
          break
        case 'cancel':
          console.log(`${(await core.api.cancelRun({ id: id() })).id} cancelled`)
          break
        case 'retry':
          console.log(
            `${(await core.api.retryRun({ id: id() })).id} queued again (it resumes from its last checkpoint)`,
          )
          break
        case 'move': {
          const index = Number(positionals[1])
          if (!Number.isInteger(index) || index < 0)
            throw new UsageError('queue move ID INDEX: INDEX is 0 for next')
          printQueue(await core.api.reorderRun({ id: id(), index }))
          break
        }
      }
      return 0
    },
    { readonly: sub === 'ls' },
  )
}

/** The remote workers whose heartbeat is current, on the saved Redis (or --redis). */
async function queueWorkers(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...common, redis: { type: 'string' } },
  })
  if (values.help) return help()
  if (values.redis) checkRedisUrl(values.redis)
  const core = openCore(values['data-dir'], {
    readonly: true,
    ...(values.redis ? { queue: { redis: values.redis } } : {}),
  })
  try {
    const view = await core.api.listWorkers({})
    if (values.json) {
      console.log(JSON.stringify(view))
      return view.error ? 1 : 0
    }
    if (!view.redis) {
      console.log('no Redis URL is set: give --redis, set NIN_LAB_REDIS, or save one in the app')
      return 0
    }
    if (view.error) {
      console.error(`cannot read the fleet on ${view.redis}: ${view.error}`)
      return 1
    }
    console.log(
      `${view.workers.length} worker${view.workers.length === 1 ? '' : 's'} on ${view.redis}`,
    )
    for (const { worker, why } of view.ignored ?? [])
      console.error(`ignored a heartbeat: ${t(`${workerKey(worker)}: ${why}`)}`)
    if (view.workers.length > 0) {
      console.log(
        table(
          ['name', 'host', 'slots', 'GPUs', 'running', 'offers', 'last beat'],
          view.workers.map((w) => [
            w.name,
            w.host,
            String(w.slots),
            w.gpus.map((g) => `${g.index}:${g.name}`).join(', ') || '–',
            w.running.join(', ') || (w.draining ? 'draining' : 'idle'),
            w.offers,
            `${Math.max(0, Math.round((Date.now() - w.beatAt) / 1000))} s ago`,
          ]),
          ['left', 'left', 'right', 'left', 'left', 'left', 'right'],
        ),
      )
    }
    return 0
  } finally {
    await core.close()
  }
}

function help(): number {
  console.log(queueHelp)
  return 0
}
