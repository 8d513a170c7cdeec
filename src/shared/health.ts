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
