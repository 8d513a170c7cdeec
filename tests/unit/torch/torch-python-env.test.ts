// Which Python the torch engine runs on: $NIN_LAB_PYTHON, else the project's .venv (PyTorch 2,
// made by scripts/python-env.mjs), else python3 / Debian's. And when none has torch, the error
// names what to install (the README's table): the project venv, the CPU-only wheels, Debian's.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { validateExperimentConfig } from '@shared/config/experiment'
import { chooseEngine } from '@trainer/engines/select'
import { probeTorch, projectVenvPython } from '@trainer/engines/torch/python'

const VENV = fileURLToPath(new URL('../../../.venv/bin/python', import.meta.url))

describe('the torch engine’s Python', () => {
  it.skipIf(!existsSync(VENV))('is the project’s .venv when there is one', async () => {
    expect(projectVenvPython()).toBe(VENV)
    const env = { ...process.env }
    delete env.NIN_LAB_PYTHON
    const { found } = await probeTorch(env)
    expect(found?.python).toBe(VENV)
    expect(found?.torch).toMatch(/^2\./)
  })

  it('NIN_LAB_PYTHON overrides it; a Python without torch is an error that says what to install', async () => {
    const saved = process.env.NIN_LAB_PYTHON
    process.env.NIN_LAB_PYTHON = '/nonexistent/python3'
    try {
      const config = validateExperimentConfig({ engine: 'torch' })
      const err = await chooseEngine(config).then(
        () => null,
        (e: unknown) => e as Error,
      )
      expect(err?.message).toMatch(
        /no Python with PyTorch was found \(\/nonexistent\/python3: not found\)/,
      )
      expect(err?.message).toMatch(/node scripts\/python-env\.mjs/)
      expect(err?.message).toMatch(/--index-url https:\/\/download\.pytorch\.org\/whl\/cpu/)
      expect(err?.message).toMatch(/apt-get install python3-torch/)
    } finally {
      if (saved === undefined) delete process.env.NIN_LAB_PYTHON
      else process.env.NIN_LAB_PYTHON = saved
    }
  })
})
