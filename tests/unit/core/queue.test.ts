// The queue in seconds: the scheduler, the run execution and the trainer process against a
// stand-in trainer (a real forked process that speaks the trainer protocol on cue, no training)
// and a real SQLite store, with the clocks that matter injected: the poll, flush and stop-grace
// intervals, and the halt's timestamp. The same behaviours with real training stay covered by
// tests/integration/queue*.test.ts; the fleet's head waits for its rewrite (fleet.ts). The tests
// run concurrently (each in its own data folder): they mostly wait on processes. The 60-s
// timeouts bound a hang, not speed.
import { spawnSync } from 'node:child_process'
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { validateExperimentConfig } from '@shared/config/experiment'
import { METRICS } from '@shared/metrics'
import {
  MAX_AUTO_RESUMES,
  Scheduler,
  type Halt,
  type SchedulerOptions,
} from '@core/queue/scheduler'
import { RunExecution, RunNotClaimedError } from '@core/queue/run-execution'
import { currentProcess } from '@core/queue/process-identity'
import { lockHolder } from '@core/queue/scheduler-lock'
import { RunStore, type Run } from '@core/store'
import { mountTmpfs, type Mount } from '../../helpers/fs'
import {
  STAND_IN,
  cue,
  held,
  holding,
  release,
  starts,
  until,
  type Cue,
} from '../../helpers/stand-in'

let seeds = 0

/** Registers a clean-up for the test that is running (tests here run concurrently). */
type OnFinished = (fn: () => void | Promise<void>) => void

interface Bench {
  readonly dataDir: string
  readonly store: RunStore
  /** Queues one run per name (config name = run name), each with its cue if given. */
  add(...runs: (string | [name: string, cue: Cue])[]): Run[]
  scheduler(options?: Partial<SchedulerOptions>): Scheduler
  runDir(run: Run): string
  status(run: Run): string | undefined
  mount(mount: Mount): void
}

/**
 * A data folder (a fresh one, or `dataDir`, e.g. on a small tmpfs) with its store; removed, with
 * its schedulers stopped and its mount undone, when the test finishes.
 */
function bench(onTestFinished: OnFinished, dataDir?: string): Bench {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'nin-lab-queue-'))
  const store = RunStore.open(dir)
  const o = { schedulers: [] as Scheduler[], mounts: [] as Mount[] }
  onTestFinished(async () => {
    for (const s of o.schedulers) await s.stop('interrupt').catch(() => {})
    store.close()
    rmSync(dir, { recursive: true, force: true })
    for (const m of o.mounts) {
      m.unmount()
      rmSync(m.dir, { recursive: true, force: true })
    }
  })
  return {
    dataDir: dir,
    store,
    add: (...runs) => {
      // A config hash names a run in its experiment: the seed tells these apart.
      const configs = runs.map((r) => {
        const [name, c] = typeof r === 'string' ? [r, undefined] : r
        if (c) cue(dir, name, c)
        return validateExperimentConfig({ name, train: { epochs: 2, seed: ++seeds } })
      })
      return store.addRuns('queue-test', configs).added
    },
    scheduler: (options = {}) => {
      const s = new Scheduler(store, {
        dataDir: dir,
        pollMs: 10,
        flushMs: 10,
        stopGraceMs: 300,
        trainerEntry: STAND_IN,
        ...options,
      })
      o.schedulers.push(s)
      return s
    },
    runDir: (run) => store.runDir(run.id),
    status: (run) => store.getRun(run.id)?.status,
    mount: (m) => o.mounts.push(m),
  }
}

const settled = (b: Bench, run: Run, status: string): Promise<true> =>
  until(() => b.store.getRun(run.id)?.status === status || undefined, `${run.name} ${status}`)

const epochsOf = (b: Bench, run: Run): number[] => b.store.epochRows(run.id).map((e) => e.epoch)

describe.concurrent('the scheduler runs the queue', { timeout: 60_000 }, () => {
  it('one at a time in queue order, every message stored once, then idle', async ({
    onTestFinished,
  }) => {
    const b = bench(onTestFinished)
    const runs = b.add('a', 'b', 'c')
    const s = b.scheduler()
    const order: string[] = []
    let running = 0
    let most = 0
    s.on('runStarted', (r) => {
      order.push(r.name)
      most = Math.max(most, ++running)
    })
    s.on('runFinished', () => running--)
    const idle = new Promise<void>((resolve) => s.on('idle', resolve))
    s.start()
    for (const r of runs) await settled(b, r, 'completed')
    await idle
    expect(order).toEqual(['a', 'b', 'c'])
    expect(most).toBe(1)
    for (const r of runs) {
      expect(epochsOf(b, r)).toEqual([1, 2])
      expect(b.store.metricSeries(r.id, METRICS.stepLoss).map((p) => p.step)).toEqual([1, 2, 3, 4])
      expect(existsSync(join(b.runDir(r), 'messages.jsonl'))).toBe(true)
    }
  })

  it('two CPU slots train two runs at once', async ({ onTestFinished }) => {
    const b = bench(onTestFinished)
    const hold: Cue = { starts: [['started', 'hold:go', 'epoch', 'epoch', 'finished']] }
    const [x, y] = b.add(['x', hold], ['y', hold])
    b.scheduler({ concurrency: 2 }).start()
    await Promise.all([held(b.store, x!.id, 'go'), held(b.store, y!.id, 'go')])
    expect([b.status(x!), b.status(y!)]).toEqual(['running', 'running'])
    release(b.runDir(x!), 'go')
    release(b.runDir(y!), 'go')
    await Promise.all([settled(b, x!, 'completed'), settled(b, y!, 'completed')])
  })
})

describe.concurrent('claims and fencing', { timeout: 60_000 }, () => {
  it('a run cancelled, or claimed by another process, before it starts is never started', ({
    onTestFinished,
  }) => {
    const b = bench(onTestFinished)
    const [gone, taken] = b.add('gone', 'taken')
    b.store.cancel(gone!.id)
    const other = { kind: 'scheduler' as const, host: 'elsewhere', pid: 1, start: null }
    expect(b.store.claim(taken!.id, other)).not.toBeNull()
    for (const r of [gone!, taken!]) {
      expect(
        () =>
          new RunExecution(b.store, r, {
            dataDir: b.dataDir,
            ownerKind: 'scheduler',
            trainerEntry: STAND_IN,
          }),
      ).toThrow(RunNotClaimedError)
      expect(starts(b.runDir(r))).toEqual([]) // no trainer was started
    }
    expect(b.status(gone!)).toBe('cancelled')
    expect(b.store.getRun(taken!.id)?.owner?.host).toBe('elsewhere')
  })

  it('a trainer of an older attempt is fenced off: its messages are refused, never stored, and it is stopped', async ({
    onTestFinished,
  }) => {
    const b = bench(onTestFinished)
    const [run] = b.add(['r', { starts: [['started', 'hold:go', 'epoch', 'finished']] }])
    const warnings: string[] = []
    const old = new RunExecution(b.store, run!, {
      dataDir: b.dataDir,
      ownerKind: 'scheduler',
      trainerEntry: STAND_IN,
      onWarning: (w) => warnings.push(w),
    })
    await held(b.store, run!.id, 'go')
    // Presumed dead and claimed again (attempt 2) while its trainer still runs.
    b.store.markInterrupted([run!.id], 'presumed dead')
    b.store.retry(run!.id)
    const again = b.store.claim(run!.id, {
      kind: 'scheduler',
      host: 'elsewhere',
      pid: 1,
      start: null,
    })
    expect(again?.attempt).toBe(old.attempt + 1)
    release(b.runDir(run!), 'go')
    const result = await old.done
    expect(result.stopReason).toBe('shutdown')
    expect(warnings.join('\n')).toMatch(/from attempt 1: its current attempt is 2/)
    expect(epochsOf(b, run!)).toEqual([])
    expect(b.store.getRun(run!.id)).toMatchObject({ status: 'running', attempt: 2 })
  })
})

describe.concurrent('flushing step metrics', { timeout: 60_000 }, () => {
  const script: Cue = { starts: [['started', 'step', 'pause:go', 'epoch', 'finished']] }

  it('a step waits in memory at most flushMs', async ({ onTestFinished }) => {
    const b = bench(onTestFinished)
    const [run] = b.add(['r', script])
    const e = new RunExecution(b.store, run!, {
      dataDir: b.dataDir,
      ownerKind: 'scheduler',
      trainerEntry: STAND_IN,
      flushMs: 20,
    })
    await holding(b.runDir(run!), 'go')
    await until(
      () => b.store.metricSeries(run!.id, METRICS.stepLoss).length || undefined,
      'the step committed',
    )
    release(b.runDir(run!), 'go')
    await e.done
  })

  it('with a long flushMs the step is committed with the next epoch, not before', async ({
    onTestFinished,
  }) => {
    const b = bench(onTestFinished)
    const [run] = b.add(['r', script])
    const e = new RunExecution(b.store, run!, {
      dataDir: b.dataDir,
      ownerKind: 'scheduler',
      trainerEntry: STAND_IN,
      flushMs: 60_000,
    })
    await holding(b.runDir(run!), 'go')
    await new Promise((r) => setTimeout(r, 100))
    expect(b.store.metricSeries(run!.id, METRICS.stepLoss)).toEqual([])
    release(b.runDir(run!), 'go')
    const { exit } = await e.done
    expect(exit.terminal?.type).toBe('finished')
    expect(b.store.metricSeries(run!.id, METRICS.stepLoss).map((p) => p.step)).toEqual([1, 2])
    expect(b.status(run!)).toBe('completed')
  })
})

describe.concurrent('cancelling', { timeout: 60_000 }, () => {
  it('a run cancelled by another process while it trains is stopped, ends cancelled and is not resumed', async ({
    onTestFinished,
  }) => {
    const b = bench(onTestFinished)
    const [run, next] = b.add(['r', { starts: [['started', 'epoch', 'hold:never']] }], 'next')
    b.scheduler().start()
    await held(b.store, run!.id, 'never')
    // Another process (the app, the CLI) records the decision; the scheduler sees it on a tick.
    const app = RunStore.open(b.dataDir)
    app.cancel(run!.id)
    app.close()
    await settled(b, next!, 'completed')
    expect(b.status(run!)).toBe('cancelled')
    expect(starts(b.runDir(run!))).toHaveLength(1)
    expect(b.store.latestEvent(run!.id, 'cancelled')).toBeDefined()
  })

  it('a trainer that ignores SIGTERM is killed after the grace period; the run ends cancelled and the queue goes on', async ({
    onTestFinished,
  }) => {
    const b = bench(onTestFinished)
    const [run, next] = b.add(
      ['r', { starts: [['started', 'hold:never']], onSigterm: 'ignore' }],
      'next',
    )
    const s = b.scheduler({ stopGraceMs: 200 })
    s.start()
    await held(b.store, run!.id, 'never')
    const asked = Date.now()
    s.stopRun(run!.id, 'cancel')
    b.store.cancel(run!.id)
    await settled(b, next!, 'completed')
    expect(Date.now() - asked).toBeGreaterThanOrEqual(200)
    expect(b.status(run!)).toBe('cancelled')
    expect(starts(b.runDir(run!))).toHaveLength(1)
  })

  it('a final message that lands after the cancel does not undo it', async ({ onTestFinished }) => {
    const b = bench(onTestFinished)
    const [run] = b.add([
      'r',
      { starts: [['started', 'epoch', 'hold:go', 'finished']], onSigterm: 'ignore' },
    ])
    const s = b.scheduler({ pollMs: 60_000 }) // no tick sees the cancel: the trainer's news races it
    s.start()
    await held(b.store, run!.id, 'go')
    b.store.cancel(run!.id)
    release(b.runDir(run!), 'go')
    await until(() => (s.running.length === 0 ? true : undefined), 'the trainer to exit')
    expect(b.status(run!)).toBe('cancelled')
    expect(starts(b.runDir(run!))).toHaveLength(1)
  })
})

describe.concurrent('retries after a crash', { timeout: 60_000 }, () => {
  it('a trainer that dies mid-run is resumed from its checkpoint at the front of the queue', async ({
    onTestFinished,
  }) => {
    const b = bench(onTestFinished)
    const [run, other] = b.add(
      [
        'r',
        {
          starts: [
            ['started', 'epoch', 'step', 'exit:1'],
            ['started', 'epoch', 'finished'],
          ],
        },
      ],
      'other',
    )
    const s = b.scheduler()
    const order: string[] = []
    s.on('runStarted', (r) => order.push(r.name))
    s.start()
    await settled(b, other!, 'completed')
    expect(b.status(run!)).toBe('completed')
    expect(order).toEqual(['r', 'r', 'other'])
    expect(starts(b.runDir(run!)).map((x) => [x.resume, x.startEpoch])).toEqual([
      [false, 0],
      [true, 1],
    ])
    // Epoch 1 once, epoch 2 from the resumed attempt; the crashed step after the checkpoint is gone.
    expect(epochsOf(b, run!)).toEqual([1, 2])
    expect(b.store.metricSeries(run!.id, METRICS.stepLoss).map((p) => p.step)).toEqual([1, 2, 3, 4])
  })

  it(`a trainer that dies every time is resumed ${MAX_AUTO_RESUMES} times, then the run fails saying why`, async ({
    onTestFinished,
  }) => {
    const b = bench(onTestFinished)
    const [run, other] = b.add(['r', { starts: [['started', 'kill']] }], 'other')
    b.scheduler().start()
    await settled(b, other!, 'completed')
    expect(starts(b.runDir(run!))).toHaveLength(MAX_AUTO_RESUMES + 1)
    const failed = b.store.getRun(run!.id)
    expect(failed?.status).toBe('failed')
    expect(failed?.error).toMatch(/killed by SIGKILL/)
  })

  it('a trainer that cannot start is retried, then failed, and the queue goes on', async ({
    onTestFinished,
  }) => {
    const b = bench(onTestFinished)
    const [run] = b.add('r')
    b.scheduler({ trainerEntry: join(b.dataDir, 'no-such-trainer.mjs') }).start()
    await settled(b, run!, 'failed')
    expect(b.store.getRun(run!.id)?.error).toMatch(/exited with code 1/)
  })
})

describe.concurrent('stopping the scheduler', { timeout: 60_000 }, () => {
  const hold: Cue = {
    starts: [
      ['started', 'epoch', 'hold:go', 'epoch', 'finished'],
      ['started', 'epoch', 'finished'],
    ],
  }

  it("'wait' drains: the running run finishes, nothing new starts, the lock is released", async ({
    onTestFinished,
  }) => {
    const b = bench(onTestFinished)
    const [run, next] = b.add(['r', hold], 'next')
    const s = b.scheduler()
    s.start()
    await held(b.store, run!.id, 'go')
    const stopped = s.stop('wait')
    release(b.runDir(run!), 'go')
    await stopped
    expect(b.status(run!)).toBe('completed')
    expect(b.status(next!)).toBe('queued')
    expect(lockHolder(b.dataDir)).toBeNull()
  })

  it("'interrupt' stops the run after its step; it goes back to the front and resumes next time", async ({
    onTestFinished,
  }) => {
    const b = bench(onTestFinished)
    const [run, next] = b.add(['r', hold], 'next')
    const s = b.scheduler()
    s.start()
    await held(b.store, run!.id, 'go')
    await s.stop('interrupt')
    expect(b.status(run!)).toBe('queued')
    expect(b.store.nextQueued()?.id).toBe(run!.id)
    expect(b.status(next!)).toBe('queued')
    b.scheduler().start()
    await settled(b, next!, 'completed')
    expect(b.status(run!)).toBe('completed')
    expect(starts(b.runDir(run!)).map((x) => x.startEpoch)).toEqual([0, 1])
    expect(epochsOf(b, run!)).toEqual([1, 2])
  })
})

describe.concurrent('crash recovery at start-up', { timeout: 60_000 }, () => {
  it('a run left running by a dead process is interrupted and resumed first; one a live `nin-lab run` trains is left alone', async ({
    onTestFinished,
  }) => {
    const b = bench(onTestFinished)
    const [orphan, live, queued] = b.add(
      ['orphan', { starts: [['started', 'epoch', 'finished']] }],
      'live',
      'queued',
    )
    const dead = spawnSync(process.execPath, ['-e', '0']).pid
    b.store.claim(orphan!.id, { kind: 'scheduler', host: hostname(), pid: dead, start: 'gone' })
    b.store.claim(live!.id, { kind: 'run', ...currentProcess() })
    const s = b.scheduler()
    const order: string[] = []
    s.on('runStarted', (r) => order.push(r.name))
    s.start()
    await settled(b, queued!, 'completed')
    expect(order).toEqual(['orphan', 'queued'])
    expect(b.status(orphan!)).toBe('completed')
    expect(b.status(live!)).toBe('running')
  })
})

describe.concurrent('a full disk halts the queue', { timeout: 60_000 }, () => {
  it('no new run starts, the running one goes back to the queue, and resume carries on from its checkpoint', async ({
    onTestFinished,
  }) => {
    const dir = mkdtempSync(join(tmpdir(), 'nin-lab-queue-full-'))
    const m = mountTmpfs(dir, 4096)
    if (!m) throw new Error('this test mounts a small tmpfs (as root, with CAP_SYS_ADMIN)')
    const b = bench(onTestFinished, join(dir, 'data'))
    b.mount(m)
    const [run, next] = b.add(
      [
        'r',
        {
          // After its first epoch it takes a step and waits: the step's commit hits the full
          // disk, and the halt stops it there (SIGTERM: \`cancelled\`).
          starts: [
            ['started', 'epoch', 'hold:go', 'step', 'hold:never'],
            ['started', 'epoch', 'finished'],
          ],
        },
      ],
      'next',
    )
    const s = b.scheduler({ now: () => 1_234 })
    const halted = new Promise<Halt>((resolve) => s.on('halted', resolve))
    s.start()
    await held(b.store, run!.id, 'go')
    const filler = fillDisk(dir)
    release(b.runDir(run!), 'go')
    const halt = await halted
    expect(halt.since).toBe(1_234)
    expect(halt.reason).toMatch(/full.*resume the queue/s)
    await until(() => (s.running.length === 0 ? true : undefined), 'the run to stop')
    await new Promise((r) => setTimeout(r, 50)) // ticks while halted start nothing
    expect(starts(b.runDir(next!))).toEqual([])
    rmSync(filler)
    s.resume()
    await settled(b, next!, 'completed')
    expect(b.status(run!)).toBe('completed')
    expect(starts(b.runDir(run!)).map((x) => x.startEpoch)).toEqual([0, 1])
    expect(epochsOf(b, run!)).toEqual([1, 2])
  })
})

/** Fills the file system holding `dir` to the last byte; returns the file to delete to free it. */
function fillDisk(dir: string): string {
  const filler = join(dir, 'filler')
  const fd = openSync(filler, 'w')
  const block = Buffer.alloc(1 << 16)
  for (let size = block.length; size >= 1; size >>= 1) {
    try {
      for (;;) writeSync(fd, block.subarray(0, size))
    } catch {
      // full at this size: the next smaller one
    }
  }
  closeSync(fd)
  return filler
}
