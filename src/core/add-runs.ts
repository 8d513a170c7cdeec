/**
 * Queueing a grid through the API: its size refused or confirmed before anything is expanded,
 * completed runs elsewhere never reused silently, and a big grid stored in chunks that let other
 * calls in between.
 */
import {
  ApiError,
  CONFIRM_GRID_RUNS,
  MAX_GRID_RUNS,
  type Params,
  type Result,
} from '@shared/api/contract'
import type { Run } from '@shared/api/types'
import { expandGridYielding } from '@shared/grid'
import { HEALTH_LABELS } from '@shared/health'
import type { RunStore } from './store'

/** Runs stored per transaction when a grid is added (see addGrid). */
const ADD_CHUNK = 100
/** Resolves on the event loop's next turn, after the I/O (other requests) waiting for it. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * Expands and queues a grid. A big grid is validated and stored in chunks, letting other calls
 * in between: 10,000 runs in one go held every other call up for 6.5 s. Each chunk is a
 * transaction, so an add cut short keeps whole chunks, and adding the grid again adds only what
 * is missing. `onAdded` hears each chunk's new runs.
 */
export async function addGrid(
  store: RunStore,
  p: Params<'addRuns'>,
  onAdded: (runs: Run[]) => void,
): Promise<Result<'addRuns'>> {
  checkGridSize(p)
  const { configs } = await expandGridYielding(p.base, p.axes, p.seeds, nextTurn)
  const reuse = p.reuse ?? 'ask'
  // Nothing is linked silently: reuse 'ask' (the default) refuses, listing the matches.
  if (reuse === 'ask') askAboutReuse(store.reusableRuns(p.experiment, configs))
  const result: Result<'addRuns'> = { added: [], skipped: 0, linked: [] }
  for (let i = 0; i < configs.length; i += ADD_CHUNK) {
    if (i > 0) await nextTurn()
    const chunk = configs.slice(i, i + ADD_CHUNK)
    const part = store.addRuns(p.experiment, chunk, {
      priority: p.priority,
      reuse: reuse === 'link' ? 'link' : 'train',
    })
    result.added.push(...part.added)
    result.linked.push(...part.linked)
    result.skipped += part.skipped
    if (part.added.length > 0) onAdded(part.added)
  }
  return result
}

/**
 * Refuses a grid too big to queue, and asks for confirmation of a big one — before anything is
 * expanded, so a request naming 10^20 runs costs nothing.
 */
function checkGridSize(p: Params<'addRuns'>): void {
  const runs = p.axes.reduce((n, axis) => n * Math.max(1, axis.values.length), 1) * p.seeds
  if (runs > MAX_GRID_RUNS) {
    throw new ApiError(
      'invalid-params',
      `this grid has ${runs.toLocaleString('en-US')} runs; at most ${MAX_GRID_RUNS.toLocaleString('en-US')} ` +
        'can be queued at once: use fewer axis values or seeds, or queue it in parts',
    )
  }
  if (runs > CONFIRM_GRID_RUNS && p.confirm !== true) {
    throw new ApiError(
      'needs-confirmation',
      `this grid queues ${runs.toLocaleString('en-US')} runs (more than ${CONFIRM_GRID_RUNS}): ` +
        'confirm to queue them (the CLI takes --yes)',
    )
  }
}

/**
 * Queueing runs that completed runs elsewhere already trained is never silent: the answer names
 * each (one issue per run: which run, experiment, date and health) and the caller repeats the
 * call with `reuse: 'link'` or `'train'` (the CLI's --link / --train, a choice in the form).
 */
export function askAboutReuse(matches: ReturnType<RunStore['reusableRuns']>): void {
  if (matches.length === 0) return
  const issues = matches.map(({ name, source }) => ({
    path: name,
    message:
      `${name}: the same config, engine and precision completed as run ${source.id} of ` +
      `experiment "${source.experiment}"` +
      `${source.finishedAt === null ? '' : `, trained ${new Date(source.finishedAt).toISOString().slice(0, 10)}`}` +
      ` (test accuracy ${source.finalTestAcc === null ? '—' : `${(source.finalTestAcc * 100).toFixed(2)}%`}, ${HEALTH_LABELS[source.health.status]})`,
  }))
  throw new ApiError(
    'needs-confirmation',
    `${matches.length} of these runs ${matches.length === 1 ? 'was' : 'were'} already trained ` +
      'in another experiment: link them (reuse: link; the CLI takes --link) or train them anew ' +
      '(reuse: train; --train)',
    issues,
  )
}
