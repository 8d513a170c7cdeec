/** A Redis URL given on the command line, checked before anything connects. */
import { redisOptions } from '@core/queue/redis'
import { UsageError } from './errors'

export function checkRedisUrl(url: string): void {
  try {
    redisOptions(url)
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}
