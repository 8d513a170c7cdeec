/** Small helpers shared by the generated form's controls. */
import type { Field } from '@shared/config/schema'

/**
 * The value of a number input as the draft stores it: a number when the text is one, else the
 * text itself (so validation can say "got "1e"" instead of silently dropping it).
 */
export function numberFromInput(text: string): number | string {
  if (text.trim() === '') return ''
  const n = Number(text)
  return Number.isFinite(n) ? n : text
}

/** The step attribute for a numeric field: 1 for integers, fine steps for rates. */
export function stepOf(field: Field): string {
  if (field.kind === 'int') return '1'
  if (field.kind === 'number') return field.max <= 1 ? '0.01' : 'any'
  return 'any'
}

/** A DOM id from a JSON path (`model.blocks[0].kernel` → `f-model-blocks-0-kernel`). */
export const domId = (prefix: string, path: string): string =>
  `${prefix}-${path.replace(/[^A-Za-z0-9]+/g, '-').replace(/-+$/, '')}`

/** Text shown in an input for a draft value (numbers as typed, anything else as is). */
export const inputText = (v: unknown): string =>
  v === null || v === undefined ? '' : typeof v === 'string' ? v : String(v)
