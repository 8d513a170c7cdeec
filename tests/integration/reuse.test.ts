// Reuse from the command line: `nin-lab queue add` of a config a completed run of another
// experiment already trained asks first (exit 2, naming the run), links it with --link (no
// training; the link shows the source's epochs and health in `show`/`ls --json`) and trains anew
// with --train. A real trained run (tfjs, a Fashion-MNIST subset) and real processes.
import { rmSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, runCli } from '../helpers/cli'
import { seededTempDir } from '../helpers/datasets'

const TINY = [
  '--preset',
  'small-28',
  '--set',
  'engine=tfjs',
  '--set',
  'model.blocks=[{"channels":8,"kernel":5,"stride":1,"padding":2},{"channels":16,"kernel":3,"stride":1,"padding":1},{"channels":32,"kernel":3,"stride":1,"padding":1}]',
  '--set',
  'data.trainLimit=320',
  '--set',
  'data.testLimit=100',
  '--set',
  'train.epochs=1',
  '--set',
  'name=baseline',
]

interface ListedRun {
  id: string
  status: string
  experiment: string
  health: { status: string; reason: string }
  linkedFrom: { runId: string; experiment: string; trainedAt: string | null } | null
  placement: { host: string; worker: string | null } | null
}

let dataDir = ''
let source = ''
beforeAll(async () => {
  assertBuilt()
  dataDir = await seededTempDir('nin-lab-reuse-')
  const r = runCli(['run', '--data-dir', dataDir, '--experiment', 'ex1', '--json', ...TINY])
  expect(r.status, r.stderr).toBe(0)
  source = /"id":"(r\w+)"/.exec(r.stdout)?.[1] ?? ''
})
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

const cli = (...args: string[]) => runCli([...args, '--data-dir', dataDir])
const listed = (experiment: string): ListedRun[] =>
  JSON.parse(cli('ls', '--json', '--experiment', experiment).stdout) as ListedRun[]

describe('nin-lab queue add and completed runs of the same config', () => {
  it('asks first, naming the run, and queues nothing', () => {
    const r = cli('queue', 'add', '--experiment', 'ex2', ...TINY)
    expect(r.status).toBe(2)
    expect(r.stderr).toContain('1 of these runs was already trained in another experiment')
    expect(r.stderr).toContain(`completed as run ${source} of experiment "ex1"`)
    expect(r.stderr).toContain('--link')
    expect(r.stderr).toContain('--train')
    expect(listed('ex2')).toEqual([])
  })

  it('--link links it: counted, completed, the source epochs, health and placement', () => {
    const r = cli('queue', 'add', '--experiment', 'ex2', '--link', ...TINY)
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toContain('queued 0 runs in experiment "ex2"; linked 1 to completed run')
    expect(r.stdout).toContain(`linked from ${source} of experiment "ex1"`)
    const [link] = listed('ex2')
    expect(link?.status).toBe('completed')
    expect(link?.linkedFrom?.runId).toBe(source)
    expect(link?.linkedFrom?.experiment).toBe('ex1')
    expect(link?.linkedFrom?.trainedAt).toMatch(/^\d{4}-\d\d-\d\dT/)
    const [trained] = listed('ex1')
    expect(link?.health).toEqual(trained?.health)
    expect(link?.placement).toEqual(trained?.placement)
    expect(trained?.placement?.worker).toBeNull()
    const show = (id: string) =>
      JSON.parse(cli('show', id, '--json').stdout) as { epochs: unknown[]; health: unknown }
    expect(show(link?.id ?? '').epochs).toEqual(show(source).epochs)
    expect(show(link?.id ?? '').epochs).toHaveLength(1)
    // Nothing queued to train.
    expect(JSON.parse(cli('queue', 'ls', '--json').stdout)).toMatchObject({ runs: [] })
  })

  it('--train queues it to train anew; --link and --train exclude each other', () => {
    const r = cli('queue', 'add', '--experiment', 'ex3', '--train', '--json', ...TINY)
    expect(r.status, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as { added: unknown[]; linked: unknown[] }
    expect([out.added.length, out.linked.length]).toEqual([1, 0])
    const both = cli('queue', 'add', '--experiment', 'ex4', '--train', '--link', ...TINY)
    expect(both.status).toBe(2)
    expect(both.stderr).toContain('--link and --train exclude each other')
  })
})
