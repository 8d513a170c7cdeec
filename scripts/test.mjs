// `npm test`: build, type-check, lint, then every vitest suite (unit, integration, end-to-end in
// Chromium). Runs every step even after a failure, so one run shows everything that is wrong,
// and ends with the line `N passed, N failed` (each step and each test counts once).
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const bin = (pkg, file) => join(root, 'node_modules', pkg, file)
const resultsDir = join(root, 'test-results')
mkdirSync(resultsDir, { recursive: true })

let passed = 0
let failed = 0
let skipped = 0
const failures = []

// The checks before the tests: each a process of its own that reads the sources and writes
// nothing another reads (the build writes out/, which the tests need and no check looks at). Each
// is single-threaded, so they run two at a time on a 2-core machine (one per core, longest first)
// instead of one after another; each one's output is printed whole when it ends, after its name.
const engineDir = join(root, 'src/torch-engine')
const venvBin = (tool) => join(root, '.venv/bin', tool)
const pytestReport = join(resultsDir, 'pytest.xml')
const node = (...args) => [process.execPath, args, root]
const checks = [
  [
    'typecheck (web side)',
    ...node(bin('vue-tsc', 'bin/vue-tsc.js'), '--noEmit', '-p', 'tsconfig.web.json'),
  ],
  ['format (prettier)', ...node(bin('prettier', 'bin/prettier.cjs'), '--check', '.')],
  ['lint (eslint)', ...node(bin('eslint', 'bin/eslint.js'), '--max-warnings', '0', '.')],
  ['build', ...node(bin('electron-vite', 'bin/electron-vite.js'), 'build')],
  [
    'typecheck (node side)',
    ...node(bin('typescript', 'bin/tsc'), '--noEmit', '-p', 'tsconfig.node.json'),
  ],
]

// The PyTorch engine is a Python program of its own (src/torch-engine, its tools configured in
// its pyproject.toml): ruff, mypy --strict and its pytest unit tests run in the project's .venv
// (scripts/python-env.mjs; .ci/run makes it). pytest's tests count one each, like vitest's.
const hasVenv = existsSync(venvBin('python'))
if (!hasVenv) {
  skipped += 4
  console.log(
    '\n' +
      '!'.repeat(78) +
      '\n!! TORCH ENGINE CHECKS SKIPPED (ruff, mypy, pytest): no .venv here.\n' +
      '!! Make it with:  node scripts/python-env.mjs   (PyTorch 2 and the tools from PyPI).\n' +
      '!'.repeat(78),
  )
} else {
  rmSync(pytestReport, { force: true }) // never count a previous run's report
  // mypy first: from a fresh clone (no .mypy_cache) it is the longest check.
  checks.unshift(['torch engine: types (mypy --strict)', venvBin('mypy'), [], engineDir])
  checks.push(
    [
      'torch engine: unit tests (pytest)',
      venvBin('python'),
      ['-m', 'pytest', `--junitxml=${pytestReport}`],
      engineDir,
      countPytest,
    ],
    ['torch engine: lint (ruff check)', venvBin('ruff'), ['check', '.'], engineDir],
    [
      'torch engine: format (ruff format --check)',
      venvBin('ruff'),
      ['format', '--check', '.'],
      engineDir,
    ],
  )
}

/** Runs one check, its output kept for printing in one piece; resolves with its exit status. */
function runCheck([name, cmd, args, cwd]) {
  return new Promise((resolve) => {
    const started = Date.now()
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    const out = []
    child.stdout.on('data', (c) => out.push(c))
    child.stderr.on('data', (c) => out.push(c))
    const done = (status, error) => {
      const seconds = ((Date.now() - started) / 1000).toFixed(1)
      process.stdout.write(`\n▶ ${name} (${seconds} s)\n`)
      process.stdout.write(Buffer.concat(out))
      if (error) process.stdout.write(`${error.message}\n`)
      resolve(status)
    }
    child.once('error', (err) => done(null, err))
    child.once('close', (status) => done(status))
  })
}

const lanes = Math.max(1, Math.min(2, availableParallelism()))
const queue = [...checks]
await Promise.all(
  Array.from({ length: lanes }, async () => {
    for (let check = queue.shift(); check; check = queue.shift()) {
      const status = await runCheck(check)
      const [name, , , , count] = check
      if (count) count(status)
      else if (status === 0) passed++
      else {
        failed++
        failures.push(name)
      }
    }
  }),
)

/** pytest's outcome: its tests counted one each from its JUnit report. */
function countPytest(status) {
  const counts = pytestCounts(pytestReport)
  if (!counts) {
    failed++
    failures.push(`pytest (exit ${status}, no report)`)
    return
  }
  passed += counts.passed
  failed += counts.failed
  skipped += counts.skipped
  for (const t of counts.failedNames) failures.push(`src/torch-engine › ${t}`)
  if (status !== 0 && counts.failed === 0) {
    failed++
    failures.push(`pytest exited with ${status}`)
  }
}

/** Counts from pytest's JUnit XML (one <testsuite> with tests/failures/errors/skipped). */
function pytestCounts(file) {
  let xml
  try {
    xml = readFileSync(file, 'utf8')
  } catch {
    return null
  }
  const suite = /<testsuite\b([^>]*)>/.exec(xml)
  if (!suite) return null
  const attr = (k) => Number(new RegExp(`\\b${k}="(\\d+)"`).exec(suite[1])?.[1] ?? 0)
  const bad = attr('failures') + attr('errors')
  const failedNames = [
    ...xml.matchAll(
      /<testcase\b[^>]*\bclassname="([^"]*)"[^>]*\bname="([^"]*)"[^>]*>\s*<(failure|error)/g,
    ),
  ].map((m) => `${m[1]} › ${m[2]}`)
  return {
    passed: attr('tests') - bad - attr('skipped'),
    failed: bad,
    skipped: attr('skipped'),
    failedNames,
  }
}

const chromium = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (p) => p && existsSync(p),
)
const reportFile = join(resultsDir, 'vitest.json')
process.stdout.write('\n▶ tests (vitest: unit, integration, end-to-end)\n')
const vitest = spawnSync(
  process.execPath,
  [
    bin('vitest', 'vitest.mjs'),
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${reportFile}`,
  ],
  { cwd: root, stdio: 'inherit' },
)
let report
try {
  report = JSON.parse(readFileSync(reportFile, 'utf8'))
} catch {
  report = null
}
if (!report) {
  failed++
  failures.push(`vitest (exit ${vitest.status}, no report)`)
} else {
  passed += report.numPassedTests
  failed += report.numFailedTests
  skipped += report.numPendingTests + report.numTodoTests
  // A suite that fails to load or whose setup throws has no failed tests of its own.
  for (const suite of report.testResults) {
    if (suite.status === 'failed' && suite.assertionResults.every((t) => t.status !== 'failed')) {
      failed++
      failures.push(`${relative(root, suite.name)} (suite failed: ${suite.message.split('\n')[0]})`)
    }
    for (const t of suite.assertionResults) {
      if (t.status === 'failed') failures.push(`${relative(root, suite.name)} › ${t.fullName}`)
    }
  }
  if (vitest.status !== 0 && report.numFailedTests === 0 && report.numFailedTestSuites === 0) {
    failed++
    failures.push(`vitest exited with ${vitest.status}`)
  }
}

if (!chromium) {
  const e2e = (report?.testResults ?? []).filter((s) =>
    relative(root, s.name).startsWith('tests/e2e'),
  )
  const names = e2e.flatMap((s) =>
    s.assertionResults.map((t) => `  - ${relative(root, s.name)} › ${t.fullName}`),
  )
  console.log(
    '\n' +
      '!'.repeat(78) +
      '\n!! END-TO-END TESTS SKIPPED: no Chromium found (/usr/bin/chromium or $CHROMIUM_PATH).\n' +
      '!! Install one with:  sudo apt-get install -y chromium   (Debian/Ubuntu), then run npm test again.\n' +
      `!! Skipped:\n${names.join('\n') || '  (all of tests/e2e)'}\n` +
      '!'.repeat(78),
  )
}
const redis = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p))
if (!redis) {
  console.log(
    '\n' +
      '!'.repeat(78) +
      '\n!! REMOTE-WORKER TESTS SKIPPED: no redis-server found (/usr/bin/redis-server).\n' +
      '!! Install one with:  sudo apt-get install -y redis-server   (the tests start their own\n' +
      '!! on a free loopback port; nothing needs to run), then run npm test again.\n' +
      '!! Skipped: tests/integration/fleet.test.ts\n' +
      '!'.repeat(78),
  )
}
if (failures.length > 0) console.log(`\nFailed:\n${failures.map((f) => `  ✗ ${f}`).join('\n')}`)
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(failed > 0 ? 1 : 0)
