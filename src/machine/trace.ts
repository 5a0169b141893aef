/**
 * The DMA trace: one record per device access, bounded. DESIGN.md: "Every
 * DMA is traced". A record carries the address as issued, every
 * translation step the IOMMU took (table level, descriptor address and
 * value) and the outcome. When the buffer is full the oldest record is
 * dropped and `dropped` says how many went.
 */
import type { u64 } from './u64.ts';
import type { Stateful } from './state.ts';

export interface TranslationStep {
  /** 'STE', 'CD', 'L0'..'L3', 'root', 'context', 'PML4', 'IOTLB', ... */
  level: string;
  /** Base of the table read at this step, when it is a table. */
  tableAddr?: u64;
  index?: number;
  /** Physical address of the descriptor read. */
  descAddr?: u64;
  /** Its value (a record of several words for STE/CD). */
  desc?: u64 | u64[];
  /** One line: what the step decided ("table -> 0x4..", "invalid: fault"). */
  note: string;
}

export interface DmaFault {
  /** Which unit reported it: an IOMMU's name, or 'bus'. */
  source: string;
  /** Architected code (SMMU event type, DMAR fault reason), -1 for bus errors. */
  code: number;
  name: string;
  detail: string;
  /** True when the fault was written to the IOMMU's event queue / fault log. */
  recorded: boolean;
}

export type DmaOutcome =
  | { kind: 'ok'; pa: u64 }
  | { kind: 'fault'; fault: DmaFault }
  | { kind: 'interrupt'; detail: string }
  | { kind: 'p2p'; detail: string };

export interface TraceRecord {
  seq: number;
  device: string;
  /** PCI requester ID (bus:dev.fn) where the device is a PCI function. */
  rid?: number;
  /** StreamID / source-id presented to the IOMMU, when translated. */
  sid?: number;
  op: 'read' | 'write';
  addr: u64;
  len: number;
  path: 'translated' | 'bypass';
  iommu?: string;
  iotlbHit?: boolean;
  steps: TranslationStep[];
  outcome: DmaOutcome;
  /** Why the device made the access ("avail.idx", "desc[3]", "blk data"). */
  what?: string;
  /**
   * Set when the record is not a device access but a CPU copy made on the
   * device's behalf (a swiotlb bounce): who copied. `addr` is then the
   * source and `outcome.pa` the destination of the copy.
   */
  cpu?: string;
}

interface TraceState {
  enabled: boolean;
  records: TraceRecord[];
  nextSeq: number;
  dropped: number;
}

export class DmaTrace implements Stateful {
  /** Stated limit: records kept at once. */
  static readonly CAPACITY = 4096;
  private s: TraceState = { enabled: true, records: [], nextSeq: 1, dropped: 0 };

  get enabled(): boolean {
    return this.s.enabled;
  }
  set enabled(v: boolean) {
    this.s.enabled = v;
  }
  get dropped(): number {
    return this.s.dropped;
  }
  get nextSeq(): number {
    return this.s.nextSeq;
  }

  add(r: Omit<TraceRecord, 'seq'>): TraceRecord | undefined {
    const seq = this.s.nextSeq++;
    if (!this.s.enabled) return undefined;
    // A record never changes once added (frozen, so it cannot by mistake):
    // snapshots share records and copy only the list (saveState).
    const rec = Object.freeze({ seq, ...r });
    this.s.records.push(rec);
    if (this.s.records.length > DmaTrace.CAPACITY) {
      this.s.records.shift();
      this.s.dropped++;
    }
    return rec;
  }

  records(): readonly TraceRecord[] {
    return this.s.records;
  }
  /** Records with seq >= since. */
  since(seq: number): TraceRecord[] {
    return this.s.records.filter((r) => r.seq >= seq);
  }
  clear(): void {
    this.s.records = [];
    this.s.dropped = 0;
  }
  // Every command snapshots the trace (transactions, undo, look-only
  // checks): with up to 4096 records a deep copy cost milliseconds each time
  // (issue 15). Records are immutable, so a snapshot is the list's copy.
  saveState(): unknown {
    return { ...this.s, records: this.s.records.slice() };
  }
  restoreState(st: unknown): void {
    const t = st as TraceState;
    this.s = { ...t, records: t.records.slice() };
  }
}
