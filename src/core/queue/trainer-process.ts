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
  checkTrainerMessage,
  isTerminal,
  type TerminalMessage,
  type TrainerJob,
  type TrainerMessage,
} from '@shared/protocol/trainer'

export const trainerEntry = (): string => fileURLToPath(new URL('./trainer.js', import.meta.url))

export interface TrainerExit {
  /** The trainer's own final message, or null when its process died without one. */
  readonly terminal: TerminalMessage | null
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** Why the process ended without a final message, for the run's error text. */
  readonly crash: string | null
}

export interface TrainerHandle {
  readonly pid: number | undefined
  /** Resolves once the process has exited. */
  readonly done: Promise<TrainerExit>
  /** Ask the trainer to stop after the current step (SIGTERM). */
  stop(): void
  /** Kill it at once (SIGKILL). */
  kill(): void
}

/** The `failed` message a run gets when its trainer died without saying anything final. */
export const crashMessage = (runId: string, exit: TrainerExit): TerminalMessage => ({
  type: 'failed',
  runId,
  time: Date.now(),
  error: exit.crash ?? 'the trainer process ended without a final message',
})

export function startTrainer(
  job: TrainerJob,
  onMessage: (m: TrainerMessage) => void,
): TrainerHandle {
  mkdirSync(job.runDir, { recursive: true })
  const jobFile = join(job.runDir, 'job.json')
  writeFileSync(jobFile, JSON.stringify(job, null, 1))
  // Framework chatter (tfjs banners, warnings) goes to the run's trainer.log, not the protocol.
  const logFile = join(job.runDir, 'trainer.log')
  const log = createWriteStream(logFile, { flags: 'a' })
  const child: ChildProcess = fork(trainerEntry(), ['--job', jobFile], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'json',
  })
  child.stdout?.pipe(log, { end: false })
  child.stderr?.pipe(log, { end: false })

  let terminal: TerminalMessage | null = null
  child.on('message', (raw) => {
    let m: TrainerMessage
    try {
      // The structural check where messages enter the core: the store trusts what it gets.
      m = checkTrainerMessage(raw, job.runId)
    } catch (err) {
      log.write(`nin-lab: refused a malformed trainer message: ${(err as Error).message}\n`)
      return
    }
    if (isTerminal(m)) terminal = m
    onMessage(m)
  })
  const done = new Promise<TrainerExit>((resolve) => {
    let settled = false
    const finish = (code: number | null, signal: NodeJS.Signals | null, crash: string): void => {
      if (settled) return
      settled = true
      log.end()
      resolve({ terminal, code, signal, crash: terminal ? null : crash })
    }
    child.once('exit', (code, signal) =>
      finish(
        code,
        signal,
        signal !== null
          ? `the trainer process was killed by ${signal} (see ${logFile})`
          : `the trainer process exited with code ${code} without finishing (see ${logFile})`,
      ),
    )
    child.once('error', (err) =>
      finish(null, null, `the trainer process could not start: ${err.message}`),
    )
  })
  return {
    pid: child.pid,
    done,
    stop: () => void child.kill('SIGTERM'),
    kill: () => void child.kill('SIGKILL'),
  }
}
