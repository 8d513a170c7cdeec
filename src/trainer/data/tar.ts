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
  const fail = failureOf(file, opts)
  const { handle, size } = await openRegularFile(file).catch((err: unknown) => {
    throw new DataError(`${opts.where}: ${(err as Error).message}`)
  })
  try {
    const head = Buffer.alloc(Math.min(2, size))
    await handle.read(head, 0, head.length, 0)
    const gz = head.length === 2 && head[0] === 0x1f && head[1] === 0x8b

    const parser = new TarParser(file, opts)
    let refusal: DataError | null = null
    const consume = async (inflated: AsyncIterable<Buffer>): Promise<void> => {
      for await (const piece of inflated) {
        try {
          parser.feed(piece)
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
        throw fail(`is truncated (the gzip stream ends after ${int(parser.total)} bytes)`)
      throw fail(`is not a valid ${gz ? 'gzip' : 'tar'} file (${(err as Error).message})`)
    }
    if (parser.endsInsideEntry())
      throw fail(`is truncated (it ends inside ${parser.entryName || 'an entry'})`)
    if (parser.total === 0) throw fail('is empty')
    return parser.entries
  } finally {
    await handle.close()
  }
}

/** A DataError naming the archive, with what is wrong with it. */
const failureOf =
  (file: string, opts: TarReadOptions) =>
  (what: string): DataError =>
    new DataError(`${opts.where}: ${file} ${what}; download it again`)

/**
 * A tar stream parsed as it arrives: fed the inflated bytes piece by piece (`feed`), it keeps
 * the wanted entries, reads GNU long names and pax paths for the entry that follows, and stops at
 * the end-of-archive marker.
 */
class TarParser {
  readonly entries = new Map<string, Buffer>()
  /** Inflated bytes seen so far. */
  total = 0
  /** The name of the entry being read (or the last one). */
  entryName = ''
  private ended = false
  /** Less than a block left over from the last piece. */
  private pending = Buffer.alloc(0)
  // The entry being read: where its data goes, how much is left of it and of its padding.
  private target: Buffer | null = null
  private filled = 0
  private left = 0
  private padding = 0
  private meta: 'L' | 'x' | null = null
  private nextName: string | null = null
  private readonly fail: (what: string) => DataError

  constructor(
    private readonly file: string,
    private readonly opts: TarReadOptions,
  ) {
    this.fail = failureOf(file, opts)
  }

  feed(piece: Buffer): void {
    this.total += piece.length
    if (this.total > this.opts.maxTotalBytes)
      throw this.fail(
        `expands to more than ${bytes(this.opts.maxTotalBytes)}, more than the dataset can be`,
      )
    if (this.ended) return
    let buf = this.pending.length > 0 ? Buffer.concat([this.pending, piece]) : piece
    this.pending = Buffer.alloc(0)
    while (buf.length > 0 && !this.ended) buf = this.consume(buf)
  }

  /** Whether the stream stopped inside an entry, its padding or a header. */
  endsInsideEntry(): boolean {
    return !this.ended && (this.left > 0 || this.padding > 0 || this.pending.length > 0)
  }

  /** Takes what it can of `buf` (entry data, padding, or a header block); returns the rest. */
  private consume(buf: Buffer): Buffer {
    if (this.left > 0) {
      const n = Math.min(this.left, buf.length)
      if (this.target !== null) this.target.set(buf.subarray(0, n), this.filled)
      this.filled += n
      this.left -= n
      if (this.left === 0 && this.padding === 0) this.endEntry()
      return buf.subarray(n)
    }
    if (this.padding > 0) {
      const n = Math.min(this.padding, buf.length)
      this.padding -= n
      if (this.padding === 0) this.endEntry()
      return buf.subarray(n)
    }
    if (buf.length < BLOCK) {
      this.pending = Buffer.from(buf)
      return Buffer.alloc(0)
    }
    const block = buf.subarray(0, BLOCK)
    if (block.every((b) => b === 0)) {
      this.ended = true // end-of-archive marker: whatever follows is padding
      return Buffer.alloc(0)
    }
    this.startEntry(block)
    if (this.left === 0 && this.padding === 0) this.endEntry()
    return buf.subarray(BLOCK)
  }

  private startEntry(block: Buffer): void {
    if (!checksumOk(block))
      throw this.fail(
        `is not a valid tar archive (a header checksum fails after ${int(this.total)} bytes)`,
      )
    const entrySize = numberField(block, 124, 12)
    if (!Number.isSafeInteger(entrySize) || entrySize < 0)
      throw this.fail('is not a valid tar archive (an entry size is unreadable)')
    const type = String.fromCharCode(block[156] as number)
    const name = this.nextName ?? headerName(block)
    this.nextName = null
    this.left = entrySize
    this.padding = (BLOCK - (entrySize % BLOCK)) % BLOCK
    this.filled = 0
    this.target = null
    this.meta = null
    if (type === 'L' || type === 'x') {
      if (entrySize > META_MAX_BYTES)
        throw this.fail(`is not a valid tar archive (a ${bytes(entrySize)} extended header)`)
      this.meta = type
      this.target = Buffer.alloc(entrySize)
      this.entryName = name
      return
    }
    // Regular files only ('0', or NUL in old archives).
    if (type !== '0' && type !== '\0') return
    const max = this.opts.want(name)
    if (max === null) return
    if (entrySize > max)
      throw new DataError(
        `${this.opts.where}: ${this.file} holds ${name} of ${bytes(entrySize)}, more than the ` +
          `${bytes(max)} such a file can be; the archive is corrupt or not the official one: download it again`,
      )
    this.target = Buffer.alloc(entrySize)
    this.entryName = name
  }

  private endEntry(): void {
    if (this.target === null) return
    if (this.meta === 'L') this.nextName = this.target.toString('utf8').replace(/\0+$/, '')
    else if (this.meta === 'x') this.nextName = paxPath(this.target)
    else this.entries.set(this.entryName, this.target)
    this.target = null
    this.meta = null
  }
}

/** A header's own name: ustar's prefix and name, or a v7 header's name. */
function headerName(block: Buffer): string {
  const name = stringField(block, 0, 100)
  if (block.toString('latin1', 257, 262) !== 'ustar') return name
  const prefix = stringField(block, 345, 155)
  return prefix ? `${prefix}/${name}` : name
}
