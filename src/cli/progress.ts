/**
 * The live progress line of a foreground run: epoch, step, loss, accuracy, images/s and ETA,
 * redrawn in place on a terminal; on a pipe (CI logs) one line per epoch instead.
 */
import type { ExperimentConfig } from '@shared/config/experiment'
import type { TerminalMessage, TrainerMessage } from '@shared/protocol/trainer'
import { duration } from '@shared/format'
import { visibleText } from '@shared/security'

export class ProgressReporter {
  private stepsPerEpoch = 0
  private epochs: number
  /** Moving average of seconds per step, from the time between step messages. */
  private secondsPerStep = Number.NaN
  private lastStepTime: number | null = null
  private lastLineLength = 0
  private readonly tty: boolean

  constructor(
    private readonly out: NodeJS.WriteStream,
    config: ExperimentConfig,
  ) {
    this.epochs = config.train.epochs
    this.tty = out.isTTY === true
  }

  /** Prints a line that stays (above the live progress line). */
  note(text: string): void {
    if (this.tty && this.lastLineLength > 0)
      this.out.write('\r' + ' '.repeat(this.lastLineLength) + '\r')
    this.lastLineLength = 0
    // Trainer log lines and errors can quote user text (a path, a name): no escape sequences.
    this.out.write(visibleText(text, { multiline: true }) + '\n')
  }

  update(m: TrainerMessage): void {
    switch (m.type) {
      case 'started': {
        this.stepsPerEpoch = m.stepsPerEpoch
        this.epochs = m.epochs
        this.lastStepTime = null
        const skipped = m.skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')
        this.note(
          `training on ${m.backend}${m.threads ? ` ×${m.threads}` : ''}${m.precision ? ` in ${m.precision}` : ''}: ${m.params.toLocaleString('en-US')} parameters, ` +
            `${m.trainCount.toLocaleString('en-US')} training / ${m.testCount.toLocaleString('en-US')} test images` +
            (m.startEpoch > 0 ? `, resuming after epoch ${m.startEpoch}` : '') +
            (skipped ? `\n  (skipped ${skipped})` : ''),
        )
        break
      }
      case 'log':
        this.note(`${m.level === 'warn' ? 'warning: ' : ''}${m.message}`)
        break
      case 'step':
        this.step(m)
        break
      case 'epoch':
        this.lastStepTime = null // evaluation time is not step time
        this.note(
          `epoch ${m.epoch}/${this.epochs}  train loss ${m.trainLoss.toFixed(4)} acc ${m.trainAcc.toFixed(3)}  ` +
            `test loss ${m.testLoss.toFixed(4)} acc ${m.testAcc.toFixed(3)}  ${m.seconds.toFixed(1)} s  ` +
            `${Math.round(m.examplesPerSec)} img/s` +
            (m.compileSeconds === undefined
              ? ''
              : `  (+ ${m.compileSeconds.toFixed(1)} s compiling)`),
        )
        break
      default:
        break
    }
  }

  private step(m: Extract<TrainerMessage, { type: 'step' }>): void {
    if (this.lastStepTime !== null) {
      const dt = (m.time - this.lastStepTime) / 1000
      this.secondsPerStep = Number.isFinite(this.secondsPerStep)
        ? 0.9 * this.secondsPerStep + 0.1 * dt
        : dt
    }
    this.lastStepTime = m.time
    if (!this.tty) return
    const remainingSteps =
      (this.epochs - m.epoch) * this.stepsPerEpoch + (this.stepsPerEpoch - m.stepInEpoch)
    const line =
      `epoch ${m.epoch}/${this.epochs} · step ${m.stepInEpoch}/${this.stepsPerEpoch} · ` +
      `loss ${m.loss.toFixed(4)} · acc ${m.acc.toFixed(3)} · ${Math.round(m.examplesPerSec)} img/s · ` +
      `ETA ${duration(remainingSteps * this.secondsPerStep)}`
    this.out.write('\r' + line.padEnd(this.lastLineLength))
    this.lastLineLength = line.length
  }

  finish(final: TerminalMessage): void {
    switch (final.type) {
      case 'finished':
        this.note(
          `finished: test accuracy ${final.testAcc.toFixed(4)}; model saved in ${final.modelPath}`,
        )
        break
      case 'cancelled':
        this.note(`cancelled at epoch ${final.epoch}, step ${final.step}`)
        break
      case 'diverged':
        this.note(
          `diverged: the loss became ${final.loss} at epoch ${final.epoch}, step ${final.step}; lower train.lr and try again`,
        )
        break
      case 'failed':
        this.note(`failed: ${final.error}`)
        break
    }
  }
}
