import { join } from 'node:path'
import Database from 'better-sqlite3'

/** Rows of one query against a data folder's `nin-lab.db`, opened read-only for just that query. */
export function queryDataDir<T>(dataDir: string, sql: string, ...params: unknown[]): T[] {
  const conn = new Database(join(dataDir, 'nin-lab.db'), { readonly: true })
  try {
    return conn.prepare(sql).all(...params) as T[]
  } finally {
    conn.close()
  }
}
