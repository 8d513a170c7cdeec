// Debian's python3-torch (PyTorch 1.13 at /usr/bin/python3) stays supported while the suite runs
// on the project's pinned PyTorch 2 (.venv): one tiny run in each precision, then a resume, as
// real trainer processes on real Fashion-MNIST images. Runs when /usr/bin/python3 has torch and
// is not already the suite's Python (then every torch test covers it).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { validateExperimentConfig, type ExperimentConfig } from '@shared/config/experiment'
import { presetInput } from '@shared/config/presets'
import type { TrainerMessage } from '@shared/protocol/trainer'
import { loadEmbeddedFashionMnist } from '@trainer/data'
import {
  DEBIAN_PYTHON,
  PYTHON,
  probeTorch,
  spawnTrainer,
  torchJob,
  warnSkipped,
  writeJsonIn,
} from '../fixtures/torch/torch-python'

const { probe, skipReason: noTorch } = probeTorch(DEBIAN_PYTHON)
const skipReason =
  noTorch ??
  (PYTHON === DEBIAN_PYTHON ? 'it is the suite’s Python: every torch test ran on it' : null)
if (skipReason) warnSkipped('Debian PyTorch smoke test', skipReason)

const base = presetInput('small-28') as { model?: object; train?: object }
const config = (precision: 'fp32' | 'bf16', epochs: number): ExperimentConfig =>
  validateExperimentConfig({
    ...base,
    engine: 'torch',
    data: { trainLimit: 640, testLimit: 100 },
    train: { ...base.train, batchSize: 32, epochs, seed: 3, precision },
  })

const ofType = <K extends TrainerMessage['type']>(ms: readonly TrainerMessage[], type: K) =>
  ms.filter((m): m is Extract<TrainerMessage, { type: K }> => m.type === type)

describe.skipIf(skipReason !== null)(
  `Debian's PyTorch ${probe?.torch ?? ''} (${DEBIAN_PYTHON})`,
  () => {
    const dirs: string[] = []
    const tempDir = (prefix: string): string => {
      const dir = mkdtempSync(join(tmpdir(), prefix))
      dirs.push(dir)
      return dir
    }
    let dataDir: string
    let cacheFile: string
    const train = async (c: ExperimentConfig, runDir: string, resume = false) => {
      const job = torchJob(c, { dataDir, cacheFile, runDir, resume, threads: 1 })
      const run = spawnTrainer(
        ['--job', writeJsonIn(tempDir('nin-debian-job-'), job)],
        DEBIAN_PYTHON,
      )
      const exit = await run.exited
      return { exit, messages: run.messages(), stderr: run.stderr() }
    }

    beforeAll(async () => {
      dataDir = tempDir('nin-debian-data-')
      cacheFile = (await loadEmbeddedFashionMnist(dataDir)).cacheFile
    })
    afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

    for (const precision of ['fp32', 'bf16'] as const) {
      it(`trains one epoch in ${precision}, then resumes into a second`, async () => {
        const runDir = tempDir(`nin-debian-${precision}-`)
        const first = await train(config(precision, 1), runDir)
        expect(first.exit, first.stderr).toBe(0)
        const started = ofType(first.messages, 'started')[0]!
        expect(started.versions).toMatchObject({ torch: probe!.torch })
        expect(started.precision).toBe(precision)
        expect(ofType(first.messages, 'epoch').map((e) => e.epoch)).toEqual([1])

        const second = await train(config(precision, 2), runDir, true)
        expect(second.exit, second.stderr).toBe(0)
        expect(ofType(second.messages, 'started')[0]).toMatchObject({ startEpoch: 1, epochs: 2 })
        expect(ofType(second.messages, 'epoch').map((e) => e.epoch)).toEqual([2])
        const finished = ofType(second.messages, 'finished')[0]!
        expect(finished.epochs).toBe(2)
        // Resumed from epoch 1's weights and optimizer state, epoch 2 goes on learning.
        const [one] = ofType(first.messages, 'epoch')
        const [two] = ofType(second.messages, 'epoch')
        expect(two!.trainLoss).toBeLessThan(one!.trainLoss)
        expect(finished.testAcc).toBe(two!.testAcc)
      })
    }
  },
)
