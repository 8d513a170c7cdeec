/**
 * CSV exports: a summary with one row per run, and the metrics in long format (one row per
 * point: run, name, metric, step, epoch, time, value) — the shape pandas and R read directly.
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
    r.bestTestAcc,
    r.epochs.length,
    r.tags.join(';'),
    r.notes,
    ...report.configDiff.map((d) => d.values[i]),
  ])
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
