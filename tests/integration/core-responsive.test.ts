// The web server answers while something slow happens elsewhere: a big report export (rendered in
// the report worker's own process) and a database write lock held by another process (refused
// after a short busy timeout, as a retryable error). Real `nin-lab serve`, real SQLite, real
// Chromium for the PDF. No timings are asserted, only which answer comes first.
import { fork } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { validateExperimentConfig } from '@shared/config/experiment'
import type { TrainerMessage } from '@shared/protocol/trainer'
import { RunStore } from '@core/store'
import { findChromium } from '@core/reports/pdf'
import { assertBuilt, startServe, type ServeProcess } from '../helpers/cli'

let dataDir: string
let serve: ServeProcess | null = null

const call = async (
  method: string,
  params: unknown,
): Promise<{ status: number; body: unknown }> => {
  if (!serve) throw new Error('no server')
  const res = await fetch(`${serve.origin}/api/call/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${serve.token}` },
    body: JSON.stringify(params),
  })
  return { status: res.status, body: await res.json() }
}

/** Completed runs with a few hundred metric points each, written straight into the store. */
function seedRuns(count: number): string[] {
  const store = RunStore.open(dataDir)
  try {
    const configs = Array.from({ length: count }, (_, i) =>
      validateExperimentConfig({
        name: `seeded-${i}`,
        model: { microConvs: i % 4 },
        train: { seed: i },
      }),
    )
    const { added } = store.addRuns('responsive', configs)
    for (const run of added) {
      store.markStarted(run.id, { pid: 1, host: 'seed', engine: 'tfjs' })
      const messages: TrainerMessage[] = []
      for (let step = 1; step <= 300; step++) {
        const epoch = Math.ceil(step / 30)
        messages.push({
          type: 'step',
          runId: run.id,
          time: step,
          epoch,
          step,
          stepInEpoch: ((step - 1) % 30) + 1,
          loss: 2 / step,
          acc: 0.5,
          examplesPerSec: 100,
        })
        if (step % 30 === 0)
          messages.push({
            type: 'epoch',
            runId: run.id,
            time: step,
            epoch,
            step,
            trainLoss: 1,
            trainAcc: 0.5,
            testLoss: 1,
            testAcc: 0.5,
            seconds: 3,
            examplesPerSec: 100,
            memory: { rssBytes: 1, tensorBytes: 1, tensors: 1 },
          })
      }
      store.persistMessages(run.id, messages)
      store.markFinished(run.id, 'completed')
    }
    return added.map((r) => r.id)
  } finally {
    store.close()
  }
}

beforeEach(() => {
  assertBuilt()
  dataDir = mkdtempSync(join(tmpdir(), 'nin-lab-responsive-'))
})
afterEach(async () => {
  await serve?.stop()
  serve = null
})

describe('the server stays responsive', () => {
  it.skipIf(!findChromium())('answers other requests while a big PDF export renders', async () => {
    const ids = seedRuns(60)
    serve = await startServe(dataDir)
    const order: string[] = []
    const exported = call('exportReport', { ids, format: 'pdf' }).then((r) => {
      order.push('export')
      return r
    })
    // Give the export a head start, so that it is under way when the next request comes.
    await new Promise((r) => setTimeout(r, 300))
    const state = await call('queueState', {})
    order.push('queueState')
    expect(state.status).toBe(200)
    const pdf = await exported
    expect(pdf.status, JSON.stringify(pdf.body).slice(0, 300)).toBe(200)
    const files = (pdf.body as { files: { name: string; base64: string }[] }).files
    expect(Buffer.from(files[0]!.base64, 'base64').subarray(0, 5).toString()).toBe('%PDF-')
    expect(order).toEqual(['queueState', 'export'])
  })

  it('refuses a write as busy, and still answers reads, while another process holds the lock', async () => {
    const [id] = seedRuns(1)
    serve = await startServe(dataDir)
    // Another process takes the database's write lock and keeps it until told to let go.
    const holderScript = join(dataDir, 'hold-lock.cjs')
    writeFileSync(
      holderScript,
      `const Database = require(${JSON.stringify(createRequire(import.meta.url).resolve('better-sqlite3'))})
       const db = new Database(process.argv[2])
       db.exec('BEGIN IMMEDIATE')
       db.prepare("UPDATE settings SET value = value").run()
       process.send('locked')
       process.on('message', () => { db.exec('COMMIT'); db.close(); process.exit(0) })`,
    )
    const holder = fork(holderScript, [join(dataDir, 'nin-lab.db')], { stdio: 'ignore' })
    await new Promise((resolve) => holder.once('message', resolve))
    try {
      // The write waits for the lock without blocking the server: a read sent after it is
      // answered first.
      const order: string[] = []
      const writing = call('setNotes', { id, notes: 'while locked' }).then((r) => {
        order.push('write')
        return r
      })
      await new Promise((r) => setTimeout(r, 100))
      const read = await call('getRun', { id })
      order.push('read')
      expect(read.status).toBe(200)
      const write = await writing
      expect(order).toEqual(['read', 'write'])
      expect(write.status).toBe(503)
      expect(write.body).toMatchObject({
        code: 'unavailable',
        message: expect.stringMatching(/locked by another process .* try again/),
      })
    } finally {
      holder.send('release')
      await new Promise((resolve) => holder.once('exit', resolve))
    }
    expect((await call('setNotes', { id, notes: 'after' })).status).toBe(200)
  })
})
