/** Words for the buttons that act on a run. */
import type { RunStatus } from '@shared/run-state'

/**
 * The way out of "Cancel this run?": never "Cancel", which reads as the very thing it declines.
 * Named after what the run goes on doing.
 */
export function keepLabel(status: RunStatus | undefined): string {
  if (status === 'running') return 'Keep running'
  if (status === 'queued') return 'Keep it queued'
  return 'Keep the run'
}
