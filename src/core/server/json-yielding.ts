/**
 * `JSON.stringify` for API answers that can be large (10,000 runs added in one call is ~12 MB of
 * JSON, 47–86 ms of one synchronous stringify on a busy 2-core machine): the same text, built a
 * batch of array elements at a time, with the event loop let in between batches so other calls
 * are answered meanwhile (issue 23, item 13: no call held up for more than 100 ms).
 */

/** Array elements stringified between two turns of the event loop. */
export const ELEMENTS_PER_TURN = 500

/** Resolves on the event loop's next turn, after the I/O (other requests) waiting for it. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' &&
  v !== null &&
  !Array.isArray(v) &&
  typeof (v as { toJSON?: unknown }).toJSON !== 'function'

/**
 * The text `JSON.stringify(value)` gives, for plain data (objects, arrays, strings, numbers,
 * booleans, null; `undefined` and functions left out of objects and null in arrays, as
 * JSON.stringify does). Arrays longer than `perTurn` are stringified `perTurn` elements at a
 * time with `pause()` awaited between batches; everything else in one JSON.stringify.
 */
export async function stringifyYielding(
  value: unknown,
  perTurn: number = ELEMENTS_PER_TURN,
  pause: () => Promise<void> = nextTurn,
): Promise<string | undefined> {
  if (Array.isArray(value) && value.length > perTurn) {
    const parts: string[] = []
    for (let i = 0; i < value.length; i += perTurn) {
      if (i > 0) await pause()
      for (const element of value.slice(i, i + perTurn)) {
        parts.push((await stringifyYielding(element, perTurn, pause)) ?? 'null')
      }
    }
    return `[${parts.join(',')}]`
  }
  if (isPlainObject(value) && hasLargeArray(value, perTurn)) {
    const members: string[] = []
    for (const [key, member] of Object.entries(value)) {
      const text = await stringifyYielding(member, perTurn, pause)
      if (text !== undefined) members.push(`${JSON.stringify(key)}:${text}`)
    }
    return `{${members.join(',')}}`
  }
  return JSON.stringify(value) as string | undefined
}

/** Whether an object holds, as a member or a member's member, an array worth splitting. */
function hasLargeArray(value: Record<string, unknown>, perTurn: number, depth = 0): boolean {
  if (depth > 2) return false
  return Object.values(value).some(
    (v) =>
      (Array.isArray(v) && v.length > perTurn) ||
      (isPlainObject(v) && hasLargeArray(v, perTurn, depth + 1)),
  )
}
