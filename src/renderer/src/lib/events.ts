/** A run log message as one readable line (the run detail's log). */
import type { TrainerMessage } from '@shared/protocol/trainer'
import { int, num, pct } from '@shared/format'

export function describeMessage(m: TrainerMessage): string {
  switch (m.type) {
    case 'started': {
      const skipped = m.skipped.length
        ? ` (skipped ${m.skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')})`
        : ''
      const resume = m.startEpoch > 0 ? `, resuming after epoch ${m.startEpoch}` : ''
      return (
        `started on ${m.backend}${m.threads ? ` ×${m.threads}` : ''}${m.precision ? ` in ${m.precision}` : ''}${skipped}: ${int(m.params)} params, ` +
        `${int(m.trainCount)} train / ${int(m.testCount)} test images, ` +
        `${int(m.stepsPerEpoch)} steps × ${m.epochs} epochs${resume}`
      )
    }
    case 'step':
      return `epoch ${m.epoch} step ${int(m.stepInEpoch)}: loss ${num(m.loss, 4)}, acc ${pct(m.acc)}, ${num(m.examplesPerSec, 1)} img/s`
    case 'epoch':
      return (
        `epoch ${m.epoch}: train loss ${num(m.trainLoss, 4)} acc ${pct(m.trainAcc)} · ` +
        `test loss ${num(m.testLoss, 4)} acc ${pct(m.testAcc)} · ${num(m.seconds, 1)} s, ` +
        `${num(m.examplesPerSec, 1)} img/s` +
        // train.compile: the wait for the compiler, kept out of the step time above.
        (m.compileSeconds === undefined ? '' : ` (+ ${num(m.compileSeconds, 1)} s compiling)`)
      )
    case 'checkpoint':
      return `checkpoint after epoch ${m.epoch} (step ${int(m.step)})`
    case 'log':
      return m.level === 'warn' ? `warning: ${m.message}` : m.message
    case 'finished':
      return `finished ${m.epochs} epochs: test accuracy ${pct(m.testAcc)}`
    case 'failed':
      return `failed: ${m.error}`
    case 'diverged':
      return `diverged at epoch ${m.epoch} step ${int(m.step)}: loss ${m.loss}`
    case 'cancelled':
      return `cancelled at epoch ${m.epoch} step ${int(m.step)}`
  }
}

/** Log lines that deserve a colour. */
export function messageLevel(m: TrainerMessage): 'error' | 'warn' | 'info' {
  if (m.type === 'failed' || m.type === 'diverged') return 'error'
  if (m.type === 'cancelled' || (m.type === 'log' && m.level === 'warn')) return 'warn'
  return 'info'
}
