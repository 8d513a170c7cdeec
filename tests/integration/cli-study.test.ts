// The CLI items of issue 13: enum values in any case where unambiguous (the app labels the head
// "FC"), a bad --set named as the source of the problem rather than the preset, and top-level
// help that lists the queue's subcommands. Real `nin-lab` processes.
import { beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, runCli } from '../helpers/cli'

beforeAll(() => assertBuilt())

describe('nin-lab for a study', () => {
  it('takes --set model.head=FC as the app labels it, stored as fc', () => {
    const r = runCli(['config', '--preset', 'small-28', '--set', 'model.head=FC'])
    expect(r.status, r.stderr).toBe(0)
    expect((JSON.parse(r.stdout) as { model: { head: string } }).model.head).toBe('fc')
  })

  it('names the --set as the source of a bad value, not the preset', () => {
    const r = runCli(['config', '--preset', 'd2l', '--set', 'model.head=sideways'])
    expect(r.status).not.toBe(0)
    expect(r.stderr).toContain('--set model.head=sideways (on preset d2l) is invalid')
    expect(r.stderr).toContain('model.head must be one of "gap", "fc" (got "sideways")')
    expect(r.stderr).not.toMatch(/preset d2l is invalid/)
  })

  it('lists every queue subcommand in the top-level help', () => {
    const r = runCli(['--help'])
    expect(r.status, r.stderr).toBe(0)
    for (const sub of ['add', 'start', 'ls', 'workers', 'pause | resume', 'cancel ID']) {
      expect(r.stdout, sub).toContain(`queue ${sub}`)
    }
    // Both sides of the merge: the access key (issue 13) and the fleet's worker.
    expect(r.stdout).toContain('key show | rotate')
    expect(r.stdout).toContain('worker --redis URL')
  })
})
