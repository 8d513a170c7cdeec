/**
 * Starts a trainer process for one run and relays its messages. The trainer is the built
 * out/main/trainer.js beside this bundle, run by the same Node as the parent.
 *
 * A trainer that exits without a final message (killed, out of memory, a native crash in a
 * backend) is reported as a `failed` message written on its behalf, so every run ends with
 * exactly one terminal message whatever happened to its process.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  isTerminal,
  type TerminalMessage,
  type TrainerJob,
  type TrainerMessage,
} from '@shared/protocol/trainer'

export const trainerEntry = (): string => fileURLToPath(new URL('./trainer.js', import.meta.url))

export interface TrainerHandle {
  readonly pid: number | undefined
  /** Resolves with the run's terminal message once the process has exited. */
  readonly done: Promise<TerminalMessage>
  /** Ask the trainer to stop after the current step (SIGTERM). */
  stop(): void
  /** Kill it at once (SIGKILL). */
  kill(): void
}

export function startTrainer(
  job: TrainerJob,
  onMessage: (m: TrainerMessage) => void,
): TrainerHandle {
  mkdirSync(job.runDir, { recursive: true })
  const jobFile = join(job.runDir, 'job.json')
  writeFileSync(jobFile, JSON.stringify(job, null, 1))
  // Framework chatter (tfjs banners, warnings) goes to the run's trainer.log, not the protocol.
  const log = createWriteStream(join(job.runDir, 'trainer.log'), { flags: 'a' })
  const child: ChildProcess = fork(trainerEntry(), ['--job', jobFile], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'json',
  })
  child.stdout?.pipe(log, { end: false })
  child.stderr?.pipe(log, { end: false })

  let terminal: TerminalMessage | null = null
  child.on('message', (raw) => {
    const m = raw as TrainerMessage
    if (isTerminal(m)) terminal = m
    onMessage(m)
  })
  const done = new Promise<TerminalMessage>((resolve) => {
    let settled = false
    const finish = (error: string | null): void => {
      if (settled) return
      settled = true
      log.end()
      if (terminal) return resolve(terminal)
      const failed: TerminalMessage = {
        type: 'failed',
        runId: job.runId,
        time: Date.now(),
        error: error ?? '',
      }
      onMessage(failed)
      resolve(failed)
    }
    const logHint = `see ${join(job.runDir, 'trainer.log')}`
    child.once('exit', (code, signal) =>
      finish(
        signal !== null
          ? `the trainer process was killed by ${signal} (${logHint})`
          : `the trainer process exited with code ${code} without finishing (${logHint})`,
      ),
    )
    child.once('error', (err) => finish(`the trainer process could not start: ${err.message}`))
  })
  return {
    pid: child.pid,
    done,
    stop: () => void child.kill('SIGTERM'),
    kill: () => void child.kill('SIGKILL'),
  }
}
