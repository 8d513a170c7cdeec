// `nin-lab exercise`: d2l §8.3's exercises as studies through real `nin-lab` processes on a real
// data folder — list and show (the question, the grid, the scale notes and d2l-scale costs),
// queue exercise 1 tiny at small scale with 2 seeds, train the queue, and answer it as JSON and
// Markdown from the runs that trained.
import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ExerciseAnswer } from '@shared/exercise-answer'
import { assertBuilt, BIN, ROOT, runCli } from '../helpers/cli'
import { seededTempDir } from '../helpers/datasets'

let dataDir: string
beforeAll(async () => {
  assertBuilt()
  dataDir = await seededTempDir('nin-lab-exercise-')
})
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

const cli = (...args: string[]) => runCli([...args, '--data-dir', dataDir])
const TINY = [
  '--set',
  'data.trainLimit=200',
  '--set',
  'data.testLimit=100',
  '--set',
  'train.epochs=1',
  '--set',
  'train.batchSize=50',
]

describe('nin-lab exercise', () => {
  it('lists the six exercises', () => {
    const r = cli('exercise', 'list')
    expect(r.status, r.stderr).toBe(0)
    for (const title of [
      '1×1 convolutions',
      'micro convolutions',
      'Global average pooling',
      'VGG-style',
    ]) {
      expect(r.stdout).toContain(title)
    }
  })

  it('shows an exercise: question, runs per scale, what small-28 changes, d2l-scale costs', () => {
    const r = cli('exercise', 'show', '3')
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toContain('Exercise 3: Global average pooling or fully connected layers?')
    expect(r.stdout).toMatch(
      /small-28 \(28 px.*\s+GAP \(d2l\); FC on class maps.*\s+8\s+exercise 3 \(small-28\)/,
    )
    expect(r.stdout).toContain('the last pooled feature map is 128×2×2, not 384×5×5')
    expect(r.stdout).toContain('FC on class maps: +410 parameters')
    expect(r.stdout).toContain('Costs at d2l’s scale (224 px)')
    expect(r.stdout).toContain('1,992,166')
    // No run on this machine yet: the estimate says so instead of inventing a number.
    expect(r.stdout).toContain('unknown (no runs on this machine yet')
  })

  it('refuses a --set that would make the variants equal, naming the field', () => {
    const r = cli('exercise', 'queue', '1', '--set', 'model.microConvs=1')
    expect(r.status).toBe(2)
    expect(r.stderr).toContain('--set model.microConvs: exercise 1 sets this field itself')
  })

  it('queues exercise 1 at small scale with 2 seeds, trains it and answers it', () => {
    const q = cli('exercise', 'queue', '1', '--scale', 'small', '--seeds', '2', ...TINY)
    expect(q.status, q.stderr).toBe(0)
    expect(q.stdout).toContain(
      'queued 8 runs of exercise 1 into experiment "exercise 1 (small-28)"',
    )
    // Queueing again adds nothing: the experiment has every run already.
    const again = cli('exercise', 'queue', '1', '--scale', 'small', '--seeds', '2', ...TINY)
    expect(again.stdout).toContain('queued 0 runs')

    // Eight trainer processes one after another: on a loaded machine longer than runCli's bound.
    const start = spawnSync(process.execPath, [BIN, 'queue', 'start', '--data-dir', dataDir], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 900_000,
    })
    expect(start.status, start.stderr).toBe(0)

    const j = cli('exercise', 'answer', '1', '--scale', 'small', '--format', 'json')
    expect(j.status, j.stderr).toBe(0)
    const a = JSON.parse(j.stdout) as ExerciseAnswer
    expect(a.experiment).toBe('exercise 1 (small-28)')
    expect(a.groups.map((g) => [g.variant, g.finalTestAcc.n])).toEqual([
      ['m0', 2],
      ['m1', 2],
      ['m2', 2],
      ['m3', 2],
    ])
    expect(a.comparisons.map((c) => [c.variant, c.baseline, c.paired])).toEqual([
      ['m0', 'm2', true],
      ['m1', 'm2', true],
      ['m3', 'm2', true],
    ])
    // The conclusions quote the numbers of the table they come from.
    const m0 = a.comparisons[0]!
    const sentence = a.conclusions.find((c) => c.startsWith('0 micro convs'))
    expect(sentence).toContain(`${(Math.abs(m0.diff ?? 0) * 100).toFixed(1)} pp`)
    expect(a.analytic.d2l[2]?.params).toBe(1_992_166)

    const md = join(dataDir, 'answer', 'ex1.md')
    const m = cli('exercise', 'answer', '1', '--scale', 'small', '--format', 'md', '--out', md)
    expect(m.status, m.stderr).toBe(0)
    const text = readFileSync(md, 'utf8')
    expect(text).toContain('## Answer')
    expect(text).toContain('### Conclusions')
    expect(text).toMatch(/\| 2 micro convs \(baseline\) \| 2 \|/)
    expect(text).toContain('| Δ vs baseline |')
    expect(text).toContain('paired by seed')

    // The estimate now comes from the runs that trained here.
    const show = cli('exercise', 'show', '1')
    expect(show.stdout).toMatch(/about .* \(from \d earlier runs? .*8 runs × 10 epochs/)

    // Exercise 2's 1×1 variant is exercise 1's baseline (2 micro convs, 1×1, GAP), trained
    // above: queueing it asks, names both runs and the flags, and queues nothing; --link links
    // the two seeds and queues only the 3×3 variant.
    const ask = cli('exercise', 'queue', '2', '--scale', 'small', '--seeds', '2', ...TINY)
    expect(ask.status).toBe(2)
    expect(ask.stderr).toContain('2 of these runs were already trained in another experiment')
    expect(ask.stderr).toContain('experiment "exercise 1 (small-28)"')
    expect(ask.stderr).toContain('--link')
    const listed = cli('ls', '--experiment', 'exercise 2 (small-28)', '--json')
    expect(JSON.parse(listed.stdout)).toEqual([])
    const link = cli(
      'exercise',
      'queue',
      '2',
      '--scale',
      'small',
      '--seeds',
      '2',
      '--link',
      ...TINY,
    )
    expect(link.status, link.stderr).toBe(0)
    expect(link.stdout).toContain('queued 2 runs of exercise 2')
    expect(link.stdout).toContain('linked 2 to completed runs with the same config')
  }, 1_000_000)

  it('measures exercise 4’s peak memory in the engine beside the count', () => {
    const r = cli(
      'exercise',
      'answer',
      '4',
      '--scale',
      'small',
      '--format',
      'json',
      '--measure-memory',
      '--set',
      'train.batchSize=32',
    )
    expect(r.status, r.stderr).toBe(0)
    const a = JSON.parse(r.stdout) as ExerciseAnswer
    expect(a.memory?.batchSize).toBe(32)
    expect(a.memory?.trainPeakBytes).toBeGreaterThan(a.memory?.predictPeakBytes ?? Infinity)
    expect(a.conclusions.join('\n')).toMatch(
      /training peaked at [\d.]+ MiB against [\d.]+ MiB counted/,
    )
    expect(a.conclusions.join('\n')).toContain('108.75 MiB at batch 128')
  })
})
