/**
 * Runs as a catalog: queueing configs as runs (deduplicated by config hash, or linked to a run
 * another experiment already trained), reading and listing them, the queue's order as it reads,
 * and what a person edits on a run (priority, notes, tags) or deletes. How a run moves between
 * states is run-lifecycle.ts.
 */
import { createHash, randomInt } from 'node:crypto'
import { existsSync } from 'node:fs'
import { validateExperimentConfig, type ExperimentConfig } from '@shared/config/experiment'
import { configIdentity } from '@shared/grid'
import { canDelete } from '@shared/run-state'
import { checkInteger, type StoreContext } from './context'
import { StoreError } from './errors'
import type { ExperimentStore } from './experiment-store'
import {
  countRunsQuery,
  listRunsQuery,
  toRun,
  type ListCursor,
  type Run,
  type RunFilter,
  type RunRow,
} from './runs'
import type { Statement } from './statement'

export interface AddRunsResult {
  readonly added: Run[]
  /** Configs whose identity (config hash) the experiment already had, or given twice. */
  readonly skipped: number
  /** With `reuse: 'link'`: runs linked to a completed run of the same config, not queued. */
  readonly linked: Run[]
}

/** sha256 of the config's identity (all but its name, keys sorted): what dedupes runs. */
export const configHash = (config: ExperimentConfig): string =>
  createHash('sha256').update(configIdentity(config)).digest('hex')

// Run ids: 'r' + 6 characters without look-alikes (0/o, 1/l/i), e.g. `r7k2q9x`. Short enough to
// type after `nin-lab show`, random so that a recreated database never reuses a leftover
// runs/<id>/ folder (integers 1, 2, 3 would), and 31^6 ≈ 8.9e8 values, checked for collisions.
const ID_ALPHABET = '23456789abcdefghjkmnpqrstuvwxyz'
const ID_LENGTH = 6

export class RunCatalog {
  private readonly sql: StoreContext['sql']
  private readonly listCache = new Map<string, Statement<unknown[], RunRow>>()

  constructor(
    private readonly ctx: StoreContext,
    private readonly experiments: ExperimentStore,
  ) {
    this.sql = ctx.sql
  }

  /**
   * Queues configs as runs of an experiment (created if needed), at the end of the queue, in
   * order. A config the experiment already has (same config hash: names and key order do not
   * count) is skipped, so queueing a grid twice adds only what is new. One transaction: all or
   * nothing.
   */
  addRuns(
    experimentName: string,
    configs: readonly ExperimentConfig[],
    options: { readonly priority?: number; readonly reuse?: 'link' | 'train' } = {},
  ): AddRunsResult {
    const priority = options.priority ?? 0
    checkInteger(priority, 'priority')
    const rows = this.configRows(configs)
    return this.ctx.write(() => {
      const experiment = this.experiments.ensureExperiment(experimentName)
      let position = (this.sql.runs.maxQueuePosition.get() ?? 0) + 1
      const added: string[] = []
      const linked: string[] = []
      for (const { config, json, hash } of rows) {
        const id = this.newRunId()
        const row = {
          id,
          experimentId: experiment.id,
          name: config.name,
          configJson: json,
          configHash: hash,
          priority,
          queuePosition: position,
          seed: config.train.seed,
          now: this.ctx.now(),
        }
        const source =
          options.reuse === 'link' ? this.sql.runs.reusable.get(hash, experiment.id) : undefined
        if (source !== undefined) {
          if (this.sql.runs.insertLink.run({ ...row, source: source.id }).changes === 1) {
            linked.push(id)
          }
        } else if (this.sql.runs.insert.run(row).changes === 1) {
          added.push(id)
          position++
        }
      }
      return {
        added: added.map((id) => this.requireRun(id)),
        skipped: rows.length - added.length - linked.length,
        linked: linked.map((id) => this.requireRun(id)),
      }
    })
  }

  /**
   * The configs that addRuns would queue in this experiment (it lacks them) and that a
   * completed run elsewhere already trained with the same config, engine and precision (the
   * config hash covers all three): each with the newest such run.
   */
  reusableRuns(
    experimentName: string,
    configs: readonly ExperimentConfig[],
  ): { readonly name: string; readonly source: Run }[] {
    const rows = this.configRows(configs)
    return this.ctx.guard(() => {
      const experimentId = this.sql.experiments.byName.get(experimentName.trim())?.id ?? -1
      const seen = new Set<string>()
      const out: { name: string; source: Run }[] = []
      for (const { config, hash } of rows) {
        if (seen.has(hash)) continue
        seen.add(hash)
        if (this.sql.runs.hasConfig.get(experimentId, hash) !== undefined) continue
        const source = this.sql.runs.reusable.get(hash, experimentId)
        if (source !== undefined) out.push({ name: config.name, source: toRun(source) })
      }
      return out
    })
  }

  /** Validated here too: the store is a boundary, and reads trust config_json as it is. */
  private configRows(configs: readonly ExperimentConfig[]) {
    return configs.map((c, i) => {
      const config = validateExperimentConfig(c, `run ${i + 1} of ${configs.length}`)
      return { config, json: JSON.stringify(config), hash: configHash(config) }
    })
  }

  getRun(runId: string): Run | undefined {
    return this.ctx.guard(() => {
      const row = this.sql.runs.byId.get(runId)
      return row === undefined ? undefined : toRun(row)
    })
  }

  /** Like getRun, but a missing run is a StoreError ('not-found'). */
  requireRun(runId: string): Run {
    return this.ctx.guard(() => toRun(this.ctx.requireRow(runId)))
  }

  /** How many runs match the filter (its offset and limit ignored). */
  countRuns(filter: RunFilter = {}): number {
    return this.ctx.guard(() => {
      const { statement, params } = countRunsQuery(this.ctx.connection, this.listCache, filter)
      return (statement.get(...params) as unknown as { n: number } | undefined)?.n ?? 0
    })
  }

  listRuns(filter: RunFilter = {}): Run[] {
    return this.ctx.guard(() => {
      const { statement, params } = listRunsQuery(this.ctx.connection, this.listCache, filter)
      return statement.all(...params).map(toRun)
    })
  }

  /**
   * At most `limit` runs in the `created` or `newest` order from `after` on, and the cursor of
   * the page after them (null when none follows).
   */
  listRunsPage(
    filter: Omit<RunFilter, 'offset' | 'limit'> & {
      readonly limit: number
      readonly offset?: number
    },
  ): { runs: Run[]; next: ListCursor | null } {
    return this.ctx.guard(() => {
      // One row more than asked says whether another page follows, without a second query.
      const query = { ...filter, limit: filter.limit + 1 }
      const { statement, params } = listRunsQuery(this.ctx.connection, this.listCache, query)
      const rows = statement.all(...params)
      const more = rows.length > filter.limit
      const kept = more ? rows.slice(0, filter.limit) : rows
      const last = kept[kept.length - 1]
      const next = more && last ? { createdAt: last.created_at, seq: last.row_seq } : null
      return { runs: kept.map(toRun), next }
    })
  }

  /** The queued runs in the order they will start. */
  queue(options: { readonly limit?: number } = {}): Run[] {
    return this.ctx.guard(() =>
      (options.limit === undefined
        ? this.sql.runs.queue.all()
        : this.sql.runs.queuePage.all(options.limit)
      ).map(toRun),
    )
  }

  /** How many runs wait in the queue. */
  queuedCount(): number {
    return this.ctx.guard(() => this.sql.runs.queuedCount.get() ?? 0)
  }

  /** The run to start next: highest priority, then first queued. */
  nextQueued(): Run | undefined {
    return this.ctx.guard(() => {
      const row = this.sql.runs.next.get()
      return row === undefined ? undefined : toRun(row)
    })
  }

  setPriority(runId: string, priority: number): Run {
    checkInteger(priority, 'priority')
    return this.ctx.write(() => {
      this.ctx.requireRow(runId)
      this.sql.runs.setPriority.run(priority, runId)
      return this.requireRun(runId)
    })
  }

  setNotes(runId: string, notes: string): Run {
    return this.ctx.write(() => {
      this.ctx.requireRow(runId)
      this.sql.runs.setNotes.run(notes, runId)
      return this.requireRun(runId)
    })
  }

  /** Replaces a run's tags (trimmed, empty ones and repeats dropped, order kept). */
  setTags(runId: string, tags: readonly string[]): Run {
    const clean = [...new Set(tags.map((t) => t.trim()).filter((t) => t.length > 0))]
    return this.ctx.write(() => {
      this.ctx.requireRow(runId)
      this.sql.runs.setTags.run(JSON.stringify(clean), runId)
      return this.requireRun(runId)
    })
  }

  /**
   * Deletes runs with their points, events and artifact rows (all or none; a running run is
   * refused: cancel it first). Returns the run folders for the caller to remove: files are not
   * the database's to delete, and a failed removal must not undo the deletion.
   */
  delete(runIds: readonly string[]): string[] {
    return this.ctx.write(() => {
      const ids = [...new Set(runIds)]
      for (const id of ids) {
        const row = this.ctx.requireRow(id)
        if (!canDelete(row.status)) {
          throw new StoreError(
            'illegal-state',
            `cannot delete run ${id}: it is ${row.status}; cancel it first`,
          )
        }
        // A linked run reads its metrics from this one: deleting it alone would empty them.
        const links = this.sql.runs.linksTo.all(id).filter((l) => !ids.includes(l))
        if (links.length > 0) {
          throw new StoreError(
            'illegal-state',
            `cannot delete run ${id}: ${links.length === 1 ? 'run' : 'runs'} ${links.join(', ')} ` +
              `of other experiments ${links.length === 1 ? 'is a link' : 'are links'} to it and ` +
              'read its metrics from it; delete them in the same call, or keep it',
          )
        }
      }
      // Links first: they reference their source.
      ids.sort(
        (a, b) =>
          Number(this.ctx.requireRow(b).linked_from !== null) -
          Number(this.ctx.requireRow(a).linked_from !== null),
      )
      for (const id of ids) this.sql.runs.delete.run(id)
      return ids.map((id) => this.ctx.runDir(id))
    })
  }

  private newRunId(): string {
    for (;;) {
      let id = 'r'
      for (let i = 0; i < ID_LENGTH; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)]
      if (this.sql.runs.exists.get(id) === undefined && !existsSync(this.ctx.runDir(id))) return id
    }
  }
}
