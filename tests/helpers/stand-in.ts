/**
 * The stand-in trainer (tests/fixtures/stand-in-trainer.mjs) and its cues: a real process that the
 * scheduler forks like the real trainer, playing a script per start instead of training, so a
 * queue test takes milliseconds per run.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { RunStore } from '@core/store'

export const STAND_IN = fileURLToPath(new URL('../fixtures/stand-in-trainer.mjs', import.meta.url))

/** An action of a stand-in script; see the header of stand-in-trainer.mjs. */
export type Action =
  | 'started'
  | 'epoch'
  | 'step'
  | 'finished'
  | 'failed'
  | 'diverged'
  | 'kill'
  | `exit:${number}`
  | `hold:${string}`
  | `pause:${string}`
  | `sleep:${number}`

export interface Cue {
  /** The script of each start of the run (the last one again once they run out). */
  readonly starts: readonly (readonly Action[])[]
  /** What SIGTERM does: send `cancelled` and exit (default), or nothing. */
  readonly onSigterm?: 'cancel' | 'ignore'
}

/** Tells the stand-in what the run named `name` (its config name) does. */
export function cue(dataDir: string, name: string, c: Cue): void {
  mkdirSync(join(dataDir, 'stand-in'), { recursive: true })
  writeFileSync(join(dataDir, 'stand-in', `${name}.json`), JSON.stringify(c))
}

/**
 * Polls every 5 ms until `check` returns a value (not undefined), or fails after `timeoutMs` (a
 * bound on a hang, not a speed check: a loaded machine starts a Node process in a second).
 */
export async function until<T>(
  check: () => T | undefined,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const start = Date.now()
  for (;;) {
    const value = check()
    if (value !== undefined) return value
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

/**
 * Waits until the stand-in of the run in `runDir` holds at `hold:<name>` or `pause:<name>`. Its
 * process has got there; the core may still be storing what it sent before (see `held`).
 */
export const holding = (runDir: string, name: string): Promise<true> =>
  until(
    () => existsSync(join(runDir, `holding-${name}`)) || undefined,
    `the stand-in to hold at ${name}`,
  )

/**
 * Waits until the store has the `holding <name>` line of a stand-in held at `hold:<name>`, so it
 * has every message sent before it too (messages arrive and are stored in order).
 */
export const held = (store: RunStore, runId: string, name: string): Promise<true> =>
  until(
    () =>
      store
        .events(runId)
        .some((e) => e.message.type === 'log' && e.message.message === `holding ${name}`) ||
      undefined,
    `run ${runId} to report holding at ${name}`,
  )

/** Lets the stand-in held at `hold:<name>` go on. */
export const release = (runDir: string, name: string): void => writeFileSync(join(runDir, name), '')

/** Each start of the stand-in in `runDir`: its pid, whether it resumed, and from which epoch. */
export function starts(runDir: string): { pid: number; resume: boolean; startEpoch: number }[] {
  const file = join(runDir, 'stand-in-starts.jsonl')
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { pid: number; resume: boolean; startEpoch: number })
}
