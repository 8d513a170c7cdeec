/**
 * A stand-in worker for the fleet head's unit tests (tests/unit/core/fleet-head.test.ts): it speaks
 * the worker protocol on cue through a real Redis — signed heartbeats, jobs taken from the head's
 * BullMQ queue, signed reports with a session and a rising sequence, files in chunks — and trains
 * nothing, so a test of claims, fencing or a dead worker takes milliseconds, not a training run.
 */
import { createHash, randomBytes } from 'node:crypto'
import { Worker as BullWorker, type Job } from 'bullmq'
import type { Redis } from 'ioredis'
import { open, sign } from '@core/queue/fleet-key'
import { redisOptions } from '@core/queue/redis'
import { pushReport } from '@core/queue/report-channel'
import {
  checkRunJob,
  CHUNK_BYTES,
  KEY_PREFIX,
  MAX_JOB_CHARS,
  RUNS_QUEUE,
  workerKey,
  type RunJob,
} from '@shared/protocol/worker'
import type { TrainerMessage } from '@shared/protocol/trainer'

/** A job as the stand-in took it: BullMQ's job and what the head signed. */
export interface TakenJob {
  readonly job: Job
  readonly spec: Omit<RunJob, 'config'> & { config: unknown }
}

export class StandInWorker {
  /** This process's session (a restarted worker of the same name would have another). */
  session = randomBytes(9).toString('base64url')
  seq = 0
  private readonly taker: BullWorker

  constructor(
    private readonly redis: Redis,
    redisUrl: string,
    private readonly key: string,
    readonly name: string,
    readonly slots = 1,
  ) {
    this.taker = new BullWorker(RUNS_QUEUE, null, {
      connection: redisOptions(redisUrl),
      prefix: KEY_PREFIX,
      autorun: false,
    })
  }

  /** One signed heartbeat, as `nin-lab worker` writes it every 2 s (TTL 10 s). */
  async beat(running: readonly string[] = [], draining = false): Promise<void> {
    const body = {
      name: this.name,
      host: 'stand-in',
      pid: process.pid,
      slots: this.slots,
      gpus: [],
      running,
      offers: 'stand-in',
      version: 'test',
      startedAt: 1,
      beatAt: Date.now(),
      draining,
    }
    await this.redis.set(
      workerKey(this.name),
      sign(this.key, 'beat', JSON.stringify(body)),
      'PX',
      10_000,
    )
  }

  /** Its heartbeat gone, as when the TTL runs out after the worker died. */
  async die(): Promise<void> {
    await this.redis.del(workerKey(this.name))
  }

  /** The next job the head dispatched (undefined when none comes within a few tries). */
  async take(): Promise<TakenJob | undefined> {
    for (let i = 0; i < 20; i++) {
      const job = (await this.taker.getNextJob(`${this.name}-token`, { block: false })) as
        Job | undefined
      if (job) {
        const opened = open(
          [this.key],
          'job',
          (job.data as { envelope: string }).envelope,
          MAX_JOB_CHARS,
        )
        if ('error' in opened) throw new Error(opened.error)
        return { job, spec: checkRunJob(JSON.parse(opened.body)) }
      }
      await new Promise((r) => setTimeout(r, 10))
    }
    return undefined
  }

  /** A signed report of an attempt (`as` overrides the identity: a forger, another worker). */
  async report(
    runId: string,
    attempt: number,
    body: Record<string, unknown>,
    as: Record<string, unknown> = {},
  ): Promise<void> {
    const who = { runId, attempt, worker: this.name, host: 'stand-in', pid: process.pid, gpu: null }
    const report = { ...who, session: this.session, seq: ++this.seq, ...body, ...as }
    await pushReport(this.redis, sign(this.key, 'report', JSON.stringify(report)))
  }

  async say(runId: string, attempt: number, ...messages: TrainerMessage[]): Promise<void> {
    await this.report(runId, attempt, { kind: 'messages', messages })
  }

  /** Ships a folder's files (SHA256SUMS last, as a worker does), each in CHUNK_BYTES chunks. */
  async ship(runId: string, attempt: number, folder: string, files: Record<string, Buffer>) {
    const sums = Object.entries(files)
      .map(([name, data]) => `${sha256(data)}  ${name}\n`)
      .join('')
    for (const [name, data] of [...Object.entries(files), ['SHA256SUMS', Buffer.from(sums)]] as [
      string,
      Buffer,
    ][]) {
      for (let offset = 0; offset === 0 || offset < data.length; offset += CHUNK_BYTES) {
        const piece = data.subarray(offset, offset + CHUNK_BYTES)
        await this.report(runId, attempt, {
          kind: 'chunk',
          path: `${folder}/${name}`,
          offset,
          size: data.length,
          sha256: sha256(data),
          base64: piece.toString('base64'),
        })
        if (data.length === 0) break
      }
    }
  }

  async close(): Promise<void> {
    await this.taker.close(true)
  }
}

export const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex')

/** Trainer messages with every field a check wants, for a run. */
export const says = {
  started: (runId: string, epochs = 2): TrainerMessage => ({
    type: 'started',
    runId,
    time: Date.now(),
    engine: 'torch',
    backend: 'cpu',
    skipped: [],
    threads: 1,
    versions: {},
    params: 1,
    trainCount: 1,
    testCount: 1,
    stepsPerEpoch: 1,
    epochs,
    startEpoch: 0,
    pid: 1,
  }),
  epoch: (runId: string, epoch: number): TrainerMessage => ({
    type: 'epoch',
    runId,
    time: Date.now(),
    epoch,
    step: epoch,
    trainLoss: 1,
    trainAcc: 0.5,
    testLoss: 1,
    testAcc: 0.5,
    seconds: 1,
    examplesPerSec: 1,
    memory: { rssBytes: 0, tensorBytes: 0, tensors: 0 },
  }),
  checkpoint: (runId: string, epoch: number): TrainerMessage => ({
    type: 'checkpoint',
    runId,
    time: Date.now(),
    epoch,
    step: epoch,
    path: '/elsewhere',
  }),
  failed: (runId: string, error: string): TrainerMessage => ({
    type: 'failed',
    runId,
    time: Date.now(),
    error,
  }),
}
