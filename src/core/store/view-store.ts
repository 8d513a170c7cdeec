/** Saved comparison views: a Compare page's runs, filters and charts under a name. */
import type { SavedView, ViewState } from '@shared/api/contract'
import type { StoreContext } from './context'
import { StoreError } from './errors'
import { toView } from './views'

export class ViewStore {
  private readonly sql: StoreContext['sql']

  constructor(private readonly ctx: StoreContext) {
    this.sql = ctx.sql
  }

  listViews(): SavedView[] {
    return this.ctx.guard(() => this.sql.views.all.all().map(toView))
  }

  /**
   * Saves a view's state: over the view `id` (renaming it to `name`), else over the view named
   * `name`, else as a new view. A rename onto another view's name is refused.
   */
  saveView(name: string, state: ViewState, id?: number): SavedView {
    const clean = name.trim()
    if (clean.length === 0 || clean.length > 120) {
      throw new StoreError(
        'invalid',
        `a view name must have 1 to 120 characters (got ${JSON.stringify(name)})`,
      )
    }
    const stateJson = JSON.stringify(state)
    return this.ctx.write(() => {
      const named = this.sql.views.byName.get(clean)
      const now = this.ctx.now()
      if (id !== undefined) {
        if (this.sql.views.byId.get(id) === undefined) {
          throw new StoreError('not-found', `no saved view ${id}`)
        }
        if (named !== undefined && named.id !== id) {
          throw new StoreError('invalid', `a view named "${clean}" already exists`)
        }
        this.sql.views.update.run({ id, name: clean, stateJson, now })
        return this.requireView(id)
      }
      if (named !== undefined) {
        this.sql.views.update.run({ id: named.id, name: clean, stateJson, now })
        return toView({ ...named, state_json: stateJson, updated_at: now })
      }
      const newId = Number(
        this.sql.views.insert.run({ name: clean, stateJson, now }).lastInsertRowid,
      )
      return toView(
        this.sql.views.byId.get(newId) as NonNullable<ReturnType<typeof this.sql.views.byId.get>>,
      )
    })
  }

  private requireView(id: number): SavedView {
    const row = this.sql.views.byId.get(id)
    if (row === undefined) throw new StoreError('not-found', `no saved view ${id}`)
    return toView(row)
  }

  deleteView(id: number): void {
    this.ctx.write(() => {
      if (this.sql.views.delete.run(id).changes === 0) {
        throw new StoreError('not-found', `no saved view ${id}`)
      }
    })
  }
}
