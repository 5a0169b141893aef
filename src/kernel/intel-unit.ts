/**
 * One DMA-remapping unit as Linux's struct intel_iommu drives it: MMIO at
 * the DRHD base, alloc_iommu's register reads, queued invalidation
 * (dmar_enable_qi, qi_submit_sync), register-based invalidation
 * (__iommu_flush_context, __iommu_flush_iotlb), the root table pointer,
 * the fault-event interrupt and context-table allocation. The unit's
 * state is a plain UnitState the driver keeps (and clones for undo); these
 * operations hold none of their own.
 *
 * Sources: linux drivers/iommu/intel/dmar.c (alloc_iommu, map_iommu,
 * dmar_enable_qi, qi_submit_sync, qi_flush_*, dmar_set_interrupt) and
 * drivers/iommu/intel/iommu.c (iommu_set_root_entry, __iommu_flush_*,
 * iommu_context_addr, context_present_cache_flush), drivers/iommu/intel/cache.c
 * (calculate_psi_aligned_address); register bits from machine/vtd/regs.ts.
 */
import type { u64 } from '../machine/u64.ts';
import type { PhysicalMemory } from '../machine/memory.ts';
import { BusError } from '../machine/errors.ts';
import { encode, get } from '../machine/fields.ts';
import type { DmarDeviceScope } from '../machine/dmar.ts';
import * as R from '../machine/vtd/regs.ts';
import { ROOT_ENTRY_LAYOUT, widthToAgaw } from '../machine/vtd/context.ts';
import * as Q from '../machine/vtd/qi.ts';
import { X86_MSI_BASE } from '../machine/vtd/ir.ts';
import type { PageAllocator } from './page-alloc.ts';
import type { DmesgLine } from './kernel.ts';
import { dmarPrefix, formatAllocIommuLine } from './intel-dmar.ts';

/** QI_LENGTH: descriptors in the invalidation queue (one 4 KiB page of 128-bit descriptors). */
export const QI_LENGTH = 256;
export const DMAR_IQ_SHIFT = 4;
/**
 * DEFAULT_DOMAIN_ADDRESS_WIDTH: 57 in current kernels, 48 before 5-level
 * support (the switch release, taken here as v5.0, is **unverified**).
 */
export const DEFAULT_DOMAIN_ADDRESS_WIDTH = 57;
export const MAX_AGAW_WIDTH = 64;
export const FW_BUG = '[Firmware Bug]: ';

export interface LogLine {
  level: DmesgLine['level'];
  text: string;
}

/** struct intel_iommu, the parts the model keeps. */
export interface UnitState {
  seq: number;
  /** "dmar0". */
  name: string;
  base: u64;
  segment: number;
  includeAll: boolean;
  scopes: DmarDeviceScope[];
  cap: u64;
  ecap: u64;
  ver: number;
  agaw: number;
  msagaw: number;
  /** iommu->gcmd: the persistent GCMD bits software has set. */
  gcmd: number;
  /** Root table PA. */
  root?: u64;
  /** The invalidation queue page, the descriptor status array, the next free slot. */
  qi?: { desc: u64; status: u64; freeHead: number };
  /** The interrupt remapping table and the IRTE indices in use. */
  /** The IRT and the indices alloc_irte handed out; ioapicPins: how many went to IO-APIC pins at boot. */
  ir?: { table: u64; used: number[]; ioapicPins?: number };
  /** Domain ids in use on this unit. */
  dids: number[];
  /**
   * Bitmap era only: the one si_domain's DID on this unit and how many
   * devices use it (every identity group shares Linux's single si_domain,
   * where the model keeps an identity domain per group).
   */
  siDid?: { did: number; refcnt: number };
  faultIrq: boolean;
}

export interface UnitEnv {
  memory: PhysicalMemory;
  pages: PageAllocator;
  version: number;
  print(level: DmesgLine['level'], text: string, out?: LogLine[]): void;
}

export class DmarUnitOps {
  constructor(private readonly env: UnitEnv) {}

  private get pfx(): string {
    return dmarPrefix(this.env.version);
  }
  private print(level: DmesgLine['level'], text: string, out?: LogLine[]): void {
    this.env.print(level, text, out);
  }

  readl(u: UnitState, off: number): number {
    return Number(this.env.memory.readU(u.base + BigInt(off), 4));
  }

  writel(u: UnitState, off: number, v: number): void {
    this.env.memory.writeU(u.base + BigInt(off), 4, BigInt(v >>> 0));
  }

  readq(u: UnitState, off: number): u64 {
    return this.env.memory.readU(u.base + BigInt(off), 8);
  }

  writeq(u: UnitState, off: number, v: u64): void {
    this.env.memory.writeU(u.base + BigInt(off), 8, v);
  }

  /** IOMMU_WAIT_OP: the model's hardware completes at once, so one read decides. Linux panics after its timeout. */
  waitOp(u: UnitState, ok: boolean, what: string, out?: LogLine[]): void {
    if (!ok) this.print('crit', `${this.pfx}${u.name}: DMAR hardware is malfunctioning (${what} did not complete)`, out);
  }

  cap(u: UnitState, n: string): number {
    return Number(get(R.CAP_LAYOUT, [u.cap], n));
  }

  ecap(u: UnitState, n: string): boolean {
    return get(R.ECAP_LAYOUT, [u.ecap], n) === 1n;
  }

  /** alloc_iommu + map_iommu: read VER, CAP, ECAP; compute agaw/msagaw; print the unit line. */
  allocIommu(seq: number, base: u64, segment: number, includeAll: boolean, scopes: DmarDeviceScope[], out: LogLine[]): UnitState | undefined {
    if (base === 0n) {
      this.print('warn', `${FW_BUG}Your BIOS is broken; DMAR reported at address 0!`, out);
      return undefined;
    }
    const u: UnitState = { seq, name: `dmar${seq}`, base, segment, includeAll, scopes, cap: 0n, ecap: 0n, ver: 0, agaw: 0, msagaw: 0, gcmd: 0, dids: [], faultIrq: false };
    try {
      u.cap = this.readq(u, R.DMAR_CAP_REG);
      u.ecap = this.readq(u, R.DMAR_ECAP_REG);
      u.ver = this.readl(u, R.DMAR_VER_REG);
    } catch (e) {
      if (!(e instanceof BusError)) throw e;
      u.cap = u.ecap = 0xffff_ffff_ffff_ffffn; // a hole reads as all ones on x86
    }
    if (u.cap === 0xffff_ffff_ffff_ffffn && u.ecap === 0xffff_ffff_ffff_ffffn) {
      this.print('warn', `${FW_BUG}Your BIOS is broken; DMAR reported at address ${base.toString(16)} returns all ones!`, out);
      return undefined;
    }
    const sagaw = this.cap(u, 'SAGAW');
    const pick = (width: number): number => {
      for (let a = widthToAgaw(width); a >= 0; a--) if ((sagaw >> a) & 1) return a;
      return -1;
    };
    u.agaw = pick(this.env.version >= 500 ? DEFAULT_DOMAIN_ADDRESS_WIDTH : 48);
    u.msagaw = pick(MAX_AGAW_WIDTH);
    if (u.agaw < 0 || u.msagaw < 0) {
      this.print('err', `${this.pfx}Cannot get a valid agaw for iommu (seq_id = ${seq})`, out);
      return undefined;
    }
    this.print('info', formatAllocIommuLine(this.env.version, seq, base, u.ver, u.cap, u.ecap), out);
    // Reflect status in gcmd.
    const sts = this.readl(u, R.DMAR_GSTS_REG);
    if (sts & R.DMA_GSTS_IRES) u.gcmd |= R.DMA_GCMD_IRE;
    if (sts & R.DMA_GSTS_TES) u.gcmd |= R.DMA_GCMD_TE;
    if (sts & R.DMA_GSTS_QIES) u.gcmd |= R.DMA_GCMD_QIE;
    return u;
  }

  /** iommu_set_root_entry: RTADDR, GCMD.SRTP, then global context and IOTLB flushes unless CAP.ESRTPS. */
  setRootEntry(u: UnitState, out?: LogLine[]): void {
    this.writeq(u, R.DMAR_RTADDR_REG, u.root!);
    this.writel(u, R.DMAR_GCMD_REG, u.gcmd | R.DMA_GCMD_SRTP);
    this.waitOp(u, (this.readl(u, R.DMAR_GSTS_REG) & R.DMA_GSTS_RTPS) !== 0, 'SRTP', out);
    if (this.cap(u, 'ESRTPS')) return;
    this.flushContext(u, 0, 0, 0, 1);
    this.flushIotlb(u, 0, 0n, 0, 1);
  }

  setInterrupt(u: UnitState): void {
    if (u.faultIrq) return;
    this.writel(u, R.DMAR_FEDATA_REG, 0x24 + u.seq);
    this.writel(u, R.DMAR_FEADDR_REG, Number(X86_MSI_BASE));
    this.writel(u, R.DMAR_FEUADDR_REG, 0);
    this.writel(u, R.DMAR_FECTL_REG, 0);
    u.faultIrq = true;
  }

  disableTranslation(u: UnitState): void {
    u.gcmd &= ~R.DMA_GCMD_TE;
    this.writel(u, R.DMAR_GCMD_REG, u.gcmd);
  }

  /** dmar_enable_qi + __dmar_enable_qi: one page of descriptors, a status array, IQT = 0, IQA, GCMD.QIE. */
  enableQi(u: UnitState): boolean {
    if (!this.ecap(u, 'QI')) return false;
    if (u.qi) return true;
    const desc = this.env.pages.alloc(1);
    this.env.memory.fill(desc, 4096n, 0);
    const status = this.env.pages.alloc(1);
    this.env.memory.fill(status, 4096n, 0);
    u.qi = { desc, status, freeHead: 0 };
    this.writel(u, R.DMAR_IQT_REG, 0);
    this.writeq(u, R.DMAR_IQA_REG, desc);
    u.gcmd |= R.DMA_GCMD_QIE;
    this.writel(u, R.DMAR_GCMD_REG, u.gcmd);
    this.waitOp(u, (this.readl(u, R.DMAR_GSTS_REG) & R.DMA_GSTS_QIES) !== 0, 'QIE');
    return true;
  }

  disableQi(u: UnitState): void {
    if (!this.ecap(u, 'QI') || !(this.readl(u, R.DMAR_GSTS_REG) & R.DMA_GSTS_QIES)) return;
    u.gcmd &= ~R.DMA_GCMD_QIE;
    this.writel(u, R.DMAR_GCMD_REG, u.gcmd);
  }

  qiSubmit(u: UnitState, descs: u64[][], out?: LogLine[]): number {
    const qi = u.qi;
    if (!qi) return 0;
    const statusAt = (i: number): u64 => qi.status + BigInt(4 * i);
    const first = qi.freeHead;
    for (const d of descs) {
      this.env.memory.writeWords(qi.desc + BigInt(Q.QI_DESC_SIZE * qi.freeHead), d);
      this.env.memory.write32(statusAt(qi.freeHead), Q.QI_IN_USE);
      qi.freeHead = (qi.freeHead + 1) % QI_LENGTH;
    }
    const wait = qi.freeHead;
    this.env.memory.write32(statusAt(wait), Q.QI_IN_USE);
    const fence = this.env.version >= 500 ? Q.QI_IWD_FENCE : 0n; // QI_IWD_FENCE in later kernels (version approximate)
    this.env.memory.writeWords(qi.desc + BigInt(Q.QI_DESC_SIZE * wait), [(BigInt(Q.QI_DONE) << 32n) | Q.QI_IWD_STATUS_WRITE | fence | BigInt(Q.QI_IWD_TYPE), statusAt(wait)]);
    qi.freeHead = (qi.freeHead + 1) % QI_LENGTH;
    this.writel(u, R.DMAR_IQT_REG, qi.freeHead << DMAR_IQ_SHIFT);
    let rc = 0;
    if (this.env.memory.read32(statusAt(wait)) !== Q.QI_DONE) {
      const fsts = this.readl(u, R.DMAR_FSTS_REG);
      if (fsts & R.DMA_FSTS_IQE) {
        const head = (this.readl(u, R.DMAR_IQH_REG) >> DMAR_IQ_SHIFT) % QI_LENGTH;
        const bad = this.env.memory.readWords(qi.desc + BigInt(Q.QI_DESC_SIZE * head), 2);
        this.print('err', `${this.pfx}VT-d detected invalid descriptor: qw0 = ${bad[0]!.toString(16)}, qw1 = ${bad[1]!.toString(16)}`, out);
        this.writel(u, R.DMAR_FSTS_REG, R.DMA_FSTS_IQE);
        rc = -22;
      } else {
        this.print('crit', `${this.pfx}${u.name}: queued invalidation did not complete`, out);
        rc = -110;
      }
    }
    for (let i = first; i !== qi.freeHead; i = (i + 1) % QI_LENGTH) this.env.memory.write32(statusAt(i), Q.QI_FREE);
    return rc;
  }

  flushContext(u: UnitState, did: number, sid: number, fm: number, gran: number): void {
    if (u.qi) {
      this.qiSubmit(u, [[(BigInt(fm & 3) << 48n) | (BigInt(sid) << 32n) | (BigInt(did) << 16n) | (BigInt(gran) << 4n) | BigInt(Q.QI_CC_TYPE), 0n]]);
      return;
    }
    let val = BigInt(gran) << 61n;
    if (gran === 2) val |= R.DMA_CCMD_DID(did);
    if (gran === 3) val |= R.DMA_CCMD_DID(did) | R.DMA_CCMD_SID(sid) | R.DMA_CCMD_FM(fm);
    this.writeq(u, R.DMAR_CCMD_REG, val | R.DMA_CCMD_ICC);
    this.waitOp(u, (this.readq(u, R.DMAR_CCMD_REG) & R.DMA_CCMD_ICC) === 0n, 'context-cache invalidation');
  }

  /** flush_iotlb: qi_flush_iotlb or __iommu_flush_iotlb. gran: 1 global, 2 domain, 3 page (addr, 2^am pages). */
  flushIotlb(u: UnitState, did: number, addr: u64, am: number, gran: number): void {
    const dw = this.cap(u, 'DWD');
    const dr = this.cap(u, 'DRD');
    if (u.qi) {
      this.qiSubmit(u, [[(BigInt(did) << 16n) | (BigInt(dr) << 7n) | (BigInt(dw) << 6n) | (BigInt(gran) << 4n) | BigInt(Q.QI_IOTLB_TYPE), gran === 3 ? (addr & ~0xfffn) | BigInt(am) : 0n]]);
      return;
    }
    const off = Number(get(R.ECAP_LAYOUT, [u.ecap], 'IRO')) * 16; // ecap_iotlb_offset
    let val = (BigInt(gran) << 60n) | R.DMA_TLB_IVT;
    if (gran !== 1) val |= R.DMA_TLB_DID(did);
    if (dw) val |= R.DMA_TLB_WRITE_DRAIN;
    if (gran === 3) this.writeq(u, off, (addr & ~0xfffn) | BigInt(am));
    this.writeq(u, off + 8, val);
    const after = this.readq(u, off + 8);
    this.waitOp(u, (after & R.DMA_TLB_IVT) === 0n, 'IOTLB invalidation');
    if (((after >> 57n) & 3n) === 0n) this.print('err', `${this.pfx}Flush IOTLB failed`);
  }

  flushRange(u: UnitState, did: number, start: u64, end: u64): void {
    const pfn = Number(start >> 12n);
    const pages = Number((end >> 12n) - (start >> 12n)) + 1;
    let aligned = 1;
    while (aligned < pages) aligned *= 2;
    let mask = Math.log2(aligned);
    if (pfn % aligned !== 0) {
      // Unaligned: the smallest mask at which pfn and the last pfn share all higher bits.
      const endPfn = pfn + pages - 1;
      while (Math.floor(pfn / 2 ** mask) !== Math.floor(endPfn / 2 ** mask)) mask++;
    }
    if (!this.cap(u, 'PSI') || mask > this.cap(u, 'MAMV')) {
      this.flushIotlb(u, did, 0n, 0, 2);
      return;
    }
    this.flushIotlb(u, did, (BigInt(pfn) >> BigInt(mask)) << BigInt(mask + 12), mask, 3);
  }

  /** iommu_context_addr: the context entry's address, creating the bus's context table (and root entry) on demand. */
  contextAddr(u: UnitState, bus: number, devfn: number, alloc: boolean): u64 | undefined {
    const rootAt = u.root! + BigInt(16 * bus);
    const re = this.env.memory.read64(rootAt);
    let table: u64;
    if (re & 1n) table = re & ~0xfffn;
    else {
      if (!alloc) return undefined;
      table = this.env.pages.alloc(1);
      this.env.memory.fill(table, 4096n, 0);
      this.env.memory.write64(rootAt, encode(ROOT_ENTRY_LAYOUT, { P: 1, CTP: table })[0]!);
    }
    return table + BigInt(16 * devfn);
  }

  /** context_present_cache_flush: caching mode flushes; otherwise only a write-buffer flush (RWBF). */
  contextPresentFlush(u: UnitState, did: number, sid: number): void {
    if (this.cap(u, 'CM')) {
      this.flushContext(u, 0, sid, 0, 3);
      this.flushIotlb(u, did, 0n, 0, 2);
    } else if (this.cap(u, 'RWBF')) {
      this.writel(u, R.DMAR_GCMD_REG, u.gcmd | R.DMA_GCMD_WBF);
    }
  }
}
