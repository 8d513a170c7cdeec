/** The runs a command names: IDs as given, and every run of each `--experiment NAME`. */
import { MAX_IDS } from '@shared/api/contract'
import { listAllRuns } from '@shared/api/list-pages'
import type { Core } from './core'
import { UsageError } from './errors'

export async function runIdsOf(
  core: Core,
  ids: readonly string[],
  experiments: readonly string[],
): Promise<string[]> {
  const out = [...ids]
  for (const experiment of experiments) {
    const before = out.length
    // Page by page through the server's cursor (one answer holds at most MAX_LIST runs).
    for (const run of await listAllRuns((p) => core.api.listRuns(p), { experiment })) {
      out.push(run.id)
    }
    if (out.length === before) {
      const known = (await core.api.listExperiments({})).map((e) => e.name)
      throw new UsageError(
        `no runs in experiment "${experiment}"${known.length > 0 ? `; experiments: ${known.join(', ')}` : ''}`,
      )
    }
  }
  const unique = [...new Set(out)]
  if (unique.length > MAX_IDS) {
    throw new UsageError(
      `that is ${unique.length} runs; one call takes at most ${MAX_IDS}: name fewer`,
    )
  }
  return unique
}
