/**
 * GICv3 redistributors: one per CPU, each with the LPI tables the kernel
 * points it at. An LPI made pending by the ITS (gic-its.ts) is looked up
 * here: its configuration byte in the LPI property table (GICR_PROPBASER),
 * its pending bit in this CPU's LPI pending table (GICR_PENDBASER). Both
 * tables are real bytes in memory.
 *
 *   property table: one byte per LPI, INTID 8192 at offset 0:
 *                   [7:2] priority, [1] RES1 in Linux's use (group 1), [0] Enable
 *   pending table:  one bit per INTID; the first 1 KiB (INTIDs 0..8191) is
 *                   IMPLEMENTATION DEFINED, INTID n is bit n%8 of byte n/8
 *
 * Register offsets (RD_base frame, 64 KiB; each CPU has RD_base + SGI_base,
 * so frames are 0x20000 apart): GICR_CTLR 0x0 (EnableLPIs bit 0), GICR_TYPER
 * 0x8 (PLPIS bit 0, Last bit 4, Processor_Number [23:8], Affinity [63:32]),
 * GICR_PROPBASER 0x70 (PA [51:12], IDbits [4:0] = number of ID bits - 1),
 * GICR_PENDBASER 0x78 (PA [51:16]). Sources: linux
 * include/linux/irqchip/arm-gic-v3.h (GICR_* and LPI_PROP_*), QEMU
 * hw/intc/arm_gicv3_redist.c (gicv3_redist_process_lpi: reads the config
 * byte and the pending bit from guest memory, no cache).
 *
 * The CPU interface is reduced to one thing: when an enabled LPI becomes
 * pending on a redistributor whose EnableLPIs is set, the CPU takes it at
 * once (acknowledge clears the pending bit), and the lab counts it per CPU
 * and INTID. A disabled LPI stays pending in memory until it is enabled
 * and the ITS is told (INV/INVALL), then it is taken. Priorities and
 * masking by the CPU (PMR) are not modelled.
 */
import { type u64, hex } from './u64.ts';
import type { AccessSize, PhysicalMemory as Memory, MmioHandler } from './memory.ts';
import type { InterruptLog } from './interrupts.ts';
import { clone, type Stateful } from './state.ts';
import type { Layout } from './fields.ts';

export const GICR_CTLR = 0x0;
export const GICR_TYPER = 0x8;
export const GICR_PROPBASER = 0x70;
export const GICR_PENDBASER = 0x78;
export const GICR_PIDR2 = 0xffe8;
export const GICR_CTLR_ENABLE_LPIS = 1n;
/** RD_base + SGI_base: two 64 KiB frames per CPU (GICv3, no VLPI frames). */
export const GICR_FRAME_STRIDE = 0x2_0000n;
export const LPI_FIRST = 8192;
export const LPI_PROP_ENABLED = 0x1;
export const LPI_PROP_GROUP1 = 0x2;
/** GICD_INT_DEF_PRI, the priority Linux gives every LPI. */
export const LPI_PROP_DEFAULT_PRIO = 0xa0;

export const GICR_PROPBASER_LAYOUT: Layout = {
  name: 'GICR_PROPBASER',
  words: 1,
  source: 'GICv3 architecture spec, GICR_PROPBASER; linux include/linux/irqchip/arm-gic-v3.h',
  fields: [
    { name: 'OuterCache', word: 0, hi: 58, lo: 56, desc: 'outer cacheability of the table' },
    { name: 'Physical_Address', word: 0, hi: 51, lo: 12, kind: 'addr', desc: 'the LPI configuration (property) table' },
    { name: 'Shareability', word: 0, hi: 11, lo: 10, desc: '0 non-, 1 inner, 2 outer shareable' },
    { name: 'InnerCache', word: 0, hi: 9, lo: 7, desc: 'inner cacheability' },
    { name: 'IDbits', word: 0, hi: 4, lo: 0, desc: 'number of LPI INTID bits - 1' },
  ],
};

export const GICR_PENDBASER_LAYOUT: Layout = {
  name: 'GICR_PENDBASER',
  words: 1,
  source: 'GICv3 architecture spec, GICR_PENDBASER; linux include/linux/irqchip/arm-gic-v3.h',
  fields: [
    { name: 'PTZ', word: 0, hi: 62, lo: 62, kind: 'flag', desc: 'pending table is zero (write only)' },
    { name: 'OuterCache', word: 0, hi: 58, lo: 56, desc: 'outer cacheability' },
    { name: 'Physical_Address', word: 0, hi: 51, lo: 16, kind: 'addr', desc: "this CPU's LPI pending table (64 KiB aligned)" },
    { name: 'Shareability', word: 0, hi: 11, lo: 10, desc: '0 non-, 1 inner, 2 outer shareable' },
    { name: 'InnerCache', word: 0, hi: 9, lo: 7, desc: 'inner cacheability' },
  ],
};

interface Rd {
  ctlr: u64;
  propbaser: u64;
  pendbaser: u64;
}

interface RedistState {
  rds: Rd[];
  /** LPIs the CPU took: "cpu:intid" -> count. */
  taken: Record<string, number>;
}

export type LpiOutcome =
  | { kind: 'taken'; cpu: number; intid: number; config: number }
  | { kind: 'pending'; cpu: number; intid: number; config: number; why: string }
  | { kind: 'dropped'; cpu: number; intid: number; why: string };

export class GicRedistributors implements MmioHandler, Stateful {
  readonly base: u64;
  readonly cpus: number;
  private s: RedistState;

  constructor(
    o: { base: u64; cpus: number },
    private readonly memory: Memory,
    private readonly log: InterruptLog,
  ) {
    this.base = o.base;
    this.cpus = o.cpus;
    this.s = { rds: Array.from({ length: o.cpus }, () => ({ ctlr: 0n, propbaser: 0n, pendbaser: 0n })), taken: {} };
  }

  get size(): u64 {
    return GICR_FRAME_STRIDE * BigInt(this.cpus);
  }

  /** Physical address of CPU n's RD_base frame. */
  frameOf(cpu: number): u64 {
    return this.base + GICR_FRAME_STRIDE * BigInt(cpu);
  }

  private typer(cpu: number): u64 {
    // Affinity = the CPU's MPIDR Aff0 (cpu), Processor_Number = cpu, Last on the final frame, PLPIS.
    return (BigInt(cpu) << 32n) | (BigInt(cpu) << 8n) | (cpu === this.cpus - 1 ? 1n << 4n : 0n) | 1n;
  }

  read(offset: u64, size: AccessSize): u64 {
    const cpu = Number(offset / GICR_FRAME_STRIDE);
    const off = Number(offset % GICR_FRAME_STRIDE);
    const rd = this.s.rds[cpu];
    if (!rd) return 0n;
    const base = off & ~7;
    let v = 0n;
    if (base === GICR_CTLR) v = rd.ctlr;
    else if (base === GICR_TYPER) v = this.typer(cpu);
    else if (base === GICR_PROPBASER) v = rd.propbaser;
    else if (base === GICR_PENDBASER) v = rd.pendbaser & ~(1n << 62n);
    else if (base === GICR_PIDR2) v = 0x3bn; // PIDR2: ArchRev 3
    const sh = BigInt(8 * (off - base));
    return (v >> sh) & ((1n << BigInt(8 * size)) - 1n);
  }

  write(offset: u64, size: AccessSize, value: u64): void {
    const cpu = Number(offset / GICR_FRAME_STRIDE);
    const off = Number(offset % GICR_FRAME_STRIDE);
    const rd = this.s.rds[cpu];
    if (!rd) return;
    const base = off & ~7;
    const sh = BigInt(8 * (off - base));
    const m = ((1n << BigInt(8 * size)) - 1n) << sh;
    const merge = (old: u64): u64 => (old & ~m & 0xffff_ffff_ffff_ffffn) | ((value << sh) & m);
    if (base === GICR_CTLR) {
      // EnableLPIs may not be cleared once set on implementations without
      // GICR_TYPER.DirectLPI-style disabling; the lab lets it be set only.
      rd.ctlr = (rd.ctlr | (merge(rd.ctlr) & GICR_CTLR_ENABLE_LPIS));
    } else if (base === GICR_PROPBASER && !(rd.ctlr & GICR_CTLR_ENABLE_LPIS)) rd.propbaser = merge(rd.propbaser);
    else if (base === GICR_PENDBASER && !(rd.ctlr & GICR_CTLR_ENABLE_LPIS)) rd.pendbaser = merge(rd.pendbaser);
  }

  /** The LPI configuration byte of `intid` as CPU `cpu`'s redistributor sees it, or undefined. */
  configByte(cpu: number, intid: number): { addr: u64; value: number } | undefined {
    const rd = this.s.rds[cpu];
    if (!rd || intid < LPI_FIRST) return undefined;
    const idBits = Number(rd.propbaser & 0x1fn) + 1;
    if (intid >= 2 ** idBits) return undefined;
    const addr = (rd.propbaser & 0x000f_ffff_ffff_f000n) + BigInt(intid - LPI_FIRST);
    if (addr === BigInt(intid - LPI_FIRST)) return undefined; // no table programmed
    return { addr, value: this.memory.read(addr, 1)[0]! };
  }

  /** Address and bit of `intid` in `cpu`'s pending table. */
  pendingBit(cpu: number, intid: number): { addr: u64; bit: number; set: boolean } | undefined {
    const rd = this.s.rds[cpu];
    const pa = rd ? rd.pendbaser & 0x000f_ffff_ffff_0000n : 0n;
    if (!rd || pa === 0n) return undefined;
    const addr = pa + BigInt(intid >> 3);
    const bit = intid & 7;
    return { addr, bit, set: ((this.memory.read(addr, 1)[0]! >> bit) & 1) === 1 };
  }

  lpisEnabled(cpu: number): boolean {
    return ((this.s.rds[cpu]?.ctlr ?? 0n) & GICR_CTLR_ENABLE_LPIS) !== 0n;
  }

  taken(cpu: number, intid: number): number {
    return this.s.taken[`${cpu}:${intid}`] ?? 0;
  }

  /** Times any CPU took `intid`. */
  takenAll(intid: number): number {
    let n = 0;
    for (let c = 0; c < this.cpus; c++) n += this.taken(c, intid);
    return n;
  }

  /**
   * The ITS made `intid` pending on `cpu` (its collection's target). The
   * config byte decides whether the CPU takes it now or it stays pending.
   */
  setPending(cpu: number, intid: number, detail: string): LpiOutcome {
    const rd = this.s.rds[cpu];
    if (!rd) return { kind: 'dropped', cpu, intid, why: `no redistributor for processor ${cpu}` };
    const cfg = this.configByte(cpu, intid);
    if (!cfg) return { kind: 'dropped', cpu, intid, why: `INTID ${intid} is outside the LPI property table GICR_PROPBASER describes` };
    const pend = this.pendingBit(cpu, intid);
    if (!this.lpisEnabled(cpu) || !pend) return { kind: 'dropped', cpu, intid, why: `CPU${cpu}'s redistributor has LPIs disabled (GICR_CTLR.EnableLPIs = 0)` };
    if (!(cfg.value & LPI_PROP_ENABLED)) {
      this.memory.write(pend.addr, Uint8Array.of(this.memory.read(pend.addr, 1)[0]! | (1 << pend.bit)));
      return { kind: 'pending', cpu, intid, config: cfg.value, why: `LPI ${intid} is disabled in the property table (byte ${hex(cfg.value, 2)} at ${hex(cfg.addr)}): it stays pending (bit ${pend.bit} of ${hex(pend.addr)})` };
    }
    this.take(cpu, intid, detail);
    return { kind: 'taken', cpu, intid, config: cfg.value };
  }

  /** After an INV/INVALL: pending LPIs that are now enabled are taken. */
  resample(cpu: number, intids: readonly number[]): number[] {
    const out: number[] = [];
    for (const intid of intids) {
      const cfg = this.configByte(cpu, intid);
      const pend = this.pendingBit(cpu, intid);
      if (!cfg || !pend || !pend.set || !(cfg.value & LPI_PROP_ENABLED) || !this.lpisEnabled(cpu)) continue;
      this.memory.write(pend.addr, Uint8Array.of(this.memory.read(pend.addr, 1)[0]! & ~(1 << pend.bit)));
      this.take(cpu, intid, `LPI ${intid} was pending and is now enabled`);
      out.push(intid);
    }
    return out;
  }

  private take(cpu: number, intid: number, detail: string): void {
    const k = `${cpu}:${intid}`;
    this.s.taken[k] = (this.s.taken[k] ?? 0) + 1;
    this.log.raise({ controller: 'lpi', source: `cpu${cpu}`, addr: this.frameOf(cpu), data: BigInt(intid), detail: `CPU${cpu} took LPI ${intid}: ${detail}` });
  }

  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as RedistState);
  }
}
