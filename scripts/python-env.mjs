// `node scripts/python-env.mjs [--venv DIR | --shared] [--check]`: the project's Python
// environment for the PyTorch engine (src/torch-engine/pyproject.toml's exact pins: torch and the
// dev/test tools), in `.venv` at the repository root (ignored by git). Reused when it already
// holds exactly those versions; otherwise created (or topped up) with pip from PyPI. `--check`
// only says whether it is complete (exit 0) or not (exit 1) and installs nothing. Prints the
// torch version last.
//
// `--shared` (what .ci/run uses): when the clone has no `.venv` yet, the environment lives
// outside it, in $NIN_LAB_VENV_CACHE (default ~/.cache/nin-lab) under `venv-<key>`, where the key
// hashes the pins and the Python that makes it, and `.venv` is a symbolic link to it. A fresh
// clone of the same pins then links the environment an earlier clone made (seconds, not the
// 80-540 s of pip), checked against the pins exactly as a `.venv` of its own would be. A `.venv`
// the clone already has is used as without `--shared`.
//
// The Python that creates the venv: $NIN_LAB_VENV_PYTHON, else /usr/bin/python3 (Debian's, which
// needs the python3-venv package), else python3 on PATH. It must be Python >= 3.10 (torch 2.15).
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const pyproject = join(root, 'src/torch-engine/pyproject.toml')

function parseArgs(argv) {
  const opts = { venv: join(root, '.venv'), check: false, shared: false }
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--venv' && argv[i + 1]) opts.venv = resolve(argv[++i])
    else if (argv[i] === '--check') opts.check = true
    else if (argv[i] === '--shared') opts.shared = true
    else {
      console.error(`python-env: unknown argument ${argv[i]} (use --venv DIR, --shared, --check)`)
      process.exit(2)
    }
  }
  return opts
}

// Reads the pins with Python's own TOML parser (tomllib, Python >= 3.11; no Node TOML parser is a
// dependency) and compares them with what the venv has installed (importlib.metadata): one
// process, a fraction of a second. Prints {"pins": [...], "missing": [...]}.
const CHECK_PINS = `
import json, sys, tomllib
from importlib import metadata
with open(sys.argv[1], "rb") as f:
    p = tomllib.load(f)["project"]
pins = list(p["dependencies"]) + [d for ds in p["optional-dependencies"].values() for d in ds]
missing = []
for pin in pins:
    name, _, want = pin.partition("==")
    try:
        have = metadata.version(name)
    except metadata.PackageNotFoundError:
        have = None
    # torch's PyPI wheels carry a local tag (2.15.0+cu132): the release is what is pinned.
    if have is None or have.split("+")[0] != want:
        missing.append({"pin": pin, "have": have})
print(json.dumps({"pins": pins, "missing": missing}))
`

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts })
  if (r.error) return { ok: false, out: '', err: r.error.message }
  return { ok: r.status === 0, out: r.stdout ?? '', err: r.stderr ?? '' }
}

function pinState(python) {
  const r = run(python, ['-c', CHECK_PINS, pyproject])
  if (!r.ok) return null
  return JSON.parse(r.out.trim().split('\n').at(-1))
}

function basePython() {
  const candidates = [process.env.NIN_LAB_VENV_PYTHON, '/usr/bin/python3', 'python3']
  for (const py of candidates.filter(Boolean)) {
    const r = run(py, ['-c', 'import sys, venv; print(sys.version_info >= (3, 11))'])
    if (r.ok && r.out.trim() === 'True') return py
  }
  console.error(
    'python-env: no Python 3.11+ with the venv module found. Debian/Ubuntu: ' +
      'apt-get install python3-venv; or set NIN_LAB_VENV_PYTHON to a Python 3.11+.',
  )
  process.exit(1)
}

/**
 * The shared environment's folder for these pins and this base Python: the key is a hash of the
 * pins (as pyproject.toml lists them) and the base Python's path and version, so another pin or
 * another Python never reuses it.
 */
function sharedVenvDir(base) {
  const pins = run(base, ['-c', CHECK_PINS, pyproject])
  const version = run(base, ['-c', 'import sys; print(sys.version)'])
  if (!pins.ok || !version.ok) {
    console.error(`python-env: ${base} cannot read ${pyproject}: ${pins.err}${version.err}`)
    process.exit(1)
  }
  const { pins: list } = JSON.parse(pins.out.trim().split('\n').at(-1))
  const key = createHash('sha256')
    .update(JSON.stringify({ pins: list, python: base, version: version.out.trim() }))
    .digest('hex')
    .slice(0, 16)
  const cache = process.env.NIN_LAB_VENV_CACHE || join(homedir(), '.cache/nin-lab')
  return join(resolve(cache), `venv-${key}`)
}

/**
 * One maker at a time per shared folder (two CI runs at once would pip into the same venv): a
 * lock folder holding the maker's pid; a lock whose pid is gone is taken over.
 */
async function withLock(dir, fn) {
  const lock = `${dir}.lock`
  mkdirSync(dirname(lock), { recursive: true })
  for (let waited = 0; ; waited++) {
    try {
      mkdirSync(lock)
      writeFileSync(join(lock, 'pid'), String(process.pid))
      break
    } catch (err) {
      if (err.code !== 'EEXIST') throw err
      let holder = NaN
      try {
        holder = Number(readFileSync(join(lock, 'pid'), 'utf8'))
      } catch {
        // being written: wait for it
      }
      if (Number.isInteger(holder) && !isAlive(holder)) {
        rmSync(lock, { recursive: true, force: true })
        continue
      }
      if (waited % 30 === 0) console.log(`python-env: waiting for ${lock} (pid ${holder})`)
      await new Promise((r) => setTimeout(r, 1000))
    }
  }
  try {
    return fn()
  } finally {
    rmSync(lock, { recursive: true, force: true })
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return err.code === 'EPERM'
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  const link = opts.venv
  let linked = false
  if (opts.shared && !lstatOrNull(link)) {
    // No environment in the clone: make (or reuse) the shared one and link it.
    const dir = sharedVenvDir(basePython())
    console.log(`python-env: --shared: ${link} -> ${dir}`)
    const code = await withLock(dir, () => ensure(dir, opts.check))
    if (code !== 0) process.exit(code)
    if (opts.check) return // complete, and --check changes nothing (not even the link)
    mkdirSync(dirname(link), { recursive: true })
    symlinkSync(dir, link)
    linked = true
  } else {
    const code = ensure(link, opts.check)
    if (code !== 0) process.exit(code)
  }
  if (linked) console.log(`python-env: ${link} links to ${readlinkSync(link)}`)
}

function lstatOrNull(path) {
  try {
    return lstatSync(path)
  } catch {
    return null
  }
}

/** Makes `venv` hold exactly the pins; returns the exit code. */
function ensure(venv, check) {
  const python = join(venv, 'bin/python')
  const started = Date.now()
  let state = existsSync(python) ? pinState(python) : null
  if (state && state.missing.length === 0) return report(python, 'reused', started)
  if (check) {
    const why = state ? state.missing.map((m) => `${m.pin} (have ${m.have})`).join(', ') : 'none'
    console.error(`python-env: ${venv} is not complete: ${why}`)
    return 1
  }
  if (!state) {
    const base = basePython()
    console.log(`python-env: creating ${venv} with ${base}`)
    const made = run(base, ['-m', 'venv', '--clear', venv], { stdio: 'inherit' })
    if (!made.ok) return 1
    state = pinState(python)
  }
  const pins = state.missing.map((m) => m.pin)
  console.log(`python-env: installing ${pins.join(' ')}`)
  const pip = run(python, ['-m', 'pip', 'install', '--disable-pip-version-check', ...pins], {
    stdio: 'inherit',
  })
  if (!pip.ok) {
    console.error('python-env: pip install failed (see above); nothing else was changed')
    return 1
  }
  const after = pinState(python)
  if (!after || after.missing.length > 0) {
    console.error(`python-env: still missing after pip: ${JSON.stringify(after?.missing)}`)
    return 1
  }
  return report(python, 'installed', started)
}

function report(python, how, started) {
  const v = run(python, ['-c', 'import torch; print(torch.__version__)'])
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  console.log(`python-env: ${how} in ${seconds} s: ${python} has torch ${v.out.trim()}`)
  return v.ok ? 0 : 1
}

await main()
