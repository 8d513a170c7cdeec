/**
 * CSV exports: a summary with one row per run, the ablation's groups with their statistics, and
 * the metrics in long format (one row per point: run, name, metric, step, epoch, time, value) —
 * the shapes pandas and R read directly.
 */
import type { Report } from '@shared/report'
import { csvCell } from './text'

const line = (cells: readonly unknown[]): string => cells.map(csvCell).join(',')

export function runsCsv(report: Report): string {
  const fields = report.configDiff.map((d) => d.path)
  const header = [
    'run_id',
    'name',
    'experiment',
    'status',
    'engine',
    'backend',
    'precision',
    'params',
    'macs',
    'train_memory_bytes',
    'prediction_memory_bytes',
    'seconds_per_epoch',
    'final_test_acc',
    'health',
    'health_reason',
    'best_test_acc',
    'epochs',
    'tags',
    'notes',
    ...fields,
  ]
  const rows = report.runs.map((r, i) => [
    r.id,
    r.name,
    r.experiment,
    r.status,
    r.engine,
    r.backend,
    r.precision,
    r.params,
    r.macs,
    r.trainMemoryBytes,
    r.predictionMemoryBytes,
    r.secondsPerEpoch,
    r.finalTestAcc,
    r.health?.status ?? null,
    r.health?.reason ?? null,
    r.bestTestAcc,
    r.epochs.length,
    r.tags.join(';'),
    r.notes,
    ...report.configDiff.map((d) => d.values[i]),
  ])
  return [line(header), ...rows.map(line)].join('\r\n') + '\r\n'
}

/**
 * One row per group of the ablation: its key, size, caveats, accuracy statistics and, except for
 * the baseline, the difference from it. Wall-clock seconds per epoch come from different
 * sittings: a description, never compared.
 */
export function groupsCsv(report: Report): string {
  const { comparison: c, costs } = report.ablation
  const byGroup = new Map(c.comparisons.map((x) => [x.otherIndex, x]))
  const header = [
    ...c.by,
    'runs',
    'n',
    'mixes',
    'at_chance',
    'not_converged',
    'final_test_acc_mean',
    'final_test_acc_std',
    'final_test_acc_ci95_low',
    'final_test_acc_ci95_high',
    'baseline',
    'diff',
    'diff_ci95_low',
    'diff_ci95_high',
    'paired',
    'p',
    'p_holm',
    'verdict',
    'wall_clock_seconds_per_epoch',
  ]
  const rows = c.groups.map((g, i) => {
    const x = byGroup.get(i)
    const s = g.finalTestAcc
    return [
      ...c.by.map((f) => (Object.hasOwn(g.key, f) ? g.key[f] : null)),
      g.runIds.length,
      g.n,
      g.mixes.join(';'),
      g.health.chance,
      g.health.notConverged,
      s.mean,
      s.std,
      s.ci95?.[0] ?? null,
      s.ci95?.[1] ?? null,
      i === c.baselineIndex,
      x?.diff ?? null,
      x?.ci95?.[0] ?? null,
      x?.ci95?.[1] ?? null,
      x ? x.paired : null,
      x?.p ?? null,
      x?.pAdjusted ?? null,
      x?.verdict ?? null,
      costs[i]?.wallClockSecondsPerEpoch.mean ?? null,
    ]
  })
  return [line(header), ...rows.map(line)].join('\r\n') + '\r\n'
}

export function metricsCsv(report: Report): string {
  const out = [line(['run_id', 'name', 'metric', 'step', 'epoch', 'time', 'value'])]
  for (const run of report.runs) {
    for (const [metric, points] of Object.entries(run.metrics)) {
      // Unix ms as ISO time; NaN values (a diverged loss) stay recognisable as NaN.
      for (const p of points) {
        out.push(
          line([
            run.id,
            run.name,
            metric,
            p.step,
            p.epoch,
            new Date(p.time).toISOString(),
            p.value,
          ]),
        )
      }
    }
  }
  return out.join('\r\n') + '\r\n'
}
