/**
 * Where the New experiment page keeps its state between reloads: one localStorage entry shared by
 * the stores that own its parts (draft, grid, submission), each writing only its own fields. One
 * entry, as before the stores were split, so a draft saved by an older NiN Lab still loads.
 */
import type { PresetName } from '@shared/config/presets'

const STORAGE_KEY = 'ninLab.newExperiment'

export interface SavedNewExperiment {
  /** Null: a run's config whose network no preset has. */
  preset: PresetName | null
  draft: unknown
  axes: { path: string; text: string }[]
  seeds: number
  experimentName: string
  /** A run the draft was cloned from (see DraftOrigin in draft.ts). */
  origin: unknown
}

/** What was saved; fields that are missing or unreadable are simply absent. */
export function loadSaved(): Partial<Record<keyof SavedNewExperiment, unknown>> {
  try {
    const text = window.localStorage.getItem(STORAGE_KEY)
    if (!text) return {}
    const saved = JSON.parse(text) as unknown
    return typeof saved === 'object' && saved !== null && !Array.isArray(saved)
      ? (saved as Partial<Record<keyof SavedNewExperiment, unknown>>)
      : {}
  } catch {
    return {}
  }
}

/** Saves some fields, keeping the ones other stores wrote. */
export function saveFields(fields: Partial<SavedNewExperiment>): void {
  try {
    window.localStorage.setItem(STORAGE_KEY, JSON.stringify({ ...loadSaved(), ...fields }))
  } catch {
    // storage full or unavailable: the draft lasts for this session only
  }
}
