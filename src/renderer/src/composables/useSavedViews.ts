/**
 * Saved comparison views: the list (from the store, `listViews`), saving the Compare page's
 * state under a name (over the view it was opened from, or a view of that name), opening one
 * (also from its permalink, `#/compare/view/<id>`), deleting one, and each one's link.
 */
import { computed, ref, shallowRef, watch, type ComputedRef, type Ref, type ShallowRef } from 'vue'
import type { SavedView } from '@shared/api/contract'
import type { ConfigFilter } from '../lib/config-filter'
import { api, errorMessage } from '../api'
import { useCompareStore } from '../stores/compare'
import { routeHash, useRouteStore } from '../stores/route'

export interface SavedViews {
  readonly views: ShallowRef<readonly SavedView[]>
  readonly current: ComputedRef<SavedView | null>
  readonly busy: Ref<boolean>
  readonly error: Ref<string | null>
  /** What the last action did, for a status line. */
  readonly message: Ref<string | null>
  load(): Promise<void>
  save(name: string): Promise<SavedView | null>
  open(id: number): Promise<void>
  remove(id: number): Promise<void>
  /** The view's permalink (this page's address with `#/compare/view/<id>`, never the key). */
  link(id: number): string
}

export function useSavedViews(filters: () => readonly ConfigFilter[]): SavedViews {
  const compare = useCompareStore()
  const router = useRouteStore()
  const views = shallowRef<readonly SavedView[]>([])
  const busy = ref(false)
  const error = ref<string | null>(null)
  const message = ref<string | null>(null)
  const current = computed(() => views.value.find((v) => v.id === compare.view?.id) ?? null)

  async function act<T>(action: () => Promise<T>): Promise<T | null> {
    busy.value = true
    try {
      const result = await action()
      error.value = null
      return result
    } catch (err) {
      error.value = errorMessage(err)
      return null
    } finally {
      busy.value = false
    }
  }

  async function load(): Promise<void> {
    const list = await act(() => api.listViews({}))
    if (list) views.value = list
  }

  async function save(name: string): Promise<SavedView | null> {
    const clean = name.trim()
    if (!clean) {
      error.value = 'a view needs a name'
      return null
    }
    const same = compare.view && compare.view.name === clean ? compare.view.id : undefined
    const saved = await act(() =>
      api.saveView({
        name: clean,
        state: compare.state(filters()),
        ...(same !== undefined ? { id: same } : {}),
      }),
    )
    if (!saved) return null
    compare.view = { id: saved.id, name: saved.name }
    views.value = [...views.value.filter((v) => v.id !== saved.id), saved].sort((a, b) =>
      a.name.localeCompare(b.name),
    )
    message.value = `Saved view “${saved.name}”.`
    router.go({ name: 'compare', view: saved.id })
    return saved
  }

  async function open(id: number): Promise<void> {
    if (views.value.length === 0 || !views.value.some((v) => v.id === id)) await load()
    const view = views.value.find((v) => v.id === id)
    if (!view) {
      error.value = `there is no saved view ${id} (it may have been deleted)`
      return
    }
    compare.apply(view.state, { id: view.id, name: view.name })
    message.value = null
  }

  async function remove(id: number): Promise<void> {
    const done = await act(() => api.deleteView({ id }))
    if (!done) return
    views.value = views.value.filter((v) => v.id !== id)
    if (compare.view?.id === id) {
      compare.view = null
      router.go({ name: 'compare' })
    }
    message.value = 'View deleted.'
  }

  const link = (id: number): string =>
    `${window.location.origin}${window.location.pathname}${routeHash({ name: 'compare', view: id })}`

  // A permalink opened (or the back button): open the view it names.
  watch(
    () => (router.route.name === 'compare' ? router.route.view : undefined),
    (id) => {
      if (id !== undefined && id !== compare.view?.id) void open(id)
    },
    { immediate: true },
  )

  return { views, current, busy, error, message, load, save, open, remove, link }
}
