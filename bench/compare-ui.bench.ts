// How fast Compare draws in Chromium, from the click on "Compare" to the charts painted
// (performance marks set by useComparison), median of 5, plus how much of it is fetching the
// metrics. Two sizes: 20 runs × 5,000 points per curve (the size first measured), and 100 runs ×
// 10,000 points, a study with seeds, whose target is under 1 s (issue 15: it took 4,966 ms before
// the store kept min/max buckets). The runs are synthetic (seeded straight into the store): this
// measures the UI, not training. `COMPARE_BENCH_SIZES=100x10000` picks sizes;
// `COMPARE_BENCH_ROUNDS` sets the rounds (default 5);
// `COMPARE_BENCH_DATA=DIR` keeps the seeded data folders under DIR and reuses them next time
// (seeding 100 × 10,000 points takes about a minute).
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { it } from 'vitest'
import { validateExperimentConfig } from '@shared/config/experiment'
import type { TrainerMessage } from '@shared/protocol/trainer'
import { RunStore } from '@core/store'
import { chromiumPath, launchChromium } from '../tests/helpers/browser'
import { assertBuilt, startServe } from '../tests/helpers/cli'

const ROUNDS = Number(process.env.COMPARE_BENCH_ROUNDS ?? 5)
/** The large size's target, click to painted. */
const TARGET_MS = 1000

const SIZES: readonly (readonly [runs: number, points: number])[] = (
  process.env.COMPARE_BENCH_SIZES ?? '20x5000,100x10000'
)
  .split(',')
  .map((s) => s.split('x').map(Number) as [number, number])
  .filter(([r, p]) => Number.isInteger(r) && Number.isInteger(p) && r > 0 && p >= 10)

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(', ')

function seed(dataDir: string, RUNS: number, POINTS: number): void {
  const store = RunStore.open(dataDir)
  const configs = Array.from({ length: RUNS }, (_, i) =>
    validateExperimentConfig({
      name: `bench-${i}`,
      model: { microConvs: i % 4 },
      train: { seed: i, epochs: 10 },
    }),
  )
  const { added } = store.addRuns('compare bench', configs)
  const t0 = Date.now()
  for (const run of added) {
    store.markStarted(run.id, { pid: 1, host: 'bench', engine: 'tfjs' })
    const base = { runId: run.id }
    const messages: TrainerMessage[] = []
    const stepsPerEpoch = POINTS / 10
    for (let step = 1; step <= POINTS; step++) {
      const epoch = Math.ceil(step / stepsPerEpoch)
      const loss = 2.3 * Math.exp(-step / 1500) + 0.3 + 0.05 * Math.sin(step * 0.37 + run.seed)
      messages.push({
        ...base,
        type: 'step',
        time: t0 + step * 100,
        epoch,
        step,
        stepInEpoch: ((step - 1) % stepsPerEpoch) + 1,
        loss,
        acc: 1 - loss / 3,
        examplesPerSec: 300,
      })
      if (step % stepsPerEpoch === 0) {
        messages.push({
          ...base,
          type: 'epoch',
          time: t0 + step * 100,
          epoch,
          step,
          trainLoss: loss,
          trainAcc: 1 - loss / 3,
          testLoss: loss + 0.05,
          testAcc: 0.9 - loss / 5,
          seconds: 50,
          examplesPerSec: 300,
          memory: { rssBytes: 1, tensorBytes: 1, tensors: 1 },
        })
      }
    }
    store.persistMessages(run.id, messages)
    store.markFinished(run.id, 'completed')
  }
  store.close()
}

it.skipIf(!chromiumPath).each(SIZES)('Compare draws %i runs × %i points', async (RUNS, POINTS) => {
  assertBuilt()
  const keep = process.env.COMPARE_BENCH_DATA
  const dataDir = keep
    ? join(keep, `${RUNS}x${POINTS}`)
    : mkdtempSync(join(tmpdir(), 'nin-lab-bench-ui-'))
  const reuse = keep !== undefined && existsSync(join(dataDir, 'nin-lab.db'))
  const seedStart = performance.now()
  if (!reuse) {
    mkdirSync(dataDir, { recursive: true })
    seed(dataDir, RUNS, POINTS)
  }
  const seedMs = performance.now() - seedStart
  const loadBefore = load()
  const serve = await startServe(dataDir)
  const browser = await launchChromium()
  const totals: number[] = []
  const fetches: number[] = []
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
      await page.goto(serve.url)
      await page.getByTestId('nav-runs').click()
      await page.getByTestId('run-select-all').check()
      await page.evaluate(() => performance.mark('bench:click'))
      await page.getByTestId('compare-button').click()
      await page.waitForFunction(
        () => performance.getEntriesByName('nin-lab:compare-drawn').length > 0,
        null,
        { timeout: 60_000 },
      )
      const [total, fetch] = await page.evaluate(() => {
        const at = (name: string): number =>
          performance.getEntriesByName(name)[0]?.startTime ?? Number.NaN
        return [
          at('nin-lab:compare-drawn') - at('bench:click'),
          at('nin-lab:compare-metrics') - at('bench:click'),
        ]
      })
      totals.push(total)
      fetches.push(fetch)
      await page.close()
    }
  } finally {
    await browser.close()
    await serve.stop()
  }
  const median = (xs: number[]): number =>
    [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN
  const total = median(totals)
  const target =
    RUNS * POINTS >= 1_000_000
      ? `; target < ${TARGET_MS} ms: ${total < TARGET_MS ? 'met' : 'NOT met'}`
      : ''
  console.log(
    `\nCompare, ${RUNS} runs × ${POINTS} points (4 charts), median of ${ROUNDS} in Chromium` +
      (reuse
        ? ` (seeded before, in ${dataDir}):\n`
        : ` (seeded in ${(seedMs / 1000).toFixed(0)} s):\n`) +
      `  click → charts painted: ${total.toFixed(0)} ms (${totals.map((t) => t.toFixed(0)).join(', ')})${target}\n` +
      `  of which fetching the metrics: ${median(fetches).toFixed(0)} ms; drawing: ${(total - median(fetches)).toFixed(0)} ms\n` +
      `  load average (1, 5, 15 min) ${loadBefore} before, ${load()} after\n`,
  )
})
