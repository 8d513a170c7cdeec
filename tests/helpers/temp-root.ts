/**
 * vitest's global set-up: every test run gets a temp folder of its own, and everything the tests
 * and their processes put in the system temp folder lands there (TMPDIR, which Node's
 * os.tmpdir(), Python's tempfile, redis-server and Chromium all honour). It is removed when the
 * run ends. Many tests make data folders (each with a 55 MB dataset cache), head and worker
 * folders, and redis folders without removing them; before this, every run of the suite left
 * about 3 GB in /tmp, and enough runs filled the disk until the suite failed with ENOSPC.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export default function setup(): () => void {
  const outer = process.env['TMPDIR']
  const root = mkdtempSync(join(tmpdir(), 'nin-lab-tests-'))
  // Some tests run the CLI as another user (tests/integration/read-only-folder.test.ts): that
  // user must be able to reach the folders they make in here.
  chmodSync(root, 0o755)
  process.env['TMPDIR'] = root
  return () => {
    if (outer === undefined) delete process.env['TMPDIR']
    else process.env['TMPDIR'] = outer
    rmSync(root, { recursive: true, force: true, maxRetries: 3 })
  }
}
