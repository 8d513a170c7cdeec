/**
 * The part of a better-sqlite3 prepared statement the table modules use, as a named type: the
 * library's own Statement type lives in a namespace its typings do not export, so statement
 * objects inferred from `db.prepare` cannot appear in declarations (tsc composite builds).
 */
import type Database from 'better-sqlite3'

export interface Statement<P extends unknown[] = [], R = unknown> {
  run(...params: P): Database.RunResult
  get(...params: P): R | undefined
  all(...params: P): R[]
}

/** A prepared statement taking `P` (a tuple; `[{...}]` for named parameters) giving rows `R`. */
export const prepare = <P extends unknown[] = [], R = unknown>(
  db: Database.Database,
  sql: string,
): Statement<P, R> => db.prepare<P, R>(sql)

/** Like prepare, for a query whose rows are their first column's value (`R`). */
export const preparePluck = <P extends unknown[], R>(
  db: Database.Database,
  sql: string,
): Statement<P, R> => db.prepare<P, R>(sql).pluck()
