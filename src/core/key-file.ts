/**
 * A secret kept in a file of the data folder (the web server's access key, the fleet key): how
 * it is looked at without following links, and how a running process picks up a rotation made
 * from another shell — the file is read again whenever it changes, and the last good key stays
 * while the file is missing or bad.
 */
import { lstatSync, type Stats } from 'node:fs'

/** The file's own status (a link is not followed), or null when there is none. */
export function keyFileStat(path: string): Stats | null {
  try {
    return lstatSync(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

/** The key in force for a running process, read again from `path` whenever the file changes. */
export class WatchedKeyFile {
  private key: string
  private seen: string

  constructor(
    private readonly path: string,
    initial: string,
    /** The key in the file, null when it holds none; throws when the file is not one. */
    private readonly read: (path: string) => string | null,
  ) {
    this.key = initial
    this.seen = this.signature()
  }

  private signature(): string {
    const st = keyFileStat(this.path)
    return st === null ? '' : `${st.ino}:${st.size}:${st.mtimeMs}`
  }

  current(): string {
    try {
      const sig = this.signature()
      if (sig !== this.seen) {
        this.seen = sig
        this.key = this.read(this.path) ?? this.key
      }
    } catch {
      // Not a regular file any more (or unreadable): keep the key in force.
    }
    return this.key
  }
}
