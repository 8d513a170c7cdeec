/**
 * Run health: whether a run's final numbers can answer a question at all. A run stuck at chance
 * (loss ≈ ln(numClasses), accuracy ≈ 1/numClasses) or one still improving steeply at its last
 * epoch says something about how fast a variant starts to learn, not what it can reach; every
 * view, table and report shows these caveats next to the numbers they affect.
 *
 * The contract shared by the store (which computes and keeps it as epochs arrive), the API's
 * `Run.health`, the comparison statistics (groups count chance and unconverged runs) and the
 * views' badges.
 */
export const HEALTH_STATUSES = ['ok', 'chance', 'not-converged', 'pending'] as const
/**
 * `pending`: no finished epoch yet to judge by; `chance`: at the chance level (the margins and
 * why are beside the classifier); `not-converged`: test accuracy still rising at the last epoch
 * by more than the noise; `ok`: neither.
 */
export type HealthStatus = (typeof HEALTH_STATUSES)[number]

export interface RunHealth {
  readonly status: HealthStatus
  /** One sentence a person can act on, e.g. "test accuracy 10.0% = chance (1/10) …". */
  readonly reason: string
  /** For `not-converged`: an estimate of how many more epochs it needs; otherwise null. */
  readonly moreEpochs: number | null
}

/** What the classifier reads of one finished epoch (an `EpochSummary` has these). */
export interface HealthEpoch {
  readonly epoch: number
  readonly trainLoss: number
  /** At the epoch's end: where the network is now (the train loss averages the whole epoch). */
  readonly testLoss: number
  readonly testAcc: number
}

export interface HealthInput {
  /** The run's epochs in order (a resumed run's replaced epochs already dropped). */
  readonly epochs: readonly HealthEpoch[]
  /** model.numClasses: chance is loss ln(K) and accuracy 1/K. */
  readonly numClasses: number
  /** train.epochs: a run that has not reached it (and still trains) is not judged converged. */
  readonly plannedEpochs: number
  /** Whether the run has ended (any final status): its last epoch is its last. */
  readonly ended: boolean
  /** Test images each epoch is evaluated on (the started message's), for the noise; null: unknown. */
  readonly testCount: number | null
}

/**
 * The chance margins, measured (docs/health.md): every epoch of the runs stuck on the plateau
 * (PyTorch, 64 px or 28 px, Fashion-MNIST subsets of 3,000 / 1,000 images) ended with a mean train
 * loss within 0.0006 of ln 10, a test loss within 0.0009, and test accuracy 10.0–14.6% (one class
 * predicted, drifting). The runs that learned were ≥ 0.017 (train) and ≥ 0.115 (test) below ln 10
 * after their first epoch — except nin-c with a 1×1 class conv, which left the plateau late in its
 * first epoch: train loss 0.0010 below (the epoch's mean still reads plateau), test loss 0.0116
 * below, then 29.7% after epoch 2. Both losses must lie within 0.2% of ln K (0.0046 for K = 10):
 * 5× the plateau's largest deviation, 2.5× below that late leaver's test loss (a learning run
 * called chance would be stopped by onChance: stop, so the margin leans that way). Accuracy is a
 * guard beside them: at most 2/K (20% for K = 10). All scale with K, so CIFAR-100
 * (ln 100 = 4.61, chance 1%) is judged alike; all three must hold.
 */
export const CHANCE_LOSS_MARGIN = 0.002 // relative to ln(K): ±0.0046 for K = 10
export const CHANCE_ACC_MARGIN = 1 // relative to 1/K: up to 2/K, 20% for K = 10

/**
 * The per-epoch gain in test accuracy that counts as still improving: twice the standard error
 * of a difference of two accuracies measured on `testCount` images (binomial), and never below
 * half a percentage point (what two evaluations of a converged run differ by in practice).
 */
export const MIN_GAIN = 0.005

export function gainNoise(acc: number, testCount: number | null): number {
  if (testCount === null || testCount <= 0) return MIN_GAIN
  const p = Math.min(Math.max(acc, 0.01), 0.99)
  return Math.max(MIN_GAIN, 2 * Math.sqrt((2 * p * (1 - p)) / testCount))
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`

/** Whether one epoch sits at chance: train loss ≈ ln(K) and test accuracy ≈ 1/K. */
export function atChance(e: HealthEpoch, numClasses: number): boolean {
  const lnK = Math.log(numClasses)
  return (
    Math.abs(e.trainLoss - lnK) <= CHANCE_LOSS_MARGIN * lnK &&
    Math.abs(e.testLoss - lnK) <= CHANCE_LOSS_MARGIN * lnK &&
    e.testAcc <= (1 + CHANCE_ACC_MARGIN) / numClasses
  )
}

export function chanceReason(e: HealthEpoch, numClasses: number): string {
  return (
    `at chance after epoch ${e.epoch}: train loss ${e.trainLoss.toFixed(4)} and test loss ` +
    `${e.testLoss.toFixed(4)} ≈ ln ${numClasses} = ${Math.log(numClasses).toFixed(4)}, test ` +
    `accuracy ${pct(e.testAcc)} ≈ 1/${numClasses}: ` +
    'the network has not started to learn; lower train.lr, or use Adam (lr 0.001–0.002), and retry'
  )
}

/**
 * How many more epochs a run still improving needs. The per-epoch gains of a run leaving its
 * plateau shrink roughly geometrically, so with the last two gains g₁ then g₂ (ratio r = g₂/g₁
 * < 1) the gain falls below the noise n after k = ⌈log(n/g₂) / log r⌉ more epochs. Gains that do
 * not shrink yet (r ≥ 0.9, or one epoch only) give no such fit: then at least as many epochs
 * again as it has trained. Capped at 10× the epochs done: the fit is rough.
 */
export function moreEpochsEstimate(gains: readonly number[], noise: number, done: number): number {
  const g2 = gains[gains.length - 1] ?? 0
  const g1 = gains[gains.length - 2]
  const cap = Math.max(1, 10 * done)
  if (g1 === undefined || g1 <= 0 || g2 / g1 >= 0.9) return Math.min(cap, Math.max(1, done))
  const r = g2 / g1
  return Math.min(cap, Math.max(1, Math.ceil(Math.log(noise / g2) / Math.log(r))))
}

/**
 * A run's health from its epochs (pure; the store calls it whenever an epoch or a final message
 * is stored). The rules:
 * - `pending`: no epoch finished yet;
 * - `chance`: the last epoch's mean train loss within CHANCE_LOSS_MARGIN·ln K of ln K and its
 *   test accuracy at most (1 + CHANCE_ACC_MARGIN)/K — judged live, from the first epoch;
 * - `not-converged`: the run has ended (or done all its epochs) and its test accuracy still rose
 *   in the last epoch by more than the noise (gainNoise); before the first epoch the accuracy
 *   counts as chance (1/K), so a one-epoch run that learned is not converged;
 * - `ok`: neither. A run still training that is not at chance is `pending` ("judged when it
 *   ends"): that it still improves says nothing yet.
 */
export function classifyHealth(input: HealthInput): RunHealth {
  const { epochs, numClasses } = input
  const last = epochs[epochs.length - 1]
  if (last === undefined) {
    return { status: 'pending', reason: 'no finished epoch yet to judge by', moreEpochs: null }
  }
  if (atChance(last, numClasses)) {
    return { status: 'chance', reason: chanceReason(last, numClasses), moreEpochs: null }
  }
  const done = epochs.length
  if (!input.ended && last.epoch < input.plannedEpochs) {
    return {
      status: 'pending',
      reason: `training: epoch ${last.epoch} of ${input.plannedEpochs}, not at chance; judged when it ends`,
      moreEpochs: null,
    }
  }
  const accs = [1 / numClasses, ...epochs.map((e) => e.testAcc)]
  const gains = accs.slice(1).map((a, i) => a - (accs[i] ?? 0))
  const gain = gains[gains.length - 1] ?? 0
  const noise = gainNoise(last.testAcc, input.testCount)
  if (gain > noise) {
    const more = moreEpochsEstimate(gains, noise, done)
    return {
      status: 'not-converged',
      reason:
        `test accuracy still rose ${(gain * 100).toFixed(1)} pp in epoch ${last.epoch} ` +
        `(noise ±${(noise * 100).toFixed(1)} pp): its final ${pct(last.testAcc)} says how fast it ` +
        `learns, not what it can reach; train about ${more} more epoch${more === 1 ? '' : 's'} ` +
        '(train.epochs) to compare end points',
      moreEpochs: more,
    }
  }
  return {
    status: 'ok',
    reason: `test accuracy ${pct(last.testAcc)}, changing by ${(gain * 100).toFixed(1)} pp in its last epoch (within the noise ±${(noise * 100).toFixed(1)} pp)`,
    moreEpochs: null,
  }
}

/** Words for a badge. */
export const HEALTH_LABELS: Readonly<Record<HealthStatus, string>> = {
  ok: 'healthy',
  chance: 'at chance',
  'not-converged': 'not converged',
  pending: 'not judged yet',
}
