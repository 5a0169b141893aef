/**
 * Errors raised by the hardware model. They are values with the faulting
 * address; the command layer turns them into user-facing errors with the
 * input span. Guest-visible faults (an SMMU event, a DMAR fault record) are
 * not exceptions: they are recorded in the model's memory and returned.
 */
import { type u64, hex } from './u64.ts';

export class BusError extends Error {
  constructor(
    readonly addr: u64,
    readonly reason: 'hole' | 'unaligned' | 'mmio' | 'limit',
    message: string,
  ) {
    super(message);
  }
  static hole(addr: u64): BusError {
    return new BusError(addr, 'hole', `no memory or device at physical address ${hex(addr)} (a hole in the memory map; see 'info mtree')`);
  }
}

/** A user-visible limit was hit (memory written, loop count, trace size). */
export class LimitError extends Error {
  constructor(readonly limit: string, message: string) {
    super(message);
  }
}
