/**
 * GICv3 Interrupt Translation Service (ITS): the MSI doorbell of an Arm
 * system. A device signals an interrupt by writing its EventID to
 * GITS_TRANSLATER (ITS base + 0x10040); the ITS takes the DeviceID from the
 * interconnect (a sideband of the write, not its data) and translates
 * (DeviceID, EventID) into an LPI. A write there is an interrupt, never a
 * memory write, and reads of GITS_TRANSLATER return 0.
 *
 * Register offsets: linux include/linux/irqchip/arm-gic-v3.h (GITS_CTLR
 * 0x0, GITS_IIDR 0x4, GITS_TYPER 0x8, GITS_CBASER 0x80, GITS_CWRITER 0x88,
 * GITS_CREADR 0x90, GITS_BASER 0x100, GITS_PIDR2 0xffe8, GITS_TRANSLATER
 * 0x10040); QEMU include/hw/intc/arm_gicv3_its_common.h (a control frame
 * of 0x10000 and a translation frame of 0x10000).
 *
 * DeviceID: the DMA engine passes the writing master with the write
 * (`deviceWrite`, see memory.ts DeviceWriteInfo). The ITS uses the master's
 * PCI requester ID, else its StreamID: on QEMU virt and the Arm FVP the
 * IORT maps a RID to the same number as SMMU StreamID and ITS DeviceID.
 * A CPU store to GITS_TRANSLATER (plain `write`) has no master; it is
 * recorded with source "cpu" (real hardware supplies an IMPLEMENTATION
 * DEFINED DeviceID).
 *
 * The ITS is modelled as QEMU builds it (hw/intc/arm_gicv3_its.c,
 * hw/intc/gicv3_internal.h; the in-memory table formats are IMPLEMENTATION
 * DEFINED by the architecture, so the lab takes QEMU's): GITS_TYPER says
 * physical LPIs, 12-byte ITT entries, 16 EventID bits, 16 DeviceID bits,
 * 16 collection ID bits (CIL); GITS_BASER0 is the device table and
 * GITS_BASER1 the collection table, both 8-byte entries and 64 KiB pages;
 * the device table may be two-level (Indirect). The kernel gives the ITS
 * memory for those tables and a command queue; the ITS itself writes the
 * entries when it executes MAPD / MAPC / MAPTI commands, all real bytes:
 *
 *   DTE  (8 bytes)  [0] Valid, [5:1] Size (EventID bits - 1), [49:6] ITT address >> 8
 *   CTE  (8 bytes)  [0] Valid, [16:1] RDbase = target processor number (GITS_TYPER.PTA = 0)
 *   ITE (12 bytes)  [0] Valid, [1] INTTYPE (1 physical), [25:2] INTID, [47:32] ICID, [63:48] vPEID
 *
 * A doorbell write (DeviceID, EventID) walks DTE -> ITE -> CTE and makes
 * the LPI pending on the collection's redistributor (gicv3-redist.ts).
 * Commands interpreted: MAPD, MAPC, MAPTI, MAPI, INV, INVALL, SYNC,
 * DISCARD, INT, CLEAR; others are consumed and recorded as not modelled.
 * Command encodings: the GICv3 architecture spec, ITS commands, and linux
 * include/linux/irqchip/arm-gic-v3.h (GITS_CMD_*). Every TRANSLATER write
 * is recorded in the machine's interrupt log (controller "its") with what
 * the translation found.
 */
import { type u64, hex } from './u64.ts';
import type { AccessSize, DeviceWriteInfo, MmioHandler, PhysicalMemory } from './memory.ts';
import type { InterruptLog } from './interrupts.ts';
import { clone, type Stateful } from './state.ts';
import type { Layout } from './fields.ts';
import type { GicRedistributors, LpiOutcome } from './gicv3-redist.ts';

export const GITS_CTLR = 0x0000;
export const GITS_IIDR = 0x0004;
export const GITS_TYPER = 0x0008;
export const GITS_CBASER = 0x0080;
export const GITS_CWRITER = 0x0088;
export const GITS_CREADR = 0x0090;
export const GITS_BASER = 0x0100; // 8 x 64-bit
export const GITS_PIDR2 = 0xffe8;
export const GITS_TRANSLATER = 0x10040;
export const GITS_REGION_SIZE = 0x20000n;
export const GITS_CTLR_ENABLED = 1n;
export const GITS_CTLR_QUIESCENT = 1n << 31n;

/** GITS_PIDR2.ArchRev [7:4] = 3 for GICv3 (0x3b as QEMU's virt shows it). */
const PIDR2_GICV3 = 0x3bn;
export const ITS_ITT_ENTRY_SIZE = 12;
export const GITS_DTE_SIZE = 8;
export const GITS_CTE_SIZE = 8;
export const GITS_LVL1_ENTRY_SIZE = 8;
/** QEMU's GITS_TYPER: Physical, ITT_entry_size 0xb, IDbits 15, Devbits 15, CIDbits 15, CIL. */
export const ITS_TYPER = 1n | (BigInt(ITS_ITT_ENTRY_SIZE - 1) << 4n) | (15n << 8n) | (15n << 13n) | (15n << 32n) | (1n << 36n);
export const GITS_BASER_TYPE_DEVICE = 1;
export const GITS_BASER_TYPE_COLLECTION = 4;
export const GITS_BASER_VALID = 1n << 63n;
export const GITS_BASER_INDIRECT = 1n << 62n;
/** Command numbers (arm-gic-v3.h GITS_CMD_*). */
export const GITS_CMD = { MOVI: 0x01, INT: 0x03, CLEAR: 0x04, SYNC: 0x05, MAPD: 0x08, MAPC: 0x09, MAPTI: 0x0a, MAPI: 0x0b, INV: 0x0c, INVALL: 0x0d, MOVALL: 0x0e, DISCARD: 0x0f } as const;
export const ITS_CMD_SIZE = 32;
const CMD_NAMES: Record<number, string> = Object.fromEntries(Object.entries(GITS_CMD).map(([k, v]) => [v, k]));
export const itsCommandName = (n: number): string => CMD_NAMES[n] ?? `0x${n.toString(16)}`;

export const GITS_BASER_LAYOUT: Layout = {
  name: 'GITS_BASER',
  words: 1,
  source: 'GICv3 architecture spec, GITS_BASER<n>; linux include/linux/irqchip/arm-gic-v3.h',
  fields: [
    { name: 'Valid', word: 0, hi: 63, lo: 63, kind: 'flag', desc: 'the table is allocated' },
    { name: 'Indirect', word: 0, hi: 62, lo: 62, kind: 'flag', desc: 'two-level table (level 1 entries point to pages)' },
    { name: 'InnerCache', word: 0, hi: 61, lo: 59, desc: 'inner cacheability' },
    { name: 'Type', word: 0, hi: 58, lo: 56, desc: 'what the table holds (read only)', values: { '1': 'devices', '2': 'vPEs', '4': 'collections' } },
    { name: 'OuterCache', word: 0, hi: 55, lo: 53, desc: 'outer cacheability' },
    { name: 'Entry_Size', word: 0, hi: 52, lo: 48, desc: 'bytes per entry - 1 (read only)' },
    { name: 'Physical_Address', word: 0, hi: 47, lo: 16, kind: 'addr', desc: 'the table (64 KiB pages: bits [47:16])' },
    { name: 'Shareability', word: 0, hi: 11, lo: 10, desc: '0 non-, 1 inner, 2 outer shareable' },
    { name: 'Page_Size', word: 0, hi: 9, lo: 8, desc: 'ITS page size', values: { '0': '4K', '1': '16K', '2': '64K' } },
    { name: 'Size', word: 0, hi: 7, lo: 0, desc: 'number of pages - 1' },
  ],
};

export const GITS_CBASER_LAYOUT: Layout = {
  name: 'GITS_CBASER',
  words: 1,
  source: 'GICv3 architecture spec, GITS_CBASER',
  fields: [
    { name: 'Valid', word: 0, hi: 63, lo: 63, kind: 'flag', desc: 'the command queue is allocated' },
    { name: 'InnerCache', word: 0, hi: 61, lo: 59, desc: 'inner cacheability' },
    { name: 'OuterCache', word: 0, hi: 55, lo: 53, desc: 'outer cacheability' },
    { name: 'Physical_Address', word: 0, hi: 51, lo: 12, kind: 'addr', desc: 'the command queue' },
    { name: 'Shareability', word: 0, hi: 11, lo: 10, desc: '0 non-, 1 inner, 2 outer shareable' },
    { name: 'Size', word: 0, hi: 7, lo: 0, desc: 'number of 4 KiB pages - 1' },
  ],
};

export const ITS_DTE_LAYOUT: Layout = {
  name: 'ITS DTE',
  words: 1,
  source: 'QEMU hw/intc/gicv3_internal.h (FIELD(DTE, ...)); the format is IMPLEMENTATION DEFINED',
  fields: [
    { name: 'ITT_addr', word: 0, hi: 49, lo: 6, desc: "the device's interrupt translation table address >> 8" },
    { name: 'Size', word: 0, hi: 5, lo: 1, desc: 'EventID bits - 1 (MAPD Size)' },
    { name: 'Valid', word: 0, hi: 0, lo: 0, kind: 'flag', desc: 'the DeviceID is mapped' },
  ],
};

export const ITS_CTE_LAYOUT: Layout = {
  name: 'ITS CTE',
  words: 1,
  source: 'QEMU hw/intc/gicv3_internal.h (FIELD(CTE, ...)); IMPLEMENTATION DEFINED',
  fields: [
    { name: 'RDbase', word: 0, hi: 16, lo: 1, desc: 'target redistributor as a processor number (GITS_TYPER.PTA = 0)' },
    { name: 'Valid', word: 0, hi: 0, lo: 0, kind: 'flag', desc: 'the collection is mapped' },
  ],
};

/** 12 bytes: word 0 = ITE_L, word 1 bits [31:0] = ITE_H. */
export const ITS_ITE_LAYOUT: Layout = {
  name: 'ITS ITE',
  words: 2,
  source: 'QEMU hw/intc/gicv3_internal.h (FIELD(ITE_L/ITE_H, ...)); IMPLEMENTATION DEFINED',
  fields: [
    { name: 'vPEID', word: 0, hi: 63, lo: 48, desc: 'virtual PE (virtual LPIs only)' },
    { name: 'ICID', word: 0, hi: 47, lo: 32, desc: 'interrupt collection: which CPU takes it' },
    { name: 'INTID', word: 0, hi: 25, lo: 2, desc: 'the LPI (physical INTID, 8192 and up)' },
    { name: 'INTTYPE', word: 0, hi: 1, lo: 1, desc: 'interrupt type', values: { '0': 'virtual', '1': 'physical' } },
    { name: 'Valid', word: 0, hi: 0, lo: 0, kind: 'flag', desc: 'the EventID is mapped' },
    { name: 'Doorbell', word: 1, hi: 23, lo: 0, desc: 'vPE doorbell (virtual LPIs only)' },
  ],
};

/** The 32-byte command as four 64-bit words; fields per the GICv3 spec ITS command formats. */
export const ITS_CMD_LAYOUT: Layout = {
  name: 'ITS command',
  words: 4,
  source: 'GICv3 architecture spec, ITS commands; linux drivers/irqchip/irq-gic-v3-its.c its_encode_*',
  fields: [
    { name: 'DeviceID', word: 0, hi: 63, lo: 32, desc: 'MAPD, MAPTI, MAPI, INV, INT, CLEAR, DISCARD' },
    { name: 'CommandNumber', word: 0, hi: 7, lo: 0, desc: 'which command', values: Object.fromEntries(Object.entries(GITS_CMD).map(([k, v]) => [String(v), k])) },
    { name: 'pINTID', word: 1, hi: 63, lo: 32, desc: 'MAPTI: the LPI' },
    { name: 'EventID', word: 1, hi: 31, lo: 0, desc: 'MAPTI, MAPI, INV, INT, CLEAR, DISCARD' },
    { name: 'Size', word: 1, hi: 4, lo: 0, desc: 'MAPD: EventID bits - 1 (overlaps EventID)' },
    { name: 'V', word: 2, hi: 63, lo: 63, kind: 'flag', desc: 'MAPD, MAPC: valid (0 unmaps)' },
    { name: 'ITT_addr', word: 2, hi: 51, lo: 8, kind: 'addr', desc: 'MAPD: the ITT, 256-byte aligned' },
    { name: 'RDbase', word: 2, hi: 51, lo: 16, desc: 'MAPC, SYNC: target redistributor (processor number when PTA = 0)' },
    { name: 'ICID', word: 2, hi: 15, lo: 0, desc: 'MAPC, MAPTI, MAPI, INVALL: collection (overlaps RDbase)' },
  ],
};

export interface GicItsOptions {
  name: string;
  /** Physical base of the ITS frame (QEMU virt: 0x08080000). */
  base: u64;
  interrupts: InterruptLog;
  /** Memory for the tables and the command queue (absent: a doorbell-only ITS, as in unit tests). */
  memory?: PhysicalMemory;
  redist?: GicRedistributors;
}

interface ItsState {
  ctlr: u64;
  cbaser: u64;
  cwriter: u64;
  creadr: u64;
  baser: u64[];
  translations: number;
  /** Command errors, newest last (bounded). */
  errors: string[];
  /** Commands executed by name. */
  executed: Record<string, number>;
}

/** Result of walking the tables for (DeviceID, EventID). */
export type ItsWalk =
  | { ok: true; dteAddr: u64; dte: u64; ittAddr: u64; iteAddr: u64; ite: u64[]; intid: number; icid: number; cteAddr: u64; cte: u64; cpu: number }
  | { ok: false; stage: 'disabled' | 'device' | 'event' | 'collection'; why: string; dteAddr?: u64; dte?: u64; iteAddr?: u64; ite?: u64[] };

const MAX_ERRORS = 32;
/** Valid, InnerCache, OuterCache, Physical_Address, Shareability, Size. */
const CBASER_WRITABLE = (1n << 63n) | (7n << 59n) | (7n << 53n) | (0xff_ffff_ffffn << 12n) | (3n << 10n) | 0xffn;
const bitsOf = (v: u64, hi: number, lo: number): u64 => (v >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n);

export class GicIts implements MmioHandler, Stateful {
  readonly name: string;
  readonly base: u64;
  private readonly log: InterruptLog;
  private readonly memory: PhysicalMemory | undefined;
  readonly redist: GicRedistributors | undefined;
  private s: ItsState;

  constructor(o: GicItsOptions) {
    this.name = o.name;
    this.base = o.base;
    this.log = o.interrupts;
    this.memory = o.memory;
    this.redist = o.redist;
    this.s = ItsFresh();
  }

  /** Physical address of the doorbell. */
  get translaterAddr(): u64 {
    return this.base + BigInt(GITS_TRANSLATER);
  }

  get enabled(): boolean {
    return (this.s.ctlr & GITS_CTLR_ENABLED) !== 0n;
  }

  /** GITS_BASER<n> as the ITS holds it, with its read-only Type, Entry_Size and Page_Size. */
  baser(n: number): u64 {
    return this.s.baser[n] ?? 0n;
  }
  get cbaser(): u64 {
    return this.s.cbaser;
  }
  get cwriter(): u64 {
    return this.s.cwriter;
  }
  get creadr(): u64 {
    return this.s.creadr;
  }
  get errors(): readonly string[] {
    return this.s.errors;
  }
  get executed(): Readonly<Record<string, number>> {
    return this.s.executed;
  }

  read(offset: u64, size: AccessSize): u64 {
    const off = Number(offset);
    if (off >= 0x10000) return 0n; // translation frame: GITS_TRANSLATER reads as 0
    const base = off & ~7;
    let v = 0n;
    if (base === GITS_CTLR) v = this.s.ctlr | (this.enabled ? 0n : GITS_CTLR_QUIESCENT); // IIDR (0x4) reads 0
    else if (base === GITS_TYPER) v = ITS_TYPER;
    else if (base === GITS_CBASER) v = this.s.cbaser;
    else if (base === GITS_CWRITER) v = this.s.cwriter;
    else if (base === GITS_CREADR) v = this.s.creadr;
    else if (base >= GITS_BASER && base < GITS_BASER + 64) v = this.s.baser[(base - GITS_BASER) / 8]!;
    else if (base === GITS_PIDR2) v = PIDR2_GICV3;
    const sh = BigInt(8 * (off - base));
    return (v >> sh) & (size === 8 ? 0xffff_ffff_ffff_ffffn : (1n << BigInt(8 * size)) - 1n);
  }

  write(offset: u64, size: AccessSize, value: u64): void {
    const off = Number(offset);
    if (off === GITS_TRANSLATER) {
      this.translate('cpu', undefined, value & 0xffff_ffffn, 'a CPU store to GITS_TRANSLATER (no DeviceID sideband)');
      return;
    }
    if (off >= 0x10000) return;
    const base = off & ~7;
    const sh = BigInt(8 * (off - base));
    const m = (size === 8 ? 0xffff_ffff_ffff_ffffn : (1n << BigInt(8 * size)) - 1n) << sh;
    const merge = (old: u64): u64 => (old & ~m & 0xffff_ffff_ffff_ffffn) | ((value << sh) & m);
    if (base === GITS_CTLR) {
      this.s.ctlr = merge(this.s.ctlr) & GITS_CTLR_ENABLED;
      this.process();
    } else if (base === GITS_CBASER) {
      // Writable only while the ITS is disabled; writing it resets CREADR (GICv3 spec, GITS_CBASER).
      if (!this.enabled) {
        this.s.cbaser = merge(this.s.cbaser) & CBASER_WRITABLE;
        this.s.creadr = 0n;
      }
    } else if (base === GITS_CWRITER) {
      this.s.cwriter = merge(this.s.cwriter) & 0xf_ffe0n;
      this.process();
    } else if (base >= GITS_BASER && base < GITS_BASER + 64) {
      const n = (base - GITS_BASER) / 8;
      const ro = ItsBaserReset(n);
      if (ro === 0n || this.enabled) return; // unimplemented BASERs are RAZ/WI; writable only while disabled
      // Type, Entry_Size and Page_Size are fixed (QEMU: GITS_BASER_RO_MASK plus 64 KiB pages).
      const RO = (0x7n << 56n) | (0x1fn << 48n) | (0x3n << 8n);
      this.s.baser[n] = (merge(this.s.baser[n]!) & ~RO) | (ro & RO);
    }
  }

  /**
   * A write that arrived from a device (the DMA engine calls this with the
   * master). Returns a description when it was an interrupt.
   */
  deviceWrite(offset: u64, data: Uint8Array, from: DeviceWriteInfo): string | undefined {
    const off = Number(offset);
    if (off !== GITS_TRANSLATER || (data.length !== 4 && data.length !== 2)) {
      let v = 0n;
      for (let i = data.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[i]!);
      if (data.length === 1 || data.length === 2 || data.length === 4 || data.length === 8) this.write(offset, data.length as AccessSize, v);
      return undefined;
    }
    let ev = 0n;
    for (let i = data.length - 1; i >= 0; i--) ev = (ev << 8n) | BigInt(data[i]!);
    const deviceId = from.rid ?? from.sid;
    return this.translate(hex(deviceId), deviceId, ev, `${from.name} wrote EventID ${ev} to GITS_TRANSLATER; DeviceID ${hex(deviceId)} came with the write`);
  }

  /** Address of the DTE for a DeviceID (two-level: through the level-1 entry), without changing anything. */
  dteAddr(deviceId: number): { addr?: u64; why?: string } {
    const b = this.s.baser[0]!;
    if (!(b & GITS_BASER_VALID)) return { why: 'GITS_BASER0 (device table) is not valid' };
    const pa = b & 0x0000_ffff_ffff_0000n;
    const pages = Number(b & 0xffn) + 1;
    const psz = 0x1_0000;
    if (deviceId >= 1 << 16) return { why: `DeviceID ${hex(deviceId)} is wider than GITS_TYPER.Devbits (16 bits)` };
    if (!(b & GITS_BASER_INDIRECT)) {
      if (deviceId * GITS_DTE_SIZE >= pages * psz) return { why: `DeviceID ${hex(deviceId)} is beyond the flat device table (${(pages * psz) / GITS_DTE_SIZE} entries)` };
      return { addr: pa + BigInt(deviceId * GITS_DTE_SIZE) };
    }
    const perPage = psz / GITS_DTE_SIZE;
    const l1i = Math.floor(deviceId / perPage);
    if (l1i * GITS_LVL1_ENTRY_SIZE >= pages * psz) return { why: `DeviceID ${hex(deviceId)} is beyond the level-1 device table` };
    const l1 = this.memory!.readWords(pa + BigInt(l1i * GITS_LVL1_ENTRY_SIZE), 1)[0]!;
    if (!(l1 & GITS_BASER_VALID)) return { why: `level-1 device table entry ${l1i} is not valid (no level-2 page for DeviceIDs ${hex(l1i * perPage)}..${hex(l1i * perPage + perPage - 1)})` };
    return { addr: (l1 & 0x000f_ffff_ffff_f000n) + BigInt((deviceId % perPage) * GITS_DTE_SIZE) };
  }

  private cteAddr(icid: number): u64 | undefined {
    const b = this.s.baser[1]!;
    if (!(b & GITS_BASER_VALID)) return undefined;
    const pages = Number(b & 0xffn) + 1;
    if (icid * GITS_CTE_SIZE >= pages * 0x1_0000) return undefined;
    return (b & 0x0000_ffff_ffff_0000n) + BigInt(icid * GITS_CTE_SIZE);
  }

  private readIte(addr: u64): u64[] {
    const b = this.memory!.read(addr, ITS_ITT_ENTRY_SIZE);
    let lo = 0n;
    for (let i = 7; i >= 0; i--) lo = (lo << 8n) | BigInt(b[i]!);
    let hi = 0n;
    for (let i = 11; i >= 8; i--) hi = (hi << 8n) | BigInt(b[i]!);
    return [lo, hi];
  }

  private writeIte(addr: u64, w: readonly u64[]): void {
    const b = new Uint8Array(ITS_ITT_ENTRY_SIZE);
    for (let i = 0; i < 8; i++) b[i] = Number((w[0]! >> BigInt(8 * i)) & 0xffn);
    for (let i = 0; i < 4; i++) b[8 + i] = Number((w[1]! >> BigInt(8 * i)) & 0xffn);
    this.memory!.write(addr, b);
  }

  /** Walk DTE -> ITE -> CTE for (DeviceID, EventID), reading the tables in memory. */
  walk(deviceId: number, eventId: number): ItsWalk {
    if (!this.memory) return { ok: false, stage: 'disabled', why: 'this ITS has no tables (doorbell only)' };
    if (!this.enabled) return { ok: false, stage: 'disabled', why: 'GITS_CTLR.Enabled = 0: the ITS ignores the write' };
    const d = this.dteAddr(deviceId);
    if (!d.addr) return { ok: false, stage: 'device', why: d.why! };
    const dte = this.memory.readWords(d.addr, 1)[0]!;
    if (!(dte & 1n)) return { ok: false, stage: 'device', why: `DeviceID ${hex(deviceId)} is not mapped (DTE at ${hex(d.addr)} not valid: no MAPD)`, dteAddr: d.addr, dte };
    const size = Number(bitsOf(dte, 5, 1)) + 1;
    const ittAddr = bitsOf(dte, 49, 6) << 8n;
    if (eventId >= 2 ** size) return { ok: false, stage: 'event', why: `EventID ${eventId} is outside the device's ${size}-bit ITT`, dteAddr: d.addr, dte };
    const iteAddr = ittAddr + BigInt(eventId * ITS_ITT_ENTRY_SIZE);
    const ite = this.readIte(iteAddr);
    if (!(ite[0]! & 1n)) return { ok: false, stage: 'event', why: `EventID ${eventId} of DeviceID ${hex(deviceId)} is not mapped (ITE at ${hex(iteAddr)} not valid: no MAPTI)`, dteAddr: d.addr, dte, iteAddr, ite };
    const intid = Number(bitsOf(ite[0]!, 25, 2));
    const icid = Number(bitsOf(ite[0]!, 47, 32));
    const cteAddr = this.cteAddr(icid);
    const cte = cteAddr === undefined ? 0n : this.memory.readWords(cteAddr, 1)[0]!;
    if (cteAddr === undefined || !(cte & 1n)) return { ok: false, stage: 'collection', why: `collection ${icid} is not mapped (no MAPC)`, dteAddr: d.addr, dte, iteAddr, ite };
    return { ok: true, dteAddr: d.addr, dte, ittAddr, iteAddr, ite, intid, icid, cteAddr, cte, cpu: Number(bitsOf(cte, 16, 1)) };
  }

  private translate(source: string, deviceId: number | undefined, eventId: u64, detail: string): string {
    this.s.translations++;
    let outcome: string;
    let lpi: LpiOutcome | undefined;
    if (!this.memory || !this.redist) outcome = 'doorbell only: nothing translated';
    else if (deviceId === undefined) outcome = 'no DeviceID: not translated';
    else {
      const w = this.walk(deviceId, Number(eventId & 0xffff_ffffn));
      if (!w.ok) outcome = `dropped: ${w.why}`;
      else {
        lpi = this.redist.setPending(w.cpu, w.intid, `DeviceID ${hex(deviceId)} EventID ${eventId} via ${this.name}`);
        outcome =
          lpi.kind === 'taken' ? `LPI ${w.intid} (collection ${w.icid}) taken by CPU${w.cpu}`
          : lpi.kind === 'pending' ? `LPI ${w.intid} (collection ${w.icid}) pending on CPU${w.cpu}: ${lpi.why}`
          : `LPI ${w.intid} dropped: ${lpi.why}`;
      }
    }
    this.log.raise({ controller: 'its', source, addr: this.translaterAddr, data: eventId, detail: `${this.name}: ${detail}; ${outcome}` });
    return `MSI to ${this.name} (GITS_TRANSLATER ${hex(this.translaterAddr)}): DeviceID ${source}, EventID ${eventId}: ${outcome}`;
  }

  private error(msg: string): void {
    this.s.errors.push(msg);
    if (this.s.errors.length > MAX_ERRORS) this.s.errors.shift();
  }

  /** Execute the commands between CREADR and CWRITER (synchronously: the lab's ITS never stalls). */
  private process(): void {
    if (!this.enabled || !this.memory || !(this.s.cbaser & (1n << 63n))) return;
    const q = this.s.cbaser & 0x000f_ffff_ffff_f000n;
    const qsize = BigInt((Number(this.s.cbaser & 0xffn) + 1) * 4096);
    let guard = Number(qsize) / ITS_CMD_SIZE;
    while (this.s.creadr !== this.s.cwriter && guard-- > 0) {
      if (this.s.cwriter >= qsize) {
        this.error(`GITS_CWRITER ${hex(this.s.cwriter)} is beyond the ${qsize / 1024n} KiB queue: stalled`);
        return;
      }
      const w = this.memory.readWords(q + this.s.creadr, 4);
      this.execute(w);
      this.s.creadr = (this.s.creadr + BigInt(ITS_CMD_SIZE)) % qsize;
    }
  }

  private execute(w: readonly u64[]): void {
    const mem = this.memory!;
    const cmd = Number(w[0]! & 0xffn);
    const name = itsCommandName(cmd);
    this.s.executed[name] = (this.s.executed[name] ?? 0) + 1;
    const deviceId = Number(w[0]! >> 32n);
    const eventId = Number(w[1]! & 0xffff_ffffn);
    switch (cmd) {
      case GITS_CMD.MAPD: {
        const d = this.dteAddr(deviceId);
        if (!d.addr) return this.error(`MAPD DeviceID ${hex(deviceId)}: ${d.why}`);
        const valid = (w[2]! >> 63n) & 1n;
        const size = w[1]! & 0x1fn;
        const itt = w[2]! & 0x000f_ffff_ffff_ff00n;
        if (valid && size > 15n) return this.error(`MAPD DeviceID ${hex(deviceId)}: Size ${size + 1n} bits exceeds GITS_TYPER.IDbits (16)`);
        mem.writeWords(d.addr, [valid ? 1n | (size << 1n) | ((itt >> 8n) << 6n) : 0n]);
        return;
      }
      case GITS_CMD.MAPC: {
        const icid = Number(w[2]! & 0xffffn);
        const rd = Number((w[2]! >> 16n) & 0xf_ffff_ffffn);
        const a = this.cteAddr(icid);
        if (a === undefined) return this.error(`MAPC ICID ${icid}: no collection table entry`);
        if ((w[2]! >> 63n) & 1n && rd >= (this.redist?.cpus ?? 0)) return this.error(`MAPC ICID ${icid}: RDbase ${rd} names no redistributor`);
        mem.writeWords(a, [(w[2]! >> 63n) & 1n ? 1n | (BigInt(rd) << 1n) : 0n]);
        return;
      }
      case GITS_CMD.MAPTI:
      case GITS_CMD.MAPI: {
        const intid = cmd === GITS_CMD.MAPI ? eventId : Number(w[1]! >> 32n);
        const icid = Number(w[2]! & 0xffffn);
        const dte = this.dteOf(deviceId);
        if (!dte) return this.error(`${name} DeviceID ${hex(deviceId)}: device not mapped`);
        if (eventId >= 2 ** dte.size) return this.error(`${name} DeviceID ${hex(deviceId)} EventID ${eventId}: outside the ${dte.size}-bit ITT`);
        if (intid < 8192 || intid >= 1 << 16) return this.error(`${name} pINTID ${intid}: not an LPI of this GIC (8192..65535)`);
        this.writeIte(dte.itt + BigInt(eventId * ITS_ITT_ENTRY_SIZE), [1n | (1n << 1n) | (BigInt(intid) << 2n) | (BigInt(icid) << 32n), 0n]);
        return;
      }
      case GITS_CMD.DISCARD: {
        const dte = this.dteOf(deviceId);
        if (!dte || eventId >= 2 ** dte.size) return this.error(`DISCARD DeviceID ${hex(deviceId)} EventID ${eventId}: not mapped`);
        this.writeIte(dte.itt + BigInt(eventId * ITS_ITT_ENTRY_SIZE), [0n, 0n]);
        return;
      }
      case GITS_CMD.INV:
      case GITS_CMD.INT:
      case GITS_CMD.CLEAR: {
        const r = this.walk(deviceId, eventId);
        if (!r.ok) return this.error(`${name} DeviceID ${hex(deviceId)} EventID ${eventId}: ${r.why}`);
        if (cmd === GITS_CMD.INV) this.redist?.resample(r.cpu, [r.intid]);
        else if (cmd === GITS_CMD.INT) this.redist?.setPending(r.cpu, r.intid, `INT command for DeviceID ${hex(deviceId)} EventID ${eventId}`);
        else {
          const p = this.redist?.pendingBit(r.cpu, r.intid);
          if (p?.set) mem.write(p.addr, Uint8Array.of(mem.read(p.addr, 1)[0]! & ~(1 << p.bit)));
        }
        return;
      }
      case GITS_CMD.INVALL: {
        const icid = Number(w[2]! & 0xffffn);
        const a = this.cteAddr(icid);
        const cte = a === undefined ? 0n : mem.readWords(a, 1)[0]!;
        if (!(cte & 1n)) return this.error(`INVALL ICID ${icid}: collection not mapped`);
        // Without a cache of LPI configuration there is nothing to invalidate; pending LPIs are re-examined.
        return;
      }
      case GITS_CMD.SYNC:
        return; // every command completes before the next one: nothing to wait for
      default:
        this.error(`command ${name} (${hex(cmd, 2)}) is not modelled: consumed without effect`);
    }
  }

  private dteOf(deviceId: number): { size: number; itt: u64 } | undefined {
    const d = this.dteAddr(deviceId);
    if (!d.addr) return undefined;
    const dte = this.memory!.readWords(d.addr, 1)[0]!;
    if (!(dte & 1n)) return undefined;
    return { size: Number(bitsOf(dte, 5, 1)) + 1, itt: bitsOf(dte, 49, 6) << 8n };
  }

  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as ItsState);
  }
}

/** Reset value of GITS_BASER<n>: QEMU's BASER0 devices and BASER1 collections, 8-byte entries, 64 KiB pages. */
function ItsBaserReset(n: number): u64 {
  const t = n === 0 ? GITS_BASER_TYPE_DEVICE : n === 1 ? GITS_BASER_TYPE_COLLECTION : 0;
  if (!t) return 0n;
  return (BigInt(t) << 56n) | (BigInt(GITS_DTE_SIZE - 1) << 48n) | (2n << 8n);
}

function ItsFresh(): ItsState {
  return { ctlr: 0n, cbaser: 0n, cwriter: 0n, creadr: 0n, baser: Array.from({ length: 8 }, (_, i) => ItsBaserReset(i)), translations: 0, errors: [], executed: {} };
}
