/**
 * Multithreaded tfjs `wasm` backend under Node, without patching node_modules.
 *
 * tfjs-backend-wasm 4.22 ships a threaded SIMD build and its emscripten glue supports Node
 * pthreads (worker_threads), but the package's init code keeps it off under Node. Four things
 * stand in the way (all in `dist/tf-backend-wasm.node.js`):
 *
 *  1. `WASM_HAS_MULTITHREAD_SUPPORT` is hard-wired to false when `IS_NODE`.
 *  2. The pthread worker script is handed to emscripten as a `blob:` URL
 *     (`URL.createObjectURL(new Blob([wasmWorkerContents]))`); Node's `Worker` needs a file.
 *  3. Each worker is told to `importScripts` the glue from `mainScriptUrlOrBlob`, a Blob of the
 *     *bundled* factory's `toString()`, which refers to bundle-only names (`require$$4`, …).
 *  4. The C++ side caps the pool at `emscripten_num_logical_cores() / 2` — one thread on a
 *     2-core machine — and the glue takes that count from `os.cpus().length`.
 *
 * Why a runtime hook and not a patch-package patch: a patch needs a `postinstall` step and a
 * `patch-package` dependency, and it silently stops applying (or applies to the wrong text)
 * when the package version moves. The hook below changes nothing on disk under node_modules,
 * needs nothing in package.json, and is active only while the wasm backend's factory runs:
 *
 *  - We replace the `wasm` backend factory with a wrapper (same priority) that, for the
 *    duration of the original factory call only, sets the flag (1), answers
 *    `URL.createObjectURL` for the worker Blob with the path of a real worker file (2) whose
 *    `load` handler is redirected to a copy of the package's own *unbundled* threaded glue,
 *    `wasm-out/tfjs-backend-wasm-threaded-simd.js` (3), and makes `os.cpus()` report
 *    2 × threads CPUs to the glue's core-count function only (4) — other callers see the truth.
 *  - Everything is restored in `finally`, so a failure leaves the process as it was and the
 *    caller can retry single-threaded (index.ts does).
 *  - With 1 thread nothing is hooked and the flag is set false: tfjs then loads its plain SIMD
 *    build, which has no workers at all.
 *
 * Soundness checks: the worker Blob is recognised by its MIME type *and* its exact size (the
 * size of the package's own worker text, so a different tfjs version fails loudly instead of
 * running a mismatched worker); the generated files live in a fresh private (0700) temp
 * directory, not a shared path another user could pre-seed with code, and are deleted as soon
 * as the backend is up (emscripten waits for every pool worker to load before the factory
 * resolves, so nothing reads them later); the result is verified through `getThreadsCount()`.
 *
 * Process hygiene after init (docs/engines.md, "wasm threads under Node"):
 *  - emscripten starts a pool of 8 workers regardless of the thread count; tfjs's pthreadpool
 *    takes threads − 1 of them (the calling JS thread is the pool's thread 0) and never creates
 *    more, so the spare workers are terminated (idle RSS 166 → 103 MB, measured).
 *  - the running pthread workers are `unref()`ed: they only ever work while the main thread is
 *    blocked inside a synchronous wasm call, so they have no reason to keep the process alive.
 *    `shutdownWasm()` still removes the backend, terminates them and frees the wasm heap.
 *  - the glue leaves `globalThis.Worker` set to worker_threads' Worker; we restore it.
 *  - the glue adds process `uncaughtException`/`unhandledRejection` listeners that rethrow
 *    (for emscripten's `exit()`, which tfjs never calls) — they would override the app's own
 *    handlers, so we remove them; and its dispose code removes *every* such listener present at
 *    init (a `!x.indexOf(l) > -1` bug), so `shutdownWasm()` puts the others back.
 */
import { once } from 'node:events'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import type { Worker } from 'node:worker_threads'
import { getThreadsCount, setThreadsCount, version_wasm } from '@tensorflow/tfjs-backend-wasm'
import { engine, env, registerBackend, removeBackend } from '@tensorflow/tfjs-core'
import type { KernelBackend } from '@tensorflow/tfjs-core'

const BACKEND = 'wasm'
const WORKER_BLOB_TYPE = 'application/javascript'
const GLUE_FILE = 'wasm-out/tfjs-backend-wasm-threaded-simd.js'
const WORKER_TEXT_FILE = 'wasm-out/tfjs-backend-wasm-threaded-simd.worker.js'
const PROCESS_EVENTS = ['uncaughtException', 'unhandledRejection'] as const
/**
 * Versions whose init code and glue this hook was checked against. Another version may move
 * the internals it relies on, and some failures (a pthread worker that cannot load its script)
 * surface as uncaught exceptions from a worker rather than as a failed init, so an unchecked
 * version runs single-threaded until someone re-checks it (tests/unit/trainer/wasm-kernels.test.ts).
 */
const CHECKED_VERSIONS: readonly string[] = ['4.22.0']

type Factory = () => KernelBackend | Promise<KernelBackend>
type Listener = (...args: unknown[]) => void

/** The parts of emscripten's pthread bookkeeping (on `BackendWasm.wasm`) we use. */
interface PThreadState {
  unusedWorkers: Worker[]
  runningWorkers: Worker[]
}
interface BackendWithModule {
  wasm?: { PThread?: PThreadState } | null
}

interface WorkerFiles {
  dir: string
  workerPath: string
  /** Size in bytes of the Blob tfjs builds from its bundled worker text. */
  blobSize: number
}

/**
 * Process-wide state. Kept on `globalThis` under a `Symbol.for` key, not in module scope,
 * because the backend registry it wraps is process-wide too and this module may be loaded
 * more than once (vitest isolates modules per test file): every copy must see one wrapper,
 * one original factory and one thread setting.
 */
interface HookState {
  original: { factory: Factory; priority: number }
  wrapped: Factory
  /** Threads the next initialisation should use; 1 means the plain SIMD build. */
  threads: number
  /** Why the last threaded initialisation failed, for the caller's notes. */
  lastError: string | null
}

type ListenerSnapshot = Record<(typeof PROCESS_EVENTS)[number], Listener[]>
/** `process` as a plain emitter: its typed overloads don't take a union of event names. */
const processEvents: NodeJS.EventEmitter = process

const STATE_KEY = Symbol.for('nin-lab.wasm-threads')
type GlobalWithState = typeof globalThis & { [STATE_KEY]?: HookState }

function state(): HookState | undefined {
  return (globalThis as GlobalWithState)[STATE_KEY]
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

function packageDir(): string {
  const nodeRequire = createRequire(import.meta.url)
  return path.dirname(nodeRequire.resolve('@tensorflow/tfjs-backend-wasm/package.json'))
}

/**
 * Writes the pthread worker entry and a copy of the unbundled glue to a fresh private temp
 * directory. The worker is the package's own worker text (escaped exactly as tfjs escapes it
 * for its Blob) plus a few lines that point the `load` message at the glue file instead of the
 * Blob tfjs sends. `.cjs` because the worker relies on `require` and must never be taken for
 * ESM by a `"type": "module"` package.json above the temp directory.
 */
function writeWorkerFiles(): WorkerFiles {
  const pkg = packageDir()
  const nodeRequire = createRequire(import.meta.url)
  const loaded: unknown = nodeRequire(path.join(pkg, WORKER_TEXT_FILE))
  const text = (loaded as { wasmWorkerContents?: unknown }).wasmWorkerContents
  if (typeof text !== 'string' || !text.includes('urlOrBlob')) {
    throw new Error(`${WORKER_TEXT_FILE} does not hold the expected pthread worker text`)
  }
  const escaped = text.replace(/\n/g, '\\n')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nin-lab-tfjs-wasm-'))
  const gluePath = path.join(dir, 'tfjs-backend-wasm-threaded-simd.js')
  fs.copyFileSync(path.join(pkg, GLUE_FILE), gluePath)
  const redirect = [
    '',
    '// NiN Lab: import the unbundled glue from a file (Node cannot import the Blob tfjs sends).',
    ';(() => {',
    `  const gluePath = ${JSON.stringify(gluePath)}`,
    '  const handle = self.onmessage',
    '  self.onmessage = (e) => {',
    "    if (e && e.data && e.data.cmd === 'load') e.data.urlOrBlob = gluePath",
    '    return handle(e)',
    '  }',
    '})()',
    '',
  ].join('\n')
  const workerPath = path.join(dir, 'tfjs-backend-wasm-threaded-simd.worker.cjs')
  fs.writeFileSync(workerPath, escaped + redirect, { mode: 0o600 })
  return { dir, workerPath, blobSize: Buffer.byteLength(escaped) }
}

/**
 * Installs the three process-wide overrides for the duration of one factory call and returns
 * the function that undoes them.
 */
function installInitHooks(threads: number, files: WorkerFiles): () => void {
  const urlObject = URL as unknown as { createObjectURL: (obj: Blob) => string }
  const createObjectURL = urlObject.createObjectURL
  urlObject.createObjectURL = (obj: Blob): string => {
    if (obj instanceof Blob && obj.type === WORKER_BLOB_TYPE) {
      if (obj.size !== files.blobSize) {
        // A different worker than the one we copied: running ours with this glue is unsound.
        throw new Error(
          `tfjs-backend-wasm's pthread worker is ${obj.size} bytes, expected ${files.blobSize}`,
        )
      }
      return files.workerPath
    }
    return createObjectURL.call(URL, obj)
  }

  const osObject = os as { cpus: typeof os.cpus }
  const cpus = osObject.cpus
  osObject.cpus = (): os.CpuInfo[] => {
    const real = cpus.call(os)
    // Only the glue's core count (for the C++ "logical cores / 2" cap) gets the padded list.
    const stack = new Error().stack ?? ''
    if (!stack.includes('emscripten_num_logical_cores') || real.length === 0) return real
    const padded = [...real]
    while (padded.length < 2 * threads) padded.push(real[padded.length % real.length] as os.CpuInfo)
    return padded
  }

  const workerDescriptor = Object.getOwnPropertyDescriptor(globalThis, 'Worker')
  return () => {
    urlObject.createObjectURL = createObjectURL
    osObject.cpus = cpus
    if (workerDescriptor) Object.defineProperty(globalThis, 'Worker', workerDescriptor)
    else delete (globalThis as { Worker?: unknown }).Worker
  }
}

function snapshotListeners(): ListenerSnapshot {
  return {
    uncaughtException: processEvents.listeners('uncaughtException') as Listener[],
    unhandledRejection: processEvents.listeners('unhandledRejection') as Listener[],
  }
}

/** Removes the listeners the emscripten glue added during init (see the header). */
function dropGlueListeners(before: ListenerSnapshot): void {
  for (const event of PROCESS_EVENTS) {
    for (const listener of processEvents.listeners(event) as Listener[]) {
      if (!before[event].includes(listener)) processEvents.removeListener(event, listener)
    }
  }
}

function pthreadState(backend: KernelBackend): PThreadState | undefined {
  return (backend as unknown as BackendWithModule).wasm?.PThread ?? undefined
}

/** Keeps the threads − 1 pthreads in use, ends the spare pool workers, unrefs the rest. */
function trimPool(backend: KernelBackend): void {
  const pthreads = pthreadState(backend)
  if (!pthreads) return
  for (const worker of pthreads.unusedWorkers.splice(0)) worker.terminate().catch(() => undefined)
  for (const worker of pthreads.runningWorkers) worker.unref()
}

async function initialise(hook: HookState): Promise<KernelBackend> {
  const before = snapshotListeners()
  const threaded = hook.threads > 1
  // The flag decides between the threaded and the plain SIMD build at every init.
  env().set('WASM_HAS_MULTITHREAD_SUPPORT', threaded)
  setThreadsCount(hook.threads)
  let files: WorkerFiles | undefined
  let restore: (() => void) | undefined
  try {
    if (threaded) {
      files = writeWorkerFiles()
      restore = installInitHooks(hook.threads, files)
    }
    const backend = await hook.original.factory()
    trimPool(backend)
    hook.lastError = null
    return backend
  } catch (err) {
    hook.lastError = errorText(err)
    throw err
  } finally {
    restore?.()
    dropGlueListeners(before)
    if (files) fs.rmSync(files.dir, { recursive: true, force: true })
  }
}

/**
 * Makes sure the `wasm` backend factory is our wrapper (installed once per process) and returns
 * the shared state. Replacing the factory entry leaves an already initialised backend alone:
 * the wrapper takes effect at the next initialisation (index.ts shuts the old one down first).
 */
function ensureHook(): HookState {
  const factories = engine().registryFactory
  const registered = factories[BACKEND]
  let hook = state()
  if (!hook) {
    if (!registered) {
      throw new Error(
        "the 'wasm' backend is not registered: import '@tensorflow/tfjs-backend-wasm'",
      )
    }
    const created: HookState = {
      original: { factory: registered.factory, priority: registered.priority },
      wrapped: () => initialise(created),
      threads: 1,
      lastError: null,
    }
    ;(globalThis as GlobalWithState)[STATE_KEY] = created
    hook = created
  }
  if (registered?.factory !== hook.wrapped) {
    // Absent after shutdownWasm(); registerBackend() refuses to overwrite an entry, so an
    // existing one (the package's own factory) is replaced in place.
    if (registered) factories[BACKEND] = { factory: hook.wrapped, priority: hook.original.priority }
    else registerBackend(BACKEND, hook.wrapped, hook.original.priority)
  }
  return hook
}

/** What Node offers for wasm threads here, or why it cannot have them. */
export function wasmThreadsUnavailableReason(): string | null {
  if (!CHECKED_VERSIONS.includes(version_wasm)) {
    const checked = CHECKED_VERSIONS.join(', ')
    return `the threads hook is checked against tfjs-backend-wasm ${checked}, not ${version_wasm}`
  }
  if (typeof SharedArrayBuffer !== 'function') return 'SharedArrayBuffer is not available'
  if (typeof Blob !== 'function' || typeof URL.createObjectURL !== 'function') {
    return 'Blob / URL.createObjectURL are not available'
  }
  try {
    const pkg = packageDir()
    for (const file of [GLUE_FILE, WORKER_TEXT_FILE, 'dist/tfjs-backend-wasm-threaded-simd.wasm']) {
      if (!fs.existsSync(path.join(pkg, file))) return `tfjs-backend-wasm has no ${file}`
    }
  } catch (err) {
    return `tfjs-backend-wasm not found: ${errorText(err)}`
  }
  return null
}

/**
 * Chooses how many threads the next wasm backend initialisation uses (1 = plain SIMD build,
 * no workers). Call before `tf.setBackend('wasm')`; if the backend is already up, call
 * `shutdownWasm()` first. Returns the thread count that will be attempted and notes on why it
 * differs from the request.
 */
export function configureWasmThreads(requested: number): { threads: number; notes: string[] } {
  if (!Number.isInteger(requested) || requested < 1) {
    throw new Error(`wasm threads must be a positive integer, got ${requested}`)
  }
  const hook = ensureHook()
  const notes: string[] = []
  let threads = requested
  if (threads > 1) {
    const reason = wasmThreadsUnavailableReason()
    if (reason !== null) {
      notes.push(`wasm threads unavailable (${reason}); using 1 thread`)
      threads = 1
    }
  }
  hook.threads = threads
  return { threads, notes }
}

/** Why the last threaded initialisation failed, if it did. */
export function lastWasmThreadsError(): string | null {
  return state()?.lastError ?? null
}

/** Threads of the initialised wasm backend (pthreadpool size, counting the JS thread). */
export function wasmThreadsCount(): number {
  return getThreadsCount()
}

/**
 * Removes the wasm backend: frees its heap and terminates its pthread workers (awaited, so the
 * process has no worker left when this resolves). The factory is left unregistered so no stray
 * op silently starts wasm again; `initWasmBackend()` registers it anew. Also restores the
 * process listeners the glue's dispose code removes by mistake. Safe to call when wasm was
 * never initialised.
 */
export async function shutdownWasm(): Promise<void> {
  const registry = engine().registry
  const backend = registry[BACKEND]
  if (backend === undefined) return
  const pthreads = pthreadState(backend)
  const workers = pthreads ? [...pthreads.runningWorkers, ...pthreads.unusedWorkers] : []
  const listenersBefore = snapshotListeners()
  const exits = workers
    .filter((worker) => worker.threadId !== -1)
    .map((worker) => once(worker, 'exit').catch(() => undefined))
  removeBackend(BACKEND)
  for (const event of PROCESS_EVENTS) {
    const present = processEvents.listeners(event) as Listener[]
    for (const listener of listenersBefore[event]) {
      if (!present.includes(listener)) processEvents.on(event, listener)
    }
  }
  // terminateAllThreads() calls worker.terminate() without awaiting it.
  await Promise.race([
    Promise.all(exits),
    new Promise((resolve) => setTimeout(resolve, 5000).unref()),
  ])
}
