/** `nin-lab worker`: train runs a head dispatches through Redis (docs/scale-out.md). */
import { join } from 'node:path'
import { hostname } from 'node:os'
import { parseArgs } from 'node:util'
import { parseGpuList } from '@shared/api/types'
import { terminalText as t } from '@shared/security'
import { resolveDataDir } from '@core/paths'
import { readWorkers } from '@core/queue/fleet'
import { FLEET_KEY_ENV, FLEET_KEY_FILE, workerFleetKey } from '@core/queue/fleet-key'
import { describeRedisUrl } from '@core/queue/redis'
import { probeMachine, resolveSlots } from '@core/queue/slots'
import { REDIS_ENV } from '@core/core'
import { UsageError } from '../errors'
import { checkRedisUrl } from '../redis-url'

export const workerHelp = `Usage: nin-lab worker --redis URL --fleet-key-file PATH [--gpus auto|0,1,… | --slots N]
                      [--name NAME] [--work-dir D]

Trains runs that a head (the machine with the data folder: the app, \`serve\` or \`queue start\`
with the same --redis) dispatches through Redis, one per slot: one per GPU with --gpus (auto:
every GPU PyTorch sees), else --slots CPU slots (default 1). Engine \`auto\` picks what this
machine has. Checkpoints and the final model go back to the head; nothing is shared but Redis.
--redis defaults to $${REDIS_ENV}. --name (default: this host's name) must be unique in the
fleet. --work-dir (default: <data-dir>/worker) holds the dataset cache and scratch run folders.
SIGTERM or Ctrl-C drains: running runs stop after their step and go back to the head's queue.
--fleet-key-file: a copy of the head's <data-dir>/${FLEET_KEY_FILE} (keep it mode 0600), or set
$${FLEET_KEY_ENV} to the key. Never the key itself as an argument: every user of this machine
sees arguments in \`ps\`. Every job, report and heartbeat is signed with it; a worker with an
old key (after \`nin-lab key rotate --fleet\` on the head) drops out of the fleet.
Never expose Redis to the internet: use a password and TLS (rediss://), or an SSH tunnel.`

const WORKER_OPTIONS = {
  redis: { type: 'string' },
  gpus: { type: 'string' },
  slots: { type: 'string' },
  name: { type: 'string' },
  'work-dir': { type: 'string' },
  'data-dir': { type: 'string' },
  'fleet-key-file': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const

export async function workerCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: WORKER_OPTIONS })
  if (values.help) {
    console.log(workerHelp)
    return 0
  }
  const redisUrl = values.redis ?? process.env[REDIS_ENV]
  if (!redisUrl) throw new UsageError(`--redis URL is required (or set ${REDIS_ENV})`)
  checkRedisUrl(redisUrl)
  if (values.gpus !== undefined && values.slots !== undefined)
    throw new UsageError('give --gpus or --slots, not both')
  const slotCount = values.slots === undefined ? 1 : Number(values.slots)
  if (!Number.isInteger(slotCount) || slotCount < 1 || slotCount > 64)
    throw new UsageError(`--slots must be an integer from 1 to 64 (got ${values.slots})`)
  const gpus = values.gpus === undefined ? null : parseGpuList(values.gpus)
  if (gpus !== null && typeof gpus === 'object' && 'error' in gpus)
    throw new UsageError(`--${gpus.error}`)
  const name = values.name ?? hostname()
  if (!/^[\w.@:-]{1,100}$/.test(name))
    throw new UsageError(
      `--name may hold letters, digits and . @ : - _ (got ${JSON.stringify(name)})`,
    )

  let fleetKey: string
  try {
    fleetKey = workerFleetKey(values['fleet-key-file'])
  } catch (err) {
    throw new UsageError((err as Error).message)
  }

  // Two workers of one name would overwrite each other's heartbeat: the fleet must tell them apart.
  const twin = await readWorkers(redisUrl, fleetKey).then(
    ({ beats }) => beats.find((b) => b.name === name),
    () => undefined, // Redis not up yet: the worker connects when it is
  )
  if (twin && !(twin.host === hostname() && twin.pid === process.pid)) {
    throw new UsageError(
      `a worker named ${JSON.stringify(name)} is already running (on ${twin.host}, pid ${twin.pid}): give this one another --name`,
    )
  }
  const { slots, note } = await resolveSlots({ concurrency: slotCount, gpus, redis: redisUrl })
  if (note) console.error(`nin-lab worker: ${note}`)
  const offers = await probeMachine().then(
    (p) => p.detail,
    () => 'unknown (the probe failed)',
  )
  const workDir = values['work-dir'] ?? join(resolveDataDir(values['data-dir']), 'worker')
  const { RemoteWorker } = await import('@worker/worker') // not on top: it loads bullmq
  const worker = new RemoteWorker({
    redisUrl,
    fleetKey,
    name,
    slots,
    workDir,
    offers,
    version: process.env['npm_package_version'] ?? 'dev',
    log: (line) => console.error(t(line)),
  })
  console.error(
    `worker ${t(name)}: ${slots.length} slot${slots.length === 1 ? '' : 's'} ` +
      `(${slots.map((s) => (s.gpu ? `GPU ${s.gpu.index} ${s.gpu.name}` : s.id)).join(', ')}), ` +
      `${offers}; Redis ${describeRedisUrl(redisUrl)}; scratch in ${workDir}. Ctrl-C drains.`,
  )
  const stop = (): void => {
    void worker.drain()
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  await worker.closed
  console.error(`worker ${t(name)}: stopped`)
  return 0
}
