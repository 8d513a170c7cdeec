/**
 * The config being edited on the New experiment page: the preset it started from and the draft
 * itself (any JSON: invalid values stay as typed so the form can say what is wrong with them),
 * with its validation. The owner of `preset` and `draft`; the cost, grid, estimate and
 * submission stores read it.
 */
import { defineStore } from 'pinia'
import { computed, ref, shallowRef, watch, type ShallowRef } from 'vue'
import { defaultExperimentConfig, parseExperimentConfig } from '@shared/config/experiment'
import type { ExperimentConfig } from '@shared/config/experiment'
import { applyOverride, mergeInput } from '@shared/config/overrides'
import { canonicalJson } from '@shared/grid'
import { isPresetName, PRESET_NAMES, presetInput, type PresetName } from '@shared/config/presets'
import type { ConfigIssue } from '@shared/config/schema'
import type { Run } from '@shared/api/types'
import { derivedFromDataset, followDatasetInDraft, getAt } from '../lib/schema-form'
import { loadSaved, saveFields } from './new-experiment-storage'

const presetDraft = (name: PresetName): unknown =>
  followDatasetInDraft(mergeInput(defaultExperimentConfig(), presetInput(name)))

/**
 * The preset whose network (`model`) a config has, or null when none has it: a cloned run's
 * preset, so "Reset to preset" never resets to the network of a preset picked before.
 */
export function presetOfConfig(config: unknown): PresetName | null {
  const model = canonicalJson(getAt(config, 'model'))
  return (
    PRESET_NAMES.find((name) => canonicalJson(getAt(presetDraft(name), 'model')) === model) ?? null
  )
}

export interface DraftOrigin {
  /** `clone`: a new experiment from it; `requeue`: a fixed copy back into its experiment. */
  readonly mode: 'clone' | 'requeue'
  readonly runId: string
  readonly runName: string
  readonly experiment: string
}

const isOrigin = (v: unknown): v is DraftOrigin =>
  typeof v === 'object' &&
  v !== null &&
  ((v as DraftOrigin).mode === 'clone' || (v as DraftOrigin).mode === 'requeue') &&
  typeof (v as DraftOrigin).runId === 'string' &&
  typeof (v as DraftOrigin).runName === 'string' &&
  typeof (v as DraftOrigin).experiment === 'string'

/** The config's top-level sections: issues under them are shown next to their field. */
const FORM_SECTIONS = /^(name|engine|model|data|train)\b/

export const useDraftStore = defineStore('draft', () => {
  const saved = loadSaved()
  /** The preset the draft started from; null for a run's config no preset has the network of. */
  const preset = ref<PresetName | null>(
    saved.preset === null
      ? null
      : typeof saved.preset === 'string' && isPresetName(saved.preset)
        ? saved.preset
        : 'd2l',
  )
  /** The config being edited; replaced (never mutated) on each edit. */
  const draft = shallowRef<unknown>(
    typeof saved.draft === 'object' && saved.draft !== null
      ? saved.draft
      : presetDraft(preset.value ?? 'd2l'),
  )

  /**
   * Where the draft came from when it is a run's config (Clone, Edit and requeue): said above the
   * form, and the experiment the requeued run goes to. Null for a preset.
   */
  const origin = ref<DraftOrigin | null>(isOrigin(saved.origin) ? saved.origin : null)

  function choosePreset(name: PresetName): void {
    preset.value = name
    draft.value = presetDraft(name)
    origin.value = null
  }

  /** The draft differs from its preset (switching preset would drop edits). */
  const isEdited = computed(
    () =>
      origin.value !== null ||
      preset.value === null ||
      canonicalJson(draft.value) !== canonicalJson(presetDraft(preset.value)),
  )

  /** Starts the draft from a run's config (its name and seed kept; the grid is the caller's). */
  function loadRun(
    run: Pick<Run, 'id' | 'name' | 'experiment' | 'config'>,
    mode: DraftOrigin['mode'],
  ): void {
    draft.value = structuredClone(run.config)
    preset.value = presetOfConfig(run.config)
    origin.value = { mode, runId: run.id, runName: run.name, experiment: run.experiment }
  }
  const forgetOrigin = (): void => {
    origin.value = null
  }

  const edits = fieldEdits(draft)

  const checked = validation(draft)

  watch([preset, draft, origin], () =>
    saveFields({ preset: preset.value, draft: draft.value, origin: origin.value }),
  )

  return {
    preset,
    draft,
    origin,
    isEdited,
    choosePreset,
    loadRun,
    forgetOrigin,
    ...edits,
    ...checked,
  }
})

/** Editing the draft field by field (each edit replaces it), and reading it by path. */
function fieldEdits(draft: ShallowRef<unknown>) {
  const valueAt = (path: string): unknown => getAt(draft.value, path)

  function setField(path: string, value: unknown): void {
    const next = applyOverride(draft.value, { path, value })
    // Channels and classes follow the dataset (shown read-only while it fixes them).
    draft.value = path.startsWith('data.') ? followDatasetInDraft(next) : next
  }

  /** The value a field takes from the dataset, when the dataset fixes it (else undefined). */
  const derivedAt = (path: string): number | undefined => derivedFromDataset(draft.value, path)

  function addItem(path: string, item: unknown): void {
    const list = valueAt(path)
    setField(path, [...(Array.isArray(list) ? list : []), structuredClone(item)])
  }

  function removeItem(path: string, index: number): void {
    const list = valueAt(path)
    if (Array.isArray(list))
      setField(
        path,
        list.filter((_, i) => i !== index),
      )
  }

  return { valueAt, derivedAt, setField, addItem, removeItem }
}

/** The draft validated: the config, or its issues (and those the form cannot place). */
function validation(draft: ShallowRef<unknown>) {
  const parsed = computed(() => parseExperimentConfig(draft.value))
  /** The validated config, or null while any field is invalid. */
  const config = computed<ExperimentConfig | null>(() =>
    parsed.value.ok ? parsed.value.value : null,
  )
  const issues = computed<readonly ConfigIssue[]>(() =>
    parsed.value.ok ? [] : parsed.value.issues,
  )
  /** Issues the form cannot place next to a field (unknown fields, the root). */
  const looseIssues = computed(() =>
    issues.value.filter((i) => i.path === '' || !FORM_SECTIONS.test(i.path)),
  )

  return { parsed, config, issues, looseIssues }
}
