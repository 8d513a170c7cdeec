/**
 * Sets up the tfjs `wasm` backend for training in Node: the missing gradient kernels
 * (kernels.ts) and real pthreads (threads.ts).
 */
import os from 'node:os'
import { engine, env, ready, setBackend } from '@tensorflow/tfjs-core'
import { registerWasmTrainingKernels } from './kernels'
import {
  configureWasmThreads,
  lastWasmThreadsError,
  shutdownWasm,
  wasmThreadsCount,
} from './threads'

export { registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from './kernels'
export { shutdownWasm, wasmThreadsUnavailableReason } from './threads'

export interface WasmBackendInfo {
  backend: 'wasm'
  /** Threads XNNPACK actually uses, read back from the backend (1 = single-threaded). */
  threads: number
  /** Whether the SIMD build runs (the threaded build exists only with SIMD). */
  simd: boolean
  /** Human-readable reasons wherever the result differs from the request. */
  notes: string[]
}

/**
 * Default thread count: the CPUs this process may use, at most 4.
 * - `availableParallelism()` rather than `cpus().length`: it honours CPU affinity (taskset,
 *   container cpusets), so we don't start threads that would only time-slice one core.
 * - Not more than the cores: the JS thread is one of the pool's threads, so N threads already
 *   keep N cores busy; on 2 cores, 4 threads made a conv 2× slower than 2 threads.
 * - At most 4: that is tfjs's own ceiling for its default pool, and only XNNPACK ops (convs and
 *   our conv-based gradients) run threaded — MaxPoolGrad, Transpose, Sum, the optimizer stay on
 *   one thread — so past a few threads the step time is bound by those (Amdahl), while every
 *   thread still costs a worker's memory.
 */
export function defaultWasmThreads(): number {
  return Math.max(1, Math.min(os.availableParallelism(), 4))
}

async function simdActive(): Promise<boolean> {
  return (await env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true
}

/**
 * Registers the training kernels, starts the wasm backend with the requested threads (falling
 * back to one thread, with the reason in `notes`, if threads cannot start) and makes it the
 * active backend. If wasm is already running with another thread count it is restarted, which
 * frees every tensor it held. Call `shutdownWasm()` when done so the process can exit promptly
 * and the wasm heap (which never shrinks) is released.
 */
export async function initWasmBackend(opts: { threads?: number } = {}): Promise<WasmBackendInfo> {
  const requested = opts.threads ?? defaultWasmThreads()
  const notes: string[] = []
  registerWasmTrainingKernels()

  if ('wasm' in engine().registry) {
    const current = wasmThreadsCount()
    if (current === requested) {
      if (!(await setBackend('wasm'))) throw new Error('could not activate the wasm backend')
      return { backend: 'wasm', threads: current, simd: await simdActive(), notes }
    }
    notes.push(`restarted the wasm backend to go from ${current} to ${requested} threads`)
    await shutdownWasm()
  }

  const planned = configureWasmThreads(requested)
  notes.push(...planned.notes)
  let attempted = planned.threads
  let ok = await setBackend('wasm')
  if (!ok && attempted > 1) {
    notes.push(
      `wasm threads failed to start (${lastWasmThreadsError() ?? 'unknown error'}); using 1 thread`,
    )
    attempted = configureWasmThreads(1).threads
    ok = await setBackend('wasm')
  }
  if (!ok) throw new Error(`the wasm backend failed to start: ${lastWasmThreadsError() ?? ''}`)
  await ready()

  const threads = wasmThreadsCount()
  const simd = await simdActive()
  if (!simd) notes.push('WebAssembly SIMD is not available: using the plain wasm build')
  if (threads !== attempted) {
    notes.push(`asked for ${attempted} threads, the backend runs ${threads}`)
  }
  return { backend: 'wasm', threads, simd, notes }
}
