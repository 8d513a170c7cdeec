/**
 * Files through Redis, head → worker: the checkpoint a resumed job starts from. Like the files a
 * worker ships back (report-channel.ts, `chunk` reports), a file travels in CHUNK_BYTES pieces,
 * one Redis command each, so that a large checkpoint never blocks Redis (and the heartbeats behind
 * it) for long. The pieces of one attempt's files wait in a list of their own
 * (`nin-lab:job-files:<run>.<attempt>`, expiring after a day in case nobody takes them); the signed
 * job lists each file's path, size and sha256, so the worker checks what it assembles against what
 * the head signed, and a piece someone rewrote in Redis is caught.
 *
 * Also the file helpers both sides share: the files under a folder, and a file's sha256 read a
 * piece at a time.
 */
import { createHash } from 'node:crypto'
import {
  closeSync,
  constants,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  writeSync,
} from 'node:fs'
import { mkdirSync, rmSync } from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'
import type { Redis } from 'ioredis'
import { CHUNK_BYTES, isSafeRelativePath, jobFilesKey, type JobFile } from '@shared/protocol/worker'

/** How long an attempt's pieces wait for a worker before Redis drops them. */
const JOB_FILES_TTL_MS = 24 * 60 * 60 * 1000

/** A file found under a folder: its path relative to the root (forward slashes) and on disk. */
export interface FoundFile {
  readonly path: string
  readonly absolute: string
}

/** Every regular file under `dir`, relative to `root`, with forward slashes. */
export function filesUnder(root: string, dir: string): FoundFile[] {
  const out: FoundFile[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const absolute = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...filesUnder(root, absolute))
    else if (entry.isFile())
      out.push({ path: relative(root, absolute).split(sep).join('/'), absolute })
  }
  return out
}

/** The hex sha256 and size of a file, read CHUNK_BYTES at a time (a link is not followed). */
export function hashFile(path: string): { sha256: string; size: number } {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW)
  try {
    const hash = createHash('sha256')
    const buffer = Buffer.alloc(CHUNK_BYTES)
    let size = 0
    for (let n = readSync(fd, buffer); n > 0; n = readSync(fd, buffer)) {
      hash.update(buffer.subarray(0, n))
      size += n
    }
    return { sha256: hash.digest('hex'), size }
  } finally {
    closeSync(fd)
  }
}

/** How many pieces a file of `size` bytes travels in (an empty file: one empty piece). */
export const piecesOf = (size: number): number => Math.max(1, Math.ceil(size / CHUNK_BYTES))

/**
 * Head: puts the files of one attempt into its list, a piece per command, and returns what the
 * signed job lists of them. A write Redis refuses throws (the caller retries, then halts); what
 * was put before is dropped first, so a retry starts clean.
 */
export async function putJobFiles(
  redis: Redis,
  jobId: string,
  files: readonly FoundFile[],
): Promise<JobFile[]> {
  const key = jobFilesKey(jobId)
  await redis.del(key)
  const listed: JobFile[] = []
  const buffer = Buffer.alloc(CHUNK_BYTES)
  for (const file of files) {
    const { sha256, size } = hashFile(file.absolute)
    const fd = openSync(file.absolute, constants.O_RDONLY | constants.O_NOFOLLOW)
    try {
      for (let piece = 0; piece < piecesOf(size); piece++) {
        const n = readSync(fd, buffer, 0, Math.min(CHUNK_BYTES, size - piece * CHUNK_BYTES), null)
        await redis.rpush(key, buffer.subarray(0, n).toString('base64'))
      }
    } finally {
      closeSync(fd)
    }
    listed.push({ path: file.path, size, sha256 })
  }
  if (files.length > 0) await redis.pexpire(key, JOB_FILES_TTL_MS)
  return listed
}

/** Drops an attempt's pieces (DEL frees memory: Redis takes it even when full). */
export async function dropJobFiles(redis: Redis, jobId: string): Promise<void> {
  await redis.del(jobFilesKey(jobId))
}

/**
 * KEYS[1] the list, ARGV[1] the index, ARGV[2] the longest piece taken: {1, piece}, {0, length}
 * for one too long (not read out of Redis), or nil when there is none. Read-only, so it runs on a
 * full Redis too.
 */
const PIECE = `#!lua flags=no-writes
local v = redis.call('LINDEX', KEYS[1], ARGV[1])
if not v then return nil end
local n = string.len(v)
if n > tonumber(ARGV[2]) then return {0, n} end
return {1, v}
`

interface PieceCommand {
  ninLabJobPiece(key: string, index: number, max: number): Promise<unknown>
}

/**
 * Worker: assembles the files a job lists into `runDir`, a piece per command, each file checked
 * against the size and sha256 the head signed before it is renamed into place. Throws when a
 * piece is missing, too long, or a file does not match.
 */
export async function takeJobFiles(
  redis: Redis,
  jobId: string,
  files: readonly JobFile[],
  runDir: string,
): Promise<void> {
  const r = redis as Redis & Partial<PieceCommand>
  if (!r.ninLabJobPiece) redis.defineCommand('ninLabJobPiece', { numberOfKeys: 1, lua: PIECE })
  const maxChars = Math.ceil(CHUNK_BYTES / 3) * 4
  let index = 0
  for (const file of files) {
    if (!isSafeRelativePath(file.path))
      throw new Error(`the job names a path outside the run: ${file.path}`)
    const path = join(runDir, ...file.path.split('/'))
    mkdirSync(dirname(path), { recursive: true })
    const part = `${path}.part`
    const fd = openSync(part, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600)
    const hash = createHash('sha256')
    let size = 0
    try {
      for (let piece = 0; piece < piecesOf(file.size); piece++, index++) {
        const out = await (redis as Redis & PieceCommand).ninLabJobPiece(
          jobFilesKey(jobId),
          index,
          maxChars,
        )
        if (!Array.isArray(out)) throw new Error(`${file.path}: piece ${piece} is missing in Redis`)
        const [ok, value] = out as [number, string | number]
        if (ok !== 1) throw new Error(`${file.path}: piece ${piece} is ${value} characters long`)
        const data = Buffer.from(String(value), 'base64')
        hash.update(data)
        size += data.length
        if (size > file.size) break
        writeSync(fd, data)
      }
    } finally {
      closeSync(fd)
    }
    if (size !== file.size || hash.digest('hex') !== file.sha256) {
      rmSync(part, { force: true })
      throw new Error(`${file.path} arrived damaged`)
    }
    renameSync(part, path)
  }
}
