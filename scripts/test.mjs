// `npm test`: build, type-check, lint, then every vitest suite (unit, integration, end-to-end in
// Chromium). Runs every step even after a failure, so one run shows everything that is wrong,
// and ends with the line `N passed, N failed` (each step and each test counts once).
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const bin = (pkg, file) => join(root, 'node_modules', pkg, file)
const resultsDir = join(root, 'test-results')
mkdirSync(resultsDir, { recursive: true })

const steps = [
  ['build', [bin('electron-vite', 'bin/electron-vite.js'), 'build']],
  ['typecheck (node side)', [bin('typescript', 'bin/tsc'), '--noEmit', '-p', 'tsconfig.node.json']],
  [
    'typecheck (web side)',
    [bin('vue-tsc', 'bin/vue-tsc.js'), '--noEmit', '-p', 'tsconfig.web.json'],
  ],
  ['lint (eslint)', [bin('eslint', 'bin/eslint.js'), '--max-warnings', '0', '.']],
  ['format (prettier)', [bin('prettier', 'bin/prettier.cjs'), '--check', '.']],
]

let passed = 0
let failed = 0
let skipped = 0
const failures = []

for (const [name, args] of steps) {
  process.stdout.write(`\n▶ ${name}\n`)
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' })
  if (r.status === 0) passed++
  else {
    failed++
    failures.push(name)
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
