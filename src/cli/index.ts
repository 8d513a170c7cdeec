// Entry of the `nin-lab` command (built to out/main/cli.js); the logic lives in ./main.
import { main } from './main'

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    console.error(err)
    process.exitCode = 1
  },
)
