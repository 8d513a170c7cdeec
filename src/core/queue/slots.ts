/**
 * Where this machine trains: the local slots a scheduler runs, from the queue settings. GPUs
 * come from the trainer's probe (`trainer.js --probe`: the GPUs PyTorch sees), so `--gpus auto`
 * means every GPU a run could actually use; on a machine without one it falls back to CPU slots
 * and says so.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { GpuInfo, QueueSettings } from '@shared/api/types'
import { parseProbe, type MachineProbe } from '@shared/protocol/probe'
import { builtEntry } from '../entries'
import { cpuSlots, gpuSlots, type LocalSlot } from './scheduler'

const execFileAsync = promisify(execFile)

/** What `engine: auto` trains on here, and the GPUs PyTorch sees. */
export async function probeMachine(): Promise<MachineProbe> {
  const { stdout } = await execFileAsync(process.execPath, [builtEntry('trainer'), '--probe'], {
    timeout: 120_000,
    maxBuffer: 1 << 20,
  })
  return parseProbe(stdout)
}

export interface ResolvedSlots {
  readonly slots: LocalSlot[]
  /** Why the slots differ from what was asked (no GPU found, a GPU index not visible). */
  readonly note: string | null
}

export async function resolveSlots(
  settings: QueueSettings,
  probe: () => Promise<MachineProbe> = probeMachine,
): Promise<ResolvedSlots> {
  if (settings.gpus === null) return { slots: cpuSlots(settings.concurrency), note: null }
  let seen: readonly GpuInfo[] = []
  let why: string
  try {
    const found = await probe()
    seen = found.gpus
    why = found.detail
  } catch (err) {
    why = `the probe failed: ${(err as Error).message.split('\n')[0] ?? ''}`
  }
  if (settings.gpus === 'auto') {
    if (seen.length > 0) return { slots: gpuSlots(seen), note: null }
    return {
      slots: cpuSlots(settings.concurrency),
      note:
        `--gpus auto found no GPU (${why}): training on ${settings.concurrency} CPU ` +
        `slot${settings.concurrency === 1 ? '' : 's'} (--concurrency)`,
    }
  }
  const missing = settings.gpus.filter((i) => !seen.some((g) => g.index === i))
  const gpus = settings.gpus.map(
    (index) => seen.find((g) => g.index === index) ?? { index, name: `GPU ${index}`, memoryMB: 0 },
  )
  return {
    slots: gpuSlots(gpus),
    note:
      missing.length > 0
        ? `PyTorch does not see GPU ${missing.join(', ')} (${why}): runs there will fail or use the CPU`
        : null,
  }
}
