/**
 * Shared pieces of the fleet tests (tests/integration/fleet*.test.ts): the head's fleet key, made
 * before any worker starts, and the arguments that hand a worker its copy of it.
 */
import { fleetKeyPath, loadFleetKey } from '@core/queue/fleet-key'

/** Makes the head's fleet key (as `nin-lab key show --fleet` does) and returns it. */
export function makeFleetKey(head: string): string {
  return loadFleetKey(head).key
}

/** A worker's arguments for the head's key: a file path, never the key itself. */
export const fleetKeyArgs = (head: string): string[] => ['--fleet-key-file', fleetKeyPath(head)]
