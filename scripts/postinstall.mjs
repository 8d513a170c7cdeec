// Fetch the Electron binary when the network allows it; warn (never fail) when it does not.
// electron@45 downloads its binary lazily; electron-vite needs node_modules/electron/path.txt,
// which only that download writes. Offline (CI, air-gapped servers) the app still installs,
// builds, tests and runs in web mode, so a failed download must not fail `npm install`.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
let installScript
try {
  installScript = require.resolve('electron/install.js')
} catch {
  process.exit(0) // electron is a devDependency; production installs skip it
}
const pathTxt = installScript.replace(/install\.js$/, 'path.txt')
if (existsSync(pathTxt) || process.env.NIN_LAB_SKIP_ELECTRON_DOWNLOAD === '1') process.exit(0)

const result = spawnSync(process.execPath, [installScript], {
  stdio: ['ignore', 'ignore', 'pipe'],
  timeout: 120_000,
  encoding: 'utf8',
})
if (result.status !== 0) {
  const reason = (result.stderr || result.error?.message || 'unknown error').trim().split('\n')[0]
  console.warn(
    `\nnin-lab: the Electron binary could not be downloaded (${reason.slice(0, 200)}).\n` +
      'Everything else installed. `npm start` will serve the app in your browser on 127.0.0.1 instead;\n' +
      'run `node node_modules/electron/install.js` when online to get the desktop window.\n',
  )
}
