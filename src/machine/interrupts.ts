/**
 * Interrupts delivered in the machine: what arrived at an interrupt
 * controller (a GICv3 ITS doorbell write, an x86 MSI, a remapped IRTE).
 * A write to a doorbell is an interrupt, never a memory write.
 */
import type { u64 } from './u64.ts';
import { clone, type Stateful } from './state.ts';

export interface InterruptRecord {
  seq: number;
  /** Controller that took it ("its", "lapic", "ir"). */
  controller: string;
  /** Who wrote it, as the controller saw it (DeviceID, source-id). */
  source: string;
  /** The address written and the data. */
  addr: u64;
  data: u64;
  detail: string;
}

export class InterruptLog implements Stateful {
  static readonly CAPACITY = 1024;
  private s: { records: InterruptRecord[]; next: number } = { records: [], next: 1 };

  raise(r: Omit<InterruptRecord, 'seq'>): InterruptRecord {
    const rec = { seq: this.s.next++, ...r };
    this.s.records.push(rec);
    if (this.s.records.length > InterruptLog.CAPACITY) this.s.records.shift();
    return rec;
  }
  records(): readonly InterruptRecord[] {
    return this.s.records;
  }
  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as typeof this.s);
  }
}
