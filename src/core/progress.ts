/**
 * Live progress of running runs: what the Queue view's bars and ETAs show. A run this process
 * trains is followed message by message (a smoothed step rate); a run trained elsewhere (another
 * scheduler process) is read from its latest `started` and `step` events in the store.
 */
import type { RunProgress } from '@shared/api/contract'
import type { StartedMessage, StepMessage, TrainerMessage } from '@shared/protocol/trainer'
import type { RunStore } from './store'

interface Live {
  started: StartedMessage | null
  lastStep: StepMessage | null
  /** Exponentially smoothed seconds per step, from the time between step messages. */
  secondsPerStep: number | null
}

/** Weight of the newest step interval in the smoothed rate. */
const RATE_SMOOTHING = 0.1

export class LiveProgress {
  private readonly live = new Map<string, Live>()

  constructor(private readonly store: RunStore) {}

  track(runId: string): void {
    this.live.set(runId, { started: null, lastStep: null, secondsPerStep: null })
  }

  forget(runId: string): void {
    this.live.delete(runId)
  }

  /** Follows one message of a tracked run; true when it changed the run's progress. */
  observe(runId: string, m: TrainerMessage): boolean {
    const live = this.live.get(runId)
    if (!live) return false
    if (m.type === 'started') live.started = m
    if (m.type === 'step') {
      if (live.lastStep && m.step > live.lastStep.step) {
        const dt = (m.time - live.lastStep.time) / 1000 / (m.step - live.lastStep.step)
        live.secondsPerStep =
          live.secondsPerStep === null
            ? dt
            : (1 - RATE_SMOOTHING) * live.secondsPerStep + RATE_SMOOTHING * dt
      }
      live.lastStep = m
    }
    return m.type === 'step' || m.type === 'epoch'
  }

  /** Progress of a running run: live when this process trains it, else from its log. */
  of(runId: string): RunProgress | null {
    const live = this.live.get(runId)
    const started = live?.started ?? this.store.latestEvent(runId, 'started')?.message ?? null
    if (!started) return null
    const step = live?.lastStep ?? this.store.latestEvent(runId, 'step')?.message ?? null
    const secondsPerStep =
      live?.secondsPerStep ??
      (step && step.examplesPerSec > 0
        ? this.store.requireRun(runId).config.train.batchSize / step.examplesPerSec
        : null)
    const epoch = step?.epoch ?? started.startEpoch + 1
    const stepInEpoch = step?.stepInEpoch ?? 0
    const remaining =
      (started.epochs - epoch) * started.stepsPerEpoch + (started.stepsPerEpoch - stepInEpoch)
    return {
      epoch,
      epochs: started.epochs,
      stepInEpoch,
      stepsPerEpoch: started.stepsPerEpoch,
      loss: step?.loss ?? null,
      examplesPerSec: step?.examplesPerSec ?? null,
      etaSeconds: secondsPerStep === null ? null : remaining * secondsPerStep,
      backend: started.backend,
      precision: started.precision ?? null,
    }
  }
}
