/**
 * Light or dark: follows the system (prefers-color-scheme) unless the user picked one, which is
 * remembered in localStorage. The resolved theme sets `data-theme` on <html> for the CSS
 * variables and gives the charts their colours.
 */
import { defineStore } from 'pinia'
import { computed, ref, watchEffect } from 'vue'
import { CHART_COLORS } from '../lib/chart-colors'

export type ThemeChoice = 'system' | 'light' | 'dark'
const KEY = 'ninLab.theme'

const readChoice = (): ThemeChoice => {
  try {
    const v = window.localStorage.getItem(KEY)
    return v === 'light' || v === 'dark' ? v : 'system'
  } catch {
    return 'system'
  }
}

export const useThemeStore = defineStore('theme', () => {
  const choice = ref<ThemeChoice>(readChoice())
  const media =
    typeof window.matchMedia === 'function'
      ? window.matchMedia('(prefers-color-scheme: dark)')
      : null
  const systemDark = ref(media?.matches ?? false)
  media?.addEventListener?.('change', (e) => {
    systemDark.value = e.matches
  })

  const resolved = computed<'light' | 'dark'>(() =>
    choice.value === 'system' ? (systemDark.value ? 'dark' : 'light') : choice.value,
  )
  const chart = computed(() => CHART_COLORS[resolved.value])

  watchEffect(() => {
    document.documentElement.dataset['theme'] = resolved.value
  })

  function setChoice(next: ThemeChoice): void {
    choice.value = next
    try {
      if (next === 'system') window.localStorage.removeItem(KEY)
      else window.localStorage.setItem(KEY, next)
    } catch {
      // storage unavailable (private mode): the choice lasts for this session only
    }
  }

  /** Cycles system → light → dark → system (the header button). */
  function cycle(): void {
    setChoice(choice.value === 'system' ? 'light' : choice.value === 'light' ? 'dark' : 'system')
  }

  return { choice, resolved, chart, setChoice, cycle }
})
