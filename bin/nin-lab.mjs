#!/usr/bin/env node
// The `nin-lab` command. The CLI is TypeScript compiled by `npm run build` into out/main/cli.js.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const cli = fileURLToPath(new URL('../out/main/cli.js', import.meta.url))
if (!existsSync(cli)) {
  console.error(
    'nin-lab: the CLI is not built yet. Run `npm run build` in the project folder first.',
  )
  process.exit(2)
}
await import(cli)
