/**
 * A trainer process: trains one run and streams typed messages (src/shared/protocol/trainer.ts)
 * to its parent — over the IPC channel when started with one (fork), else as JSON lines on
 * stdout (standalone: `node out/main/trainer.js --job JOB.json`).
 *
 * One process per run (DESIGN.md): cancelling is a signal, GPU memory is released on exit, and a
 * native crash fails this run only. SIGTERM stops it cleanly before the next step; if its parent
 * dies it exits by itself.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { validateExperimentConfig } from '@shared/config/experiment'
import type { TrainerJob, TrainerMessage, Unstamped } from '@shared/protocol/trainer'
import { trainTfjs } from './engines/tfjs/train'

function readJob(): TrainerJob {
  const { values } = parseArgs({ options: { job: { type: 'string' } } })
  if (!values.job) throw new Error('usage: trainer --job JOB.json')
  const job = JSON.parse(readFileSync(values.job, 'utf8')) as TrainerJob
  // The parent validated the config already; validating again costs nothing and guards the
  // standalone entry point, which takes a hand-written job file.
  return { ...job, config: validateExperimentConfig(job.config, `${values.job} (config)`) }
}

let runId = 'unknown'
const send = (message: Unstamped<TrainerMessage>): void => {
  const stamped = { ...message, runId, time: Date.now() } as TrainerMessage
  if (process.send && process.connected) process.send(stamped)
  else process.stdout.write(JSON.stringify(stamped) + '\n')
}

let stopRequested = false
process.on('SIGTERM', () => {
  stopRequested = true
})
process.on('SIGINT', () => {
  stopRequested = true
})

// Exit when the parent is gone: the IPC channel closes, or (standalone) we are re-parented.
const parentPid = process.ppid
process.on('disconnect', () => process.exit(3))
setInterval(() => {
  if (process.ppid !== parentPid) process.exit(3)
}, 1000).unref()

async function main(): Promise<number> {
  let job: TrainerJob
  try {
    job = readJob()
  } catch (err) {
    send({
      type: 'failed',
      error: `cannot read the job: ${err instanceof Error ? err.message : String(err)}`,
    })
    return 2
  }
  runId = job.runId
  try {
    const final = await trainTfjs(job, send, { stopRequested: () => stopRequested })
    send(final)
    return 0
  } catch (err) {
    send({ type: 'failed', error: err instanceof Error ? err.message : String(err) })
    return 1
  }
}

void main().then((code) => {
  // Exit explicitly: wasm pthread workers would otherwise keep the process alive, and an
  // IPC message must be flushed before we go.
  if (process.send && process.connected) process.disconnect()
  process.exit(code)
})
