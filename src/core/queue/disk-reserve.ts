/**
 * A few MiB the scheduler keeps in the data folder (`disk-reserve`) and gives back when the disk
 * fills up: a full disk halts the queue, and recording how each stopped run ends (interrupted,
 * queued again at the front) is itself a database write that needs space. Without it, a
 * `queue start` that halted exited with its run still `running` until the next start.
 */
import { closeSync, ftruncateSync, openSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'

export const RESERVE_FILE = 'disk-reserve'
/** Room for a few hundred pages of WAL: far more than settling the running runs takes. */
export const RESERVE_BYTES = 4 << 20

export class DiskReserve {
  private held = false

  constructor(private readonly dataDir: string) {}

  get path(): string {
    return join(this.dataDir, RESERVE_FILE)
  }

  /**
   * Writes the reserve (real blocks, not a sparse file, so the space is truly taken). Best
   * effort: a disk without the room goes on without a reserve, and says nothing here (a full
   * disk halts the queue in its own words soon enough).
   */
  take(): boolean {
    if (this.held) return true
    let fd: number | null = null
    try {
      fd = openSync(this.path, 'w', 0o600)
      const block = Buffer.alloc(1 << 16)
      for (let written = 0; written < RESERVE_BYTES;) written += writeSync(fd, block)
      closeSync(fd)
      this.held = true
    } catch {
      if (fd !== null) {
        try {
          ftruncateSync(fd, 0)
          closeSync(fd)
        } catch {
          // nothing more to free
        }
      }
      rmSync(this.path, { force: true })
    }
    return this.held
  }

  /** Frees the space for the writes that must still happen. */
  release(): void {
    try {
      rmSync(this.path, { force: true })
    } catch {
      // a read-only disk: nothing to free there anyway
    }
    this.held = false
  }
}
