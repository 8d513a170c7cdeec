/**
 * A small admission gate for heavy work the core does on request (measurements, report
 * exports): at most `concurrent` at once, at most `waiting` more in line, the rest refused with
 * a clear, retryable error — so a burst of requests can never start a dozen trainers or
 * Chromiums on one machine.
 */
import { ApiError } from '@shared/api/contract'

export class Turns {
  private running = 0
  private readonly queue: (() => void)[] = []

  constructor(
    private readonly what: string,
    private readonly concurrent: number,
    private readonly waiting: number,
  ) {}

  /** Runs `work` when its turn comes; refuses at once when the line is full. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    await this.take()
    try {
      return await work()
    } finally {
      this.release()
    }
  }

  private async take(): Promise<void> {
    if (this.running < this.concurrent) {
      this.running++
      return
    }
    if (this.queue.length >= this.waiting) {
      throw new ApiError(
        'unavailable',
        `${this.running + this.queue.length} ${this.what} are already running or waiting: try again when they finish`,
      )
    }
    // release() hands its slot straight to the first in line, so `running` stays counted.
    await new Promise<void>((resolve) => this.queue.push(resolve))
  }

  private release(): void {
    const next = this.queue.shift()
    if (next) next()
    else this.running--
  }
}
