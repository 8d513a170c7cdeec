// `npm start`: build, then open the Electron window — or, where Electron cannot run here,
// serve the same app on 127.0.0.1 and say why.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)

// NIN_LAB_NO_BUILD=1: the app is built already (tests start it beside others reading out/).
const build =
  process.env.NIN_LAB_NO_BUILD === '1'
    ? { status: 0 }
    : spawnSync(
        process.execPath,
        [join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'],
        { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
      )
if (build.status !== 0) {
  console.error('nin-lab: the build failed (see above).')
  process.exit(build.status ?? 1)
}

/** The Electron binary, or the reason it cannot open a window here. */
function electronBinary() {
  if (process.env.NIN_LAB_WEB === '1') return { reason: 'NIN_LAB_WEB=1 asks for web mode.' }
  let electronDir
  try {
    electronDir = dirname(require.resolve('electron/package.json'))
  } catch {
    return { reason: 'the electron package is not installed (a production install skips it).' }
  }
  const pathTxt = join(electronDir, 'path.txt')
  const binary = existsSync(pathTxt)
    ? join(electronDir, 'dist', readFileSync(pathTxt, 'utf8').trim())
    : null
  if (!binary || !existsSync(binary)) {
    return {
      reason:
        'the Electron binary is not installed: it is downloaded on first install, and that download failed or was ' +
        'skipped (no internet, or a proxy). On a machine with internet access, run `node node_modules/electron/install.js`, ' +
        'then `npm start` again.',
    }
  }
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    return {
      reason:
        'there is no display here (neither DISPLAY nor WAYLAND_DISPLAY is set), so no window can open.',
    }
  }
  return { binary }
}

const electron = electronBinary()
let child
if (electron.binary) {
  child = spawn(electron.binary, [root], { stdio: 'inherit' })
} else {
  console.log(
    `\nNiN Lab cannot open its desktop window: ${electron.reason}\n` +
      'Everything else works without it. The same app is served in your browser instead, on this machine only ' +
      '(127.0.0.1, with an access token); open the address below. Stop it with Ctrl-C.\n',
  )
  child = spawn(
    process.execPath,
    [join(root, 'bin/nin-lab.mjs'), 'serve', ...process.argv.slice(2)],
    // Stops with `npm start` even when it is killed without passing a signal on.
    { stdio: 'inherit', env: { ...process.env, NIN_LAB_EXIT_WITH_PARENT: '1' } },
  )
}
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal))
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))

/**
 * The processes `npm start` runs this under (npm, then `sh -c`), from the nearest up: killing
 * npm (SIGTERM or SIGINT) ends npm and its shell but not this script, which would go on serving,
 * orphaned, with its server and trainer. So it watches them, and stops its child when one goes.
 * Linux reads the chain from /proc; elsewhere only the parent is watched.
 */
function launchers() {
  const chain = [process.ppid]
  for (let i = 0; i < 3; i++) {
    const pid = chain[chain.length - 1]
    let stat, cmdline
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    } catch {
      break // no /proc here
    }
    if (/npm/.test(cmdline)) break // npm itself: the top of what `npm start` started
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    if (!(parent > 1)) break
    chain.push(parent)
  }
  return chain
}

const alive = (pid) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return err.code === 'EPERM'
  }
}

const watched = launchers()
const parent = process.ppid
const watch = setInterval(() => {
  if (process.ppid === parent && watched.every(alive)) return
  clearInterval(watch)
  console.error('nin-lab: npm start was stopped; stopping the app and its runs.')
  // The server stops its trainers after their current step; the runs resume next time.
  child.kill('SIGTERM')
}, 500)
watch.unref()
