/**
 * Every file the core writes for a person (reports, exports) goes through here, so that a write
 * either replaces a regular file (or creates one) completely, or changes nothing:
 *
 * - the target must be nothing or a regular file: a symlink, a folder, a FIFO or a device node is
 *   refused (checked with lstat, so a symlink is refused itself, whatever it points to; renaming
 *   over /dev/full as root would otherwise replace the device with a regular file);
 * - the data goes to a fresh temporary file in the same folder (O_EXCL: never someone else's
 *   file), is fsynced and then renamed over the target, so a crash or a full disk leaves the
 *   old file or none, never half of one;
 * - any failure removes the temporary files, and the file-system codes (EACCES, EROFS, EISDIR,
 *   ENOSPC, ENOENT, …) become a FileWriteError that names the path and what to do.
 */
import { randomBytes } from 'node:crypto'
import {
  closeSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
  type Stats,
} from 'node:fs'
import { basename, dirname, join, resolve, sep } from 'node:path'

export type FileWriteErrorCode =
  /** Something other than a regular file is at the path (symlink, folder, FIFO, device, …). */
  | 'not-a-file'
  /** The path names a folder (it ends in a slash) instead of a file. */
  | 'folder-path'
  | 'permission-denied'
  | 'read-only'
  | 'disk-full'
  /** The folder does not exist, or a part of its path is a file. */
  | 'no-folder'
  | 'io'

export class FileWriteError extends Error {
  constructor(
    readonly code: FileWriteErrorCode,
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'FileWriteError'
  }
}

export interface FileToWrite {
  readonly path: string
  readonly data: string | Uint8Array
}

export interface WriteOptions {
  /** Create the target's folder (and its parents) when missing; otherwise that is an error. */
  readonly createFolder?: boolean
  /** Permissions of the new file (before the umask); default 0o666. A secret takes 0o600. */
  readonly mode?: number
}

/** What is at a path, for messages: "a symlink", "a folder", "a FIFO (named pipe)", … */
export function describeFileType(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symlink'
  if (st.isDirectory()) return 'a folder'
  if (st.isFIFO()) return 'a FIFO (named pipe)'
  if (st.isCharacterDevice()) return 'a character device'
  if (st.isBlockDevice()) return 'a block device'
  if (st.isSocket()) return 'a socket'
  return 'not a regular file'
}

const errnoOf = (err: unknown): string | undefined => {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** Translates a file-system error met while writing `path` into a FileWriteError. */
export function toFileWriteError(err: unknown, path: string): unknown {
  if (err instanceof FileWriteError) return err
  const code = errnoOf(err)
  if (code === undefined) return err
  const dir = dirname(path)
  const make = (c: FileWriteErrorCode, message: string): FileWriteError =>
    new FileWriteError(c, path, message, { cause: err })
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return make(
        'permission-denied',
        `cannot write ${path}: permission denied in ${dir}; choose a folder you may write to, or fix its permissions`,
      )
    case 'EROFS':
      return make(
        'read-only',
        `cannot write ${path}: ${dir} is on a read-only file system; choose a folder on a writable disk`,
      )
    case 'EISDIR':
      return make(
        'not-a-file',
        `cannot write ${path}: it is a folder; give a file name, e.g. ${join(path, 'report')}`,
      )
    case 'ENOSPC':
    case 'EDQUOT':
      return make(
        'disk-full',
        `cannot write ${path}: the disk holding ${dir} is full (nothing was written); free some space or choose another folder`,
      )
    case 'ENOENT':
      return make(
        'no-folder',
        `cannot write ${path}: the folder ${dir} does not exist; create it or choose another`,
      )
    case 'ENOTDIR':
    case 'EEXIST':
      return make(
        'no-folder',
        `cannot write ${path}: a part of ${dir} is a file, not a folder; choose another path`,
      )
    case 'ELOOP':
      return make(
        'no-folder',
        `cannot write ${path}: ${dir} goes through a symlink loop; choose another path`,
      )
    case 'ENAMETOOLONG':
      return make('no-folder', `cannot write ${path}: the path is too long; choose a shorter one`)
    default:
      return make(
        'io',
        `cannot write ${path} (${err instanceof Error ? err.message : code}); check the disk`,
      )
  }
}

/**
 * Refuses a target that is neither absent nor a regular file (with the FileWriteError the write
 * would give): callers that spend time making the data check first.
 */
export function checkTarget(path: string): void {
  if (path.endsWith('/') || path.endsWith(sep) || basename(path) === '') {
    throw new FileWriteError(
      'folder-path',
      path,
      `cannot write ${path}: it names a folder (it ends in "${path.slice(-1)}"); give a file name, e.g. ${join(path, 'report')}`,
    )
  }
  let st: Stats
  try {
    st = lstatSync(path)
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return
    throw toFileWriteError(err, path)
  }
  if (!st.isFile()) {
    throw new FileWriteError(
      'not-a-file',
      path,
      `refusing to write ${path}: it is ${describeFileType(st)}, and NiN Lab only replaces regular files; choose another path, or remove it first`,
    )
  }
}

/** Writes `data` to a new temporary file beside `target` and flushes it to the disk. */
function writeTemp(target: string, data: string | Uint8Array, mode = 0o666): string {
  const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`)
  // 'wx': O_CREAT | O_EXCL — fails rather than follow or reuse anything already at that name.
  const fd = openSync(tmp, 'wx', mode)
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
    let offset = 0
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset)
    fsyncSync(fd)
  } catch (err) {
    closeSync(fd)
    rmSync(tmp, { force: true })
    throw err
  }
  closeSync(fd)
  return tmp
}

/** Makes the renames themselves durable; some file systems refuse fsync on a folder. */
function syncFolder(dir: string): void {
  let fd: number | undefined
  try {
    fd = openSync(dir, 'r')
    fsyncSync(fd)
  } catch {
    // Best effort: the data itself is already on the disk.
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/**
 * Writes several files as one change, as far as a file system allows: every target is checked
 * and every temporary file written before the first rename, so a refused target, a full disk or
 * a read-only folder leaves all the targets as they were.
 */
export function writeFilesSafely(files: readonly FileToWrite[], options: WriteOptions = {}): void {
  const targets = files.map((f) => ({ path: resolve(f.path), shown: f.path, data: f.data }))
  for (const t of targets) checkTarget(t.shown)
  const written: { tmp: string; path: string; shown: string }[] = []
  let current = targets[0]?.shown ?? ''
  try {
    for (const t of targets) {
      current = t.shown
      if (options.createFolder) mkdirSync(dirname(t.path), { recursive: true })
      written.push({ tmp: writeTemp(t.path, t.data, options.mode), path: t.path, shown: t.shown })
    }
    for (const w of written) {
      current = w.shown
      // Checked again right before the rename: the window for a swap is as small as it gets.
      checkTarget(w.shown)
      renameSync(w.tmp, w.path)
    }
  } catch (err) {
    for (const w of written) rmSync(w.tmp, { force: true })
    throw toFileWriteError(err, current)
  }
  for (const dir of new Set(written.map((w) => dirname(w.path)))) syncFolder(dir)
}

/** One file: see writeFilesSafely. */
export function writeFileSafely(
  path: string,
  data: string | Uint8Array,
  options: WriteOptions = {},
): void {
  writeFilesSafely([{ path, data }], options)
}
