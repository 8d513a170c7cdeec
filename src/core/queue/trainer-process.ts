/**
 * Starts a trainer process for one run and relays its messages. The trainer is the built
 * out/main/trainer.js beside this bundle, run by the same Node as the parent.
 *
 * A trainer that exits without a final message (killed, out of memory, a native crash in a
 * backend) is reported as a `failed` message written on its behalf, so every run ends with
 * exactly one terminal message whatever happened to its process.
 *
 * Stopping is a request (SIGTERM: the trainer stops after its current step) with a deadline: a
 * trainer still alive after the grace period — stuck in a native call, or reading a file that
 * never ends — is killed (SIGKILL). The signals go through the ChildProcess handle, which knows
 * when its process has exited, so a reused pid is never signalled.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { constants, createWriteStream, mkdirSync, openSync } from 'node:fs'
import { join } from 'node:path'
import { builtEntry } from '../entries'
import { writeFileSafely } from '../files'
import {
  checkTrainerMessage,
  isTerminal,
  type TerminalMessage,
  type TrainerJob,
  type TrainerMessage,
} from '@shared/protocol/trainer'

export const trainerEntry = (): string => builtEntry('trainer')

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
  /** Ask the trainer to stop after the current step (SIGTERM); SIGKILL after the grace period. */
  stop(): void
  /** Kill it at once (SIGKILL). */
  kill(): void
}

/** How long a trainer asked to stop may take before it is killed: a step of the d2l NiN at
 * 224 px on a slow CPU takes seconds, a checkpoint write a few more. */
export const STOP_GRACE_MS = 30_000

/** How long after a trainer's exit its IPC channel may take to deliver what is left in it. */
const CHANNEL_DRAIN_MS = 5_000

export interface TrainerOptions {
  /** Override STOP_GRACE_MS (tests; $NIN_LAB_STOP_GRACE_MS). */
  readonly stopGraceMs?: number
  /** Something went wrong beside the run (its log file could not be written, e.g. a full disk). */
  readonly onWarning?: (message: string) => void
  /** Added to the trainer's environment, e.g. CUDA_VISIBLE_DEVICES for its GPU slot. */
  readonly env?: Readonly<Record<string, string>>
  /** The script to fork instead of the built trainer (tests: a stand-in that speaks the
   * protocol on cue). */
  readonly entry?: string
}

const graceMs = (options: TrainerOptions): number => {
  const env = Number(process.env['NIN_LAB_STOP_GRACE_MS'])
  return options.stopGraceMs ?? (Number.isFinite(env) && env > 0 ? env : STOP_GRACE_MS)
}

/** The `failed` message a run gets when its trainer died without saying anything final. */
export const crashMessage = (runId: string, exit: TrainerExit): TerminalMessage => ({
  type: 'failed',
  runId,
  time: Date.now(),
  error: exit.crash ?? 'the trainer process ended without a final message',
})

/** Calls `then` once the child's IPC channel has delivered its last message (or after a bound). */
function afterChannelDrains(child: ChildProcess, then: () => void): void {
  if (!child.connected) return then()
  const bound = setTimeout(then, CHANNEL_DRAIN_MS)
  child.once('disconnect', () => {
    clearTimeout(bound)
    then()
  })
}

/**
 * The run's trainer.log: the trainer's output and the core's notes about it. The log is a
 * convenience copy: a full disk must not take the scheduler down with it. Once a write fails,
 * what follows is dropped (the trainer's pipes are still drained, so they never fill and block
 * it), with one warning.
 */
function openTrainerLog(
  runDir: string,
  onWarning: ((message: string) => void) | undefined,
): { readonly file: string; write(data: string | Buffer): void; end(): void } {
  const file = join(runDir, 'trainer.log')
  // O_NOFOLLOW: a symlink planted as trainer.log is refused, never written through.
  const log = createWriteStream('', {
    fd: openSync(
      file,
      constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
    ),
  })
  let broken = false
  log.on('error', (err) => {
    if (broken) return
    broken = true
    onWarning?.(`could not write ${file}: ${err.message}`)
  })
  return {
    file,
    write: (data) => {
      if (!broken) log.write(data)
    },
    end: () => log.end(),
  }
}

export function startTrainer(
  job: TrainerJob,
  onMessage: (m: TrainerMessage) => void,
  options: TrainerOptions = {},
): TrainerHandle {
  mkdirSync(job.runDir, { recursive: true })
  const jobFile = join(job.runDir, 'job.json')
  writeFileSafely(jobFile, JSON.stringify(job, null, 1))
  // Framework chatter (tfjs banners, warnings) goes to the run's trainer.log, not the protocol.
  const log = openTrainerLog(job.runDir, options.onWarning)
  const logFile = log.file
  const child: ChildProcess = fork(options.entry ?? trainerEntry(), ['--job', jobFile], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'json',
    env: { ...process.env, ...options.env },
  })
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (chunk: Buffer) => log.write(chunk))
    stream?.on('error', () => {})
  }

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
  let killTimer: NodeJS.Timeout | null = null
  const done = new Promise<TrainerExit>((resolve) => {
    let settled = false
    const finish = (code: number | null, signal: NodeJS.Signals | null, crash: string): void => {
      if (settled) return
      settled = true
      if (killTimer) clearTimeout(killTimer)
      log.end()
      resolve({ terminal, code, signal, crash: terminal ? null : crash })
    }
    // 'exit' can come before the last messages are read from the IPC channel (seen on a loaded
    // machine: a `finished` read after 'exit' made a completed run look crashed, and resumed
    // it). The channel's 'disconnect' comes after every message in it, so wait for that too
    // (bounded, should something else hold the channel open).
    child.once('exit', (code, signal) => {
      const end = (): void =>
        finish(
          code,
          signal,
          signal !== null
            ? `the trainer process was killed by ${signal} (see ${logFile})`
            : `the trainer process exited with code ${code} without finishing (see ${logFile})`,
        )
      afterChannelDrains(child, end)
    })
    child.once('error', (err) =>
      finish(null, null, `the trainer process could not start: ${err.message}`),
    )
  })
  const grace = graceMs(options)
  return {
    pid: child.pid,
    done,
    stop: () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      killTimer ??= setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) {
          log.write(`nin-lab: the trainer did not stop within ${grace / 1000} s: killed\n`)
          child.kill('SIGKILL')
        }
      }, grace)
      killTimer.unref()
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    },
  }
}
