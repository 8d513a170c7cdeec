/**
 * An exercise's answer from its finished runs: the table that answers it (per variant n, mean ±
 * std and 95% CI of final test accuracy; each variant against the baseline with the difference's
 * 95% CI, paired by seed where both share seeds, Holm-adjusted, and a verdict), the health caveats,
 * and conclusions written from those numbers. The statistics are `./statistics`; this module only
 * groups runs by variant and puts the numbers into words. Shared by the core (API, CLI, reports)
 * and the app's answer card.
 */
import type { Run } from './api/types'
import { differingFields } from './config-diff'
import {
  analyticRows,
  exerciseExperiment,
  scaleNotes,
  SCALE_PRESETS,
  variantConfig,
  variantOfConfig,
  type AnalyticRow,
  type Exercise,
  type ExerciseScale,
} from './exercises'
import type { RunHealth } from './health'
import {
  holm,
  pairedDifference,
  summarize,
  verdict,
  VERDICT_TEXT,
  welchDifference,
  type Interval,
  type Summary,
  type Verdict,
} from './statistics'

export interface AnswerGroup {
  readonly variant: string
  readonly label: string
  /** Every run of the variant in the experiment, finished or not. */
  readonly runIds: readonly string[]
  /** Final test accuracy over the completed runs (fractions, not percent). */
  readonly finalTestAcc: Summary
  /** Runs not finished yet (queued, running, interrupted) and runs that failed. */
  readonly open: number
  readonly failed: number
  readonly health: { readonly chance: number; readonly notConverged: number }
  /** Most further epochs any of its unconverged runs is estimated to need, or null. */
  readonly moreEpochs: number | null
  /** Config fields (other than name and seed) that differ between its runs: a mixed group. */
  readonly mixes: readonly string[]
}

export interface AnswerComparison {
  readonly variant: string
  readonly label: string
  readonly baseline: string
  /** mean(variant) − mean(baseline), a fraction (×100 for pp). */
  readonly diff: number | null
  readonly ci95: Interval | null
  readonly paired: boolean
  readonly pAdjusted: number | null
  readonly verdict: Verdict
}

/** Peak memory the engine measured for one training step and one prediction (exercise 4). */
export interface MeasuredMemory {
  readonly engine: string
  readonly backend: string
  /** What the peaks are: `tf.memory()` tensor bytes, the CUDA allocator, or the process RSS. */
  readonly source: 'tfjs-tensors' | 'cuda-allocator' | 'rss'
  readonly batchSize: number
  readonly inputSize: number
  readonly trainPeakBytes: number
  readonly predictPeakBytes: number
  /** What the cost model counts for the same config (batch, input, precision). */
  readonly counted: {
    readonly trainBytes: number
    readonly predictBytes: number
    /** PyTorch's int64 max-pool indices for the backward pass, which the count leaves out. */
    readonly maxPoolIndexBytes: number
  }
}

export interface ExerciseAnswer {
  readonly exercise: number
  readonly title: string
  readonly question: string
  readonly scale: ExerciseScale
  readonly preset: string
  readonly experiment: string
  readonly baseline: string
  readonly runs: { readonly total: number; readonly completed: number; readonly open: number }
  readonly groups: readonly AnswerGroup[]
  readonly comparisons: readonly AnswerComparison[]
  /** The seed-to-seed std of final test accuracy, pooled over groups with ≥ 2 runs. */
  readonly noise: number | null
  readonly caveats: readonly string[]
  readonly conclusions: readonly string[]
  readonly scaleNotes: readonly string[]
  readonly analytic: {
    readonly scale: readonly AnalyticRow[]
    readonly d2l: readonly AnalyticRow[]
  }
  readonly memory: MeasuredMemory | null
}

const OPEN_STATES = new Set(['queued', 'running', 'interrupted'])

/** A run's health; a run from an older store may lack it (as the report's healthOf allows). */
const healthOf = (run: Run): RunHealth | null => (run.health as RunHealth | undefined) ?? null

const pp = (x: number): string => `${(x * 100).toFixed(1)} pp`
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`
const ciText = (ci: Interval): string =>
  `${(ci[0] * 100).toFixed(1)} to ${(ci[1] * 100).toFixed(1)}`

function groupOf(variant: { key: string; label: string }, runs: readonly Run[]): AnswerGroup {
  const done = runs.filter((r) => r.status === 'completed' && r.finalTestAcc !== null)
  const health = done.map(healthOf)
  const more = health.flatMap((h) => (h?.moreEpochs != null ? [h.moreEpochs] : []))
  const mixes = differingFields(
    runs.map((r) => r.config),
    ['name', 'train.seed'],
  ).map((d) => d.path)
  return {
    variant: variant.key,
    label: variant.label,
    runIds: runs.map((r) => r.id),
    finalTestAcc: summarize(done.map((r) => r.finalTestAcc ?? 0)),
    open: runs.filter((r) => OPEN_STATES.has(r.status)).length,
    failed: runs.filter((r) => ['failed', 'diverged', 'cancelled'].includes(r.status)).length,
    health: {
      chance: health.filter((h) => h?.status === 'chance').length,
      notConverged: health.filter((h) => h?.status === 'not-converged').length,
    },
    moreEpochs: more.length > 0 ? Math.max(...more) : null,
    mixes,
  }
}

/** Final accuracies by seed of a group's completed runs. */
function bySeed(runs: readonly Run[]): Map<number, number> {
  const out = new Map<number, number>()
  for (const r of runs) {
    if (r.status === 'completed' && r.finalTestAcc !== null)
      out.set(r.config.train.seed, r.finalTestAcc)
  }
  return out
}

/**
 * Each variant against the baseline: paired by seed when both have the same seeds (at least two,
 * and the exercise varies nothing else), else Welch; p-values Holm-adjusted over the table.
 */
function compareToBaseline(
  groups: readonly AnswerGroup[],
  runsOf: ReadonlyMap<string, readonly Run[]>,
  baseline: string,
): AnswerComparison[] {
  const base = bySeed(runsOf.get(baseline) ?? [])
  const raw = groups
    .filter((g) => g.variant !== baseline)
    .map((g) => {
      const other = bySeed(runsOf.get(g.variant) ?? [])
      const seeds = [...other.keys()].sort((a, b) => a - b)
      const paired =
        seeds.length >= 2 &&
        seeds.length === base.size &&
        seeds.every((s) => base.has(s)) &&
        g.mixes.length === 0
      const d = paired
        ? pairedDifference(
            seeds.map((s) => other.get(s) ?? 0),
            seeds.map((s) => base.get(s) ?? 0),
          )
        : welchDifference([...other.values()], [...base.values()])
      return { g, d, paired }
    })
  const adjusted = holm(raw.map((r) => r.d.p))
  return raw.map(({ g, d, paired }, i) => ({
    variant: g.variant,
    label: g.label,
    baseline,
    diff: d.diff,
    ci95: d.ci95,
    paired,
    pAdjusted: adjusted[i] ?? null,
    verdict: verdict(adjusted[i] ?? null),
  }))
}

/** The within-group std pooled over groups of at least two runs (√ of the df-weighted variances). */
function pooledNoise(groups: readonly AnswerGroup[]): number | null {
  let ss = 0
  let df = 0
  for (const g of groups) {
    const { n, std } = g.finalTestAcc
    if (std === null || n < 2) continue
    ss += (n - 1) * std * std
    df += n - 1
  }
  return df > 0 ? Math.sqrt(ss / df) : null
}

export function answerExercise(
  ex: Exercise,
  scale: ExerciseScale,
  runs: readonly Run[],
  memory: MeasuredMemory | null = null,
): ExerciseAnswer {
  const variants = ex.variants(scale)
  const runsOf = new Map<string, Run[]>(variants.map((v) => [v.key, []]))
  let unmatched = 0
  for (const run of runs) {
    const v = variantOfConfig(ex, scale, run.config)
    if (v) runsOf.get(v.key)?.push(run)
    else unmatched++
  }
  const groups = variants.map((v) => groupOf(v, runsOf.get(v.key) ?? []))
  const comparisons = compareToBaseline(groups, runsOf, ex.baseline)
  const noise = pooledNoise(groups)
  const completed = groups.reduce((n, g) => n + g.finalTestAcc.n, 0)
  const open = groups.reduce((n, g) => n + g.open, 0)
  const facts = { ex, scale, groups, comparisons, noise, completed, open, unmatched, memory, runs }
  return {
    exercise: ex.id,
    title: ex.title,
    question: ex.question,
    scale,
    preset: SCALE_PRESETS[scale],
    experiment: exerciseExperiment(ex, scale),
    baseline: ex.baseline,
    runs: { total: runs.length, completed, open },
    groups,
    comparisons,
    noise,
    caveats: caveats(facts),
    conclusions: conclusions(facts),
    scaleNotes: scaleNotes(ex, scale),
    analytic: { scale: analyticRows(ex, scale), d2l: analyticRows(ex, '224') },
    memory,
  }
}

interface Facts {
  readonly ex: Exercise
  readonly scale: ExerciseScale
  readonly groups: readonly AnswerGroup[]
  readonly comparisons: readonly AnswerComparison[]
  readonly noise: number | null
  readonly completed: number
  readonly open: number
  readonly unmatched: number
  readonly memory: MeasuredMemory | null
  readonly runs: readonly Run[]
}

function caveats(f: Facts): string[] {
  const out: string[] = []
  const chance = f.groups.reduce((n, g) => n + g.health.chance, 0)
  const slow = f.groups.reduce((n, g) => n + g.health.notConverged, 0)
  if (chance > 0) {
    const where = f.groups
      .filter((g) => g.health.chance > 0)
      .map((g) => `${g.label} ${g.health.chance}`)
    out.push(
      `${chance} of ${f.completed} finished runs ended at chance (${where.join(', ')}): they never left the ln(classes) loss plateau, so their accuracy says how the recipe started, not what the network can reach.`,
    )
  }
  if (slow > 0) {
    const more = Math.max(0, ...f.groups.map((g) => g.moreEpochs ?? 0))
    out.push(
      `${slow} of ${f.completed} finished runs had not converged (test accuracy still rising at the last epoch${more > 0 ? `; about ${more} more epoch${more === 1 ? '' : 's'}` : ''}): the ranking reflects how fast each variant leaves the plateau, not what it can reach.`,
    )
  }
  if (f.open > 0) out.push(`${f.open} runs are still queued or training: the numbers will change.`)
  const failed = f.groups.reduce((n, g) => n + g.failed, 0)
  if (failed > 0) out.push(`${failed} runs failed, diverged or were cancelled and are left out.`)
  for (const g of f.groups.filter((x) => x.mixes.length > 0)) {
    out.push(
      `${g.label} mixes runs whose configs differ in ${g.mixes.join(', ')} (queued with different --set): its mean averages different setups.`,
    )
  }
  if (f.unmatched > 0) {
    out.push(
      `${f.unmatched} runs in the experiment match no variant of this exercise and are left out.`,
    )
  }
  const overrides = overrideNote(f)
  if (overrides) out.push(overrides)
  if (f.scale !== '224') {
    out.push(
      `Trained at ${SCALE_PRESETS[f.scale]}, not at d2l’s scale: see what the scale changes; the cost table gives d2l’s numbers too.`,
    )
  }
  return out
}

/**
 * The fields in which the study's runs differ from its defaults at this scale (queued with
 * --set or the page's overrides), or null: the scale notes describe the defaults.
 */
function overrideNote(f: Facts): string | null {
  const variant = f.ex.variants(f.scale).find((v) => v.key === f.ex.baseline)
  const run = f.runs.find((r) => variantOfConfig(f.ex, f.scale, r.config)?.key === variant?.key)
  if (!variant || !run) return null
  const defaults = variantConfig(f.scale, variant)
  const diffs = differingFields([defaults, run.config], ['name', 'train.seed'])
  if (diffs.length === 0) return null
  const text = diffs
    .map((d) => `${d.path} ${JSON.stringify(d.values[1])} (default ${JSON.stringify(d.values[0])})`)
    .join(', ')
  return `The runs were queued with overrides: ${text}; the scale notes and costs describe the defaults.`
}

/** One sentence per comparison, from its numbers and verdict. */
function comparisonSentence(c: AnswerComparison, base: string, noise: number | null): string {
  const noiseText = noise === null ? '' : `seed noise std ${pp(noise)}`
  if (c.diff === null) return `${c.label}: no finished runs to compare with ${base} yet.`
  const direction = c.diff >= 0 ? 'beats' : 'trails'
  const amount = pp(Math.abs(c.diff))
  const method = c.paired ? 'paired by seed' : 'Welch'
  if (c.verdict === 'no-estimate' || c.ci95 === null) {
    return `${c.label} ${direction} ${base} by ${amount} on one seed: ${VERDICT_TEXT['no-estimate']}.`
  }
  const interval = `95% CI ${ciText(c.ci95)} pp, ${method}`
  if (c.verdict === 'larger-than-noise') {
    return `${c.label} ${direction} ${base} by ${amount} (${interval}), larger than seed noise${noiseText ? ` (${noiseText})` : ''}.`
  }
  // The interval is per comparison; the verdict uses p adjusted for every comparison of the table.
  const excludesZero = c.ci95[0] > 0 || c.ci95[1] < 0
  const holmNote =
    excludesZero && c.pAdjusted !== null
      ? `; the interval alone excludes 0, but adjusted for the table’s comparisons (Holm) p = ${c.pAdjusted.toPrecision(2)}`
      : ''
  return `${c.label} vs ${base}: ${c.diff >= 0 ? '+' : '−'}${amount} (${interval}), within seed noise${noiseText ? ` (${noiseText})` : ''}${holmNote}: these runs cannot tell them apart.`
}

function conclusions(f: Facts): string[] {
  const out: string[] = []
  const base = f.groups.find((g) => g.variant === f.ex.baseline)
  if (f.completed === 0) {
    out.push('No run has finished yet: queue the study, or wait for it.')
    return [...out, ...costConclusions(f)]
  }
  const ranked = f.groups
    .filter((g) => g.finalTestAcc.mean !== null)
    .sort((a, b) => (b.finalTestAcc.mean ?? 0) - (a.finalTestAcc.mean ?? 0))
  const best = ranked[0]
  if (best?.finalTestAcc.mean != null) {
    // The top mean is only a finding when the comparisons that involve it exceed the noise.
    const involved = f.comparisons.filter(
      (c) => best.variant === f.ex.baseline || c.variant === best.variant,
    )
    const clear = involved.some((c) => c.verdict === 'larger-than-noise')
    out.push(
      `Highest mean final test accuracy: ${best.label}, ${pct(best.finalTestAcc.mean)} over ${best.finalTestAcc.n} run${best.finalTestAcc.n === 1 ? '' : 's'}` +
        (clear ? '.' : ', not told apart from the baseline by these runs (see below).'),
    )
  }
  for (const c of f.comparisons) out.push(comparisonSentence(c, base?.label ?? c.baseline, f.noise))
  const within = f.comparisons.filter((c) => c.verdict === 'within-noise').length
  if (within > 0 && within === f.comparisons.length) {
    out.push(
      'No variant differs from the baseline by more than the seed noise: add seeds or epochs before ranking them.',
    )
  }
  return [...out, ...costConclusions(f)]
}

/** What each variant costs against the baseline, at d2l's scale (from the layer tables). */
function costConclusions(f: Facts): string[] {
  const out: string[] = []
  const d2l = analyticRows(f.ex, '224')
  const base = d2l.find((r) => r.variant === f.ex.baseline)
  if (!base) return out
  if (f.ex.measuresMemory && f.memory) out.push(...memoryConclusions(f.memory))
  if (d2l.length === 1) {
    out.push(
      `At d2l’s scale the network has ${base.params.toLocaleString('en-US')} parameters and ${(base.macs / 1e6).toFixed(1)} M MACs per image; the count says training at batch ${base.batchSize} needs ${mib(base.trainMemoryBytes)} and prediction ${mib(base.predictMemoryBytes)} (${mib(base.predictMemoryPerImageBytes)} for one image). The count leaves out what an engine keeps besides activations: PyTorch’s max pooling saves int64 argmax indices, ${mib(base.maxPoolIndexBytes)} at batch ${base.batchSize}.`,
    )
  }
  return out
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(2)} MiB`

function memoryConclusions(m: MeasuredMemory): string[] {
  const c = m.counted
  const what =
    m.source === 'tfjs-tensors'
      ? 'tensor bytes tf.memory() reported'
      : m.source === 'cuda-allocator'
        ? 'the CUDA allocator’s peak'
        : 'the process’s peak resident memory above what it held before the model was built (an upper bound: allocator caching included)'
  const out = [
    `Measured on ${m.engine} (${m.backend}) at ${m.inputSize} px, batch ${m.batchSize}: training peaked at ${mib(m.trainPeakBytes)} against ${mib(c.trainBytes)} counted (×${(m.trainPeakBytes / c.trainBytes).toFixed(2)}), prediction at ${mib(m.predictPeakBytes)} against ${mib(c.predictBytes)} (×${(m.predictPeakBytes / c.predictBytes).toFixed(2)}); the figures are ${what}.`,
  ]
  if (m.engine === 'torch') {
    out.push(
      `PyTorch’s max pooling also keeps int64 argmax indices for the backward pass, ${mib(c.maxPoolIndexBytes)} here, which the count leaves out.`,
    )
  } else {
    out.push(
      'TensorFlow.js frees a forward pass’s intermediate tensors only when the whole pass ends (the network’s forward runs in one tf.tidy), so prediction holds every layer’s output at once where the count assumes only the largest input + output pair; in training the gradient tape and the gradients’ temporaries add to the activations the count keeps.',
    )
  }
  return out
}
