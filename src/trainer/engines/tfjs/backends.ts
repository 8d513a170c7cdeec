/**
 * The TensorFlow.js backend ladder: tfjs-node-gpu (CUDA) → tfjs-node (native CPU) → wasm (SIMD,
 * threads, with the training kernels it lacks registered) → cpu (pure JS, a last resort that is
 * far too slow to train anything but toy models; docs/engines.md). The first that loads wins,
 * and the reason each faster one was skipped is recorded with the run.
 *
 * The native packages are optionalDependencies: their install downloads libtensorflow and fails
 * offline, so "not installed" is an ordinary, expected outcome here.
 */
import { createRequire } from 'node:module'
import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import {
  TFJS_BACKEND_LADDER,
  type SkippedBackend,
  type TfjsBackendName,
} from '@shared/protocol/trainer'
import { initWasmBackend } from './wasm'

const nodeRequire = createRequire(import.meta.url)

export interface BackendSelection {
  readonly backend: TfjsBackendName
  readonly threads: number | null
  readonly skipped: readonly SkippedBackend[]
  readonly notes: readonly string[]
  readonly versions: Readonly<Record<string, string>>
}

export class BackendError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'BackendError'
  }
}

/** Environment override for `train.backend`, e.g. NIN_LAB_BACKEND=wasm. */
export const BACKEND_ENV = 'NIN_LAB_BACKEND'

const firstLine = (err: unknown): string =>
  (err instanceof Error ? err.message : String(err)).split('\n')[0]?.slice(0, 300) ??
  'unknown error'

function packageVersion(name: string): string | null {
  try {
    return (nodeRequire(`${name}/package.json`) as { version: string }).version
  } catch {
    return null
  }
}

/** Loads a native tfjs package; returns why it cannot be used, or null when it registered. */
function loadNative(pkg: '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node'): string | null {
  try {
    nodeRequire.resolve(pkg)
  } catch {
    return `${pkg} is not installed (it downloads libtensorflow at install time, which needs internet)`
  }
  try {
    nodeRequire(pkg)
  } catch (err) {
    return `${pkg} failed to load: ${firstLine(err)}`
  }
  // The package registers its backend on the tfjs-core it resolves; if that is a different copy
  // from ours (a version mismatch), we cannot use it.
  if (!tf.findBackendFactory('tensorflow')) {
    return `${pkg} loaded but registered on another copy of @tensorflow/tfjs-core (versions differ)`
  }
  return null
}

/** Whether libtensorflow sees a CUDA device (tfjs-node exposes it on its backend object). */
function usesGpu(): boolean {
  const backend = tf.findBackend('tensorflow') as { isUsingGpuDevice?: boolean } | null
  return backend?.isUsingGpuDevice === true
}

type Attempt = { ok: true; threads: number | null; notes: string[] } | { ok: false; reason: string }

async function attempt(name: TfjsBackendName, threads: number | undefined): Promise<Attempt> {
  switch (name) {
    case 'tfjs-node-gpu': {
      const reason = loadNative('@tensorflow/tfjs-node-gpu')
      if (reason) return { ok: false, reason }
      if (!(await tf.setBackend('tensorflow')))
        return { ok: false, reason: 'the tensorflow backend failed to initialise' }
      if (!usesGpu()) {
        return {
          ok: false,
          reason:
            'no CUDA GPU is usable (libtensorflow 2.9 needs CUDA 11.2 and cuDNN 8.1 and a visible device)',
        }
      }
      return { ok: true, threads: null, notes: [] }
    }
    case 'tfjs-node': {
      // After a GPU attempt that found no device the tensorflow backend is already registered
      // (from the GPU build, running on the CPU), which is just as good.
      const reason = tf.findBackendFactory('tensorflow')
        ? null
        : loadNative('@tensorflow/tfjs-node')
      if (reason) return { ok: false, reason }
      if (!(await tf.setBackend('tensorflow')))
        return { ok: false, reason: 'the tensorflow backend failed to initialise' }
      return { ok: true, threads: null, notes: [] }
    }
    case 'wasm': {
      try {
        const r = await initWasmBackend({ threads })
        return { ok: true, threads: r.threads, notes: [...r.notes] }
      } catch (err) {
        return { ok: false, reason: `the wasm backend failed to start: ${firstLine(err)}` }
      }
    }
    case 'cpu':
      await tf.setBackend('cpu')
      return {
        ok: true,
        threads: 1,
        notes: [
          'the pure-JS cpu backend is about 500× slower than wasm: use it only for tiny models',
        ],
      }
  }
}

/**
 * Picks and initialises the backend. `requested` is `train.backend` (or the NIN_LAB_BACKEND
 * override); a forced backend that cannot start is an error that says why and what to do.
 */
export async function selectBackend(
  requested: 'auto' | TfjsBackendName,
  opts: { threads?: number } = {},
): Promise<BackendSelection> {
  const override = process.env[BACKEND_ENV]
  let want = requested
  if (override) {
    if (override !== 'auto' && !(TFJS_BACKEND_LADDER as readonly string[]).includes(override)) {
      throw new BackendError(
        `${BACKEND_ENV}=${override} is not a backend; use one of auto, ${TFJS_BACKEND_LADDER.join(', ')}`,
      )
    }
    want = override as typeof want
  }
  const versions: Record<string, string> = { 'tfjs-core': tf.version_core }
  for (const pkg of [
    '@tensorflow/tfjs-backend-wasm',
    '@tensorflow/tfjs-node',
    '@tensorflow/tfjs-node-gpu',
  ]) {
    const v = packageVersion(pkg)
    if (v) versions[pkg.replace('@tensorflow/', '')] = v
  }

  const candidates = want === 'auto' ? TFJS_BACKEND_LADDER : [want]
  const skipped: SkippedBackend[] = []
  for (const name of candidates) {
    const result = await attempt(name, opts.threads)
    if (result.ok) {
      return { backend: name, threads: result.threads, skipped, notes: result.notes, versions }
    }
    skipped.push({ backend: name, reason: result.reason })
  }
  if (want !== 'auto') {
    throw new BackendError(
      `train.backend is "${want}" but it cannot be used: ${skipped[0]?.reason ?? 'unknown'}; ` +
        'set train.backend to "auto" to use the fastest backend that works here',
    )
  }
  throw new BackendError(
    `no TensorFlow.js backend could start: ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}`,
  )
}
