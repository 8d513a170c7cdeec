/**
 * Which view is shown: a reactive route kept in the URL hash (`#/runs/r7k2q9x`,
 * `#/compare/view/3`), so the back button, reloads, links and new tabs work. A tiny router of our
 * own: five views need no library.
 */
import { defineStore } from 'pinia'
import { ref } from 'vue'

export type Route =
  | { readonly name: 'new' }
  | { readonly name: 'queue' }
  | { readonly name: 'runs' }
  | { readonly name: 'run'; readonly id: string }
  /** `view`: a saved comparison view to open (a permalink, `#/compare/view/3`). */
  | { readonly name: 'compare'; readonly view?: number }
  /** A hash that cannot be decoded (`#/runs/%`): the app says so instead of going blank. */
  | { readonly name: 'invalid'; readonly hash: string }
  | { readonly name: 'exercises' }

export type RouteName = Route['name']

/** A segment decoded, or null where it is not valid percent-encoding (`%`, `%E0%A4%A`). */
function decodeSegment(segment: string): string | null {
  try {
    return decodeURIComponent(segment)
  } catch {
    return null
  }
}

export function parseHash(hash: string): Route {
  const decoded = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeSegment)
  if (decoded.some((part) => part === null)) return { name: 'invalid', hash }
  const parts = decoded as string[]
  switch (parts[0]) {
    case 'queue':
      return { name: 'queue' }
    case 'exercises':
      return { name: 'exercises' }
    case 'runs':
      return parts[1] ? { name: 'run', id: parts[1] } : { name: 'runs' }
    case 'compare': {
      const view = parts[1] === 'view' ? Number(parts[2]) : NaN
      return Number.isInteger(view) && view > 0 ? { name: 'compare', view } : { name: 'compare' }
    }
    default:
      return { name: 'new' }
  }
}

export function routeHash(route: Route): string {
  switch (route.name) {
    case 'run':
      return `#/runs/${encodeURIComponent(route.id)}`
    case 'new':
      return '#/new'
    case 'invalid':
      return route.hash
    case 'compare':
      return route.view === undefined ? '#/compare' : `#/compare/view/${route.view}`
    default:
      return `#/${route.name}`
  }
}

export const useRouteStore = defineStore('route', () => {
  const route = ref<Route>(parseHash(window.location.hash))

  function go(next: Route): void {
    route.value = next
    const hash = routeHash(next)
    if (window.location.hash !== hash) window.history.pushState(null, '', hash)
  }

  const sync = (): void => {
    route.value = parseHash(window.location.hash)
  }
  window.addEventListener('hashchange', sync)
  window.addEventListener('popstate', sync)

  return { route, go }
})
