/**
 * Shared pieces of the fleet tests (tests/integration/fleet*.test.ts): the head's fleet key, made
 * before any worker starts; a head (`nin-lab queue start --redis … --concurrency 0`) and workers
 * (`nin-lab worker`) as real processes, each in its own folder; reads of the head's database.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'vitest'
import { fleetKeyPath, loadFleetKey } from '@core/queue/fleet-key'
import { workerKey } from '@shared/protocol/worker'
import { runCli, spawnCli, waitFor } from './cli'
import { queryDataDir } from './db'
import { TINY_RUN } from './tiny'

/** Makes the head's fleet key (as `nin-lab key show --fleet` does) and returns it. */
export function makeFleetKey(head: string): string {
  return loadFleetKey(head).key
}

/** A worker's arguments for the head's key: a file path, never the key itself. */
export const fleetKeyArgs = (head: string): string[] => ['--fleet-key-file', fleetKeyPath(head)]

/** Tiny PyTorch runs on a few hundred real Fashion-MNIST images. */
export const TINY = [...TINY_RUN, '--set', 'engine=torch']

export type Proc = ReturnType<typeof spawnCli>

/** One head data folder on one Redis, and the processes started for it (stopped by `stopAll`). */
export class FleetRig {
  readonly processes: Proc[] = []

  constructor(
    readonly redisUrl: string,
    readonly head: string,
  ) {
    makeFleetKey(head)
  }

  query<T>(sql: string, ...params: unknown[]): T[] {
    return queryDataDir<T>(this.head, sql, ...params)
  }

  queueAdd(...args: string[]): string[] {
    const r = runCli(['queue', 'add', ...TINY, ...args, '--json', '--data-dir', this.head])
    expect(r.status, r.stderr).toBe(0)
    return (JSON.parse(r.stdout) as { added: { id: string }[] }).added.map((a) => a.id)
  }

  startHead(): Proc {
    const args = ['queue', 'start', '--redis', this.redisUrl, '--concurrency', '0']
    const p = spawnCli([...args, '--data-dir', this.head])
    this.processes.push(p)
    return p
  }

  /** A worker in `workDir` (default: a new empty temp folder). */
  startWorker(name: string, env: NodeJS.ProcessEnv = {}, workDir?: string): Proc {
    const dir = workDir ?? mkdtempSync(join(tmpdir(), `nin-lab-${name}-`))
    const p = spawnCli(
      [
        'worker',
        '--redis',
        this.redisUrl,
        '--name',
        name,
        '--work-dir',
        dir,
        ...fleetKeyArgs(this.head),
      ],
      { env },
    )
    this.processes.push(p)
    return p
  }

  /** `nin-lab queue workers --json` on the head's folder. */
  workers(): { status: number | null; names: string[]; ignored: string[]; stderr: string } {
    const r = runCli([
      'queue',
      'workers',
      '--json',
      '--redis',
      this.redisUrl,
      '--data-dir',
      this.head,
    ])
    if (r.status !== 0) return { status: r.status, names: [], ignored: [], stderr: r.stderr }
    const view = JSON.parse(r.stdout) as {
      workers: { name: string }[]
      ignored?: { worker: string; why: string }[]
    }
    return {
      status: 0,
      names: view.workers.map((w) => w.name),
      // As the head logs them: the heartbeat's key, and why.
      ignored: (view.ignored ?? []).map((i) => `${workerKey(i.worker)}: ${i.why}`),
      stderr: r.stderr,
    }
  }

  /** Waits until the workers are in the fleet (their first signed heartbeat). */
  async fleetOf(...names: string[]): Promise<void> {
    await waitFor(
      () => {
        const { status, names: seen } = this.workers()
        return status === 0 && names.every((n) => seen.includes(n)) ? true : undefined
      },
      60_000,
      `workers ${names.join(', ')} in the fleet`,
    )
  }

  /**
   * The exit code of a process of this rig, or a failure after `timeoutMs` (a bound on a hang,
   * never a speed check) that shows what every process said last and where the runs stand.
   */
  async exitOf(p: Proc, timeoutMs: number, what: string): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), timeoutMs)
    })
    const code = await Promise.race([p.exited, late]).finally(() => clearTimeout(timer))
    if (code !== 'late') return code
    const tails = this.processes.map(
      (q, i) => `--- process ${i} (pid ${q.child.pid}) stderr:\n${q.output().stderr.slice(-3000)}`,
    )
    const runs = this.query('SELECT id, status, attempt, error FROM runs ORDER BY created_at')
    throw new Error(
      `timed out after ${timeoutMs} ms waiting for ${what}\nruns: ${JSON.stringify(runs)}\n${tails.join('\n')}`,
    )
  }

  async stopAll(): Promise<void> {
    for (const p of this.processes.splice(0)) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGKILL')
        await p.exited
      }
    }
  }
}
