// `npm run bench -- api-latency`: how long other calls wait on a real `nin-lab serve` while 10,000
// runs are added in one addRuns, and while they are listed page after page (issue 23, item 13:
// "never blocks other calls for more than 100 ms"). A prober calls getQueueSettings one call
// after another and records each call's latency; this prints p50 / p95 / max per phase, with the
// load average, so a number from a loaded machine is read as one. The adding and the listing run
// in a child process of their own (this file with --load): read in the prober's process, the
// 12 MB answer to addRuns (a ~100 ms JSON.parse) held up the prober itself, and its "max" was the
// bench's own wait, not the server's. A measurement, not a test: nothing here passes or fails.
// Build first (`npm run build`).
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const BIN = join(here, '../bin/nin-lab.mjs')
const RUNS = 10_000
const BASELINE_MS = 3000
const LISTING_ROUNDS = 3

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')

function startServe(dataDir) {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${output}`)), 60_000)
    const onData = (chunk) => {
      output += chunk.toString()
      const m = /(http:\/\/[^\s#]+)#token=([\w-]+)/.exec(output)
      if (m) {
        clearTimeout(timer)
        resolve({ origin: m[1].replace(/\/$/, ''), token: m[2], child })
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}:\n${output}`)))
  })
}

function caller(serve) {
  return async (method, params) => {
    const res = await fetch(`${serve.origin}/api/call/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${serve.token}` },
      body: JSON.stringify(params),
    })
    const body = await res.json()
    if (res.status !== 200) throw new Error(`${method}: ${res.status} ${JSON.stringify(body)}`)
    return body
  }
}

/** Calls getQueueSettings back to back until `done` settles; the latency of each, in ms. */
async function probe(call, done) {
  const latencies = []
  let over = false
  void done.finally(() => (over = true))
  while (!over) {
    const t0 = performance.now()
    await call('getQueueSettings', {})
    latencies.push(performance.now() - t0)
  }
  return latencies
}

function summary(name, latencies, ms) {
  const sorted = [...latencies].sort((a, b) => a - b)
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN
  const f = (v) => `${v.toFixed(1)} ms`
  console.log(
    `${name.padEnd(34)} ${String(sorted.length).padStart(5)} calls in ${(ms / 1000).toFixed(1)} s: ` +
      `p50 ${f(at(0.5))}, p95 ${f(at(0.95))}, max ${f(at(1 - 1e-9))}; load ${load()}`,
  )
}

async function phase(name, call, work) {
  const t0 = performance.now()
  const done = work()
  const latencies = await probe(call, done)
  await done
  summary(name, latencies, performance.now() - t0)
}

/** The load, in the child process (`--load add|list ORIGIN TOKEN`): prints what it added/listed. */
async function loadProcess(mode, origin, token) {
  const call = caller({ origin, token })
  if (mode === 'add') {
    const values = (n) => Array.from({ length: n }, (_, i) => i)
    const r = await call('addRuns', {
      experiment: 'latency',
      base: { name: 'latency' },
      axes: [
        { path: 'train.seed', values: values(100) },
        { path: 'data.trainLimit', values: values(100).map((i) => 1000 + i) },
      ],
      seeds: 1,
      confirm: true,
      reuse: 'train',
    })
    console.log(r.added.length)
    return
  }
  let listed = 0
  for (let round = 0; round < LISTING_ROUNDS; round++) {
    let cursor = ''
    do {
      const page = await call('listRuns', cursor ? { cursor } : {})
      listed += page.runs.length
      cursor = page.next ?? ''
    } while (cursor)
  }
  console.log(listed)
}

/** Runs `--load MODE` in a child process; resolves to the number it printed. */
function loadElsewhere(mode, serve) {
  const child = spawn(
    process.execPath,
    [fileURLToPath(import.meta.url), '--load', mode, serve.origin, serve.token],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  let out = ''
  child.stdout.on('data', (c) => (out += c))
  return new Promise((resolve, reject) =>
    child.once('exit', (code) =>
      code === 0 ? resolve(Number(out.trim())) : reject(new Error(`--load ${mode} exited ${code}`)),
    ),
  )
}

if (process.argv[2] === '--load') {
  await loadProcess(process.argv[3], process.argv[4], process.argv[5])
  process.exit(0)
}

const dataDir = mkdtempSync(join(tmpdir(), 'nin-lab-bench-latency-'))
const serve = await startServe(dataDir)
try {
  const call = caller(serve)
  console.log(`api-latency: nin-lab serve on ${dataDir}; load average ${load()}`)
  // Nothing trains meanwhile: the runs stay queued.
  await call('pauseQueue', {})
  await phase('baseline (nothing else)', call, () => new Promise((r) => setTimeout(r, BASELINE_MS)))
  let added = 0
  await phase(`while adding ${RUNS} runs (one call)`, call, async () => {
    added = await loadElsewhere('add', serve)
  })
  let listed = 0
  await phase(`while listing them (${LISTING_ROUNDS}× all pages)`, call, async () => {
    listed = await loadElsewhere('list', serve)
  })
  console.log(`added ${added} runs; listed ${listed} rows; load average ${load()}`)
} finally {
  serve.child.kill('SIGTERM')
  await new Promise((r) => serve.child.once('exit', r))
  rmSync(dataDir, { recursive: true, force: true })
}
