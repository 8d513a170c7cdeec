/** The runs a command names: IDs as given, and every run of each `--experiment NAME`. */
import { MAX_IDS, MAX_LIST } from '@shared/api/contract'
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
    for (let offset = 0; ;) {
      const page = await core.api.listRuns({ experiment, offset, limit: MAX_LIST })
      out.push(...page.runs.map((r) => r.id))
      offset += page.runs.length
      if (page.runs.length === 0 || offset >= page.total) break
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
