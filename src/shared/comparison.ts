/**
 * Groups and comparisons of runs: the one source every view, report and the CLI use when they
 * put runs side by side. Runs are grouped by every config field that varies among them (unless
 * the caller averages over some, and then each group names what it mixes), never by a field
 * that does not apply to a run (config/applicability.ts). Each group gets n, mean, std and a
 * 95% t interval of its final test accuracy; each group is compared with a baseline (paired by
 * seed where the two groups differ in nothing else, else Welch), p-values Holm-adjusted within
 * the table, and a verdict in words. docs/statistics.md says why each choice.
 *
 * Runs at chance and runs still improving are counted per group ("k of n at chance") and stay in
 * the means: dropping the seeds where a recipe failed would make it look better than it is.
 */
import { fieldApplies } from './config/applicability'
import type { ExperimentConfig } from './config/experiment'
import { parseExperimentConfig } from './config/experiment'
import { flattenConfig } from './config-diff'
import { canonicalJson } from './grid'
import { HEALTH_STATUSES, type HealthStatus, type RunHealth } from './health'
import {
  holm,
  pairedDifference,
  summarize,
  verdict,
  welchDifference,
  type Difference,
  type Interval,
  type Verdict,
  VERDICT_TEXT as VERDICT_WORDS,
} from './statistics'

/** What a comparison needs to know of one run. */
export interface ComparableRun {
  readonly id: string
  readonly name: string
  readonly experiment: string
  readonly config: ExperimentConfig
  /** Null while it has no final result (queued, running, failed): counted, not averaged. */
  readonly finalTestAcc: number | null
  /** From `Run.health?.status`; null where not known. */
  readonly health: HealthStatus | null
}

export const COMPARE_METRICS = ['finalTestAcc'] as const
export type CompareMetric = (typeof COMPARE_METRICS)[number]

export interface CompareOptions {
  /** Config paths to group by; default: every field that varies, except `averageOver`. */
  readonly by?: readonly string[]
  /** Fields to average over on purpose (each group that mixes them says so in `mixes`). */
  readonly averageOver?: readonly string[]
  /** The group every other is compared with; default: the d2l setting, else the first group. */
  readonly baseline?: { readonly field: string; readonly value: unknown } | null
  /**
   * The baseline as a whole group key (a picker in the app): used when a group has exactly this
   * key; otherwise (the selection changed) the default applies.
   */
  readonly baselineGroup?: Readonly<Record<string, unknown>> | null
  readonly metric?: CompareMetric
}

/**
 * A run's health where the run carries one (`Run.health`, `ReportRun.health`), else null: runs
 * stored before health was computed, or objects without it, read as unknown.
 */
export function healthOf(run: object): RunHealth | null {
  const h = (run as { readonly health?: unknown }).health
  if (typeof h !== 'object' || h === null) return null
  const { status, reason, moreEpochs } = h as Record<string, unknown>
  const known = HEALTH_STATUSES.find((s) => s === status)
  if (!known) return null
  return {
    status: known,
    reason: typeof reason === 'string' ? reason : '',
    moreEpochs: typeof moreEpochs === 'number' ? moreEpochs : null,
  }
}

/** Never a grouping field: the name says nothing, the seed is what the ± spans. */
export const NEVER_GROUPED: readonly string[] = ['name', 'train.seed']

/** d2l's NiN setting (d2l.ai §8.3): the default baseline where a group has it. */
export const D2L_SETTING: Readonly<Record<string, unknown>> = {
  'model.microConvs': 2,
  'model.microKernel': 1,
  'model.head': 'gap',
}

export interface GroupSummary {
  readonly mean: number | null
  readonly std: number | null
  readonly ci95: Interval | null
}

export interface ComparisonGroup {
  /** The grouping fields that apply to this group's runs, with their values. */
  readonly key: Readonly<Record<string, unknown>>
  /** `microConvs 2 · head gap`: the key for a person. */
  readonly label: string
  readonly runIds: readonly string[]
  /** Runs with a result (the mean is over these); `runIds` also counts unfinished ones. */
  readonly n: number
  /** Varying fields this group averages over (besides the seed). */
  readonly mixes: readonly string[]
  readonly health: { readonly chance: number; readonly notConverged: number }
  readonly finalTestAcc: GroupSummary
}

export interface GroupComparison {
  /** The groups' labels (and their index in `groups`). */
  readonly baseline: string
  readonly other: string
  readonly baselineIndex: number
  readonly otherIndex: number
  readonly metric: CompareMetric
  /** other − baseline. */
  readonly diff: number | null
  readonly ci95: Interval | null
  readonly paired: boolean
  readonly df: number | null
  readonly p: number | null
  /** Holm-adjusted within this comparison's table. */
  readonly pAdjusted: number | null
  readonly verdict: Verdict
  /** Why there is no interval, or a caveat about it. */
  readonly note: string | null
}

export interface Noise {
  /** Pooled seed-to-seed standard deviation of the metric within groups that mix nothing. */
  readonly std: number
  /** Runs it is estimated from, their degrees of freedom (runs − groups) and the groups. */
  readonly n: number
  readonly df: number
  readonly groups: number
}

export interface Comparison {
  readonly by: readonly string[]
  /** What the groups average over: the seed where it varies, and any field a group mixes. */
  readonly averagedOver: readonly string[]
  readonly metric: CompareMetric
  readonly noise: Noise | null
  readonly groups: readonly ComparisonGroup[]
  /** Index into `groups` of the baseline; null without groups. */
  readonly baselineIndex: number | null
  readonly comparisons: readonly GroupComparison[]
}

/** Bad options (an unknown field, a baseline no group has): the message names the fix. */
export class CompareError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message)
    this.name = 'CompareError'
  }
}

interface Prepared {
  readonly run: ComparableRun
  readonly config: ExperimentConfig
  readonly flat: Map<string, unknown>
  /** valueText's answers, memoised: grouping asks for each field of each run several times. */
  readonly texts: Map<string, string | null>
  /** pairKey's answer (the grouping fields are the same within one comparison). */
  pairKey?: string
}

function prepare(run: ComparableRun): Prepared {
  // Fill defaults, so a config stored before a field existed compares as its default.
  const parsed = parseExperimentConfig(run.config)
  const config = parsed.ok ? parsed.value : run.config
  return { run, config, flat: flattenConfig(config), texts: new Map() }
}

/** The canonical text of a field's value for a run, or null where the field does not apply. */
function valueText(p: Prepared, path: string): string | null {
  const known = p.texts.get(path)
  if (known !== undefined) return known
  const text =
    !p.flat.has(path) || !fieldApplies(p.config, path) ? null : canonicalJson(p.flat.get(path))
  p.texts.set(path, text)
  return text
}

/** Paths whose applicable values differ among the runs, in config order. */
export function varyingFields(runs: readonly Prepared[], ignore: readonly string[]): string[] {
  const paths: string[] = []
  for (const r of runs)
    for (const path of r.flat.keys()) if (!paths.includes(path)) paths.push(path)
  return paths.filter((path) => {
    if (ignore.includes(path)) return false
    const values = new Set(runs.map((r) => valueText(r, path)).filter((v) => v !== null))
    return values.size > 1
  })
}

function checkFields(runs: readonly Prepared[], fields: readonly string[], option: string): void {
  for (const field of fields) {
    if (NEVER_GROUPED.includes(field)) {
      throw new CompareError(
        field,
        `${option}: ${field} cannot group runs (it is what varies between repeats)`,
      )
    }
    if (runs.length > 0 && !runs.some((r) => r.flat.has(field))) {
      throw new CompareError(
        field,
        `${option}: ${field} is not a config field (use a path such as model.head or train.lr)`,
      )
    }
  }
}

/** Numbers in numeric order, everything else in text order; "does not apply" last. */
function compareTexts(a: string | null, b: string | null): number {
  if (a === b) return 0
  if (a === null) return 1
  if (b === null) return -1
  const x = Number(a)
  const y = Number(b)
  if (Number.isFinite(x) && Number.isFinite(y)) return x - y
  return a.localeCompare(b)
}

/** `model.microConvs` → `microConvs`; `model.blocks[0].channels` → `blocks[0].channels`. */
export const shortField = (path: string): string => path.replace(/^(model|train|data)\./, '')

/** A value as a person reads it: strings without quotes, everything else as JSON. */
export const valueLabel = (value: unknown): string =>
  typeof value === 'string' ? value : canonicalJson(value)

function groupLabel(key: Readonly<Record<string, unknown>>): string {
  const parts = Object.entries(key).map(([f, v]) => `${shortField(f)} ${valueLabel(v)}`)
  return parts.length > 0 ? parts.join(' · ') : 'all runs'
}

interface RawGroup {
  readonly texts: readonly (string | null)[]
  readonly members: Prepared[]
}

function groupRuns(runs: readonly Prepared[], by: readonly string[]): RawGroup[] {
  const groups = new Map<string, RawGroup>()
  for (const r of runs) {
    const texts = by.map((f) => valueText(r, f))
    const id = JSON.stringify(texts)
    const g = groups.get(id) ?? { texts, members: [] }
    g.members.push(r)
    groups.set(id, g)
  }
  return [...groups.values()].sort((a, b) => {
    for (let i = 0; i < by.length; i++) {
      const c = compareTexts(a.texts[i] ?? null, b.texts[i] ?? null)
      if (c !== 0) return c
    }
    return 0
  })
}

const resultOf = (r: Prepared): number | null =>
  r.run.finalTestAcc !== null && Number.isFinite(r.run.finalTestAcc) ? r.run.finalTestAcc : null

function summarizeGroup(
  g: RawGroup,
  by: readonly string[],
  varying: readonly string[],
): ComparisonGroup {
  const key: Record<string, unknown> = {}
  by.forEach((f, i) => {
    const text = g.texts[i]
    if (text !== null && text !== undefined) key[f] = JSON.parse(text) as unknown
  })
  const mixes = varying.filter(
    (f) =>
      !by.includes(f) &&
      new Set(g.members.map((m) => valueText(m, f)).filter((v) => v !== null)).size > 1,
  )
  const values = g.members.map(resultOf).filter((v): v is number => v !== null)
  const s = summarize(values)
  const count = (status: HealthStatus): number =>
    g.members.filter((m) => m.run.health === status).length
  return {
    key,
    label: groupLabel(key),
    runIds: g.members.map((m) => m.run.id),
    n: values.length,
    mixes,
    health: { chance: count('chance'), notConverged: count('not-converged') },
    finalTestAcc: { mean: s.mean, std: s.std, ci95: s.ci95 },
  }
}

/** Pooled within-group standard deviation over groups that mix nothing: the seed noise. */
function pooledNoise(groups: readonly ComparisonGroup[]): Noise | null {
  let ss = 0
  let df = 0
  let n = 0
  let count = 0
  for (const g of groups) {
    const { std } = g.finalTestAcc
    if (g.mixes.length > 0 || g.n < 2 || std === null) continue
    ss += (g.n - 1) * std ** 2
    df += g.n - 1
    n += g.n
    count += 1
  }
  return df > 0 ? { std: Math.sqrt(ss / df), n, df, groups: count } : null
}

function baselineIndex(
  groups: readonly ComparisonGroup[],
  members: readonly Prepared[][],
  options: CompareOptions,
): number | null {
  if (groups.length === 0) return null
  if (options.baselineGroup) {
    const text = canonicalJson(options.baselineGroup)
    const index = groups.findIndex((g) => canonicalJson(g.key) === text)
    if (index >= 0) return index
  }
  const wanted = options.baseline
  if (wanted) {
    const text = canonicalJson(wanted.value)
    const index = groups.findIndex(
      (g) =>
        Object.hasOwn(g.key, wanted.field) &&
        (canonicalJson(g.key[wanted.field]) === text ||
          valueLabel(g.key[wanted.field]) === String(wanted.value)),
    )
    if (index >= 0) return index
    const values = [
      ...new Set(
        groups
          .filter((g) => Object.hasOwn(g.key, wanted.field))
          .map((g) => valueLabel(g.key[wanted.field])),
      ),
    ]
    throw new CompareError(
      wanted.field,
      values.length > 0
        ? `baseline: no group has ${wanted.field}=${valueLabel(wanted.value)}; its values here: ${values.join(', ')}`
        : `baseline: ${wanted.field} does not group these runs; group by it (by) or pick one of: ${Object.keys(groups[0]?.key ?? {}).join(', ') || 'nothing varies'}`,
    )
  }
  const d2l = members.findIndex((ms) =>
    ms.every((m) =>
      Object.entries(D2L_SETTING).every(
        ([f, v]) => canonicalJson(m.flat.get(f)) === canonicalJson(v),
      ),
    ),
  )
  return d2l >= 0 ? d2l : 0
}

/** What pairs two runs across groups: everything but the name and the grouping fields. */
function pairKey(r: Prepared, by: readonly string[]): string {
  if (r.pairKey === undefined) {
    const rest = [...r.flat.entries()].filter(([path]) => path !== 'name' && !by.includes(path))
    r.pairKey = canonicalJson(Object.fromEntries(rest))
  }
  return r.pairKey
}

/**
 * Paired when every run of both groups has a result and exactly one partner in the other group
 * that differs only in the grouping fields (the same seed and all else); then the pairs in one
 * order. Null: compare the groups unpaired (Welch).
 */
function pairs(
  a: readonly Prepared[],
  b: readonly Prepared[],
  by: readonly string[],
): [number[], number[]] | null {
  if (a.length !== b.length || a.length === 0) return null
  const keyed = (ms: readonly Prepared[]): Map<string, number> | null => {
    const map = new Map<string, number>()
    for (const m of ms) {
      const v = resultOf(m)
      const k = pairKey(m, by)
      if (v === null || map.has(k)) return null
      map.set(k, v)
    }
    return map
  }
  const ka = keyed(a)
  const kb = keyed(b)
  if (!ka || !kb) return null
  const xs: number[] = []
  const ys: number[] = []
  for (const [k, v] of ka) {
    const w = kb.get(k)
    if (w === undefined) return null
    xs.push(v)
    ys.push(w)
  }
  return [xs, ys]
}

function compareGroups(
  groups: readonly ComparisonGroup[],
  members: readonly Prepared[][],
  base: number,
  by: readonly string[],
  metric: CompareMetric,
): GroupComparison[] {
  const raw: { index: number; d: Difference }[] = []
  groups.forEach((_, i) => {
    if (i === base) return
    const other = members[i] ?? []
    const baseline = members[base] ?? []
    const paired = pairs(other, baseline, by)
    const values = (ms: readonly Prepared[]): number[] =>
      ms.map(resultOf).filter((v): v is number => v !== null)
    const d = paired
      ? pairedDifference(paired[0], paired[1])
      : welchDifference(values(other), values(baseline))
    raw.push({ index: i, d })
  })
  const adjusted = holm(raw.map((r) => r.d.p))
  return raw.map(({ index, d }, k) => ({
    baseline: groups[base]?.label ?? '',
    other: groups[index]?.label ?? '',
    baselineIndex: base,
    otherIndex: index,
    metric,
    diff: d.diff,
    ci95: d.ci95,
    paired: d.method === 'paired',
    df: d.df,
    p: d.p,
    pAdjusted: adjusted[k] ?? null,
    verdict: verdict(adjusted[k] ?? null),
    note: d.note,
  }))
}

export function compareRuns(
  runs: readonly ComparableRun[],
  options: CompareOptions = {},
): Comparison {
  const metric = options.metric ?? 'finalTestAcc'
  const prepared = runs.map(prepare)
  const averageOver = options.averageOver ?? []
  checkFields(prepared, averageOver, 'averageOver')
  if (options.by) checkFields(prepared, options.by, 'by')
  const varying = varyingFields(prepared, NEVER_GROUPED)
  const by = options.by ? [...options.by] : varying.filter((f) => !averageOver.includes(f))
  const raw = groupRuns(prepared, by)
  const groups = raw.map((g) => summarizeGroup(g, by, varying))
  const members = raw.map((g) => g.members)
  const base = baselineIndex(groups, members, options)
  const seedsVary = raw.some((g) => new Set(g.members.map((m) => m.config.train.seed)).size > 1)
  const mixed = varying.filter((f) => groups.some((g) => g.mixes.includes(f)))
  return {
    by,
    averagedOver: [...(seedsVary ? ['train.seed'] : []), ...mixed],
    metric,
    noise: pooledNoise(groups),
    groups,
    baselineIndex: base,
    comparisons: base === null ? [] : compareGroups(groups, members, base, by, metric),
  }
}

/**
 * Each run's name for a person: the name alone, or `experiment / name` where two runs of the
 * selection share a name (grids in different experiments name their runs alike).
 */
export function displayNames(
  runs: readonly Pick<ComparableRun, 'id' | 'name' | 'experiment'>[],
): Map<string, string> {
  const counts = new Map<string, number>()
  for (const r of runs) counts.set(r.name, (counts.get(r.name) ?? 0) + 1)
  return new Map(
    runs.map((r) => [r.id, (counts.get(r.name) ?? 0) > 1 ? `${r.experiment} / ${r.name}` : r.name]),
  )
}

// ---------------------------------------------------------------------------------------------
// The words every view, report and the CLI print (one wording, one place)

/** Accuracy points: 0.0815 → "8.15 pp" (the unit of every difference and spread of accuracy). */
export const pp = (x: number | null | undefined, digits = 2): string =>
  x === null || x === undefined || !Number.isFinite(x) ? '—' : `${(x * 100).toFixed(digits)} pp`

/** A signed difference in points: "+8.15 pp", "−9.25 pp". */
export const ppSigned = (x: number | null | undefined, digits = 2): string => {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—'
  const text = `${Math.abs(x * 100).toFixed(digits)} pp`
  return x > 0 ? `+${text}` : x < 0 ? `−${text}` : `±${text}`
}

/** An interval in signed points: "[−2.10, +5.40] pp". */
export const ppInterval = (ci: Interval | null | undefined, digits = 2): string => {
  if (!ci) return '—'
  const one = (x: number): string => {
    const t = Math.abs(x * 100).toFixed(digits)
    return x > 0 ? `+${t}` : x < 0 ? `−${t}` : t
  }
  return `[${one(ci[0])}, ${one(ci[1])}] pp`
}

/** A p-value as a person reads it: "p = 0.031", "p < 0.001". */
export const pText = (p: number | null | undefined): string =>
  p === null || p === undefined || !Number.isFinite(p) ? '—' : p < 0.001 ? '< 0.001' : p.toFixed(3)

/** "1 of 2 at chance; 1 of 2 still improving at its last epoch", or null when all is well. */
export function healthWords(g: Pick<ComparisonGroup, 'health' | 'runIds'>): string | null {
  const total = g.runIds.length
  const parts: string[] = []
  if (g.health.chance > 0) parts.push(`${g.health.chance} of ${total} at chance`)
  if (g.health.notConverged > 0) {
    parts.push(`${g.health.notConverged} of ${total} still improving at the last epoch`)
  }
  return parts.length > 0 ? parts.join('; ') : null
}

/** "averages over fcFrom" for a group that mixes fields; null for one that does not. */
export const mixesWords = (g: Pick<ComparisonGroup, 'mixes'>): string | null =>
  g.mixes.length > 0 ? `averages over ${g.mixes.map(shortField).join(', ')}` : null

/** The sentence stating the seed-to-seed noise of a comparison. */
export function noiseWords(c: Pick<Comparison, 'noise'>): string {
  const { noise } = c
  if (!noise) {
    return 'Seed-to-seed noise: not estimated (no group has two or more seeds of one setting): add seeds to tell differences from noise.'
  }
  return `Seed-to-seed noise: the final test accuracy of one setting varies by ${pp(noise.std)} (pooled standard deviation over ${noise.n} runs in ${noise.groups} group${noise.groups === 1 ? '' : 's'}, ${noise.df} degree${noise.df === 1 ? '' : 's'} of freedom).`
}

/** One comparison in words: "+8.15 pp [−190.1, +206.4] pp, paired, Holm p = 1.000: within seed noise". */
export function comparisonWords(c: GroupComparison): string {
  const test = c.paired ? 'paired by seed' : 'Welch'
  if (c.pAdjusted === null) return `${ppSigned(c.diff)}: ${c.note ?? VERDICT_WORDS[c.verdict]}`
  const note = c.note ? `; ${c.note}` : ''
  return `${ppSigned(c.diff)}, 95% CI ${ppInterval(c.ci95)} (${test}, Holm-adjusted p ${pText(c.pAdjusted)}${note}): ${VERDICT_WORDS[c.verdict]}`
}
