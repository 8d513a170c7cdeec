// @vitest-environment happy-dom
// The rough edges a new user hit (issue 23), each pinned in the renderer.
import { enableAutoUnmount, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { setTransport, tokenFrom } from '@renderer/api'
import { parseHash } from '@renderer/stores/route'
import App from '@renderer/App.vue'
import { fakeTransport, flush, type FakeTransport } from './helpers'

let transport: FakeTransport
beforeEach(() => {
  window.localStorage.clear()
  window.location.hash = ''
  transport = fakeTransport({
    listRuns: () => ({ runs: [], total: 0 }),
    queueState: () => ({
      paused: false,
      schedulerRunning: true,
      halted: null,
      runs: [],
      queuedTotal: 0,
      progress: {},
    }),
  })
  setTransport(transport)
  setActivePinia(createPinia())
})
afterEach(() => setTransport(null))
enableAutoUnmount(afterEach)

describe('a malformed permalink', () => {
  it('parses to an "invalid" route instead of throwing URIError', () => {
    expect(parseHash('#/runs/%')).toEqual({ name: 'invalid', hash: '#/runs/%' })
    expect(parseHash('#/runs/%E0%A4%A')).toEqual({ name: 'invalid', hash: '#/runs/%E0%A4%A' })
    expect(parseHash('#/runs/r%20x')).toEqual({ name: 'run', id: 'r x' })
    expect(tokenFrom('http://127.0.0.1:7317/#token=%')).toBeNull()
  })

  it('shows a "not a valid link" state, not a blank page', async () => {
    window.location.hash = '#/runs/%'
    const app = mount(App, { attachTo: document.body })
    await flush()
    const state = app.get('[data-testid=invalid-link]')
    expect(state.text()).toContain('Not a valid link')
    expect(app.get('[data-testid=invalid-link-hash]').text()).toBe('#/runs/%')
    // The sidebar still works, so the user has a way on.
    expect(app.find('[data-testid=nav-runs]').exists()).toBe(true)
  })
})
