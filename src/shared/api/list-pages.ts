/**
 * Every run a listRuns filter matches, page by page through the server's cursor: each answer is
 * small (MAX_LIST runs at most) so the server answers other calls between pages, and a run added
 * or deleted meanwhile neither repeats nor skips another.
 */
import { MAX_LIST, type Params, type Result } from './contract'

export type ListRunsCall = (params: Params<'listRuns'>) => Promise<Result<'listRuns'>>
export type ListFilter = Omit<Params<'listRuns'>, 'cursor' | 'offset' | 'limit'>

/** Yields each page in turn; the last one has `next: null`. */
export async function* runPages(
  list: ListRunsCall,
  filter: ListFilter = {},
  limit: number = MAX_LIST,
): AsyncGenerator<Result<'listRuns'>> {
  let cursor: string | undefined
  for (;;) {
    const page = await list({ ...filter, limit, ...(cursor === undefined ? {} : { cursor }) })
    yield page
    if (!page.next || page.runs.length === 0) return
    cursor = page.next
  }
}

/** Every matching run, in the filter's order. */
export async function listAllRuns(
  list: ListRunsCall,
  filter: ListFilter = {},
): Promise<Result<'listRuns'>['runs']> {
  const runs: Result<'listRuns'>['runs'] = []
  for await (const page of runPages(list, filter)) runs.push(...page.runs)
  return runs
}
