// What a bad request, a stuck trainer, a race or a full disk can do to the queue, with real
// processes, a real database and (for the full disk) a real tmpfs of a few MB mounted for the
// test. Each run is tiny (a few hundred real Fashion-MNIST images).
import { spawn, spawnSync } from 'node:child_process'
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { validateExperimentConfig } from '@shared/config/experiment'
import { Core } from '@core/core'
import { processStart } from '@core/queue/process-identity'
import { Scheduler } from '@core/queue/scheduler'
import { LOCK_FILE, lockHolder } from '@core/queue/scheduler-lock'
import { RunStore } from '@core/store'
import { queryDataDir } from '../helpers/db'
import { assertBuilt, isAlive, runCli, spawnCli, waitFor } from '../helpers/cli'
import { datasetCache, seededTempDir } from '../helpers/datasets'
import { TINY_RUN } from '../helpers/tiny'

let dataDir: string
const TINY = TINY_RUN

const query = <T>(sql: string, ...params: unknown[]): T[] =>
  queryDataDir<T>(dataDir, sql, ...params)
const statusOf = (id: string): string | undefined =>
  query<{ status: string }>('SELECT status FROM runs WHERE id = ?', id)[0]?.status

function queueAdd(...args: string[]): string[] {
  const r = runCli(['queue', 'add', ...TINY, ...args, '--json', '--data-dir', dataDir])
  expect(r.status, r.stderr).toBe(0)
  return (JSON.parse(r.stdout) as { added: { id: string }[] }).added.map((a) => a.id)
}

function assertSound(): void {
  expect(
    query(
      `SELECT run_id, epoch FROM run_events WHERE type = 'epoch' GROUP BY run_id, epoch HAVING COUNT(*) > 1`,
    ),
  ).toEqual([])
  expect(
    query(`SELECT run_id FROM metric_points GROUP BY run_id, name, step HAVING COUNT(*) > 1`),
  ).toEqual([])
  expect(query('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }])
}

beforeAll(datasetCache)

beforeEach(async () => {
  assertBuilt()
  // The dataset cache already there: these tests check the queue, not its building (the full
  // disk test below makes a folder of its own, empty).
  dataDir = await seededTempDir('nin-lab-faults-')
})

describe('grid size', () => {
  it('a grid of 810,000 runs is refused at once, before anything is expanded', async () => {
    const core = new Core({ dataDir, scheduler: false })
    try {
      const values = Array.from({ length: 30 }, (_, i) => i + 1)
      const axes = ['model.blocks[0].channels', 'model.blocks[1].channels', 'train.epochs'].map(
        (path) => ({ path, values }),
      )
      await expect(
        core.call('addRuns', { experiment: 'big', base: {}, axes, seeds: 30 }),
      ).rejects.toMatchObject({
        code: 'invalid-params',
        message: expect.stringMatching(/810,000 runs; at most 10,000 can be queued at once/),
      })
      expect(core.store.listRuns()).toEqual([])
    } finally {
      await core.close()
    }
  })

  it('more than 200 runs need --yes; with it they queue, and queue ls pages them', () => {
    const grid = [
      '--grid',
      'train.epochs=' + Array.from({ length: 70 }, (_, i) => i + 1).join(','),
      '--seeds',
      '3',
    ]
    const refused = runCli(['queue', 'add', ...TINY, ...grid, '--data-dir', dataDir])
    expect(refused.status).toBe(2)
    expect(refused.stderr).toMatch(/queues 210 runs \(more than 200\): confirm .*--yes/)
    expect(query('SELECT id FROM runs')).toEqual([])

    expect(queueAdd(...grid, '--yes')).toHaveLength(210)
    const ls = runCli(['queue', 'ls', '--json', '--data-dir', dataDir])
    const state = JSON.parse(ls.stdout) as { runs: unknown[]; queuedTotal: number }
    expect(state.queuedTotal).toBe(210)
    expect(state.runs).toHaveLength(200)
    expect(runCli(['queue', 'ls', '--data-dir', dataDir]).stdout).toMatch(/… and 10 more queued/)
  })
})

describe('stopping trainers', () => {
  it('a trainer that ignores SIGTERM is killed after the grace period and the queue goes on', async () => {
    const [first, second] = queueAdd(
      '--set',
      'data.trainLimit=1600',
      '--set',
      'train.epochs=5',
      '--grid',
      'model.microConvs=1,2',
    )
    const scheduler = spawnCli(['queue', 'start', '--data-dir', dataDir], {
      env: { NIN_LAB_STOP_GRACE_MS: '2000' },
    })
    try {
      const pid = await waitFor(
        () =>
          query<{ pid: number | null }>(
            `SELECT r.pid FROM runs r WHERE r.id = ? AND r.status = 'running' AND EXISTS
               (SELECT 1 FROM run_events e WHERE e.run_id = r.id AND e.type = 'step')`,
            first,
          )[0]?.pid ?? undefined,
        120_000,
        'the first run training',
      )
      // A stopped process cannot run its SIGTERM handler: only SIGKILL ends it.
      process.kill(pid, 'SIGSTOP')
      expect(runCli(['queue', 'cancel', first!, '--data-dir', dataDir]).status).toBe(0)
      await waitFor(() => (isAlive(pid) ? undefined : true), 60_000, 'the stopped trainer killed')
      // The slot is free again: the second run starts.
      await waitFor(
        () => (statusOf(second!) === 'queued' ? undefined : true),
        120_000,
        'the second run to start',
      )
      expect(statusOf(first!)).toBe('cancelled')
    } finally {
      scheduler.child.kill('SIGTERM')
      await scheduler.exited
    }
    assertSound()
  })
})

describe('races', () => {
  it('a run cancelled by another process between pick and start is skipped, not a crash', async () => {
    const store = RunStore.open(dataDir)
    const other = RunStore.open(dataDir)
    const config = validateExperimentConfig({ name: 'raced', train: { epochs: 1 } })
    const [run] = store.addRuns('races', [config]).added
    // The scheduler reads the next run; another process cancels it before the claim.
    const racing = Object.create(store) as RunStore
    Object.assign(racing, {
      nextQueued: () => {
        const next = store.nextQueued()
        if (next) other.cancel(next.id)
        return next
      },
    })
    const scheduler = new Scheduler(racing, { dataDir, pollMs: 50 })
    const warnings: string[] = []
    scheduler.on('warning', (m) => warnings.push(m))
    let started = 0
    scheduler.on('runStarted', () => started++)
    scheduler.start()
    await new Promise((r) => setTimeout(r, 300))
    expect(started).toBe(0)
    expect(warnings).toEqual([])
    expect(store.requireRun(run!.id)).toMatchObject({ status: 'cancelled', attempt: 0 })
    expect(lockHolder(dataDir)?.pid).toBe(process.pid)
    await scheduler.stop()
    expect(lockHolder(dataDir)).toBeNull()
    store.close()
    other.close()
  })

  it('messages from an older attempt are refused, never stored', () => {
    const store = RunStore.open(dataDir)
    try {
      const [run] = store.addRuns('fencing', [validateExperimentConfig({})]).added
      const owner = { kind: 'scheduler' as const, host: 'h', pid: 1, start: null }
      const first = store.claim(run!.id, owner)!
      store.markInterrupted([run!.id])
      store.retry(run!.id)
      const second = store.claim(run!.id, owner)!
      expect(second.attempt).toBe(first.attempt + 1)
      const step = {
        type: 'step' as const,
        runId: run!.id,
        time: 1,
        epoch: 1,
        step: 1,
        stepInEpoch: 1,
        loss: 2,
        acc: 0.1,
        examplesPerSec: 10,
      }
      expect(() => store.persistMessages(run!.id, [step], { attempt: first.attempt })).toThrow(
        /from attempt 1: its current attempt is 2/,
      )
      expect(store.events(run!.id)).toEqual([])
      expect(store.persistMessages(run!.id, [step], { attempt: second.attempt })).toBe(1)
    } finally {
      store.close()
    }
  })
})

describe('process identity', () => {
  let bystander: ReturnType<typeof spawn> | null = null
  afterEach(() => {
    bystander?.kill('SIGKILL')
    bystander = null
  })

  it('cancelling a run never signals the pid its row names', async () => {
    bystander = spawn('sleep', ['600'], { stdio: 'ignore' })
    const pid = bystander.pid!
    const store = RunStore.open(dataDir)
    const [run] = store.addRuns('identity', [validateExperimentConfig({})]).added
    // A row that claims an unrelated live process trains it (another host's scheduler, a stale row).
    store.connection
      .prepare("UPDATE runs SET status = 'running', pid = ?, host = 'elsewhere' WHERE id = ?")
      .run(pid, run!.id)
    store.close()
    const core = new Core({ dataDir, scheduler: false })
    try {
      await core.call('cancelRun', { id: run!.id })
      await new Promise((r) => setTimeout(r, 200))
      expect(isAlive(pid)).toBe(true)
      expect(core.store.requireRun(run!.id).status).toBe('cancelled')
    } finally {
      await core.close()
    }
  })

  it('a lock naming a live but different process (a reused pid) is stale', () => {
    bystander = spawn('sleep', ['600'], { stdio: 'ignore' })
    const pid = bystander.pid!
    const start = processStart(pid)
    expect(start).not.toBeNull()
    const lock = join(dataDir, LOCK_FILE)
    writeFileSync(lock, JSON.stringify({ host: hostname(), pid, start, since: 0 }))
    expect(lockHolder(dataDir)?.pid).toBe(pid)
    writeFileSync(lock, JSON.stringify({ host: hostname(), pid, start: `${start}1`, since: 0 }))
    expect(lockHolder(dataDir)).toBeNull()
  })

  it('a run left running by a dead process is resumed by `run --resume`', () => {
    const [id] = queueAdd('--set', 'train.epochs=1')
    const store = RunStore.open(dataDir)
    const dead = spawnSync('true').pid!
    store.claim(id!, { kind: 'scheduler', host: hostname(), pid: dead, start: null })
    store.close()
    const r = runCli(['run', '--resume', id!, '--json', '--data-dir', dataDir])
    expect(r.status, r.stderr).toBe(0)
    expect(statusOf(id!)).toBe('completed')
    assertSound()
  })
})

describe('a full disk', () => {
  let mount: string | null = null
  afterEach(() => {
    if (mount) spawnSync('umount', ['-l', mount])
    mount = null
  })

  it('halts the queue with a clear error; nothing crashes, and the run resumes once space is freed', async () => {
    // A tmpfs just big enough for the dataset cache, the database and a little more.
    const dir = mkdtempSync(join(tmpdir(), 'nin-lab-full-'))
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=80m', 'tmpfs', dir])
    if (mounted.status !== 0) {
      throw new Error(
        `this test mounts a small tmpfs (as root): ${mounted.stderr.toString().trim() || 'mount failed'}`,
      )
    }
    mount = dir
    dataDir = join(dir, 'data')
    mkdirSync(dataDir)
    const [id] = queueAdd('--set', 'data.trainLimit=1600', '--set', 'train.epochs=4')
    const scheduler = spawnCli(['queue', 'start', '--data-dir', dataDir])
    await waitFor(
      () => (query(`SELECT 1 FROM run_events WHERE type = 'step'`).length > 0 ? true : undefined),
      120_000,
      'the run training',
    )
    // Fill the disk to the last byte.
    const filler = join(dir, 'filler')
    const fd = openSync(filler, 'w')
    const block = Buffer.alloc(1 << 20)
    try {
      for (;;) writeSync(fd, block)
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC')
    }
    for (let size = 1 << 16; size >= 1; size >>= 1) {
      try {
        for (;;) writeSync(fd, block.subarray(0, size))
      } catch {
        // next smaller size
      }
    }
    closeSync(fd)
    const code = await scheduler.exited
    const { stderr } = scheduler.output()
    expect(code).toBe(1)
    expect(stderr).toMatch(/queue halted: the queue stopped: .*full.*resume the queue/s)
    expect(stderr).not.toMatch(/\n\s+at .*\.js:\d+/) // no stack trace
    // The process is gone, and so is its claim: the run waits at the front of the queue, not
    // `running` until the next start (the scheduler's disk reserve made room to record that).
    expect(statusOf(id!)).toBe('queued')
    // Space freed: the run goes on from its last checkpoint and completes.
    rmSync(filler)
    const again = runCli(['queue', 'start', '--data-dir', dataDir])
    expect(again.status, again.stderr).toBe(0)
    expect(statusOf(id!)).toBe('completed')
    assertSound()
  })
})
