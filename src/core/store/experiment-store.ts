/** Experiments: named groups of runs (created on first use by addRuns). */
import { StoreError } from './errors'
import type { StoreContext } from './context'
import { toExperiment, type Experiment, type ExperimentSummary } from './experiments'

export class ExperimentStore {
  private readonly sql: StoreContext['sql']

  constructor(private readonly ctx: StoreContext) {
    this.sql = ctx.sql
  }

  findExperiment(name: string): Experiment | undefined {
    return this.ctx.guard(() => {
      const row = this.sql.experiments.byName.get(name)
      return row === undefined ? undefined : toExperiment(row)
    })
  }

  createExperiment(name: string, description = ''): Experiment {
    return this.ctx.write(() => {
      const clean = this.checkExperimentName(name)
      if (this.sql.experiments.byName.get(clean) !== undefined) {
        throw new StoreError('invalid', `experiment "${clean}" already exists`)
      }
      return this.insertExperiment(clean, description)
    })
  }

  /** The experiment of that name, created when it does not exist yet. */
  ensureExperiment(name: string, description = ''): Experiment {
    return this.ctx.write(() => {
      const clean = this.checkExperimentName(name)
      const row = this.sql.experiments.byName.get(clean)
      return row === undefined ? this.insertExperiment(clean, description) : toExperiment(row)
    })
  }

  listExperiments(): ExperimentSummary[] {
    return this.ctx.guard(() =>
      this.sql.experiments.all.all().map((row) => ({ ...toExperiment(row), runs: row.runs })),
    )
  }

  private checkExperimentName(name: string): string {
    const clean = name.trim()
    if (clean.length === 0 || clean.length > 120) {
      throw new StoreError(
        'invalid',
        `an experiment name must have 1 to 120 characters (got ${JSON.stringify(name)})`,
      )
    }
    return clean
  }

  private insertExperiment(name: string, description: string): Experiment {
    const id = this.sql.experiments.insert.run({
      name,
      description,
      createdAt: this.ctx.now(),
    }).lastInsertRowid
    const row = this.sql.experiments.byId.get(Number(id))
    if (row === undefined) throw new Error(`experiment ${name} vanished after insert`)
    return toExperiment(row)
  }
}
