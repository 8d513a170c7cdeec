/**
 * The run state machine, once: which statuses exist, which moves between them are allowed, and
 * the questions callers ask of a status (can it be retried, cancelled, deleted?). The store
 * enforces the transitions; the CLI and the views ask the predicates, so a button is offered
 * exactly when the store will accept the action (docs/architecture.md, "Run states").
 *
 *   queued ──▶ running ──▶ completed
 *     │          │ ├──▶ failed / diverged / cancelled ──(retry)──▶ queued
 *     │          │ └──▶ interrupted (its process vanished) ──(retry, or automatically)──▶ queued
 *     └──▶ cancelled / failed
 */
import type { HealthStatus } from './health'

export const RUN_STATUSES = [
  'queued',
  'running',
  'completed',
  'failed',
  'cancelled',
  'diverged',
  'interrupted',
] as const
export type RunStatus = (typeof RUN_STATUSES)[number]

/**
 * Allowed moves. `interrupted` = its trainer process vanished without a final message: it can be
 * retried (resuming from its checkpoint), cancelled, or still ended by late news from a trainer.
 */
export const RUN_TRANSITIONS: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  queued: ['running', 'cancelled', 'failed'],
  running: ['completed', 'failed', 'cancelled', 'diverged', 'interrupted'],
  interrupted: ['queued', 'completed', 'failed', 'cancelled', 'diverged'],
  failed: ['queued'],
  cancelled: ['queued'],
  diverged: ['queued'],
  completed: [],
}

export const canMove = (from: RunStatus, to: RunStatus): boolean =>
  RUN_TRANSITIONS[from].includes(to)

/** The statuses from which `to` can be reached, for error messages ("only failed or … runs"). */
export const statusesThatCanBecome = (to: RunStatus): RunStatus[] =>
  RUN_STATUSES.filter((s) => canMove(s, to))

/** States in which a trainer's final message still decides the outcome. */
export const OPEN_STATUSES: readonly RunStatus[] = ['queued', 'running', 'interrupted']
export const isOpen = (status: RunStatus): boolean => OPEN_STATUSES.includes(status)

/** Queued again, resuming from its last checkpoint. */
export const canRetry = (status: RunStatus): boolean => canMove(status, 'queued')
export const RETRYABLE_STATUSES: readonly RunStatus[] = statusesThatCanBecome('queued')

export const canCancel = (status: RunStatus): boolean => canMove(status, 'cancelled')

/** A training run has a live process: cancel it first (its folder is in use). */
export const canDelete = (status: RunStatus): boolean => status !== 'running'

/** Only queued runs have a place in the queue to move. */
export const canReorder = (status: RunStatus): boolean => status === 'queued'

/** Runs that stopped short of completing: what the Queue view lists under "needs attention". */
export const NEEDS_ATTENTION_STATUSES: readonly RunStatus[] = RETRYABLE_STATUSES

/**
 * And runs whose numbers answer nothing, whatever their status: a run at chance completes as
 * green as any other (src/shared/health.ts). The store's `attention` filter asks both lists.
 */
export const NEEDS_ATTENTION_HEALTH: readonly HealthStatus[] = ['chance']

/** Whether the Queue view lists the run under "needs attention". */
export const needsAttention = (run: {
  readonly status: RunStatus
  readonly health: { readonly status: HealthStatus }
}): boolean =>
  NEEDS_ATTENTION_STATUSES.includes(run.status) ||
  NEEDS_ATTENTION_HEALTH.includes(run.health.status)

/** "a, b or c", for messages. */
export const orList = (items: readonly string[]): string =>
  items.length <= 1
    ? (items[0] ?? '')
    : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1] ?? ''}`
