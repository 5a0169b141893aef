/**
 * Snapshot support. Every piece of mutable model state that is not
 * physical memory (device registers, queue indices, IOTLBs, the kernel's
 * allocators) implements `Stateful`: it can hand out a deep copy of its
 * state and take one back. Physical memory is journaled instead (see
 * memory.ts), so a snapshot costs what a command touched, not what the
 * machine holds.
 */
export interface Stateful {
  /** A deep copy of the state; must not share mutable objects with the live state. */
  saveState(): unknown;
  restoreState(state: unknown): void;
}

/**
 * Deep copy for plain data (objects, arrays, Maps, Sets, bigints, typed
 * arrays), with structuredClone's result: plain objects come back as plain
 * objects (own enumerable string keys, in order), an object reached twice
 * is copied once (and cycles are kept), and what is not plain data (typed
 * arrays, Dates, class instances) goes to structuredClone itself, as do
 * functions and symbols (which it refuses with the same error). Written
 * out because every command snapshots every component (transactions,
 * undo, look-only checks): for the model's states (arrays of small records,
 * numbers and bigints) this is 2-3x faster than structuredClone, which
 * serializes and parses back (issue 15: a whole lesson --check in <= 1 s).
 * test/machine/clone.test.ts compares the two on random data.
 */
export const clone = <T>(v: T): T => (typeof v === 'object' && v !== null ? (copy(v, new Map()) as T) : primitive(v));

function primitive<T>(v: T): T {
  return typeof v === 'function' || typeof v === 'symbol' ? structuredClone(v) : v;
}

function copy(v: object, seen: Map<object, unknown>): unknown {
  const done = seen.get(v);
  if (done !== undefined) return done;
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto === Array.prototype) {
    const a = v as unknown[];
    const n = a.length;
    const out = new Array<unknown>(n);
    seen.set(v, out);
    for (let i = 0; i < n; i++) {
      if (!(i in a)) continue; // a hole stays a hole
      const x = a[i];
      out[i] = typeof x === 'object' && x !== null ? copy(x, seen) : primitive(x);
    }
    return out;
  }
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = {};
    seen.set(v, out);
    for (const k of Object.keys(v)) {
      const x = (v as Record<string, unknown>)[k];
      out[k] = typeof x === 'object' && x !== null ? copy(x, seen) : primitive(x);
    }
    return out;
  }
  if (proto === Map.prototype) {
    const out = new Map<unknown, unknown>();
    seen.set(v, out);
    for (const [k, x] of v as Map<unknown, unknown>) out.set(typeof k === 'object' && k !== null ? copy(k, seen) : primitive(k), typeof x === 'object' && x !== null ? copy(x, seen) : primitive(x));
    return out;
  }
  if (proto === Set.prototype) {
    const out = new Set<unknown>();
    seen.set(v, out);
    for (const x of v as Set<unknown>) out.add(typeof x === 'object' && x !== null ? copy(x, seen) : primitive(x));
    return out;
  }
  const out = structuredClone(v);
  seen.set(v, out);
  return out;
}
