/**
 * A small seeded random generator (mulberry32) whose whole state is one 32-bit integer,
 * so a checkpoint can store "the RNG position" exactly and a resumed run draws the same
 * numbers it would have drawn without the interruption. Not for cryptography.
 */
export class SeededRandom {
  private state: number

  constructor(seed: number) {
    // Mix the seed so that seeds 0, 1, 2 ... start far apart.
    this.state = (Math.imul(seed >>> 0, 0x9e3779b1) ^ 0x85ebca6b) >>> 0
  }

  /** The generator's position; `SeededRandom.fromState(s)` continues from it. */
  getState(): number {
    return this.state
  }

  static fromState(state: number): SeededRandom {
    const rng = new SeededRandom(0)
    rng.state = state >>> 0
    return rng
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  /** Fisher–Yates shuffle in place; returns the same array. */
  shuffle<T extends { length: number; [i: number]: unknown }>(items: T): T {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const tmp = items[i]
      items[i] = items[j]
      items[j] = tmp
    }
    return items
  }
}
