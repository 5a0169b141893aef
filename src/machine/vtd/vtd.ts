/**
 * An Intel VT-d DMA-remapping hardware unit (a DRHD) in legacy mode, with
 * interrupt remapping. Software programs it through its 4 KiB register page
 * (regs.ts) and structures in memory (root/context tables, second-level
 * page tables, the interrupt remapping table, the invalidation queue);
 * devices' DMA reaches `translate`, their interrupt writes reach
 * `interruptRequest` (through the x86 interrupt window, interrupt-window.ts).
 *
 * One DMA request (VT-d spec ch. 3 as QEMU hw/i386/intel_iommu.c does it):
 *
 *   GSTS.TES = 0                          -> untranslated: pa = addr
 *   context cache (source-id), else root entry [bus] -> context entry [devfn]
 *     root P = 0 -> 0x01   context P = 0 -> 0x02   bad AW/TT -> 0x03
 *   TT = 2 (pass-through)                 -> pa = addr
 *   addr >= 2^min(AGAW, HAW)              -> 0x04
 *   IOTLB (DID, page) hit -> pa; miss -> walk 3/4/5 levels (slpt.ts)
 *     no R / no W -> 0x06 / 0x05   reserved bits -> 0x0C
 *   faults go to the fault recording registers at CAP.FRO*16, unless the
 *   context entry has FPD = 1 and the fault is "qualified" (fault.ts)
 *
 * Fault recording follows QEMU vtd_report_frcd_fault: records fill from
 * an internal index; a new fault while PFO is set is dropped; a fault from
 * a source-id that already has a pending record is collapsed (dropped);
 * when the next record is still full the fault is lost and FSTS.PFO set.
 * The first pending fault sets FSTS.PPF and FRI and raises the fault
 * event (an MSI to FEADDR/FEDATA, recorded in the interrupt log) unless
 * FECTL.IM. Software clears a record by writing 1 to its F bit.
 *
 * Invalidation: register based (CCMD, IOTLB at ECAP.IRO*16) and queued
 * (IQA/IQH/IQT, qi.ts; Linux's choice whenever ECAP.QI = 1, and required
 * for interrupt remapping). While QI is enabled, register-based requests
 * are ignored (QEMU). The context cache keeps decoded context entries per
 * source-id; the IOTLB keeps leaf translations per (DID, 4K/2M/1G page);
 * both serve stale data until invalidated, as hardware does. There is no
 * interrupt entry cache: IEC descriptors complete without effect.
 *
 * Defaults are QEMU q35's `-device intel-iommu,intremap=on` (39-bit,
 * SAGAW 39, SLLPS 2M|1G, one fault record at 0x220, IOTLB registers at
 * 0xf0, QI, IR, PT; no caching mode, no snoop control, no device-TLB):
 * CAP 0xd2008c22260206, ECAP 0xf00f4a.
 *
 * Not implemented: scalable mode (RTADDR.TTM must be 0), requests with
 * PASID (treated as without), advanced fault logging, protected memory
 * regions, the device-TLB/ATS path, posted interrupts.
 *
 * In a preset:
 *
 *   const unit = new VtdUnit({ name: 'dmar0', memory: m.memory, interrupts: m.interrupts });
 *   m.memory.addRegion({ name: 'dmar0', base: 0xfed90000n, size: VTD_REG_SIZE, kind: 'mmio', handler: unit });
 *   m.addIommu(unit);
 *   m.interruptWindow = new X86InterruptWindow({ interrupts: m.interrupts, units: [unit] });
 *   const master: DmaMaster = { name: 'vda', rid: 0x10, sid: 0x10, path: 'translated', iommu: unit };
 */
import { type IommuSidCounts, newSidCounts, memReads as countReads } from '../iommu-counts.ts';
import { type u64, hex } from '../u64.ts';
import type { AccessSize, MmioHandler, PhysicalMemory } from '../memory.ts';
import { BusError } from '../errors.ts';
import { clone, type Stateful } from '../state.ts';
import { encode, get } from '../fields.ts';
import type { DmaRequest, Iommu, TranslateOptions, Translation } from '../dma.ts';
import type { DmaFault, TranslationStep } from '../trace.ts';
import type { InterruptLog } from '../interrupts.ts';
import * as R from './regs.ts';
import * as F from './fault.ts';
import * as Q from './qi.ts';
import { fetchContext, agawToWidth, agawToLevels, sidText, CONTEXT_TT_PASS_THROUGH, type VtdContext } from './context.ts';
import { walkSecondLevel, type SlWalkParams } from './slpt.ts';
import { decodeMsi, remapRemappable, lapicTarget, DLM_NAMES, X86_MSI_BASE, X86_MSI_SIZE, type IrTable } from './ir.ts';

export interface VtdUnitOptions {
  /** Instance name, used in traces and fault records ("dmar0"). */
  name: string;
  /** The system bus: tables are read here, wait-descriptor status written here. */
  memory: PhysicalMemory;
  /** Where fault events and delivered interrupts are recorded. */
  interrupts?: InterruptLog;
  /** Host address width = CAP.MGAW + 1 (QEMU aw-bits): 39 (default) or 48. */
  haw?: number;
  /** SAGAW as address widths; default [39], plus 48 when haw >= 48 (QEMU). */
  sagaw?: (39 | 48 | 57)[];
  /** Superpages: '2M' and/or '1G' (CAP.SLLPS; QEMU sets both). */
  superpages?: ('2M' | '1G')[];
  /** Fault recording registers (CAP.NFR + 1); QEMU has 1. */
  faultRecords?: number;
  /** ECAP.QI (default true). */
  qi?: boolean;
  /** ECAP.IR (default true: intremap=on). */
  ir?: boolean;
  /** ECAP.EIM (default false: xAPIC destinations). */
  eim?: boolean;
  /** ECAP.PT (default true). */
  pt?: boolean;
  /** ECAP.SC: PTE.SNP honoured (default false, as QEMU's snoop-control). */
  sc?: boolean;
  /** CAP.CM caching mode (default false). */
  cachingMode?: boolean;
  /** Collapse a new fault when its source-id already has a pending record (QEMU; default true). */
  collapseFaults?: boolean;
}

interface TlbEntry {
  /** Page/superpage base output address. */
  pa: u64;
  shift: number;
  read: boolean;
  write: boolean;
  pte: u64;
  level: number;
}

interface VtdState {
  /** The register page as 32-bit words. */
  regs: Uint32Array;
  /** Root table address latched by SRTP. */
  root: u64;
  /** Interrupt remapping table latched by SIRTP. */
  irt: IrTable;
  nextFrcd: number;
  ctx: Map<number, VtdContext>;
  /** IOTLB: DID -> (size class * 2^46 + page number) -> entry. */
  tlb: Map<number, Map<number, TlbEntry>>;
  tlbCount: number;
  stats: VtdStats;
  /** The DID of the IOTLB invalidations since the last wait (null: none yet; -1: global, or more than one). */
  waitDid: number | null;
}

/**
 * What one source-id's transactions cost the unit, for a cost model
 * (kernel/cost.ts). Only real transactions count: inspection walks
 * (TranslateOptions.useTlb = false) are left out.
 */
/** Per-source-id counters (see iommu-counts.ts). */
export type VtdSidCounts = IommuSidCounts;

/** Invalidation work per domain id (key -1: global ones, and waits that follow no single DID). */
export interface VtdDidCounts {
  /** IOTLB invalidations (register writes or queued descriptors). */
  invalidations: number;
  /** Completions waited for: wait descriptors, or the poll after a register-based invalidation. */
  waits: number;
}

export interface VtdStats {
  tlbHits: number;
  tlbMisses: number;
  walks: number;
  faults: number;
  faultsLost: number;
  interrupts: number;
  invalidations: number;
  descriptors: number;
  /** Added for the cost model: invalidations split by kind, and completions waited for. */
  iotlbInvalidations: number;
  contextInvalidations: number;
  waits: number;
  bySid: Record<number, VtdSidCounts>;
  byDid: Record<number, VtdDidCounts>;
}

const newVtdSidCounts = newSidCounts;
const memReads = (steps: TranslationStep[], from: number): number => countReads(steps, from, 'context-cache hit');

/** Stated limit: IOTLB entries kept (oldest evicted first). */
export const VTD_IOTLB_CAPACITY = 4096;
const CLASS_MUL = 2 ** 46;
const SHIFTS = [12, 21, 30] as const;
const w = (off: number): number => off >> 2;
const MASK64 = 0xffff_ffff_ffff_ffffn;

export type InterruptOutcome =
  | { ok: true; controller: 'ir' | 'lapic'; vector: number; dest: number; detail: string; index?: number }
  | { ok: false; fault: DmaFault; detail: string };

export class VtdUnit implements Iommu, MmioHandler, Stateful {
  readonly kind = 'vtd' as const;
  readonly name: string;
  readonly haw: number;
  readonly cap: u64;
  readonly ecap: u64;
  private readonly mem: PhysicalMemory;
  private readonly irq: InterruptLog | undefined;
  private readonly collapse: boolean;
  private readonly nfr: number;
  private s: VtdState;

  constructor(o: VtdUnitOptions) {
    this.name = o.name;
    this.mem = o.memory;
    this.irq = o.interrupts;
    this.haw = o.haw ?? 39;
    this.collapse = o.collapseFaults ?? true;
    this.nfr = o.faultRecords ?? 1;
    if (this.haw < 32 || this.haw > 57) throw new Error(`VT-d ${o.name}: host address width ${this.haw} out of range`);
    if (this.nfr < 1 || this.nfr > 0x100 || R.DMAR_FRCD_REG_OFFSET + R.FRCD_SIZE * this.nfr > 0x1000) throw new Error(`VT-d ${o.name}: ${this.nfr} fault records do not fit the register page`);
    const widths = o.sagaw ?? (this.haw >= 48 ? [39, 48] : [39]);
    let sagaw = 0;
    for (const wd of widths) sagaw |= 1 << ((wd - 30) / 9 + 0);
    const sp = o.superpages ?? ['2M', '1G'];
    const sllps = (sp.includes('2M') ? 1 : 0) | (sp.includes('1G') ? 2 : 0);
    // CAP as QEMU vtd_init builds it: FRO, NFR, ND (64K domains), MAMV, PSI, SLLPS, MGAW, SAGAW, drain bits.
    this.cap = encode(R.CAP_LAYOUT, {
      ND: 6, CM: o.cachingMode === true, SAGAW: sagaw, MGAW: this.haw - 1, FRO: R.DMAR_FRCD_REG_OFFSET / 16, SLLPS: sllps,
      PSI: 1, NFR: this.nfr - 1, MAMV: R.VTD_MAMV, DWD: 1, DRD: 1,
    })[0]!;
    const ir = o.ir ?? true;
    this.ecap = encode(R.ECAP_LAYOUT, {
      QI: o.qi ?? true, IR: ir, EIM: ir && o.eim === true, PT: o.pt ?? true, SC: o.sc === true,
      IRO: R.DMAR_IOTLB_REG_OFFSET / 16, MHMV: ir ? 15 : 0,
    })[0]!;
    const regs = new Uint32Array(0x400);
    regs[w(R.DMAR_VER_REG)] = 0x10; // 1:0, as QEMU
    regs[w(R.DMAR_CAP_REG)] = Number(this.cap & 0xffff_ffffn);
    regs[w(R.DMAR_CAP_REG) + 1] = Number(this.cap >> 32n);
    regs[w(R.DMAR_ECAP_REG)] = Number(this.ecap & 0xffff_ffffn);
    regs[w(R.DMAR_ECAP_REG) + 1] = Number(this.ecap >> 32n);
    regs[w(R.DMAR_FECTL_REG)] = R.DMA_FECTL_IM >>> 0; // masked at reset
    regs[w(R.DMAR_IECTL_REG)] = R.DMA_IECTL_IM >>> 0;
    this.s = {
      regs, root: 0n, irt: { base: 0n, entries: 0, eime: false }, nextFrcd: 0, ctx: new Map(), tlb: new Map(), tlbCount: 0,
      stats: {
        tlbHits: 0, tlbMisses: 0, walks: 0, faults: 0, faultsLost: 0, interrupts: 0, invalidations: 0, descriptors: 0,
        iotlbInvalidations: 0, contextInvalidations: 0, waits: 0, bySid: {}, byDid: {},
      },
      waitDid: null,
    };
  }

  // ---- capabilities --------------------------------------------------------------------

  private capField(n: string): number {
    return Number(get(R.CAP_LAYOUT, [this.cap], n));
  }
  private ecapFlag(n: string): boolean {
    return get(R.ECAP_LAYOUT, [this.ecap], n) === 1n;
  }
  get sagaw(): number {
    return this.capField('SAGAW');
  }
  get sllps(): number {
    return this.capField('SLLPS');
  }
  /** CAP.FRO*16: offset of fault record 0. */
  get frcdOffset(): number {
    return this.capField('FRO') * 16;
  }
  get faultRecordCount(): number {
    return this.capField('NFR') + 1;
  }
  /** ECAP.IRO*16: offset of IVA_REG (IOTLB_REG is at +8). */
  get iotlbOffset(): number {
    return Number(get(R.ECAP_LAYOUT, [this.ecap], 'IRO')) * 16;
  }
  get hasQi(): boolean {
    return this.ecapFlag('QI');
  }
  get hasIr(): boolean {
    return this.ecapFlag('IR');
  }
  get hasPt(): boolean {
    return this.ecapFlag('PT');
  }

  // ---- registers -----------------------------------------------------------------------

  reg32(off: number): number {
    return this.s.regs[w(off)]!;
  }
  reg64(off: number): u64 {
    return BigInt(this.s.regs[w(off)]!) | (BigInt(this.s.regs[w(off) + 1]!) << 32n);
  }
  private set64(off: number, v: u64): void {
    this.s.regs[w(off)] = Number(v & 0xffff_ffffn);
    this.s.regs[w(off) + 1] = Number((v >> 32n) & 0xffff_ffffn);
  }

  read(offset: u64, size: AccessSize): u64 {
    const off = Number(offset);
    if (off >= 0x1000) return 0n;
    if (size === 8) return this.reg64(off & ~7);
    const word = BigInt(this.s.regs[w(off)]!);
    if (size === 4) return word;
    return (word >> BigInt(8 * (off & 3))) & ((1n << BigInt(8 * size)) - 1n);
  }

  write(offset: u64, size: AccessSize, value: u64): void {
    const off = Number(offset);
    if (off >= 0x1000) return;
    if (size === 8) {
      // A 64-bit write is one access: store both halves, then act (CCMD/IOTLB fire on the whole value).
      this.writeReg(off & ~7, Number(value & 0xffff_ffffn), false);
      this.writeReg((off & ~7) + 4, Number((value >> 32n) & 0xffff_ffffn), true);
      return;
    }
    if (size === 4) return this.writeReg(off & ~3, Number(value & 0xffff_ffffn), true);
    const base = off & ~3;
    const sh = 8 * (off & 3);
    const m = ((1 << (8 * size)) - 1) << sh;
    this.writeReg(base, ((this.s.regs[w(base)]! & ~m) | ((Number(value) << sh) & m)) >>> 0, true);
  }

  private writeReg(off: number, v: number, act: boolean): void {
    const r = this.s.regs;
    const iotlb = this.iotlbOffset;
    const fro = this.frcdOffset;
    if (off >= fro && off < fro + R.FRCD_SIZE * this.faultRecordCount) {
      // Fault records are read-only except F (bit 127 = bit 31 of the dword at +12), write-1-to-clear.
      if (((off - fro) & 0xf) === 12 && v & 0x8000_0000) {
        r[w(off)] = (r[w(off)]! & 0x7fff_ffff) >>> 0;
        this.updatePpf();
      }
      return;
    }
    switch (off) {
      case R.DMAR_VER_REG: case R.DMAR_CAP_REG: case R.DMAR_CAP_REG + 4: case R.DMAR_ECAP_REG: case R.DMAR_ECAP_REG + 4:
      case R.DMAR_GSTS_REG: case R.DMAR_IQH_REG: case R.DMAR_IQH_REG + 4:
        return; // read-only
      case R.DMAR_GCMD_REG:
        r[w(off)] = v;
        this.gcmd(v);
        return;
      case R.DMAR_CCMD_REG:
        r[w(off)] = v;
        return;
      case R.DMAR_CCMD_REG + 4:
        r[w(off)] = v;
        if (act) this.ccmd();
        return;
      case R.DMAR_FSTS_REG: {
        const keep = r[w(off)]! & ~(v & R.FSTS_RW1C);
        r[w(off)] = keep >>> 0;
        // vtd_handle_fsts_write: with nothing left to service, the pending event is dropped.
        const fectl = r[w(R.DMAR_FECTL_REG)]!;
        if (fectl & R.DMA_FECTL_IP && !(keep & (R.DMA_FSTS_PFO | R.DMA_FSTS_PPF | R.DMA_FSTS_IQE))) r[w(R.DMAR_FECTL_REG)] = (fectl & ~R.DMA_FECTL_IP) >>> 0;
        return;
      }
      case R.DMAR_FECTL_REG: {
        const ip = r[w(off)]! & R.DMA_FECTL_IP;
        r[w(off)] = ((v & R.DMA_FECTL_IM) | ip) >>> 0;
        if (ip && !(v & R.DMA_FECTL_IM)) this.sendEvent(R.DMAR_FECTL_REG, R.DMAR_FEADDR_REG, R.DMAR_FEDATA_REG, 'fault event (held back by FECTL.IM)');
        return;
      }
      case R.DMAR_ICS_REG: {
        r[w(off)] = (r[w(off)]! & ~(v & R.DMA_ICS_IWC)) >>> 0;
        const iectl = r[w(R.DMAR_IECTL_REG)]!;
        if (iectl & R.DMA_IECTL_IP && !(r[w(off)]! & R.DMA_ICS_IWC)) r[w(R.DMAR_IECTL_REG)] = (iectl & ~R.DMA_IECTL_IP) >>> 0;
        return;
      }
      case R.DMAR_IECTL_REG: {
        const ip = r[w(off)]! & R.DMA_IECTL_IP;
        r[w(off)] = ((v & R.DMA_IECTL_IM) | ip) >>> 0;
        if (ip && !(v & R.DMA_IECTL_IM)) this.sendEvent(R.DMAR_IECTL_REG, R.DMAR_IEADDR_REG, R.DMAR_IEDATA_REG, 'invalidation completion event (held back by IECTL.IM)');
        return;
      }
      case R.DMAR_IQT_REG:
        r[w(off)] = v & 0x7fff0; // QT [18:4]
        if (act) this.processQueue();
        return;
      case R.DMAR_IQT_REG + 4:
        // [63:19] are reserved; a 64-bit write ends here, so process now.
        if (act) this.processQueue();
        return;
      default:
        if (off === iotlb + 12) {
          r[w(off)] = v;
          if (act) this.iotlbReg();
          return;
        }
        r[w(off)] = v;
    }
  }

  // ---- global command ------------------------------------------------------------------

  /** vtd_handle_gcmd_write: act on bits that differ from GSTS; SRTP/SIRTP act whenever set. */
  private gcmd(v: number): void {
    const r = this.s.regs;
    const status = r[w(R.DMAR_GSTS_REG)]!;
    const changed = status ^ v;
    let gsts = status;
    if (changed & R.DMA_GCMD_TE) {
      gsts = v & R.DMA_GCMD_TE ? gsts | R.DMA_GSTS_TES : gsts & ~R.DMA_GSTS_TES;
      if (!(v & R.DMA_GCMD_TE)) this.s.nextFrcd = 0;
      this.resetCaches();
    }
    if (v & R.DMA_GCMD_SRTP) {
      // vtd_root_table_setup: latch RTADDR. TTM (scalable mode) is not implemented and ignored.
      this.s.root = this.reg64(R.DMAR_RTADDR_REG) & ((1n << BigInt(this.haw)) - 1n) & ~0xfffn;
      gsts |= R.DMA_GSTS_RTPS;
      this.resetCaches();
    }
    if (changed & R.DMA_GCMD_QIE && this.hasQi) {
      if (v & R.DMA_GCMD_QIE) gsts |= R.DMA_GSTS_QIES;
      else if (this.reg64(R.DMAR_IQH_REG) === (this.reg64(R.DMAR_IQT_REG) & 0x7fff0n)) {
        gsts &= ~R.DMA_GSTS_QIES;
        this.set64(R.DMAR_IQH_REG, 0n);
      }
    }
    if (v & R.DMA_GCMD_SIRTP && this.hasIr) {
      const irta = this.reg64(R.DMAR_IRTA_REG);
      this.s.irt = { base: irta & ((1n << BigInt(this.haw)) - 1n) & ~0xfffn, entries: 2 ** (Number(irta & R.IRTA_S_MASK) + 1), eime: (irta & R.IRTA_EIME) !== 0n && this.ecapFlag('EIM') };
      gsts |= R.DMA_GSTS_IRTPS;
    }
    if (changed & R.DMA_GCMD_IRE && this.hasIr) gsts = v & R.DMA_GCMD_IRE ? gsts | R.DMA_GSTS_IRES : gsts & ~R.DMA_GSTS_IRES;
    if (changed & R.DMA_GCMD_CFI && this.hasIr) gsts = v & R.DMA_GCMD_CFI ? gsts | R.DMA_GSTS_CFIS : gsts & ~R.DMA_GSTS_CFIS;
    r[w(R.DMAR_GSTS_REG)] = gsts >>> 0;
  }

  private resetCaches(): void {
    this.s.ctx.clear();
    this.s.tlb.clear();
    this.s.tlbCount = 0;
  }

  get translationEnabled(): boolean {
    return (this.reg32(R.DMAR_GSTS_REG) & R.DMA_GSTS_TES) !== 0;
  }
  get irEnabled(): boolean {
    return (this.reg32(R.DMAR_GSTS_REG) & R.DMA_GSTS_IRES) !== 0;
  }
  private get qiEnabled(): boolean {
    return (this.reg32(R.DMAR_GSTS_REG) & R.DMA_GSTS_QIES) !== 0;
  }

  // ---- invalidation --------------------------------------------------------------------

  /** Context-cache invalidation by granularity (1 global, 2 domain, 3 device). Returns the actual granularity. */
  private invalidateContext(gran: number, did: number, sid: number, fm: number): number {
    this.s.stats.invalidations++;
    this.s.stats.contextInvalidations++;
    if (gran === 3) (this.s.stats.bySid[sid] ??= newVtdSidCounts()).cfgInvalidations++;
    if (gran === 1) {
      this.s.ctx.clear();
      return 1;
    }
    if (gran === 2) {
      for (const [k, c] of this.s.ctx) if (c.did === did) this.s.ctx.delete(k);
      return 2;
    }
    if (gran === 3) {
      const mask = ~[0, 4, 6, 7][fm & 3]! & 0xffff;
      for (const k of [...this.s.ctx.keys()]) if ((k & mask) === (sid & mask)) this.s.ctx.delete(k);
      return 3;
    }
    return 0;
  }

  /** IOTLB invalidation (1 global, 2 domain, 3 page: addr and 2^am pages). Returns the actual granularity. */
  private invalidateIotlb(gran: number, did: number, addr: u64, am: number): number {
    this.s.stats.invalidations++;
    this.s.stats.iotlbInvalidations++;
    const key = gran === 1 ? -1 : did;
    (this.s.stats.byDid[key] ??= { invalidations: 0, waits: 0 }).invalidations++;
    this.s.waitDid = this.s.waitDid === null || this.s.waitDid === key ? key : -1;
    const t = this.s.tlb;
    if (gran === 1) {
      t.clear();
      this.s.tlbCount = 0;
      return 1;
    }
    const m = t.get(did);
    if (gran === 2) {
      if (m) this.s.tlbCount -= m.size;
      t.delete(did);
      return 2;
    }
    if (gran === 3) {
      if (am > R.VTD_MAMV) return 0;
      const size = 1n << BigInt(12 + am);
      const lo = addr & ~(size - 1n);
      const hi = lo + size;
      if (m) {
        for (const k of [...m.keys()]) {
          const cls = Math.floor(k / CLASS_MUL);
          const base = BigInt(k - cls * CLASS_MUL) << BigInt(SHIFTS[cls]!);
          const end = base + (1n << BigInt(SHIFTS[cls]!));
          if (base < hi && lo < end) {
            m.delete(k);
            this.s.tlbCount--;
          }
        }
      }
      return 3;
    }
    return 0;
  }

  /** CCMD written with ICC: register-based context-cache invalidation (vtd_handle_ccmd_write). */
  private ccmd(): void {
    const v = this.reg64(R.DMAR_CCMD_REG);
    if (!(v & R.DMA_CCMD_ICC)) return;
    if (this.qiEnabled) return; // ignored while queued invalidation is on (QEMU); ICC stays set
    const cirg = Number((v >> 61n) & 3n);
    const caig = this.invalidateContext(cirg, Number(v & 0xffffn), Number((v >> 16n) & 0xffffn), Number((v >> 32n) & 3n));
    this.countWait(); // software polls CCMD.ICC until it clears
    this.set64(R.DMAR_CCMD_REG, (v & ~R.DMA_CCMD_ICC & ~R.DMA_CCMD_CAIG_MASK & MASK64) | (BigInt(caig) << 59n));
  }

  /** IOTLB_REG written with IVT: register-based IOTLB invalidation (vtd_handle_iotlb_write). */
  private iotlbReg(): void {
    const off = this.iotlbOffset + 8;
    const v = this.reg64(off);
    if (!(v & R.DMA_TLB_IVT)) return;
    if (this.qiEnabled) return;
    const iva = this.reg64(this.iotlbOffset);
    const iaig = this.invalidateIotlb(Number((v >> 60n) & 3n), Number((v >> 32n) & 0xffffn), iva & ~0xfffn, Number(iva & 0x3fn));
    this.countWait(); // software polls IOTLB_REG.IVT until it clears
    this.set64(off, (v & ~R.DMA_TLB_IVT & ~R.DMA_TLB_IAIG_MASK & MASK64) | (BigInt(iaig) << 57n));
  }

  /** Process descriptors from IQH to IQT (vtd_fetch_inv_desc). An unknown descriptor stops with FSTS.IQE. */
  private processQueue(): void {
    const r = this.s.regs;
    if (!this.qiEnabled || r[w(R.DMAR_FSTS_REG)]! & R.DMA_FSTS_IQE) return;
    const iqa = this.reg64(R.DMAR_IQA_REG);
    const base = iqa & ~0xfffn & ((1n << BigInt(this.haw)) - 1n);
    const size = 2 ** (Number(iqa & R.IQA_QS_MASK) + 8);
    const tail = Number((this.reg64(R.DMAR_IQT_REG) >> 4n) & 0x7fffn);
    let head = Number((this.reg64(R.DMAR_IQH_REG) >> 4n) & 0x7fffn);
    if (tail >= size) return this.queueError();
    for (let n = 0; head !== tail && n < size; n++) {
      let desc: u64[];
      try {
        desc = this.mem.readWords(base + BigInt(Q.QI_DESC_SIZE * head), 2);
      } catch (e) {
        if (!(e instanceof BusError)) throw e;
        return this.queueError();
      }
      if (!this.execDescriptor(desc)) return this.queueError();
      this.s.stats.descriptors++;
      head = (head + 1) % size;
      this.set64(R.DMAR_IQH_REG, BigInt(head) << 4n);
    }
  }

  private queueError(): void {
    const r = this.s.regs;
    const pre = r[w(R.DMAR_FSTS_REG)]!;
    r[w(R.DMAR_FSTS_REG)] = (pre | R.DMA_FSTS_IQE) >>> 0;
    this.faultEvent(pre);
  }

  private execDescriptor(d: u64[]): boolean {
    const qw0 = d[0]!;
    const qw1 = d[1]!;
    const gran = Number((qw0 >> 4n) & 3n);
    switch (Number(qw0 & 0xfn)) {
      case Q.QI_CC_TYPE:
        return this.invalidateContext(gran, Number((qw0 >> 16n) & 0xffffn), Number((qw0 >> 32n) & 0xffffn), Number((qw0 >> 48n) & 3n)) !== 0;
      case Q.QI_IOTLB_TYPE:
        return this.invalidateIotlb(gran, Number((qw0 >> 16n) & 0xffffn), qw1 & ~0xfffn, Number(qw1 & 0x3fn)) !== 0;
      case Q.QI_DIOTLB_TYPE:
      case Q.QI_IEC_TYPE:
        return true; // no device-TLBs and no interrupt entry cache in this model
      case Q.QI_IWD_TYPE: {
        this.countWait();
        if (qw0 & Q.QI_IWD_STATUS_WRITE) {
          try {
            this.mem.write32(qw1 & ~3n, qw0 >> 32n);
          } catch (e) {
            if (!(e instanceof BusError)) throw e;
            return false;
          }
        } else if (qw0 & Q.QI_IWD_IF) {
          this.completionEvent();
        } else {
          return false;
        }
        return true;
      }
      default:
        return false;
    }
  }

  /** A completion software waits for, charged to the DID of the IOTLB invalidations it completes. */
  private countWait(): void {
    this.s.stats.waits++;
    (this.s.stats.byDid[this.s.waitDid ?? -1] ??= { invalidations: 0, waits: 0 }).waits++;
    this.s.waitDid = null;
  }

  private completionEvent(): void {
    const r = this.s.regs;
    if (r[w(R.DMAR_ICS_REG)]! & R.DMA_ICS_IWC) return;
    r[w(R.DMAR_ICS_REG)] = R.DMA_ICS_IWC;
    r[w(R.DMAR_IECTL_REG)] = (r[w(R.DMAR_IECTL_REG)]! | R.DMA_IECTL_IP) >>> 0;
    if (!(r[w(R.DMAR_IECTL_REG)]! & R.DMA_IECTL_IM)) this.sendEvent(R.DMAR_IECTL_REG, R.DMAR_IEADDR_REG, R.DMAR_IEDATA_REG, 'invalidation completion event');
  }

  /** Deliver an event MSI (fault or completion) to FEADDR/FEDATA (IEADDR/IEDATA) and clear IP. */
  private sendEvent(ctl: number, addrReg: number, dataReg: number, what: string): void {
    const r = this.s.regs;
    const addr = BigInt(r[w(addrReg)]!) | (BigInt(r[w(addrReg + 4)]!) << 32n);
    const data = BigInt(r[w(dataReg)]!);
    r[w(ctl)] = (r[w(ctl)]! & ~(ctl === R.DMAR_FECTL_REG ? R.DMA_FECTL_IP : R.DMA_IECTL_IP)) >>> 0;
    this.s.stats.interrupts++;
    // Event interrupts come from the unit itself in compatibility format: never remapped.
    this.irq?.raise({ controller: 'lapic', source: this.name, addr, data, detail: `${this.name}: ${what}: vector ${hex(Number(data & 0xffn), 2)} to APIC ${Number((addr >> 12n) & 0xffn)}` });
  }

  // ---- fault recording -----------------------------------------------------------------

  private frcdAddr(i: number): number {
    return this.frcdOffset + R.FRCD_SIZE * i;
  }
  private frcdSet(i: number): boolean {
    return (this.s.regs[w(this.frcdAddr(i) + 12)]! & 0x8000_0000) !== 0;
  }
  private updatePpf(): void {
    let any = false;
    for (let i = 0; i < this.faultRecordCount && !any; i++) any = this.frcdSet(i);
    const r = this.s.regs;
    r[w(R.DMAR_FSTS_REG)] = (any ? r[w(R.DMAR_FSTS_REG)]! | R.DMA_FSTS_PPF : r[w(R.DMAR_FSTS_REG)]! & ~R.DMA_FSTS_PPF) >>> 0;
  }

  /** vtd_generate_fault_event: an MSI unless something was already pending or FECTL.IM. */
  private faultEvent(preFsts: number): void {
    if (preFsts & (R.DMA_FSTS_PPF | R.DMA_FSTS_PFO | R.DMA_FSTS_IQE)) return;
    const r = this.s.regs;
    r[w(R.DMAR_FECTL_REG)] = (r[w(R.DMAR_FECTL_REG)]! | R.DMA_FECTL_IP) >>> 0;
    if (!(r[w(R.DMAR_FECTL_REG)]! & R.DMA_FECTL_IM)) this.sendEvent(R.DMAR_FECTL_REG, R.DMAR_FEADDR_REG, R.DMAR_FEDATA_REG, 'DMAR fault event');
  }

  /**
   * vtd_report_frcd_fault: put a record in the next fault recording
   * register. Returns whether it was recorded, and why not.
   */
  private recordFault(words: u64[], sid: number): { recorded: boolean; why?: string } {
    const r = this.s.regs;
    const fsts = r[w(R.DMAR_FSTS_REG)]!;
    if (fsts & R.DMA_FSTS_PFO) {
      this.s.stats.faultsLost++;
      return { recorded: false, why: 'FSTS.PFO is set: faults are dropped until software clears it' };
    }
    if (this.collapse) {
      for (let i = 0; i < this.faultRecordCount; i++) {
        if (this.frcdSet(i) && (r[w(this.frcdAddr(i) + 8)]! & 0xffff) === sid) {
          this.s.stats.faultsLost++;
          return { recorded: false, why: `collapsed: record ${i} already holds a pending fault from ${sidText(sid)}` };
        }
      }
    }
    const i = this.s.nextFrcd;
    if (this.frcdSet(i)) {
      r[w(R.DMAR_FSTS_REG)] = (fsts | R.DMA_FSTS_PFO) >>> 0;
      this.s.stats.faultsLost++;
      return { recorded: false, why: `fault record ${i} is still full: the fault is lost and FSTS.PFO set` };
    }
    const a = this.frcdAddr(i);
    r[w(a)] = Number(words[0]! & 0xffff_ffffn);
    r[w(a) + 1] = Number(words[0]! >> 32n);
    r[w(a) + 2] = Number(words[1]! & 0xffff_ffffn);
    r[w(a) + 3] = Number((words[1]! >> 32n) | 0x8000_0000n) >>> 0;
    if (!(fsts & R.DMA_FSTS_PPF)) r[w(R.DMAR_FSTS_REG)] = ((r[w(R.DMAR_FSTS_REG)]! & ~0xff00) | (i << 8)) >>> 0;
    this.updatePpf();
    this.s.nextFrcd = (i + 1) % this.faultRecordCount;
    this.s.stats.faults++;
    this.faultEvent(fsts);
    return { recorded: true };
  }

  /** The fault records as they sit in the registers now. */
  faultRecords(): { index: number; offset: number; words: u64[]; pending: boolean }[] {
    const out: { index: number; offset: number; words: u64[]; pending: boolean }[] = [];
    for (let i = 0; i < this.faultRecordCount; i++) {
      const off = this.frcdAddr(i);
      out.push({ index: i, offset: off, words: [this.reg64(off), this.reg64(off + 8)], pending: this.frcdSet(i) });
    }
    return out;
  }

  // ---- DMA translation -------------------------------------------------------------------

  private caps(): { haw: number; sagaw: number; pt: boolean; dt: boolean } {
    return { haw: this.haw, sagaw: this.sagaw, pt: this.hasPt, dt: this.ecapFlag('DT') };
  }

  private fault(req: DmaRequest, reason: number, detail: string, steps: TranslationStep[], record: boolean, fpd: boolean): Translation {
    const fr = F.faultReason(reason);
    const qualified = fr?.qualified ?? true;
    let recorded = false;
    let note = '';
    if (!record) {
      // a walk for inspection: nothing is written
    } else if (fpd && qualified) note = ' (not recorded: context entry FPD = 1)';
    else {
      const r = this.recordFault(F.encodeFaultRecord({ addr: req.addr, sid: req.sid, reason, read: !req.write }), req.sid);
      recorded = r.recorded;
      if (!r.recorded) note = ` (not recorded: ${r.why})`;
    }
    return {
      ok: false,
      steps,
      fault: { source: this.name, code: reason, name: F.faultName(reason), detail: `${req.write ? 'write' : 'read'} of ${hex(req.addr)} from ${sidText(req.sid)}: ${detail}${note}`, recorded },
    };
  }

  translate(req: DmaRequest, opts?: TranslateOptions): Translation {
    const useTlb = opts?.useTlb !== false;
    const record = opts?.record !== false;
    if (!this.translationEnabled) {
      return { ok: true, pa: req.addr, steps: [{ level: 'GSTS', note: 'TES=0: DMA remapping is off, the address is used as-is' }], iotlbHit: false };
    }
    const steps: TranslationStep[] = [];
    const sc = useTlb ? (this.s.stats.bySid[req.sid] ??= newVtdSidCounts()) : undefined;
    if (sc) sc.translations++;
    let c = useTlb ? this.s.ctx.get(req.sid) : undefined;
    if (c) {
      steps.push({ level: 'context', descAddr: c.ctxAddr, desc: c.ctx, note: `context-cache hit (memory not read): DID ${c.did} TT=${c.tt} AW=${c.aw}` });
    } else {
      const got = fetchContext(this.mem, this.s.root, req.sid, this.caps(), steps);
      if (sc) sc.cfgReads += memReads(steps, 0);
      if ('reason' in got) return this.fault(req, got.reason, got.detail, steps, record, got.fpd);
      c = got;
      if (useTlb) this.s.ctx.set(req.sid, c);
    }
    if (c.tt === CONTEXT_TT_PASS_THROUGH) {
      steps.push({ level: 'PT', note: 'TT=2 pass-through: the address is used as-is' });
      if (sc) sc.bypass++;
      return { ok: true, pa: req.addr, steps, iotlbHit: false };
    }
    const width = Math.min(agawToWidth(c.aw), this.haw);
    if (req.addr >> BigInt(width) !== 0n) {
      return this.fault(req, F.VTD_FR_ADDR_BEYOND_MGAW, `the address is beyond ${width} bits (context AW=${c.aw}: ${agawToWidth(c.aw)}-bit, unit ${this.haw}-bit)`, steps, record, c.fpd);
    }
    if (useTlb) {
      const m = this.s.tlb.get(c.did);
      if (m) {
        const vpn = Number(req.addr >> 12n);
        const e = m.get(vpn) ?? m.get(CLASS_MUL + Math.floor(vpn / 512)) ?? m.get(2 * CLASS_MUL + Math.floor(vpn / 262144));
        if (e) {
          steps.push({ level: 'IOTLB', desc: e.pte, note: `hit (DID ${c.did}): ${e.read ? 'R' : '-'}${e.write ? 'W' : '-'}` });
          if (req.write ? e.write : e.read) {
            this.s.stats.tlbHits++;
            sc!.tlbHits++;
            return { ok: true, pa: e.pa | (req.addr & ((1n << BigInt(e.shift)) - 1n)), steps, iotlbHit: true };
          }
          return this.fault(req, req.write ? F.VTD_FR_WRITE : F.VTD_FR_READ, `the cached translation does not grant ${req.write ? 'W' : 'R'}`, steps, record, c.fpd);
        }
      }
      this.s.stats.tlbMisses++;
      sc!.tlbMisses++;
    }
    this.s.stats.walks++;
    const p: SlWalkParams = { root: c.slptptr, levels: agawToLevels(c.aw), haw: this.haw, sllps: this.sllps, sc: this.ecapFlag('SC'), dt: this.ecapFlag('DT') };
    const before = steps.length;
    const walk = walkSecondLevel(this.mem, p, req.addr, req.write, steps);
    if (sc) {
      sc.walks++;
      sc.walkReads += memReads(steps, before);
    }
    if (!walk.ok) return this.fault(req, walk.reason, walk.detail, steps, record, c.fpd);
    const size = 1n << BigInt(walk.pageShift);
    const base = walk.pa & ~(size - 1n);
    // VT-d 3.15 (QEMU): an untranslated request must not be remapped into the interrupt range.
    if (base <= X86_MSI_BASE + X86_MSI_SIZE - 1n && base + size - 1n >= X86_MSI_BASE) {
      return this.fault(req, F.VTD_FR_INTERRUPT_ADDR, `the translation ${hex(base)} lands in the interrupt range 0xfee00000-0xfeefffff`, steps, record, c.fpd);
    }
    if (useTlb) this.tlbFill(c.did, req.addr, { pa: base, shift: walk.pageShift, read: walk.read, write: walk.write, pte: walk.pte, level: walk.level });
    return { ok: true, pa: walk.pa, steps, iotlbHit: false };
  }

  private tlbFill(did: number, addr: u64, e: TlbEntry): void {
    const cls = SHIFTS.indexOf(e.shift as 12 | 21 | 30);
    if (cls < 0) return;
    if (this.s.tlbCount >= VTD_IOTLB_CAPACITY) {
      const [firstDid, firstMap] = this.s.tlb.entries().next().value!;
      firstMap.delete(firstMap.keys().next().value!);
      this.s.tlbCount--;
      if (firstMap.size === 0) this.s.tlb.delete(firstDid);
    }
    let m = this.s.tlb.get(did);
    if (!m) this.s.tlb.set(did, (m = new Map()));
    const key = cls * CLASS_MUL + Number(addr >> BigInt(e.shift));
    if (!m.has(key)) this.s.tlbCount++;
    m.set(key, e);
  }

  // ---- interrupt requests ------------------------------------------------------------------

  /**
   * A write to the interrupt range (0xFEE00000-0xFEEFFFFF) from source-id
   * `sid`: remapped through the IRT when GSTS.IRES = 1, else delivered in
   * compatibility format. Blocked requests are recorded as IR faults.
   */
  interruptRequest(sid: number, addr: u64, data: number, record = true): InterruptOutcome {
    const m = decodeMsi(addr, data);
    const from = sidText(sid);
    if (!this.irEnabled) {
      const note = m.remappable ? ' (remappable format, but interrupt remapping is off: the bits are read as a compatibility-format address)' : '';
      const c = m.remappable ? decodeMsi(addr & ~0x10n, data) : m;
      const t = lapicTarget(c.dest!, c.dm!, c.dlm === 1);
      return { ok: true, controller: 'lapic', vector: c.vector!, dest: t.apic, detail: `${this.name}: IR off: ${from} -> vector ${hex(c.vector!, 2)} to ${t.text} (${DLM_NAMES[c.dlm!] ?? c.dlm}, ${c.tm ? 'level' : 'edge'})${note}` };
    }
    if (!m.remappable) {
      if (this.reg32(R.DMAR_GSTS_REG) & R.DMA_GSTS_CFIS) {
        const t = lapicTarget(m.dest!, m.dm!, m.dlm === 1);
        return { ok: true, controller: 'lapic', vector: m.vector!, dest: t.apic, detail: `${this.name}: compatibility-format interrupt passed (GSTS.CFIS = 1): ${from} -> vector ${hex(m.vector!, 2)} to ${t.text}` };
      }
      return this.irFault(sid, F.VTD_FR_IR_REQ_COMPAT, 0, `${from} sent a compatibility-format interrupt (address ${hex(addr)}, data ${hex(data)}) while interrupt remapping is on and GSTS.CFIS = 0`, false, record);
    }
    const r = remapRemappable(this.mem, this.s.irt, sid, addr, data, { pi: this.capField('PI') === 1 });
    if (!r.ok) return this.irFault(sid, r.reason, r.index, r.detail, r.suppressed, record);
    const t = lapicTarget(r.dest, r.dm && !this.s.irt.eime, r.dlm === 1);
    return {
      ok: true, controller: 'ir', vector: r.vector, dest: t.apic, index: r.index,
      detail: `${this.name}: IRTE ${r.index} at ${hex(r.irteAddr)}: ${from} -> vector ${hex(r.vector, 2)} to ${t.text} (${DLM_NAMES[r.dlm] ?? r.dlm}, ${r.tm ? 'level' : 'edge'}, ${r.dm ? 'logical' : 'physical'})`,
    };
  }

  private irFault(sid: number, reason: number, index: number, detail: string, suppressed: boolean, record: boolean): InterruptOutcome {
    let recorded = false;
    let note = '';
    if (record && !suppressed) {
      const r = this.recordFault(F.encodeFaultRecord({ irIndex: index, sid, reason }), sid);
      recorded = r.recorded;
      if (!r.recorded) note = ` (not recorded: ${r.why})`;
    } else if (suppressed) note = ' (not recorded: IRTE FPD = 1)';
    const d = `${this.name}: interrupt blocked: ${detail}${note}`;
    return { ok: false, detail: d, fault: { source: this.name, code: reason, name: F.faultName(reason), detail: d, recorded } };
  }

  // ---- views for inspectors and commands ---------------------------------------------------

  /** The root table address in use (latched by the last SRTP). */
  get rootTable(): u64 {
    return this.s.root;
  }
  /** The interrupt remapping table in use (latched by the last SIRTP). */
  get irTable(): Readonly<IrTable> {
    return this.s.irt;
  }
  contextCache(): { sid: number; did: number; tt: number; aw: number; ctxAddr: u64; ctx: u64[] }[] {
    return [...this.s.ctx.values()].map((c) => ({ sid: c.sid, did: c.did, tt: c.tt, aw: c.aw, ctxAddr: c.ctxAddr, ctx: [...c.ctx] }));
  }
  /** IOTLB contents: (DID, IOVA of the page/superpage, size, PA, permissions). */
  iotlb(): { did: number; iova: u64; size: number; pa: u64; perm: string }[] {
    const out: { did: number; iova: u64; size: number; pa: u64; perm: string }[] = [];
    for (const [did, m] of this.s.tlb) {
      for (const [k, e] of m) {
        const cls = Math.floor(k / CLASS_MUL);
        out.push({ did, iova: BigInt(k - cls * CLASS_MUL) << BigInt(SHIFTS[cls]!), size: 2 ** SHIFTS[cls]!, pa: e.pa, perm: `${e.read ? 'R' : '-'}${e.write ? 'W' : '-'}` });
      }
    }
    return out;
  }
  stats(): Readonly<VtdStats> {
    return this.s.stats;
  }

  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as VtdState);
  }
}
