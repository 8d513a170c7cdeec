/**
 * The memory a run may use on this machine, measured just before it starts, and the refusal of
 * a run that will not fit (the rule itself is src/shared/memory-fit.ts, shared by all engines).
 *
 * RAM: the kernel's MemAvailable (/proc/meminfo: what can be allocated without swapping), or the
 * cgroup's remaining allowance where a container limits the process more tightly, less a margin
 * for everything else on the machine (MEMORY_MARGIN_*). Elsewhere os.freemem(), which counts
 * the page cache as used and so errs on the safe side.
 * GPU: the torch probe reports CUDA's free memory (torch.cuda.mem_get_info); tfjs-node-gpu has no
 * cheap query (TensorFlow's allocator grabs the memory when the first kernel runs), so its GPU
 * memory is not checked before a run.
 */
import { readFileSync } from 'node:fs'
import { freemem, totalmem } from 'node:os'
import type { Layer } from '@shared/architecture'
import type { TrainSpec } from '@shared/config/experiment'
import { bytes } from '@shared/format'
import {
  MEMORY_MARGIN_FRACTION,
  MEMORY_MARGIN_MIN_BYTES,
  checkMemoryFit,
  memoryFitError,
  type EngineMemoryModel,
  type MemoryLimit,
} from '@shared/memory-fit'

// The margins are shared with the form's check before queueing (src/shared/memory-fit.ts).
export { MEMORY_MARGIN_FRACTION, MEMORY_MARGIN_MIN_BYTES }

/** A run refused up front because its step would not fit; the message says what to lower. */
export class MemoryFitError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'MemoryFitError'
  }
}

const readText = (path: string): string | null => {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return null
  }
}

/** A /proc/meminfo field in bytes (the file says kB), or null. */
function meminfo(text: string, field: string): number | null {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)
  return m?.[1] ? Number(m[1]) * 1024 : null
}

/** A cgroup limit as a number, or null when it is absent or unlimited ("max", or v1's ~2^63). */
function cgroupNumber(text: string | null): number | null {
  const value = Number(text?.trim())
  return text === null || !Number.isFinite(value) || value >= 2 ** 62 ? null : value
}

/**
 * The cgroup's remaining allowance (limit − usage), or null when unlimited: cgroup v2's
 * memory.max / memory.current, else v1's memory.limit_in_bytes / memory.usage_in_bytes.
 */
function cgroupAllowance(): number | null {
  for (const [limitFile, usageFile] of [
    ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory.current'],
    ['/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/memory/memory.usage_in_bytes'],
  ] as const) {
    const limit = cgroupNumber(readText(limitFile))
    const usage = cgroupNumber(readText(usageFile))
    if (limit !== null && usage !== null) return Math.max(0, limit - usage)
  }
  return null
}

/** The RAM a run may use now, as a limit for checkMemoryFit. */
export function ramLimit(): MemoryLimit {
  const info = readText('/proc/meminfo')
  const total = (info ? meminfo(info, 'MemTotal') : null) ?? totalmem()
  const fromKernel = info ? meminfo(info, 'MemAvailable') : null
  let available = fromKernel ?? freemem()
  let source = fromKernel === null ? 'free memory' : 'MemAvailable'
  const cgroup = cgroupAllowance()
  if (cgroup !== null && cgroup < available) {
    available = cgroup
    source = "the cgroup's remaining allowance"
  }
  const margin = Math.max(MEMORY_MARGIN_MIN_BYTES, MEMORY_MARGIN_FRACTION * total)
  const usable = Math.max(0, available - margin)
  return {
    bytes: usable,
    what: `the ${bytes(usable)} of memory available here (${source} ${bytes(available)} less a ${bytes(margin)} margin)`,
  }
}

/** Free CUDA memory from the torch probe, less the same margin, as a limit. */
export function gpuLimit(cuda: {
  readonly freeBytes: number
  readonly totalBytes: number
}): MemoryLimit {
  const margin = Math.max(MEMORY_MARGIN_MIN_BYTES, MEMORY_MARGIN_FRACTION * cuda.totalBytes)
  const usable = Math.max(0, cuda.freeBytes - margin)
  return {
    bytes: usable,
    what: `the ${bytes(usable)} of GPU memory free (${bytes(cuda.freeBytes)} free of ${bytes(cuda.totalBytes)}, less a ${bytes(margin)} margin)`,
  }
}

/** Throws MemoryFitError, before anything is allocated, when the run's step will not fit. */
export function refuseIfTooBig(
  layers: readonly Layer[],
  train: TrainSpec,
  inputSize: number,
  model: EngineMemoryModel,
  limits: readonly MemoryLimit[],
): void {
  const fit = checkMemoryFit(layers, train, model, limits)
  if (!fit.fits) throw new MemoryFitError(memoryFitError(fit, train, inputSize, model))
}
