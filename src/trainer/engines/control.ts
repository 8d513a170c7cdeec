/**
 * What every engine gets from the trainer process: a way to send messages and to learn that the
 * parent asked the run to stop.
 */
import type { TrainerMessage, Unstamped } from '@shared/protocol/trainer'

export type Emit = (message: Unstamped<TrainerMessage>) => void

export interface TrainControl {
  /** True once the parent asked the run to stop (SIGTERM); checked before every step. */
  readonly stopRequested: () => boolean
  /** Aborted by the same request: stops data loading, which comes before the first step. */
  readonly signal: AbortSignal
}

/** The final message of a run stopped while it was still loading its data. */
export const CANCELLED_BEFORE_START = { type: 'cancelled', epoch: 0, step: 0 } as const

/**
 * Runs a data load that a stop request aborts; null when it was aborted (the run is cancelled
 * before it started), the load's result otherwise.
 */
export async function loadUnlessStopped<T>(
  control: TrainControl,
  load: (signal: AbortSignal) => Promise<T>,
): Promise<T | null> {
  try {
    return await load(control.signal)
  } catch (err) {
    if (control.signal.aborted) return null
    throw err
  }
}
