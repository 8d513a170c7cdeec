/**
 * The `nin-lab` command. Each subcommand lives in ./commands; this file only dispatches and
 * turns known errors into one clear message and an exit status (2 = bad input, 1 = failure).
 */
import { ApiError } from '@shared/api/contract'
import { ConfigError } from '@shared/config/experiment'
import { FileWriteError } from '@core/files'
import { benchCommand, benchHelp } from './commands/bench'
import { queueCommand, queueHelp } from './commands/queue'
import { lsCommand, lsHelp, showCommand, showHelp } from './commands/runs'
import { configCommand, configHelp } from './commands/config'
import { compareCommand, compareHelp } from './commands/compare'
import { exportCommand, exportHelp } from './commands/export'
import { exportModelCommand, exportModelHelp } from './commands/export-model'
import { exerciseCommand, exerciseHelp } from './commands/exercise'
import { keyCommand, keyHelp } from './commands/key'
import { coreHostCommand, coreHostHelp } from './commands/core-host'
import { runCommand, runHelp } from './commands/run'
import { serveCommand, serveHelp } from './commands/serve'
import { summaryCommand, summaryHelp } from './commands/summary'
import { workerCommand, workerHelp } from './commands/worker'
import { visibleText } from '@shared/security'
import { UsageError } from './errors'

type Command = (argv: string[]) => number | Promise<number>

const COMMANDS: Record<string, { run: Command; help: string; hidden?: boolean }> = {
  summary: { run: summaryCommand, help: summaryHelp },
  config: { run: configCommand, help: configHelp },
  run: { run: runCommand, help: runHelp },
  queue: { run: queueCommand, help: queueHelp },
  ls: { run: lsCommand, help: lsHelp },
  show: { run: showCommand, help: showHelp },
  compare: { run: compareCommand, help: compareHelp },
  export: { run: exportCommand, help: exportHelp },
  'export-model': { run: exportModelCommand, help: exportModelHelp },
  serve: { run: serveCommand, help: serveHelp },
  key: { run: keyCommand, help: keyHelp },
  worker: { run: workerCommand, help: workerHelp },
  bench: { run: benchCommand, help: benchHelp },
  exercise: { run: exerciseCommand, help: exerciseHelp },
  'core-host': { run: coreHostCommand, help: coreHostHelp, hidden: true },
}

/**
 * A command's usage lines: its help's first line and the `nin-lab …` lines under it (queue lists
 * each subcommand on a line of its own).
 */
function usageLines(help: string): string[] {
  const lines = help.split('\n')
  const out = [(lines[0] ?? '').replace(/^Usage: nin-lab /, '')]
  for (const line of lines.slice(1)) {
    const sub = /^\s+nin-lab (.*)$/.exec(line)
    if (sub?.[1]) out.push(sub[1])
    else if (/^\s{8,}\S/.test(line) && out.length === 1) out[0] += ` ${line.trim()}`
    else break
  }
  return out
}

const usage = `Usage: nin-lab <command> [options]

Commands:
${Object.values(COMMANDS)
  .filter((c) => !c.hidden)
  .flatMap((c) => usageLines(c.help).map((l) => `  ${l}`))
  .join('\n')}

Run \`nin-lab <command> --help\` for a command's options.`

/**
 * Prints an error line. Messages quote user text (run names, experiment names, config values):
 * its control and bidi characters are made visible, so an error cannot rewrite the terminal.
 */
const printError = (text: string): void => console.error(visibleText(text, { multiline: true }))

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage)
    return name === undefined ? 2 : 0
  }
  const command = COMMANDS[name]
  if (!command) {
    printError(`nin-lab: unknown command "${name}"\n\n${usage}`)
    return 2
  }
  try {
    return await command.run(rest)
  } catch (err) {
    // Refusals through the core's door: bad input is exit 2, a failure of this machine exit 1.
    if (err instanceof ApiError && err.code !== 'internal') {
      printError(`nin-lab ${name}: ${err.message}`)
      return err.code === 'unavailable' ? 1 : 2
    }
    if (err instanceof ConfigError || err instanceof UsageError) {
      printError(`nin-lab ${name}: ${err.message}`)
      return 2
    }
    // The files the CLI itself writes (export --out): a path that is not a file is bad input.
    if (err instanceof FileWriteError) {
      printError(`nin-lab ${name}: ${err.message}`)
      return err.code === 'not-a-file' || err.code === 'folder-path' ? 2 : 1
    }
    // parseArgs reports unknown options with a code; those are usage errors too.
    const code = (err as { code?: string }).code
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      printError(`nin-lab ${name}: ${(err as Error).message}\n\n${command.help}`)
      return 2
    }
    printError(
      `nin-lab ${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    )
    return 1
  }
}
