/**
 * The CLI's door to the core: every command opens a Core on the data folder and talks to it
 * through `core.api`, the same validated contract the app uses. Only the foreground `run` also
 * drives a RunExecution itself (it trains in this process, with its own progress line).
 */
import { Core, type CoreOptions } from '@core/core'
import { resolveDataDir } from '@core/paths'

export type { Core }

/** A Core on `--data-dir` (or the default folder) that only reads and enqueues. */
export function openCore(
  dataDirFlag: string | undefined,
  options: Partial<Omit<CoreOptions, 'dataDir'>> = {},
): Core {
  return new Core({ dataDir: resolveDataDir(dataDirFlag), scheduler: false, ...options })
}

/** Runs `fn` with a Core and always closes it (a scheduler it runs stops after its step). */
export async function withCore<T>(
  dataDirFlag: string | undefined,
  fn: (core: Core) => T | Promise<T>,
): Promise<T> {
  const core = openCore(dataDirFlag)
  try {
    return await fn(core)
  } finally {
    await core.close()
  }
}
