/**
 * TensorFlow.js' wasm heap is capped at 4 GiB and never shrinks (docs/engines.md, "The 4 GiB
 * wasm heap"); a step that needs more aborts deep inside the backend with a message nobody can
 * act on. The heap is one more limit of the shared memory check (src/shared/memory-fit.ts),
 * beside the machine's RAM. It lives in src/shared because the New experiment form checks it
 * before queueing, with the same numbers the trainer refuses a run by.
 */
import type { MemoryLimit } from './memory-fit'

export const WASM_HEAP_BYTES = 4 * 1024 ** 3

export const WASM_HEAP_LIMIT: MemoryLimit = {
  bytes: WASM_HEAP_BYTES,
  what: "the 4.0 GiB wasm heap (TensorFlow.js' cap)",
}
