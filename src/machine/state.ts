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

/** Deep copy for plain data (objects, arrays, Maps, Sets, bigints, typed arrays). */
export const clone = <T>(v: T): T => structuredClone(v);
