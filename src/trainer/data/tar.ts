/**
 * A small, bounded reader of tar archives, gzipped or not (CIFAR's `cifar-10-binary.tar.gz` as
 * distributed): the archive is inflated and parsed as one stream, and only the entries the caller
 * asks for are kept, in memory, nothing extracted to disk.
 *
 * Bounded like every data read (../files.ts): the file must be a regular file; each kept entry's
 * size is checked against the caller's limit from its header, before its buffer is allocated;
 * the whole inflated stream is stopped the moment it passes `maxTotalBytes` (a gzip bomb costs
 * that, not what it holds); each header's checksum is verified, so a corrupt archive is an error
 * that names it rather than garbage read as data.
 *
 * Formats: POSIX ustar (name + prefix), old v7 headers, GNU long names ('L') and pax extended
 * headers ('x': their `path`); sizes in octal or GNU base-256. Links, folders and other entry
 * types are skipped.
 */
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import { bytes, int } from '@shared/format'
import { fileChunks, openRegularFile } from '../files'
import { DataError } from './types'

const BLOCK = 512
/** A long name or pax header is a few hundred bytes; anything far larger is not one. */
const META_MAX_BYTES = 1 << 20

export interface TarReadOptions {
  /** The most bytes an entry may hold, by its name in the archive; null: skip the entry. */
  readonly want: (name: string) => number | null
  /** The most bytes the whole inflated archive may hold. */
  readonly maxTotalBytes: number
  /** The config path the archive came from, for error messages (`data.path`). */
  readonly where: string
  readonly signal?: AbortSignal
}

/** A header's numeric field: octal text (NUL/space terminated), or GNU base-256 (high bit set). */
function numberField(block: Buffer, at: number, length: number): number {
  const first = block[at] as number
  if (first & 0x80) {
    let n = first & 0x7f
    for (let i = 1; i < length; i++) n = n * 256 + (block[at + i] as number)
    return n
  }
  const text = block
    .toString('latin1', at, at + length)
    .replace(/[\0 ].*$/s, '')
    .trim()
  if (!/^[0-7]*$/.test(text)) return Number.NaN
  return text === '' ? 0 : parseInt(text, 8)
}

const stringField = (block: Buffer, at: number, length: number): string => {
  const end = block.indexOf(0, at)
  return block.toString('utf8', at, end === -1 || end > at + length ? at + length : end)
}

/** ustar checksum: the sum of the header's bytes with its checksum field read as spaces. */
function checksumOk(block: Buffer): boolean {
  const stored = numberField(block, 148, 8)
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] as number)
  return stored === sum
}

/** The `path` of a pax extended header's records (`<len> key=value\n`), or null. */
function paxPath(data: Buffer): string | null {
  let at = 0
  while (at < data.length) {
    const space = data.indexOf(0x20, at)
    if (space === -1) return null
    const len = Number(data.toString('latin1', at, space))
    if (!Number.isInteger(len) || len <= 0) return null
    const record = data.toString('utf8', space + 1, at + len - 1)
    if (record.startsWith('path=')) return record.slice(5)
    at += len
  }
  return null
}

/**
 * The wanted entries of a tar (or .tar.gz) file, by name as stored (`cifar-10-batches-bin/
 * data_batch_1.bin`). Throws DataError naming the file for anything it cannot read.
 */
export async function readTarEntries(
  file: string,
  opts: TarReadOptions,
): Promise<Map<string, Buffer>> {
  const fail = (what: string): DataError =>
    new DataError(`${opts.where}: ${file} ${what}; download it again`)
  const { handle, size } = await openRegularFile(file).catch((err: unknown) => {
    throw new DataError(`${opts.where}: ${(err as Error).message}`)
  })
  const out = new Map<string, Buffer>()
  try {
    const head = Buffer.alloc(Math.min(2, size))
    await handle.read(head, 0, head.length, 0)
    const gz = head.length === 2 && head[0] === 0x1f && head[1] === 0x8b

    let total = 0
    let pending = Buffer.alloc(0)
    let ended = false
    // The entry being read: where its data goes, how much is left of it and of its padding.
    let target: Buffer | null = null
    let targetName = ''
    let filled = 0
    let left = 0
    let padding = 0
    let meta: 'L' | 'x' | null = null
    let nextName: string | null = null
    let refusal: DataError | null = null

    const startEntry = (block: Buffer): void => {
      if (!checksumOk(block))
        throw fail(`is not a valid tar archive (a header checksum fails after ${int(total)} bytes)`)
      const entrySize = numberField(block, 124, 12)
      if (!Number.isSafeInteger(entrySize) || entrySize < 0)
        throw fail('is not a valid tar archive (an entry size is unreadable)')
      const type = String.fromCharCode(block[156] as number)
      const ustar = block.toString('latin1', 257, 262) === 'ustar'
      let name = stringField(block, 0, 100)
      if (ustar) {
        const prefix = stringField(block, 345, 155)
        if (prefix) name = `${prefix}/${name}`
      }
      if (nextName !== null) name = nextName
      nextName = null
      left = entrySize
      padding = (BLOCK - (entrySize % BLOCK)) % BLOCK
      filled = 0
      target = null
      meta = null
      if (type === 'L' || type === 'x') {
        if (entrySize > META_MAX_BYTES)
          throw fail(`is not a valid tar archive (a ${bytes(entrySize)} extended header)`)
        meta = type
        target = Buffer.alloc(entrySize)
        targetName = name
        return
      }
      // Regular files only ('0', or NUL in old archives).
      if (type !== '0' && type !== '\0') return
      const max = opts.want(name)
      if (max === null) return
      if (entrySize > max)
        throw new DataError(
          `${opts.where}: ${file} holds ${name} of ${bytes(entrySize)}, more than the ` +
            `${bytes(max)} such a file can be; the archive is corrupt or not the official one: download it again`,
        )
      target = Buffer.alloc(entrySize)
      targetName = name
    }

    const endEntry = (): void => {
      if (target === null) return
      if (meta === 'L') nextName = target.toString('utf8').replace(/\0+$/, '')
      else if (meta === 'x') nextName = paxPath(target)
      else out.set(targetName, target)
      target = null
      meta = null
    }

    const consume = async (inflated: AsyncIterable<Buffer>): Promise<void> => {
      for await (const piece of inflated) {
        try {
          total += piece.length
          if (total > opts.maxTotalBytes)
            throw fail(
              `expands to more than ${bytes(opts.maxTotalBytes)}, more than the dataset can be`,
            )
          if (ended) continue
          let buf = pending.length > 0 ? Buffer.concat([pending, piece]) : piece
          pending = Buffer.alloc(0)
          while (buf.length > 0 && !ended) {
            if (left > 0) {
              const n = Math.min(left, buf.length)
              if (target !== null) (target as Buffer).set(buf.subarray(0, n), filled)
              filled += n
              left -= n
              buf = buf.subarray(n)
              if (left === 0 && padding === 0) endEntry()
              continue
            }
            if (padding > 0) {
              const n = Math.min(padding, buf.length)
              padding -= n
              buf = buf.subarray(n)
              if (padding === 0) endEntry()
              continue
            }
            if (buf.length < BLOCK) {
              pending = Buffer.from(buf)
              break
            }
            const block = buf.subarray(0, BLOCK)
            buf = buf.subarray(BLOCK)
            if (block.every((b) => b === 0)) {
              ended = true // end-of-archive marker: whatever follows is padding
              break
            }
            startEntry(block)
            if (left === 0 && padding === 0) endEntry()
          }
        } catch (err) {
          if (err instanceof DataError) refusal = err
          throw err
        }
      }
    }

    const source = Readable.from(fileChunks(handle, size))
    try {
      if (gz) await pipeline(source, createGunzip(), consume, { signal: opts.signal })
      else await pipeline(source, consume, { signal: opts.signal })
    } catch (err) {
      if (refusal) throw refusal
      if (opts.signal?.aborted) throw err
      if ((err as NodeJS.ErrnoException).code === 'Z_BUF_ERROR')
        throw fail(`is truncated (the gzip stream ends after ${int(total)} bytes)`)
      throw fail(`is not a valid ${gz ? 'gzip' : 'tar'} file (${(err as Error).message})`)
    }
    if (!ended && (left > 0 || padding > 0 || pending.length > 0))
      throw fail(`is truncated (it ends inside ${targetName || 'an entry'})`)
    if (total === 0) throw fail('is empty')
    return out
  } finally {
    await handle.close()
  }
}
