// The PyTorch trainer (src/torch-engine/trainer.py) as real processes on real
// Fashion-MNIST images: the same messages with the same fields as the tfjs trainer, a falling
// loss, checkpoints, SIGTERM → cancelled, kill -9 and resume, divergence, and clear failures.
import { spawn } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { countParams, layerTable } from '@shared/architecture'
import { validateExperimentConfig, type ExperimentConfig } from '@shared/config/experiment'
import { presetInput } from '@shared/config/presets'
import type {
  CancelledMessage,
  CheckpointMessage,
  DivergedMessage,
  EpochMessage,
  FailedMessage,
  FinishedMessage,
  LogMessage,
  StartedMessage,
  StepMessage,
  TrainerMessage,
} from '@shared/protocol/trainer'
import { FASHION_MNIST_CLASS_NAMES, loadEmbeddedFashionMnist } from '@trainer/data'
import { isAlive, waitFor } from '../helpers/cli'
import {
  PYTHON,
  TRAINER,
  probeTorch,
  spawnTrainer,
  torchJob,
  trackTrainer,
  warnSkipped,
  writeJsonIn,
} from '../fixtures/torch/torch-python'

/**
 * Every key of a message type, checked by the compiler both ways: a key the protocol lacks is a
 * type error, and so is a protocol key missing from the list.
 */
const allKeys =
  <T>() =>
  <const L extends readonly (keyof T & string)[]>(
    keys: L &
      (Exclude<keyof T, L[number]> extends never
        ? unknown
        : { missingKeys: Exclude<keyof T, L[number]> }),
  ): readonly string[] =>
    [...keys].sort()

const BASE = ['runId', 'time', 'type'] as const
/** Fields only a compiled run's messages carry (train.compile). */
const COMPILED_ONLY: Readonly<Partial<Record<TrainerMessage['type'], readonly string[]>>> = {
  epoch: ['compileSeconds'],
}
const expectedKeys = (
  type: TrainerMessage['type'],
  run: { readonly compiled: boolean },
): readonly string[] =>
  PROTOCOL_KEYS[type].filter((k) => run.compiled || !COMPILED_ONLY[type]?.includes(k))
const PROTOCOL_KEYS: { readonly [K in TrainerMessage['type']]: readonly string[] } = {
  started: allKeys<StartedMessage>()([
    ...BASE,
    'engine',
    'backend',
    'skipped',
    'threads',
    'versions',
    'params',
    'trainCount',
    'testCount',
    'stepsPerEpoch',
    'epochs',
    'startEpoch',
    'pid',
    'precision',
    'precisionReason',
  ]),
  step: allKeys<StepMessage>()([
    ...BASE,
    'epoch',
    'step',
    'stepInEpoch',
    'loss',
    'acc',
    'examplesPerSec',
  ]),
  epoch: allKeys<EpochMessage>()([
    ...BASE,
    'epoch',
    'step',
    'trainLoss',
    'trainAcc',
    'testLoss',
    'testAcc',
    'seconds',
    'examplesPerSec',
    'memory',
    'load',
    'compileSeconds',
  ]),
  checkpoint: allKeys<CheckpointMessage>()([...BASE, 'epoch', 'step', 'path']),
  log: allKeys<LogMessage>()([...BASE, 'level', 'message']),
  finished: allKeys<FinishedMessage>()([
    ...BASE,
    'epochs',
    'testAcc',
    'classNames',
    'perClassAccuracy',
    'confusion',
    'modelPath',
  ]),
  failed: allKeys<FailedMessage>()([...BASE, 'error']),
  diverged: allKeys<DivergedMessage>()([...BASE, 'epoch', 'step', 'loss']),
  cancelled: allKeys<CancelledMessage>()([...BASE, 'epoch', 'step']),
}

const keysOf = (m: object): string[] => Object.keys(m).sort()
const ofType = <K extends TrainerMessage['type']>(
  ms: readonly TrainerMessage[],
  type: K,
): Extract<TrainerMessage, { type: K }>[] =>
  ms.filter((m): m is Extract<TrainerMessage, { type: K }> => m.type === type)

// The waits for a first step below are bounds on a hang, not speed checks: PyTorch 2.15 takes
// about 10 s just to import on a loaded 2-core machine (1.13: 4–6 s), and a step or two more.
const TFJS_TRAINER = fileURLToPath(new URL('../../out/main/trainer.js', import.meta.url))
const { probe, skipReason } = probeTorch()
if (skipReason) warnSkipped('torch trainer', skipReason)

/** small-28 (Adam) on a few hundred real images: seconds per epoch on two cores. */
function quick(over: {
  trainLimit?: number
  batchSize?: number
  epochs?: number
  seed?: number
  model?: object
  train?: object
}): ExperimentConfig {
  const base = presetInput('small-28') as { model?: object; train?: object }
  return validateExperimentConfig({
    ...base,
    model: { ...base.model, ...over.model },
    data: { trainLimit: over.trainLimit ?? 640, testLimit: 200 },
    train: {
      ...base.train,
      batchSize: over.batchSize ?? 32,
      epochs: over.epochs ?? 2,
      seed: over.seed ?? 0,
      ...over.train,
    },
  })
}

describe.skipIf(skipReason !== null)(
  `torch trainer${skipReason ? ` (SKIPPED: ${skipReason})` : ''}`,
  () => {
    let dataDir: string
    let cacheFile: string
    const tempDirs: string[] = []
    const tempDir = (prefix: string): string => {
      const dir = mkdtempSync(join(tmpdir(), prefix))
      tempDirs.push(dir)
      return dir
    }
    const newRunDir = (): string => tempDir('nin-torch-run-')
    // One thread: with two, libgomp's threads wait on each other at every op, and on a shared
    // two-core machine (other test files train at the same time) a step can take 10× longer.
    const jobFile = (config: ExperimentConfig, runDir: string, resume = false): string =>
      writeJsonIn(
        tempDir('nin-torch-job-'),
        torchJob(config, { dataDir, cacheFile, runDir, resume, threads: 1 }),
      )

    // The main run, shared by the checks below: 640 images, 20 steps an epoch, 2 epochs.
    const mainConfig = quick({})
    let mainRunDir: string
    let mainExit: number | NodeJS.Signals | null
    let main: TrainerMessage[]

    beforeAll(async () => {
      dataDir = tempDir('nin-torch-data-')
      cacheFile = (await loadEmbeddedFashionMnist(dataDir)).cacheFile
      mainRunDir = newRunDir()
      const run = spawnTrainer(['--job', jobFile(mainConfig, mainRunDir)])
      mainExit = await run.exited
      main = run.messages()
      if (mainExit !== 0) throw new Error(`the main run failed (${mainExit}):\n${run.stderr()}`)
    })
    // The dataset cache alone is 55 MB.
    afterAll(() => tempDirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

    it('trains 2 epochs on 640 real images: the loss falls', () => {
      expect(mainExit).toBe(0)
      const started = ofType(main, 'started')[0]!
      expect(started).toMatchObject({
        engine: 'torch',
        backend: probe?.cuda ? 'cuda' : 'cpu',
        skipped: [],
        versions: { torch: probe?.torch },
        params: countParams(layerTable(mainConfig.model)),
        trainCount: 640,
        testCount: 200,
        stepsPerEpoch: 20,
        epochs: 2,
        startEpoch: 0,
      })
      expect(started.params).toBe(148_390) // the tfjs engine's count (tests/integration/trainer)
      expect(started.threads).toBe(1) // the job's torch.threads
      const steps = ofType(main, 'step')
      expect(steps.map((s) => s.step)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
      expect(steps.map((s) => s.stepInEpoch)).toEqual(
        [...Array(2)].flatMap(() => [...Array(20).keys()].map((k) => k + 1)),
      )
      const [first, second] = ofType(main, 'epoch')
      expect([first?.epoch, second?.epoch]).toEqual([1, 2])
      expect(second!.trainLoss).toBeLessThan(first!.trainLoss)
      expect(second!.examplesPerSec).toBeCloseTo(640 / second!.seconds, 6)
      expect(second!.memory.rssBytes).toBeGreaterThan(0)
    })

    it('sends the protocol: every message has exactly its type’s fields, in order', () => {
      for (const m of main) {
        expect(keysOf(m), `${m.type} message`).toEqual(expectedKeys(m.type, { compiled: false }))
        expect(m.runId).toBe('torch-test')
        expect(Number.isInteger(m.time)).toBe(true)
      }
      const order = main.map((m) => m.type).filter((t) => t !== 'log' && t !== 'step')
      expect(order).toEqual(['started', 'epoch', 'checkpoint', 'epoch', 'checkpoint', 'finished'])
      expect(main.at(-1)?.type).toBe('finished')
    })

    // How the app starts every PyTorch run (src/trainer/engines/torch/waiting-trainer.ts): the
    // process that probed trains. Its warm-up (the first optimizer) must not change the run.
    it('--probe --then-job: the probe line, then the same run as --job, loss for loss', async () => {
      const waiting = trackTrainer(
        spawn(PYTHON, [TRAINER, '--probe', '--then-job'], { stdio: ['pipe', 'pipe', 'pipe'] }),
      )
      const probeLine = await waitFor(() => waiting.messages()[0], 120_000, 'the probe line')
      expect(probeLine).toMatchObject({ torch: probe?.torch, cuda: probe?.cuda })
      const runDir = newRunDir()
      waiting.child.stdin?.end(`${jobFile(mainConfig, runDir)}\n`)
      expect(await waiting.exited, waiting.stderr()).toBe(0)
      const [, ...theirs] = waiting.messages()
      const losses = (ms: TrainerMessage[]): number[] => ofType(ms, 'step').map((s) => s.loss)
      expect(losses(theirs)).toHaveLength(40)
      expect(losses(theirs)).toEqual(losses(main))
      expect(ofType(theirs, 'finished')[0]?.testAcc).toBe(ofType(main, 'finished')[0]?.testAcc)
      expect(existsSync(join(runDir, 'model', 'model.pt'))).toBe(true)

      // Released without a job (another engine was chosen): it exits 0 and trains nothing.
      const released = trackTrainer(
        spawn(PYTHON, [TRAINER, '--probe', '--then-job'], { stdio: ['pipe', 'pipe', 'pipe'] }),
      )
      released.child.stdin?.end()
      expect(await released.exited, released.stderr()).toBe(0)
      expect(released.messages()).toHaveLength(1) // the probe line alone
    })

    it.skipIf(!existsSync(TFJS_TRAINER))(
      'has the same fields as the tfjs trainer’s messages (a live tfjs run)',
      async () => {
        const config = quick({ trainLimit: 10, batchSize: 10, epochs: 1 })
        const job = writeJsonIn(tempDir('nin-torch-job-'), {
          runId: 'tfjs',
          config: validateExperimentConfig({ ...config, data: { trainLimit: 10, testLimit: 10 } }),
          dataDir,
          runDir: newRunDir(),
          resume: false,
        })
        const tfjs = trackTrainer(
          spawn(process.execPath, [TFJS_TRAINER, '--job', job], {
            stdio: ['ignore', 'pipe', 'pipe'],
          }),
        )
        expect(await tfjs.exited, tfjs.stderr()).toBe(0)
        const theirs = tfjs.messages()
        expect(theirs.map((m) => m.type)).toEqual(
          expect.arrayContaining(['started', 'step', 'epoch', 'checkpoint', 'finished']),
        )
        for (const m of theirs) {
          const ours = main.find((o) => o.type === m.type)!
          expect(keysOf(ours), m.type).toEqual(keysOf(m))
          if (m.type === 'epoch')
            expect(keysOf((ours as EpochMessage).memory)).toEqual(keysOf(m.memory))
        }
      },
    )

    it('keeps the two newest checkpoints, each with its SHA256SUMS, and saves the model', () => {
      const checkpoints = ofType(main, 'checkpoint')
      expect(checkpoints.map((c) => [c.epoch, c.step])).toEqual([
        [1, 20],
        [2, 40],
      ])
      const root = join(mainRunDir, 'checkpoints')
      expect(readdirSync(root).sort()).toEqual(['epoch-0001', 'epoch-0002'])
      expect(checkpoints[1]!.path).toBe(join(root, 'epoch-0002'))
      expect(readdirSync(join(root, 'epoch-0002')).sort()).toEqual([
        'SHA256SUMS',
        'checkpoint.json',
        'model.pt',
        'optimizer.pt',
      ])
      expect(readFileSync(join(root, 'epoch-0002', 'SHA256SUMS'), 'utf8')).toMatch(
        /^[0-9a-f]{64} {2}checkpoint\.json\n[0-9a-f]{64} {2}model\.pt\n[0-9a-f]{64} {2}optimizer\.pt\n$/,
      )
      expect(
        JSON.parse(readFileSync(join(root, 'epoch-0002', 'checkpoint.json'), 'utf8')),
      ).toMatchObject({
        version: 2,
        engine: 'torch',
        epoch: 2,
        step: 40,
        rng: 'shuffle(seed, epoch); dropout(seed, step)',
      })
      const finished = ofType(main, 'finished')[0]!
      expect(finished.epochs).toBe(2)
      expect(finished.classNames).toEqual([...FASHION_MNIST_CLASS_NAMES])
      expect(finished.confusion.flat().reduce((a, b) => a + b, 0)).toBe(200)
      expect(finished.perClassAccuracy).toHaveLength(10)
      expect(finished.testAcc).toBe(ofType(main, 'epoch')[1]!.testAcc)
      expect(finished.modelPath).toBe(join(mainRunDir, 'model'))
      const model = JSON.parse(readFileSync(join(finished.modelPath, 'model.json'), 'utf8')) as {
        format: string
        dataFormat: string
        modelTopology: { layers: unknown[] }
      }
      expect(model).toMatchObject({ format: 'nin-lab-layers', dataFormat: 'NCHW' })
      expect(model.modelTopology.layers).toEqual(layerTable(mainConfig.model))
      expect(readdirSync(finished.modelPath).sort()).toEqual([
        'SHA256SUMS',
        'model.json',
        'model.pt',
      ])
    })

    it('SIGTERM: stops before the next step with a cancelled message', async () => {
      const run = spawnTrainer(['--job', jobFile(quick({ batchSize: 16, epochs: 5 }), newRunDir())])
      await waitFor(() => (ofType(run.messages(), 'step').length >= 3 ? true : undefined), 120_000)
      const before = ofType(run.messages(), 'step').length
      run.child.kill('SIGTERM')
      expect(await run.exited, run.stderr()).toBe(0)
      const messages = run.messages()
      const last = messages.at(-1) as CancelledMessage
      expect(last.type).toBe('cancelled')
      expect(keysOf(last)).toEqual(PROTOCOL_KEYS.cancelled)
      const steps = ofType(messages, 'step')
      expect(steps.length - before).toBeLessThanOrEqual(2)
      expect(last).toMatchObject({ epoch: steps.at(-1)!.epoch, step: steps.at(-1)!.step })
    })

    it('kill -9 mid-epoch 2, then resume: epochs 2 and 3 run once, from the same state', async () => {
      // 40 steps an epoch: the kill lands well inside epoch 2.
      const config = quick({ trainLimit: 320, batchSize: 8, epochs: 3, seed: 1 })
      const runDir = newRunDir()
      const first = spawnTrainer(['--job', jobFile(config, runDir)])
      await waitFor(
        () =>
          ofType(first.messages(), 'step').some((s) => s.epoch === 2 && s.stepInEpoch >= 3)
            ? true
            : undefined,
        120_000,
        'epoch 2 to be under way',
      )
      first.child.kill('SIGKILL')
      expect(await first.exited).toBe('SIGKILL')
      const killed = first.messages()
      expect(ofType(killed, 'epoch').map((e) => e.epoch)).toEqual([1])
      expect(readdirSync(join(runDir, 'checkpoints'))).toEqual(['epoch-0001'])

      const second = spawnTrainer(['--job', jobFile(config, runDir, true)])
      expect(await second.exited, second.stderr()).toBe(0)
      const resumed = second.messages()
      expect(ofType(resumed, 'started')[0]).toMatchObject({ startEpoch: 1, stepsPerEpoch: 40 })
      expect(ofType(resumed, 'log').map((l) => l.message)).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^resumed from .*epoch-0001 \(epoch 1, step 40\)$/),
        ]),
      )
      expect(ofType(resumed, 'epoch').map((e) => e.epoch)).toEqual([2, 3])
      expect(ofType(resumed, 'step')[0]).toMatchObject({ epoch: 2, stepInEpoch: 1, step: 41 })
      expect(ofType(resumed, 'finished')[0]?.epochs).toBe(3)
      // Same weights, same batch order, same dropout masks: the steps both runs took agree.
      const killedLoss = new Map(ofType(killed, 'step').map((s) => [s.step, s.loss]))
      const overlap = ofType(resumed, 'step').filter((s) => killedLoss.has(s.step))
      expect(overlap.length).toBeGreaterThanOrEqual(3)
      for (const s of overlap) expect(s.loss).toBeCloseTo(killedLoss.get(s.step)!, 4)
    })

    // TorchDynamo traces the network (its seeded dropout breaks the graph) with the "eager"
    // backend: the compiled path in seconds. Inductor's code generation, minutes on a cold
    // cache, is PyTorch's to test; docs/engines.md has what it cost and saved here.
    it('train.compile on: trains compiled, reports the compile time apart, and resumes', async () => {
      const config = quick({ trainLimit: 64, batchSize: 16, epochs: 2, train: { compile: 'on' } })
      const runDir = newRunDir()
      const env = { NIN_LAB_TORCH_COMPILE_BACKEND: 'eager' }
      const run = spawnTrainer(['--job', jobFile(config, runDir)], PYTHON, env)
      expect(await run.exited, run.stderr()).toBe(0)
      const ms = run.messages()
      for (const m of ms)
        expect(keysOf(m), m.type).toEqual(expectedKeys(m.type, { compiled: true }))
      expect(ofType(ms, 'log').map((l) => l.message)).toContain(
        'compile: on, as asked (torch.compile, TorchInductor)',
      )
      const [first, second] = ofType(ms, 'epoch')
      // The first compiled step and evaluation batch wait for the tracer; later ones do not.
      expect(first!.compileSeconds).toBeGreaterThan(0)
      expect(second!.compileSeconds).toBe(0)
      expect(first!.examplesPerSec).toBeCloseTo(64 / first!.seconds, 6)
      // Checkpoints hold the network's own parameter names, not the compiled wrapper's, so an
      // uncompiled run resumes from them (and the exports read them).
      const resumed = spawnTrainer(
        [
          '--job',
          jobFile(
            { ...config, train: { ...config.train, epochs: 3, compile: 'off' } },
            runDir,
            true,
          ),
        ],
        PYTHON,
      )
      expect(await resumed.exited, resumed.stderr()).toBe(0)
      expect(ofType(resumed.messages(), 'started')[0]).toMatchObject({ startEpoch: 2 })
      expect(ofType(resumed.messages(), 'finished')[0]?.epochs).toBe(3)
      expect(ofType(resumed.messages(), 'epoch')[0]).not.toHaveProperty('compileSeconds')
    })

    it('train.compile auto stays eager on a short run, saying why', () => {
      const logs = ofType(main, 'log').map((l) => l.message)
      const probeTorch2 = Number(probe?.torch?.split('.')[0]) >= 2
      expect(logs).toEqual(
        expect.arrayContaining([
          probeTorch2
            ? expect.stringMatching(
                /^compile: auto: eager \(.*steps left.*would not pay back|^compile: auto: eager \(compiling has not been measured/,
              )
            : expect.stringMatching(/^compile: auto: eager \(PyTorch .* has no torch.compile\)$/),
        ]),
      )
    })

    it('exits by itself when its parent dies', async () => {
      const job = jobFile(quick({ batchSize: 8, epochs: 20 }), newRunDir())
      // A shell as the parent: killing it orphans the trainer, as a crashed core would.
      const shell = trackTrainer(
        spawn('/bin/sh', ['-c', `"${PYTHON}" "${TRAINER}" --job "${job}" & wait`], {
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      )
      const started = await waitFor(
        () =>
          ofType(shell.messages(), 'step').length > 0
            ? ofType(shell.messages(), 'started')[0]
            : undefined,
        120_000,
        'a step',
      )
      shell.child.kill('SIGKILL')
      await waitFor(() => (isAlive(started.pid) ? undefined : true), 10_000, 'the orphan to exit')
    })

    it('a non-finite loss ends the run as diverged, with the loss as a string', async () => {
      const config = quick({
        batchSize: 64,
        epochs: 3,
        model: { head: 'fc', fcFrom: 'features' },
        train: { optimizer: 'sgd', lr: 10 },
      })
      const run = spawnTrainer(['--job', jobFile(config, newRunDir())])
      expect(await run.exited, run.stderr()).toBe(0)
      const last = run.messages().at(-1) as DivergedMessage
      expect(last.type).toBe('diverged')
      expect(keysOf(last)).toEqual(PROTOCOL_KEYS.diverged)
      expect(['NaN', 'Infinity', '-Infinity']).toContain(last.loss)
      expect(last.step).toBe(ofType(run.messages(), 'step').length + 1)
    })

    it('refuses to resume from another network’s or another engine’s checkpoint', async () => {
      const changed = quick({ model: { microConvs: 1 } })
      const wrongNet = spawnTrainer(['--job', jobFile(changed, mainRunDir, true)])
      expect(await wrongNet.exited).toBe(1)
      expect((wrongNet.messages().at(-1) as FailedMessage).error).toMatch(
        /checkpoint .*epoch-0002 does not fit this network \(weight block1\.micro2\.\w+\): the run's config changed/,
      )

      const tfjsRun = newRunDir()
      const tfjsCheckpoint = join(tfjsRun, 'checkpoints', 'epoch-0001')
      mkdirSync(tfjsCheckpoint, { recursive: true })
      writeFileSync(
        join(tfjsCheckpoint, 'checkpoint.json'),
        JSON.stringify({ version: 1, epoch: 1, step: 20, weightSpecs: [], optimizerSpecs: [] }),
      )
      const wrongEngine = spawnTrainer(['--job', jobFile(mainConfig, tfjsRun, true)])
      expect(await wrongEngine.exited).toBe(1)
      expect((wrongEngine.messages().at(-1) as FailedMessage).error).toMatch(
        /epoch-0001 was written by the tfjs engine: resume this run with tfjs, or start a new run/,
      )
    })

    it('fails clearly on a corrupt dataset cache and on an unreadable job', async () => {
      const corrupt = join(tempDir('nin-torch-bad-'), 'cache.bin')
      const bytes = readFileSync(cacheFile)
      bytes[bytes.length - 1] = (bytes[bytes.length - 1]! + 1) % 256
      writeFileSync(corrupt, bytes)
      const job = writeJsonIn(
        tempDir('nin-torch-job-'),
        torchJob(mainConfig, { dataDir, cacheFile: corrupt, runDir: newRunDir(), threads: 1 }),
      )
      const bad = spawnTrainer(['--job', job])
      expect(await bad.exited).toBe(1)
      const failed = bad.messages().at(-1) as FailedMessage
      expect(failed.type).toBe('failed')
      expect(failed.error).toMatch(
        /dataset cache .*cache\.bin is invalid: checksum mismatch \(corrupt\)/,
      )

      const missing = spawnTrainer(['--job', join(tmpdir(), 'no-such-job.json')])
      expect(await missing.exited).toBe(2)
      expect(missing.messages()).toEqual([
        expect.objectContaining({
          type: 'failed',
          error: expect.stringMatching(/^cannot read the job: /),
        }),
      ])
    })
  },
)
