/**
 * d2l §8.3's exercises as studies, behind the API: what a study would queue and how long it
 * would take here (`exerciseStudy`), queueing it into its experiment (`queueExercise`), and its
 * answer from that experiment's runs (`exerciseAnswer`). What each exercise is and how its answer
 * is worded live in src/shared/exercises.ts and src/shared/exercise-answer.ts; this module only
 * joins them to the store, the time estimates and the engine's memory measurement.
 */
import { ApiError, type ExerciseStudy, type Params, type Result } from '@shared/api/contract'
import type { Run } from '@shared/api/types'
import { ConfigError } from '@shared/config/experiment'
import { parseOverride, type Override } from '@shared/config/overrides'
import type { ConfigIssue } from '@shared/config/schema'
import { answerExercise, type ExerciseAnswer, type MeasuredMemory } from '@shared/exercise-answer'
import {
  analyticRow,
  DEFAULT_SEEDS,
  exerciseById,
  exerciseExperiment,
  exerciseRuns,
  EXERCISES,
  type Exercise,
  type ExerciseScale,
} from '@shared/exercises'
import type { Estimates } from './estimates'
import { reportFiles } from './reports/files'
import type { RunStore } from './store'

function exerciseOf(id: number): Exercise {
  const ex = exerciseById(id)
  if (!ex) {
    throw new ApiError(
      'not-found',
      `no exercise ${id}: the exercises are ${EXERCISES.map((e) => e.id).join(', ')} (nin-lab exercise list)`,
    )
  }
  return ex
}

/** `--set PATH=VALUE` texts as overrides; every bad one is reported at once. */
function overridesOf(sets: readonly string[] | undefined): Override[] {
  const parsed = (sets ?? []).map(parseOverride)
  const bad = parsed.filter((o): o is ConfigIssue => 'message' in o)
  if (bad.length > 0) throw new ConfigError(bad, 'set')
  return parsed.filter((o): o is Override => !('message' in o))
}

type StudyParams = Params<'exerciseStudy'>

export class ExerciseStudies {
  constructor(
    private readonly store: RunStore,
    private readonly estimates: Estimates,
  ) {}

  private plan(p: StudyParams) {
    const ex = exerciseOf(p.exercise)
    const scale = p.scale as ExerciseScale
    const seeds = p.seeds ?? DEFAULT_SEEDS
    return { ex, scale, seeds, plan: exerciseRuns(ex, scale, seeds, overridesOf(p.set)) }
  }

  /**
   * What queueing the study would add, and how long it would take on this machine: each run's
   * epochs × the estimated seconds per epoch (from earlier runs here, scaled by training FLOPs).
   */
  study(p: StudyParams): ExerciseStudy {
    const { ex, scale, seeds, plan } = this.plan(p)
    const experiment = exerciseExperiment(ex, scale)
    const configs = plan.flatMap((v) => v.configs)
    const have = new Set(this.runsOf(experiment).map((r) => r.configHash))
    const estimates = configs.map((c) => ({ c, e: this.estimates.estimateEpoch(c) }))
    const known = estimates.every(({ e }) => e.secondsPerEpoch !== null)
    const first = estimates[0]?.e
    return {
      exercise: ex.id,
      scale,
      seeds,
      experiment,
      runs: configs.length,
      variants: plan.map((v) => ({
        key: v.variant,
        label: ex.variants(scale).find((x) => x.key === v.variant)?.label ?? v.variant,
        runs: v.configs.length,
      })),
      alreadyInExperiment: have.size,
      estimate: {
        seconds: known
          ? estimates.reduce((s, { c, e }) => s + (e.secondsPerEpoch ?? 0) * c.train.epochs, 0)
          : null,
        basis: first?.basis ?? 'none',
        detail: first
          ? `${first.detail}; ${configs.length} runs × ${configs[0]?.train.epochs ?? 0} epochs, one after another`
          : 'nothing to estimate',
      },
    }
  }

  /**
   * Queues the study's runs into its experiment (runs already there are skipped). With reuse
   * `ask`, `askAboutReuse` is shown the runs a completed run elsewhere already trained (it
   * throws the question); `link` links those instead of training them again.
   */
  queue(
    p: Params<'queueExercise'>,
    askAboutReuse: (matches: ReturnType<RunStore['reusableRuns']>) => void,
  ): { experiment: string; added: Run[]; skipped: number; linked: Run[] } {
    const { ex, scale, plan } = this.plan(p)
    const experiment = exerciseExperiment(ex, scale)
    const configs = plan.flatMap((v) => v.configs)
    const reuse = p.reuse ?? 'train'
    if (reuse === 'ask') askAboutReuse(this.store.reusableRuns(experiment, configs))
    const result = this.store.addRuns(experiment, configs, {
      priority: p.priority,
      reuse: reuse === 'link' ? 'link' : 'train',
    })
    return { experiment, ...result }
  }

  runsOf(experiment: string): Run[] {
    return this.store.listRuns({ experiment })
  }

  /** The answer from the experiment's runs; exercise 4 can also measure memory in the engine. */
  async answer(p: Params<'exerciseAnswer'>): Promise<ExerciseAnswer> {
    const ex = exerciseOf(p.exercise)
    const scale = p.scale as ExerciseScale
    const runs = this.runsOf(exerciseExperiment(ex, scale))
    let memory: MeasuredMemory | null = null
    if (p.measureMemory) {
      if (!ex.measuresMemory) {
        throw new ApiError(
          'invalid-params',
          `measureMemory: exercise ${ex.id} does not measure memory (exercise 4 does)`,
        )
      }
      memory = await this.measureMemory(ex, scale, overridesOf(p.set))
    }
    return answerExercise(ex, scale, runs, memory)
  }

  /** The answer as a report (its table, charts and the runs behind it), in the format asked. */
  async exportAnswer(p: Params<'exportExerciseAnswer'>): Promise<Result<'exportExerciseAnswer'>> {
    const answer = await this.answer({ exercise: p.exercise, scale: p.scale })
    const ids = answer.groups.flatMap((g) => g.runIds)
    if (ids.length === 0) {
      throw new ApiError(
        'illegal-state',
        `${answer.experiment} has no runs yet: queue the study first (nin-lab exercise queue ${p.exercise} --scale ${p.scale})`,
      )
    }
    return reportFiles(
      this.store,
      {
        ids,
        format: p.format,
        title: `d2l §8.3 exercise ${answer.exercise} at ${answer.preset}: ${answer.title}`,
        fileName: p.fileName,
      },
      answer,
    )
  }

  /** Exercise 4: the engine's peaks for the study's config, beside what the model counts. */
  private async measureMemory(
    ex: Exercise,
    scale: ExerciseScale,
    sets: readonly Override[],
  ): Promise<MeasuredMemory | null> {
    const [plan] = exerciseRuns(ex, scale, 1, sets)
    const variant = ex.variants(scale).find((v) => v.key === plan?.variant)
    const config = plan?.configs[0]
    if (!variant || !config) return null
    const measured = await this.estimates.measureMemory(config)
    const counted = analyticRow(variant, config)
    return {
      ...measured,
      counted: {
        trainBytes: counted.trainMemoryBytes,
        predictBytes: counted.predictMemoryBytes,
        maxPoolIndexBytes: counted.maxPoolIndexBytes,
      },
    }
  }
}
