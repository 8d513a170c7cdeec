// How fast Compare draws 20 runs × 5,000 points per curve in Chromium: from the click on
// "Compare" to the charts painted (performance marks set by useComparison), median of 5, plus how
// much of it is fetching the metrics. The runs are synthetic (seeded straight into the store):
// this measures the UI, not training.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { it } from 'vitest'
import { validateExperimentConfig } from '@shared/config/experiment'
import type { TrainerMessage } from '@shared/protocol/trainer'
import { RunStore } from '@core/store'
import { chromiumPath, launchChromium } from '../tests/helpers/browser'
import { assertBuilt, startServe } from '../tests/helpers/cli'

const RUNS = 20
const POINTS = 5000
const ROUNDS = 5

function seed(dataDir: string): void {
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

it.skipIf(!chromiumPath)(`Compare draws ${RUNS} runs × ${POINTS} points`, async () => {
  assertBuilt()
  const dataDir = mkdtempSync(join(tmpdir(), 'nin-lab-bench-ui-'))
  seed(dataDir)
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
  console.log(
    `\nCompare, ${RUNS} runs × ${POINTS} points (4 charts), median of ${ROUNDS} in Chromium:\n` +
      `  click → charts painted: ${median(totals).toFixed(0)} ms (${totals.map((t) => t.toFixed(0)).join(', ')})\n` +
      `  of which fetching the metrics: ${median(fetches).toFixed(0)} ms; drawing: ${(median(totals) - median(fetches)).toFixed(0)} ms\n`,
  )
})
