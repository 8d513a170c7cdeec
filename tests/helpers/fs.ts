/**
 * Real hostile file systems for tests: small tmpfs mounts (full disks, read-only file systems),
 * device nodes and FIFOs, and permission checks without root's override. Each helper says when
 * this machine cannot make the thing (no root, no CAP_SYS_ADMIN), so a test can skip with that
 * reason instead of passing without checking anything.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync } from 'node:fs'

const run = (cmd: string, args: string[]): boolean =>
  spawnSync(cmd, args, { stdio: 'ignore' }).status === 0

export interface Mount {
  readonly dir: string
  /** Remounts it read-only (EROFS for every write). */
  readOnly(): void
  unmount(): void
}

/** Mounts a tmpfs of `kib` KiB at `dir`, or returns null when this machine may not mount. */
export function mountTmpfs(dir: string, kib: number): Mount | null {
  mkdirSync(dir, { recursive: true })
  if (!run('mount', ['-t', 'tmpfs', '-o', `size=${kib}k,mode=0755`, 'tmpfs', dir])) return null
  return {
    dir,
    readOnly: () => {
      if (!run('mount', ['-o', 'remount,ro', dir])) throw new Error(`cannot remount ${dir} ro`)
    },
    unmount: () => {
      run('umount', ['-l', dir])
    },
  }
}

/** Whether `mount` works here (root with CAP_SYS_ADMIN): probed once with a throwaway mount. */
export function canMount(probeDir: string): boolean {
  const m = mountTmpfs(probeDir, 16)
  m?.unmount()
  return m !== null
}

/** Makes a character device node (e.g. 1,7 = /dev/full); false without CAP_MKNOD. */
export const mknodChar = (path: string, major: number, minor: number): boolean =>
  run('mknod', [path, 'c', String(major), String(minor)])

export const mkfifo = (path: string): boolean => run('mkfifo', [path])

/**
 * Runs `fn` without root's power to ignore permissions. Tests run as root, where chmod 0o555
 * stops nothing; root can however drop its effective uid to `nobody` and take it back
 * (the real uid stays 0), so the permission checks are the kernel's own, not a simulation.
 * Vitest runs each test file in its own worker process, so no other file sees the switch.
 */
export function withoutRoot<T>(fn: () => T): T {
  const root = process.getuid?.() === 0 && typeof process.seteuid === 'function'
  if (!root) return fn()
  process.seteuid?.(65534)
  try {
    return fn()
  } finally {
    process.seteuid?.(0)
  }
}

/** Names in `dir` that look like a writer's leftover temporary files. */
export const leftovers = (dir: string): string[] =>
  readdirSync(dir).filter((n) => /\.tmp($|-)|\.tmp\./.test(n))
