/**
 * A SHA256SUMS file in every folder the trainer saves (checkpoints, the final model): the sha256
 * of each other file in it, in the format of coreutils' `sha256sum` (`<hex>  <name>`), so
 * `sha256sum -c SHA256SUMS` checks a folder by hand. It is written last: a folder without it was
 * never completed. A checkpoint whose bytes changed (a bad disk, a stray write) without changing
 * its size is caught here on resume instead of training on from garbage. The torch engine writes
 * and checks the same file (src/torch-engine/nin_torch/files.py).
 */
import { createHash } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import {
  FileReadError,
  READ_CHUNK_BYTES,
  openRegularFile,
  readRegularFile,
  writeFileDurable,
} from './files'

export const SUMS_FILE = 'SHA256SUMS'
/** A SHA256SUMS file lists a handful of files: anything longer is not one. */
const SUMS_MAX_BYTES = 64 * 1024

/** The hex sha256 of a regular file, read in chunks (memory stays one chunk). */
export async function sha256File(path: string): Promise<string> {
  const { handle, size } = await openRegularFile(path)
  try {
    const hash = createHash('sha256')
    const chunk = Buffer.alloc(Math.min(READ_CHUNK_BYTES, Math.max(size, 1)))
    for (let position = 0; position < size;) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, position)
      if (bytesRead === 0) break
      hash.update(chunk.subarray(0, bytesRead))
      position += bytesRead
    }
    return hash.digest('hex')
  } finally {
    await handle.close()
  }
}

/** Writes `dir`/SHA256SUMS for every other file in `dir`, flushed to disk. */
export async function writeSums(dir: string): Promise<void> {
  const names = (await readdir(dir)).filter((n) => n !== SUMS_FILE).sort()
  const lines: string[] = []
  for (const name of names) lines.push(`${await sha256File(join(dir, name))}  ${name}\n`)
  await writeFileDurable(join(dir, SUMS_FILE), lines.join(''))
}

/** { name: sha256 } from `dir`/SHA256SUMS; throws when it is malformed. */
async function readSums(dir: string): Promise<Map<string, string>> {
  const text = (await readRegularFile(join(dir, SUMS_FILE), SUMS_MAX_BYTES)).toString('utf8')
  const sums = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    const m = /^([0-9a-f]{64}) {2}([^/]+)$/.exec(line)
    if (!m?.[1] || !m[2] || sums.has(m[2]))
      throw new Error(`${SUMS_FILE} has a malformed line ${JSON.stringify(line.slice(0, 80))}`)
    sums.set(m[2], m[1])
  }
  return sums
}

/**
 * Null when `dir` holds exactly the files its SHA256SUMS lists, each with its sha256; else what
 * is wrong, in words for a warning ("weights.bin does not match its sha256 …").
 */
export async function verifySums(dir: string): Promise<string | null> {
  let sums: Map<string, string>
  try {
    sums = await readSums(dir)
  } catch (err) {
    if (err instanceof FileReadError && err.code === 'ENOENT')
      return `it has no ${SUMS_FILE} (it was never completed)`
    return `its ${SUMS_FILE} is unreadable (${(err as Error).message})`
  }
  const unlisted = (await readdir(dir)).filter((n) => n !== SUMS_FILE && !sums.has(n))
  if (unlisted[0] !== undefined) return `${unlisted[0]} is not in its ${SUMS_FILE}`
  for (const [name, digest] of sums) {
    let actual: string
    try {
      actual = await sha256File(join(dir, name))
    } catch (err) {
      if (err instanceof FileReadError && err.code === 'ENOENT') return `${name} is missing`
      return `${name} is unreadable (${(err as Error).message})`
    }
    if (actual !== digest)
      return `${name} does not match its sha256 in ${SUMS_FILE} (the file is damaged)`
  }
  return null
}
