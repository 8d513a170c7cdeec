/**
 * A PyTorch trainer that has answered the probe and waits for its run (`trainer.py --probe
 * --then-job`). Probing and training used to be two Python processes, each importing torch (about
 * 1.3 CPU-seconds apiece on a CPU); now the process that probed trains, and it builds its first
 * optimizer (another second: the import of torch._dynamo) while this process prepares the data.
 *
 * Whoever holds one either hands it a job (`start`) or lets it go (`release`): it then reads the
 * end of its input and exits 0. If this process dies first, the pipe closes and the same happens.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { createInterface, type Interface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'

export interface TrainerExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** Resolves once `child` has exited, or could not start (code and signal null). */
export function exitOf(child: {
  once(event: 'exit', cb: (code: number | null, signal: NodeJS.Signals | null) => void): unknown
  once(event: 'error', cb: (err: Error) => void): unknown
}): Promise<TrainerExit> {
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
    child.once('error', () => resolve({ code: null, signal: null }))
  })
}

/** What the probe may print on stderr before the job is handed over (kept, then logged). */
const STDERR_KEPT_BYTES = 64 * 1024

export class WaitingTorchTrainer {
  private handedOver = false
  private readonly stderrSoFar: Buffer[] = []
  private stderrBytes = 0

  constructor(
    readonly child: ChildProcessByStdio<Writable, Readable, Readable>,
    /** Its stdout, a line at a time: the probe's line has been read; the run's messages follow. */
    readonly lines: Interface,
    /** Settles when it exits: attached at spawn, so an exit before the job is handed is seen. */
    readonly exited: Promise<TrainerExit>,
  ) {
    child.stderr.on('data', this.keepStderr)
    // A trainer that died before its job leaves a closed pipe; the write's EPIPE is reported by
    // `exited` (no terminal message), not by an unhandled stream error.
    child.stdin.on('error', () => undefined)
  }

  private readonly keepStderr = (chunk: Buffer): void => {
    if (this.stderrBytes >= STDERR_KEPT_BYTES) return
    this.stderrSoFar.push(chunk)
    this.stderrBytes += chunk.length
  }

  /** Hands it the run's job file: it trains it exactly as `trainer.py --job FILE` would. */
  start(jobFile: string): void {
    if (this.handedOver) throw new Error('this PyTorch trainer already has a job or was released')
    if (jobFile.includes('\n')) throw new Error(`a job file path with a line break: ${jobFile}`)
    this.handedOver = true
    this.child.stderr.off('data', this.keepStderr)
    for (const chunk of this.stderrSoFar) process.stderr.write(chunk)
    this.child.stderr.pipe(process.stderr)
    this.child.stdin.end(`${jobFile}\n`)
  }

  /** Lets it go without a job (another engine was chosen, or the run ended before it began). */
  release(): void {
    if (this.handedOver) return
    this.handedOver = true
    this.child.stdin.end()
    this.lines.close()
  }
}

/**
 * Starts `trainer.py --probe --then-job` with `python` and resolves with the probe's line and the
 * waiting trainer, or rejects like execFile would (code ENOENT: no such program; stdout: what it
 * printed) when it exits, fails to start or stays silent for `timeoutMs`.
 */
export function spawnWaitingTrainer(
  python: string,
  script: string,
  timeoutMs: number,
): Promise<{ stdout: string; trainer: WaitingTorchTrainer }> {
  const child = spawn(python, [script, '--probe', '--then-job'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  const exited = exitOf(child)
  const lines = createInterface({ input: child.stdout })
  const trainer = new WaitingTorchTrainer(child, lines, exited)
  return new Promise((resolve, reject) => {
    let settled = false
    const fail = (why: { code?: string }): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      trainer.release()
      child.kill('SIGKILL')
      reject(Object.assign(new Error(`${python} gave no probe answer`), why))
    }
    const timer = setTimeout(() => fail({ code: 'ETIMEDOUT' }), timeoutMs)
    child.once('error', (err: NodeJS.ErrnoException) => fail({ code: err.code }))
    // 'close', not 'exit': it comes after stdout has ended, so a probe line is never missed.
    child.once('close', () => fail({}))
    lines.once('line', (line) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve({ stdout: line, trainer })
    })
  })
}
