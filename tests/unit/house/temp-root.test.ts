// The suite's temp folder (tests/helpers/temp-root.ts): what the tests and their processes make
// in the system temp folder lands in a folder of this run, which the run removes at its end.
import { spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { basename } from 'node:path'
import { describe, expect, it } from 'vitest'

describe('the test run’s temp folder', () => {
  it('is where os.tmpdir() points, here and in child processes', () => {
    expect(basename(tmpdir())).toMatch(/^nin-lab-tests-/)
    const child = spawnSync(process.execPath, ['-p', 'require("node:os").tmpdir()'], {
      encoding: 'utf8',
    })
    expect(child.stdout.trim()).toBe(tmpdir())
  })
})
