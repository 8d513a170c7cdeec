/** A run's files the store knows of: checkpoints, the final model, exports. */
import { toArtifact, type Artifact, type NewArtifact } from './artifacts'
import type { StoreContext } from './context'

export class ArtifactStore {
  private readonly sql: StoreContext['sql']

  constructor(private readonly ctx: StoreContext) {
    this.sql = ctx.sql
  }

  addArtifact(runId: string, artifact: NewArtifact): Artifact[] {
    return this.ctx.write(() => {
      this.ctx.requireRow(runId)
      this.sql.artifacts.upsert.run(
        runId,
        artifact.kind,
        artifact.path,
        artifact.bytes ?? null,
        this.ctx.now(),
        artifact.epoch ?? null,
      )
      return this.sql.artifacts.forRun.all(runId).map(toArtifact)
    })
  }

  artifacts(runId: string): Artifact[] {
    return this.ctx.guard(() =>
      this.sql.artifacts.forRun.all(this.ctx.dataId(runId)).map(toArtifact),
    )
  }
}
