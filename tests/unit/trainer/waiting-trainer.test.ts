// How a run's PyTorch trainer is found and started (src/trainer/engines/torch/waiting-trainer.ts,
// python.ts): each candidate Python answers the probe, and the one with torch waits for the run's
// job. Stand-in "Pythons" here are small shell scripts, real processes that speak the same lines
// (`trainer.py --probe --then-job`); the real trainer's side is in
// tests/integration/torch-trainer.test.ts.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { validateExperimentConfig } from '@shared/config/experiment'
import { chooseEngine } from '@trainer/engines/select'
import { PYTHON_ENV, startTorchTrainer } from '@trainer/engines/torch/python'
import { spawnWaitingTrainer } from '@trainer/engines/torch/waiting-trainer'
import { isAlive, waitFor } from '../../helpers/cli'

const dir = mkdtempSync(join(tmpdir(), 'nin-waiting-trainer-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A stand-in Python: a shell script that writes its pid beside itself, then runs `body`. */
function standIn(name: string, body: string): { python: string; pid: () => number } {
  const python = join(dir, name)
  writeFileSync(python, `#!/bin/sh\necho $$ > ${python}.pid\n${body}\n`)
  chmodSync(python, 0o755)
  return { python, pid: () => Number(readFileSync(`${python}.pid`, 'utf8')) }
}

const PROBE_LINE = JSON.stringify({ torch: '9.9.0', cuda: false, device: 'stand-in', threads: 1 })
/** Answers the probe, then reports the job path it was given (or that it was let go). */
const withTorch = standIn(
  'with-torch',
  `echo '${PROBE_LINE}'\nif read -r job; then echo "{\\"job\\": \\"$job\\"}"; else echo '{"released": true}'; fi`,
)
const noTorch = standIn(
  'no-torch',
  `echo '{"torch": null, "error": "ModuleNotFoundError: No module named torch"}'\nexit 1`,
)
const silent = standIn('silent', 'exec sleep 60')

const savedEnv = process.env[PYTHON_ENV]
afterEach(() => {
  if (savedEnv === undefined) delete process.env[PYTHON_ENV]
  else process.env[PYTHON_ENV] = savedEnv
})

describe('finding a Python with torch for a run', () => {
  it('the one that answers with a torch version waits for the job path on its stdin', async () => {
    const { found, tried, trainer } = await startTorchTrainer({ [PYTHON_ENV]: withTorch.python })
    expect(tried).toEqual([])
    expect(found).toMatchObject({ python: withTorch.python, torch: '9.9.0', cuda: false })
    const lines: string[] = []
    trainer!.lines.on('line', (l) => lines.push(l))
    trainer!.start('/runs/r1/torch-job.json')
    expect(await trainer!.exited).toEqual({ code: 0, signal: null })
    await waitFor(() => lines[0], 5_000, 'its answer')
    expect(JSON.parse(lines[0]!)).toEqual({ job: '/runs/r1/torch-job.json' })
    expect(() => trainer!.start('/runs/r2/torch-job.json')).toThrow(/already has a job/)
  })

  it('released without a job, it reads the end of its input and exits 0', async () => {
    const { trainer } = await startTorchTrainer({ [PYTHON_ENV]: withTorch.python })
    const lines: string[] = []
    trainer!.lines.on('line', (l) => lines.push(l))
    trainer!.release()
    trainer!.release() // twice is harmless
    expect(await trainer!.exited).toEqual({ code: 0, signal: null })
    expect(lines).toEqual([]) // nothing was read after the probe line: the interface is closed
  })

  it('one that dies before its job: the job write is harmless, and the exit is reported', async () => {
    const { trainer } = await startTorchTrainer({ [PYTHON_ENV]: withTorch.python })
    trainer!.child.kill('SIGKILL')
    await trainer!.exited
    expect(() => trainer!.start('/runs/r3/torch-job.json')).not.toThrow()
    expect(await trainer!.exited).toEqual({ code: null, signal: 'SIGKILL' })
  })

  it('a Python without torch or none at all is passed over, saying why', async () => {
    const missing = join(dir, 'no-such-python')
    const a = await startTorchTrainer({ [PYTHON_ENV]: noTorch.python })
    expect(a).toEqual({
      found: null,
      tried: [`${noTorch.python}: ModuleNotFoundError: No module named torch`],
      trainer: null,
    })
    const b = await startTorchTrainer({ [PYTHON_ENV]: missing })
    expect(b.tried).toEqual([`${missing}: not found`])
  })

  it('one that never answers is killed after the timeout', async () => {
    const answer = spawnWaitingTrainer(silent.python, 'trainer.py', 300)
    await expect(answer).rejects.toMatchObject({ code: 'ETIMEDOUT' })
    await waitFor(() => (isAlive(silent.pid()) ? undefined : true), 5_000, 'the kill')
  })

  it('an engine choice other than torch lets the waiting Python go', async () => {
    process.env[PYTHON_ENV] = withTorch.python
    // No CUDA, and the user asked for a TensorFlow.js backend: tfjs trains.
    const config = validateExperimentConfig({ engine: 'auto', train: { backend: 'wasm' } })
    const choice = await chooseEngine(config, { forRun: true })
    expect(choice.engine).toBe('tfjs')
    await waitFor(() => (isAlive(withTorch.pid()) ? undefined : true), 5_000, 'its exit')
    const torch = await chooseEngine({ ...config, engine: 'torch' }, { forRun: true })
    expect(torch).toMatchObject({ engine: 'torch', probe: { torch: '9.9.0' } })
    if (torch.engine === 'torch') torch.trainer!.release()
  })
})
