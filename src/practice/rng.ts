/**
 * The drills' only source of randomness: a small seeded generator
 * (mulberry32, public domain), so `practice TOPIC --seed N` prints the same
 * drill on every machine and in every release that keeps this file. A
 * drill's seed is a u32; everything it shows is derived from it.
 */
export class Rng {
  private s: number;
  constructor(seed: number, salt = 0) {
    // Mix the topic's salt in so two topics with the same seed differ.
    this.s = (seed ^ Math.imul(salt + 0x9e3779b9, 0x85ebca6b)) >>> 0;
  }
  /** A uniform u32. */
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** An integer in [lo, hi] (both inclusive; hi - lo < 2^32). */
  int(lo: number, hi: number): number {
    return lo + (this.u32() % (hi - lo + 1));
  }
  /** A bigint of `bits` random bits (0 <= bits <= 64). */
  bits(bits: number): bigint {
    let v = 0n;
    for (let got = 0; got < bits; got += 32) v = (v << 32n) | BigInt(this.u32());
    return bits >= 64 ? BigInt.asUintN(64, v) : v & ((1n << BigInt(bits)) - 1n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length - 1)]!;
  }
  /** True with probability num/den. */
  chance(num: number, den: number): boolean {
    return this.int(0, den - 1) < num;
  }
}

/** A salt per topic name (FNV-1a), so seeds stay stable when topics are added. */
export function topicSalt(topic: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < topic.length; i++) h = Math.imul(h ^ topic.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
