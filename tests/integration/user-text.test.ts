// User text with teeth — terminal escape sequences, a right-to-left override, zero-width
// characters, Markdown block syntax — through every sink of the CLI and the reports: `ls` and
// `queue ls` tables, error messages, and the HTML, Markdown and CSV exports. Real processes, a
// real store, real files. (`show`'s header line is printed by the command itself: see the list
// of call sites in the report of this change.)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Window } from 'happy-dom'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RunStore } from '@core/store'
import { assertBuilt, runCli } from '../helpers/cli'

const ANSI_NAME = '\u001b[31mred\u001b[0m\u001b]0;pwned\u0007'
const RTL_NAME = 'invoice\u202Etxt.exe'
const ZW_NAME = 'run\u200B-a'
const NOTE = '# Not a heading\n- not a list\n> not a quote\n    not code\nsee \u202Eevil'
/** What must never reach a terminal or a report: ESC, BEL, CSI, RLO, ZWSP. */
// eslint-disable-next-line no-control-regex -- control characters are what is looked for
const RAW = /[\u001b\u0007\u009b\u202e\u200b]/

let dataDir: string
let out: string
let ids: string[]

beforeAll(() => {
  assertBuilt()
  dataDir = mkdtempSync(join(tmpdir(), 'nin-lab-user-text-'))
  out = mkdtempSync(join(tmpdir(), 'nin-lab-user-text-out-'))
  ids = []
  for (const [i, name] of [ANSI_NAME, RTL_NAME, ZW_NAME].entries()) {
    const add = runCli([
      'queue',
      'add',
      '--preset',
      'small-28',
      '--data-dir',
      dataDir,
      '--json',
      '--set',
      `name=${name}`,
      '--set',
      `model.microConvs=${i + 1}`,
    ])
    expect(add.status, add.stderr).toBe(0)
    ids.push(...(JSON.parse(add.stdout) as { added: { id: string }[] }).added.map((r) => r.id))
  }
  // Notes and tags are set in the app; here through the store the app's core uses.
  const store = RunStore.open(dataDir)
  store.setNotes(ids[0]!, NOTE)
  store.setTags(ids[1]!, ['tag\u202Eevil', '\u001b[1mbold'])
  store.close()
})
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true })
  rmSync(out, { recursive: true, force: true })
})

describe('user text in the terminal', () => {
  it('ls and queue ls show escape sequences and bidi characters as markers', () => {
    for (const args of [['ls'], ['queue', 'ls']]) {
      const r = runCli([...args, '--data-dir', dataDir])
      expect(r.status, r.stderr).toBe(0)
      expect(r.stdout).not.toMatch(RAW)
      expect(r.stdout).toContain('⟨U+001B⟩[31mred⟨U+001B⟩[0m⟨U+001B⟩]0;pwned⟨U+0007⟩')
      expect(r.stdout).toContain('invoice⟨U+202E⟩txt.exe')
      expect(r.stdout).toContain('run⟨U+200B⟩-a')
    }
  })

  it('an error message quoting user text cannot rewrite the terminal', () => {
    // JSON.stringify in the message escapes C0 controls itself, but not C1 (U+009B is CSI to
    // many terminals) nor bidi overrides.
    const r = runCli([
      'queue',
      'add',
      '--data-dir',
      dataDir,
      '--set',
      'model.head=\u009b2J\u202Efc',
    ])
    expect(r.status).toBe(2)
    expect(r.stderr).not.toMatch(RAW)
    expect(r.stderr).toContain('(got "⟨U+009B⟩2J⟨U+202E⟩fc")')
  })
})

describe('user text in reports', () => {
  const exportAs = (format: string, file: string): string[] => {
    const r = runCli([
      'export',
      ...ids,
      '--format',
      format,
      '--out',
      join(out, file),
      '--data-dir',
      dataDir,
    ])
    expect(r.status, r.stderr).toBe(0)
    return r.stdout.trim().split('\n')
  }

  it('html: markers in the text, nothing raw in the file', () => {
    const [file] = exportAs('html', 'report.html')
    const html = readFileSync(file!, 'utf8')
    expect(html).not.toMatch(RAW)
    const doc = new Window().document
    doc.write(html)
    const text = doc.body.textContent ?? ''
    expect(text).toContain('invoice⟨U+202E⟩txt.exe')
    expect(text).toContain('tag⟨U+202E⟩evil, ⟨U+001B⟩[1mbold')
    expect(text).toContain('# Not a heading')
  })

  it('md: a note starting with "# " is text, every line of it; markers for invisible characters', () => {
    const [file] = exportAs('md', 'report.md')
    const md = readFileSync(file!, 'utf8')
    expect(md).not.toMatch(RAW)
    // The only headings are the report's own.
    const headings = md.split('\n').filter((l) => /^ {0,3}#/.test(l))
    expect(headings.every((h) => /^(#|##|###) /.test(h))).toBe(true)
    expect(headings.some((h) => h.includes('Not a heading'))).toBe(false)
    const note = md.split('\n').find((l) => l.includes('Not a heading'))
    expect(note).toBe(
      '\\# Not a heading \\- not a list &gt; not a quote &#32;   not code see ⟨U+202E⟩evil',
    )
    expect(md).toContain('invoice⟨U+202E⟩txt.exe')
  })

  it('csv: markers in the cells, the note keeps its lines', () => {
    const [runsFile] = exportAs('csv', 'report.csv')
    const csv = readFileSync(runsFile!, 'utf8')
    expect(csv).not.toMatch(RAW)
    expect(csv).toContain('invoice⟨U+202E⟩txt.exe')
    expect(csv).toContain(
      '"# Not a heading\n- not a list\n> not a quote\n    not code\nsee ⟨U+202E⟩evil"',
    )
  })

  it('json: the data as stored (a machine format: nothing is changed)', () => {
    const [file] = exportAs('json', 'report.json')
    const report = JSON.parse(readFileSync(file!, 'utf8')) as { runs: { name: string }[] }
    expect(report.runs.map((r) => r.name).sort()).toEqual([ANSI_NAME, RTL_NAME, ZW_NAME].sort())
  })
})
