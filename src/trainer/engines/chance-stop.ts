/**
 * `train.onChance: stop`, once for every engine: the trainer process sees each engine's `epoch`
 * messages on their way out (the torch engine's relayed from Python), so it alone decides. An
 * epoch at chance (src/shared/health.ts, `atChance`) asks the run to stop as SIGTERM would; the
 * engine then ends after its current step (the epoch's checkpoint already written) with
 * `cancelled`, which this turns into `failed` with the reason — a run nobody cancelled must not
 * read as cancelled, and `failed` is what the Queue lists under "needs attention" and can retry.
 */
import type { ExperimentConfig } from '@shared/config/experiment'
import { atChance, chanceReason } from '@shared/health'
import type { TrainerMessage, Unstamped } from '@shared/protocol/trainer'

type Message = Unstamped<TrainerMessage>

export interface ChanceStop {
  /** Passes every message through; asks for the stop after an epoch at chance. */
  readonly watch: (message: Message) => void
  /** The run's final message as it should be reported. */
  readonly final: (message: Message) => Message
}

export function chanceStop(config: ExperimentConfig, requestStop: () => void): ChanceStop {
  let reason: string | null = null
  return {
    watch: (m) => {
      if (config.train.onChance !== 'stop' || reason !== null || m.type !== 'epoch') return
      if (!atChance(m, config.model.numClasses)) return
      reason =
        `stopped ${chanceReason(m, config.model.numClasses)} ` +
        `(train.onChance is stop; set it to keep to train on regardless)`
      requestStop()
    },
    final: (m) =>
      reason !== null && m.type === 'cancelled' ? { type: 'failed', error: reason } : m,
  }
}
