/**
 * The core's question about reusable runs (`needs-confirmation` with one issue per run that a
 * completed run elsewhere already trained), as a usage error that lists them and names the two
 * flags: `queue add` and `exercise queue` ask it in the same words.
 */
import { ApiError } from '@shared/api/contract'
import { terminalText as t } from '@shared/security'
import { UsageError } from './errors'

/** Rethrows `err`, as a UsageError when it is the reuse question. */
export function explainReuse(err: unknown): never {
  if (!(err instanceof ApiError && err.code === 'needs-confirmation' && err.issues)) throw err
  const lines = err.issues.map((i) => `  - ${t(i.message)}`).join('\n')
  throw new UsageError(
    `${err.message}:\n${lines}\nRepeat with --link to link them (no training; their metrics ` +
      'show in this experiment too) or --train to train them anew.',
  )
}

/** `--link` / `--train` as the API's reuse parameter (neither: ask). */
export function reuseFlag(values: { link?: boolean; train?: boolean }): 'ask' | 'link' | 'train' {
  if (values.link && values.train) throw new UsageError('--link and --train exclude each other')
  return values.link ? 'link' : values.train ? 'train' : 'ask'
}
