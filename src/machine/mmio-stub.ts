/**
 * A register block for on-board devices the lessons do not exercise (UART,
 * RTC, GIC distributor): reads return the reset value or the last value
 * written, writes are kept. Enough for `xp` on the device to show its real
 * identification registers, and honest about being nothing more.
 */
import type { u64 } from './u64.ts';
import type { AccessSize, MmioHandler } from './memory.ts';
import { clone, type Stateful } from './state.ts';

export class MmioStub implements MmioHandler, Stateful {
  private regs = new Map<number, u64>();

  constructor(
    readonly name: string,
    /** Reset values by byte offset, for registers read at their natural width. */
    private readonly reset: ReadonlyMap<number, u64> = new Map(),
  ) {}

  read(offset: u64, size: AccessSize): u64 {
    const o = Number(offset);
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | this.byteAt(o + i);
    return v;
  }

  write(offset: u64, size: AccessSize, value: u64): void {
    const o = Number(offset);
    for (let i = 0; i < size; i++) this.regs.set(o + i, (value >> BigInt(8 * i)) & 0xffn);
  }

  private byteAt(o: number): u64 {
    const w = this.regs.get(o);
    if (w !== undefined) return w;
    const base = o & ~3;
    const r = this.reset.get(base);
    return r === undefined ? 0n : (r >> BigInt(8 * (o - base))) & 0xffn;
  }

  saveState(): unknown {
    return clone(this.regs);
  }
  restoreState(s: unknown): void {
    this.regs = clone(s as Map<number, u64>);
  }
}
