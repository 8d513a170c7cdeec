/**
 * How the trainer touches files: every read bounded, every write atomic and durable.
 *
 * Reads: a data file can be anything the user points at — a symlink to /dev/zero, a FIFO, a
 * 4 GB download that should have been 47 MB. `openRegularFile` refuses what is not a regular
 * file before reading a byte, and callers read at most what they have already decided to hold
 * (from a format header, a manifest or a stated limit), in chunks, so the process stays
 * responsive to its signals and its memory stays what was planned.
 *
 * Writes: `writeFileAtomic` writes a temp file in the same folder, fsyncs it, renames it over
 * the target and fsyncs the folder, so a crash or a full disk leaves the old file or the new
 * one, never a torn one. A full disk is reported as such (`isDiskFull`, `diskFullMessage`).
 */
import { constants, type Stats } from 'node:fs'
import { open, rename, rm, unlink, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { bytes } from '@shared/format'

/** Chunk of every bounded read: small enough to yield often, large enough to be fast. */
export const READ_CHUNK_BYTES = 1 << 20

/** What a path is when it is not a regular file, in words for an error message. */
function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory'
  if (stats.isFIFO()) return 'a FIFO (named pipe)'
  if (stats.isCharacterDevice()) return 'a character device'
  if (stats.isBlockDevice()) return 'a block device'
  if (stats.isSocket()) return 'a socket'
  return 'not a regular file'
}

/** A path that exists but cannot be read as a bounded regular file; the message names it. */
export class FileReadError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
    readonly code?: string,
  ) {
    super(`${path} ${reason}`)
    this.name = 'FileReadError'
  }
}

export interface RegularFile {
  readonly handle: FileHandle
  /** The size when opened; nothing beyond it is ever read. */
  readonly size: number
}

/**
 * Opens a regular file for reading. O_NONBLOCK, because opening a FIFO blocks until a writer
 * appears (forever, for a hung trainer); the decision is made on the opened descriptor (fstat),
 * so a path swapped between a check and the open cannot slip through. Symlinks are followed:
 * a link to a regular file is fine, a link to /dev/zero is a character device.
 */
export async function openRegularFile(path: string): Promise<RegularFile> {
  // O_NONBLOCK is 0 where it does not exist (Windows), and changes nothing for regular files.
  const flags = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0)
  let handle: FileHandle
  try {
    handle = await open(path, flags)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const reason =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EISDIR'
          ? 'is a directory, not a file'
          : `cannot be opened (${(err as Error).message})`
    throw new FileReadError(path, reason, code)
  }
  const stats = await handle.stat()
  if (!stats.isFile()) {
    await handle.close()
    throw new FileReadError(path, `is ${kindOf(stats)}, not a regular file`, 'ENOTREG')
  }
  return { handle, size: stats.size }
}

/**
 * Fills `target` from the file at `position`, one chunk at a time; returns the bytes read
 * (fewer than target.length only at end of file). Each chunk is an await: signal handlers and
 * timers run between chunks, and an aborted `signal` stops the read.
 */
export async function readInto(
  handle: FileHandle,
  target: Uint8Array,
  position: number,
  signal?: AbortSignal,
): Promise<number> {
  let filled = 0
  while (filled < target.length) {
    signal?.throwIfAborted()
    const length = Math.min(READ_CHUNK_BYTES, target.length - filled)
    const { bytesRead } = await handle.read(target, filled, length, position + filled)
    if (bytesRead === 0) break
    filled += bytesRead
  }
  return filled
}

/** A file's bytes, chunk by chunk, never past `size` (the size it had when opened). */
export async function* fileChunks(handle: FileHandle, size: number): AsyncGenerator<Buffer> {
  let position = 0
  while (position < size) {
    const chunk = Buffer.alloc(Math.min(READ_CHUNK_BYTES, size - position))
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, position)
    if (bytesRead === 0) return
    position += bytesRead
    yield chunk.subarray(0, bytesRead)
  }
}

/** A whole regular file of at most `maxBytes`, refused before any allocation when larger. */
export async function readRegularFile(
  path: string,
  maxBytes: number,
  signal?: AbortSignal,
): Promise<Buffer> {
  const { handle, size } = await openRegularFile(path)
  try {
    if (size > maxBytes)
      throw new FileReadError(
        path,
        `is ${bytes(size)}, more than the ${bytes(maxBytes)} such a file can hold`,
        'ETOOBIG',
      )
    const data = Buffer.alloc(size)
    const got = await readInto(handle, data, 0, signal)
    if (got !== size)
      throw new FileReadError(path, `shrank while being read (${got} of ${size} bytes)`)
    return data
  } finally {
    await handle.close()
  }
}

/** ENOSPC (no space left) or EDQUOT (quota exhausted): the user has to free space. */
export const isDiskFull = (err: unknown): boolean => {
  const code = (err as NodeJS.ErrnoException | null)?.code
  return code === 'ENOSPC' || code === 'EDQUOT'
}

/**
 * The one wording of a full disk while writing into `dir` (src/torch-engine/nin_torch/
 * files.py words it the same). `resumeEpoch`, when the write was a checkpoint: the epoch a
 * retried run resumes from (0: it has no checkpoint and starts again).
 */
export function diskFullMessage(dir: string, resumeEpoch?: number): string {
  const message = `the disk holding ${dir} is full: free space and retry the run`
  if (resumeEpoch === undefined) return message
  return resumeEpoch > 0
    ? `${message}; it resumes from epoch ${resumeEpoch}`
    : `${message}; it starts from the beginning (there is no checkpoint yet)`
}

/** Flushes a folder's entries (a rename into it) to disk. Not possible on Windows: skipped. */
export async function fsyncDir(dir: string): Promise<void> {
  let handle: FileHandle
  try {
    handle = await open(dir, constants.O_RDONLY)
  } catch {
    return
  }
  try {
    await handle.sync()
  } catch (err) {
    // EISDIR/EINVAL/EPERM: the platform cannot fsync a directory; the rename is still atomic.
    if (isDiskFull(err)) throw err
  } finally {
    await handle.close()
  }
}

/** Writes a new file (it must not exist), flushed to disk before it returns. */
export async function writeFileDurable(path: string, data: Uint8Array | string): Promise<void> {
  const handle = await open(path, 'wx')
  try {
    await handle.writeFile(data)
    await handle.sync()
  } finally {
    await handle.close()
  }
}

// Makes temp names unique within one process (pid + time alone can repeat within a ms).
let tmpCounter = 0

/**
 * A temp name beside `path`, unique to this process and call: `<path>.<pid>.<ms>.<n>.tmp`
 * (the pattern removeStaleTempFiles in data/cache.ts cleans up after a crashed writer).
 */
export const tempPathFor = (path: string): string =>
  `${path}.${process.pid}.${Date.now()}.${tmpCounter++}.tmp`

/**
 * Writes `data` to `path` atomically: a uniquely named temp file in the same folder (so the
 * rename cannot cross file systems), flushed to disk, renamed over `path`, and the folder
 * flushed. Two processes writing the same file at once each rename a complete one; the last
 * wins. On failure (a full disk) the temp file is removed and `path` is as it was.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = tempPathFor(path)
  try {
    await writeFileDurable(tmp, data)
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => undefined)
    throw err
  }
  await fsyncDir(dirname(path))
}

/** Removes a folder, ignoring one that is already gone. */
export const removeDir = (dir: string): Promise<void> => rm(dir, { recursive: true, force: true })
