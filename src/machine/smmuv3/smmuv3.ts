/**
 * ARM SMMUv3: the IOMMU in front of an Arm system's PCIe root complex and
 * platform masters. Software (the Linux driver model, or a user poking
 * registers) programs it through its MMIO register frame (regs.ts) and
 * structures in memory (stream table, CDs, page tables, queues); devices'
 * transactions reach `translate`.
 *
 * What happens to one transaction (SMMUv3 spec chapters 3/5/7 as Linux and
 * QEMU hw/arm/smmuv3.c implement them):
 *
 *   CR0ACK.SMMUEN = 0 -> GBPA.ABORT ? terminate silently : pass through
 *   StreamID >= 2^STRTAB_BASE_CFG.LOG2SIZE      -> C_BAD_STREAMID event
 *   STE (config cache, else 64 bytes from memory: config.ts)
 *     V = 0                                      -> C_BAD_STE event
 *     Config abort                               -> terminate, no event
 *     Config bypass                              -> pa = addr
 *     Config stage 1: CD (cached with the STE, else from memory), then
 *       IOTLB (ASID, page) hit -> pa; miss -> walk the tables in memory
 *     Config stage 2: walk from STE.S2TTB, IOTLB tagged by VMID
 *     faults -> F_TRANSLATION / F_ADDR_SIZE / F_ACCESS / F_PERMISSION
 *               written to the event queue when CD.R (STE.S2R) is set
 *
 * Implemented: linear and 2-level stream tables; stage 1 with one CD per
 * STE (IDR1.SSIDSIZE = 0, so STE.S1CDMax != 0 is ILLEGAL -> C_BAD_STE and a
 * transaction carrying a SubstreamID gets C_BAD_SUBSTREAMID); stage 2 alone
 * (Config 0b110). Not implemented, and reported as a configuration error
 * (C_BAD_STE): nested translation (Config 0b111). No stalls (IDR0.STALL_MODEL
 * = 1, TERM_MODEL = 1 as in QEMU), no ATS/PRI, no hardware AF/dirty update
 * (IDR0.HTTU = 0: CD.HA/HD are ignored), 4 KiB granule only, little-endian
 * tables only.
 *
 * Caches, modelled honestly: the config cache keeps a decoded copy of the
 * STE (and its CD) per StreamID once it was used successfully; software
 * that rewrites an STE or CD in memory without CMD_CFGI_STE / CFGI_CD /
 * CFGI_ALL keeps getting the old configuration. (Here CFGI_STE also drops
 * the CD cached with that STE: the 2017 Linux driver relies on that when it
 * installs a new STE; the spec's exact wording was not checked.) The IOTLB
 * keeps leaf translations per (ASID | VMID, page/block) until a TLBI.
 * TranslateOptions.useTlb = false bypasses both caches (no lookup, no fill):
 * that is a walk of what is in memory now.
 *
 * In a preset:
 *
 *   const smmu = new SmmuV3({ name: 'smmuv3.0', memory: m.memory, interrupts: m.interrupts, sidBits: 16 });
 *   m.memory.addRegion({ name: 'smmuv3.0', base: 0x2b400000n, size: SMMU_REGION_SIZE, kind: 'mmio', handler: smmu });
 *   m.addIommu(smmu); // also registers its state for undo
 *   const master: DmaMaster = { name: 'vda', rid, sid: rid, path: 'translated', iommu: smmu };
 */
import { type IommuSidCounts, newSidCounts, memReads as countReads } from '../iommu-counts.ts';
import { type u64, hex } from '../u64.ts';
import type { AccessSize, MmioHandler, PhysicalMemory } from '../memory.ts';
import { BusError } from '../errors.ts';
import { clone, type Stateful } from '../state.ts';
import type { DmaRequest, Iommu, TranslateOptions, Translation } from '../dma.ts';
import type { DmaFault, TranslationStep } from '../trace.ts';
import type { InterruptLog } from '../interrupts.ts';
import * as R from './regs.ts';
import { fetchConfig, type SmmuCaps, type SmmuConfig } from './config.ts';
import * as E from './event.ts';
import * as C from './cmd.ts';
import { qEmpty, qFull, qIdx, qInc, qPtr } from './queue.ts';
import { walkVmsa, permNeeded, permText, OAS_BITS } from './vmsa.ts';
import { qemuWalkEvent } from './qemu.ts';

export interface SmmuV3Options {
  /** Instance name, used in traces and fault records ("smmuv3.0"). */
  name: string;
  /** The system bus: tables and queues are read and written here. */
  memory: PhysicalMemory;
  /** Where wired interrupts (event queue, GERROR, CMD_SYNC) are recorded; optional. */
  interrupts?: InterruptLog;
  /** IDR1.SIDSIZE: StreamID bits (default 16). */
  sidBits?: number;
  /** Output address size in bits, one of 32 36 40 42 44 48 52 (default 48). */
  oas?: number;
  /** IDR1.CMDQS / EVENTQS: log2 of the largest queues (default 8 and 7). */
  cmdqShift?: number;
  evtqShift?: number;
  /** IDR0.S2P (default true; S1P is always set). */
  stage2?: boolean;
  /** IDR0.ST_LVL = 1: 2-level stream tables supported (default true). */
  twoLevelStrtab?: boolean;
  /** GBPA.ABORT after reset (IMPLEMENTATION DEFINED; default false like QEMU). */
  gbpaAbortAtReset?: boolean;
  /**
   * What goes in an event's SubstreamID field when SSV = 0. The field is
   * meaningless then; QEMU writes 0 (the default here). The Arm fast model
   * of seed 000 wrote 0xfffff (dword 0 = 0x00000000fffff010); set this to
   * 0xfffff to reproduce those bytes exactly.
   */
  unsetSsid?: number;
  /** IDR0.VMID16 (default true). QEMU 7.2 leaves it 0: it has no stage 2. */
  vmid16?: boolean;
  /** IDR3.RIL, range invalidation (SMMUv3.2; default false). Linux >= v5.8 reads it as ARM_SMMU_FEAT_RANGE_INV. */
  rangeInvalidation?: boolean;
  /** IDR3.HAD, hierarchical attribute disable (default false; no Linux reads it). */
  had?: boolean;
  /** IDR5.GRAN64K besides GRAN4K (default false; the model walks 4K tables only). */
  gran64k?: boolean;
  /** SMMU_AIDR (default 0: SMMUv3.0). */
  aidr?: number;
  /**
   * Which fields a translation fault's event record carries (see
   * qemu.ts): 'architected' (default: CLASS, PnU, InD, S2 and the
   * SubstreamID as the spec describes them, what the Arm fast model
   * wrote) or 'qemu-7.2' (hw/arm/smmuv3.c smmuv3_translate: only the
   * address and RnW, CLASS left 0 = CD; F_WALK_EABT with CLASS 1).
   */
  eventRecord?: 'architected' | 'qemu-7.2';
}

interface TlbEntry {
  /** Output address of the page/block base. */
  oa: u64;
  /** Offset mask within the page/block. */
  mask: u64;
  perm: number;
  level: number;
  desc: u64;
}

/**
 * What one StreamID's transactions cost the SMMU, for a cost model
 * (kernel/cost.ts). Only real transactions count: inspection walks
 * (TranslateOptions.useTlb = false) are left out.
 */
/** Per-StreamID counters (see iommu-counts.ts). */
export type SmmuSidCounts = IommuSidCounts;

/**
 * Invalidation work per TLB tag: an ASID (stage 1) or 0x10000 + VMID
 * (stage 2); key -1 for commands that name no single tag (TLBI_NSNH_ALL,
 * TLBI_NH_ALL, TLBI_NH_VAA, CFGI_ALL, and a CMD_SYNC that follows no TLBI).
 */
export interface SmmuTagCounts {
  /** TLBI commands executed. */
  tlbi: number;
  /** CMD_SYNCs executed, each charged to the tag of the TLBIs it completed. */
  syncs: number;
}

export interface SmmuV3Stats {
  tlbHits: number;
  tlbMisses: number;
  walks: number;
  events: number;
  eventsLost: number;
  commands: number;
  /** Commands by class (added for the cost model; `commands` counts them all). */
  tlbiCommands: number;
  cfgiCommands: number;
  syncs: number;
  bySid: Record<number, SmmuSidCounts>;
  byTag: Record<number, SmmuTagCounts>;
}

interface SmmuV3State {
  /** Page-0 registers as 32-bit words (page 1 aliases page 0). */
  regs: Uint32Array;
  cfg: Map<number, SmmuConfig>;
  /** IOTLB: 4K, 2M, 1G entries keyed by tag * 2^36 + (VA >> 12, 21 or 30). */
  tlb: [Map<number, TlbEntry>, Map<number, TlbEntry>, Map<number, TlbEntry>];
  stats: SmmuV3Stats;
  /** The tag of the TLBIs since the last CMD_SYNC (null: none yet; -1: more than one). */
  syncTag: number | null;
}

const memReads = (steps: TranslationStep[], from: number): number => countReads(steps, from, 'config cache hit');

/** Stated limit: IOTLB entries kept per size class (oldest evicted first). */
export const IOTLB_CAPACITY = 4096;
const TAG_MUL = 2 ** 36;
const SIZE_SHIFT = [12, 21, 30] as const;
const word = (off: number): number => off >> 2;
const W_CR0ACK = word(R.SMMU_CR0ACK);

type Fail = { event: u64[] | null; fault: DmaFault };

export class SmmuV3 implements Iommu, MmioHandler, Stateful {
  readonly kind = 'smmuv3' as const;
  readonly name: string;
  private readonly mem: PhysicalMemory;
  private readonly irq: InterruptLog | undefined;
  readonly sidBits: number;
  readonly oasBits: number;
  readonly cmdqMaxShift: number;
  readonly evtqMaxShift: number;
  readonly unsetSsid: number;
  private readonly hasS2: boolean;
  private readonly has2Lvl: boolean;
  readonly eventRecord: 'architected' | 'qemu-7.2';
  private readonly caps: SmmuCaps;
  private s: SmmuV3State;

  constructor(o: SmmuV3Options) {
    this.name = o.name;
    this.mem = o.memory;
    this.irq = o.interrupts;
    this.sidBits = o.sidBits ?? 16;
    this.oasBits = o.oas ?? 48;
    this.cmdqMaxShift = o.cmdqShift ?? 8;
    this.evtqMaxShift = o.evtqShift ?? 7;
    this.unsetSsid = o.unsetSsid ?? 0;
    this.hasS2 = o.stage2 ?? true;
    this.has2Lvl = o.twoLevelStrtab ?? true;
    this.eventRecord = o.eventRecord ?? 'architected';
    this.caps = { sidBits: this.sidBits, oasBits: this.oasBits, stage2: this.hasS2, twoLevelStrtab: this.has2Lvl, httuBitsIllegal: this.eventRecord === 'qemu-7.2' };
    const oasEnc = OAS_BITS.indexOf(this.oasBits as (typeof OAS_BITS)[number]);
    if (oasEnc < 0) throw new Error(`SMMUv3 ${o.name}: OAS must be one of ${OAS_BITS.join(', ')}`);
    const regs = new Uint32Array(0x400);
    // IDR0: S1P, S2P, TTF=AArch64, COHACC, ASID16, VMID16, TTENDIAN=LE,
    // STALL_MODEL=1 (no stalls), TERM_MODEL=1, ST_LVL (QEMU's choices,
    // hw/arm/smmuv3.c smmuv3_init_regs).
    regs[word(R.SMMU_IDR0)] =
      (this.hasS2 ? 1 : 0) | (1 << 1) | (2 << 2) | (1 << 4) | (1 << 12) | ((o.vmid16 ?? true) ? 1 << 18 : 0) | (2 << 21) | (1 << 24) | (1 << 26) | ((this.has2Lvl ? 1 : 0) << 27);
    regs[word(R.SMMU_IDR1)] = this.sidBits | (0 << 6) | (this.evtqMaxShift << 16) | (this.cmdqMaxShift << 21);
    regs[word(R.SMMU_IDR3)] = (o.had ? R.IDR3_HAD : 0) | (o.rangeInvalidation ? R.IDR3_RIL : 0);
    regs[word(R.SMMU_IDR5)] = oasEnc | (1 << 4) | (o.gran64k ? 1 << 6 : 0);
    regs[word(R.SMMU_AIDR)] = o.aidr ?? 0;
    regs[word(R.SMMU_GBPA)] = 0x1000 | (o.gbpaAbortAtReset ? R.GBPA_ABORT : 0);
    this.s = {
      regs,
      cfg: new Map(),
      tlb: [new Map(), new Map(), new Map()],
      stats: { tlbHits: 0, tlbMisses: 0, walks: 0, events: 0, eventsLost: 0, commands: 0, tlbiCommands: 0, cfgiCommands: 0, syncs: 0, bySid: {}, byTag: {} },
      syncTag: null,
    };
  }

  // ---- registers ------------------------------------------------------------

  /** A 32-bit register by page-0 offset. */
  reg32(off: number): number {
    return this.s.regs[word(off)]!;
  }
  /** A 64-bit register by page-0 offset. */
  reg64(off: number): u64 {
    return BigInt(this.s.regs[word(off)]!) | (BigInt(this.s.regs[word(off) + 1]!) << 32n);
  }

  read(offset: u64, size: AccessSize): u64 {
    let off = Number(offset);
    if (off >= R.SMMU_PAGE1) off -= R.SMMU_PAGE1; // page 1 aliases page 0 (see regs.ts)
    if (off >= 0x1000) return 0n; // RAZ
    if (size === 8) return this.reg64(off & ~7);
    const w = BigInt(this.s.regs[word(off)]!);
    if (size === 4) return w;
    return (w >> BigInt(8 * (off & 3))) & ((1n << BigInt(8 * size)) - 1n);
  }

  write(offset: u64, size: AccessSize, value: u64): void {
    let off = Number(offset);
    if (off >= R.SMMU_PAGE1) off -= R.SMMU_PAGE1;
    if (off >= 0x1000) return; // WI
    if (size === 8) {
      this.writeReg(off & ~7, Number(value & 0xffff_ffffn));
      this.writeReg((off & ~7) + 4, Number((value >> 32n) & 0xffff_ffffn));
      return;
    }
    if (size === 4) return this.writeReg(off & ~3, Number(value & 0xffff_ffffn));
    // Byte/halfword accesses are CONSTRAINED UNPREDICTABLE; merge into the word.
    const base = off & ~3;
    const sh = 8 * (off & 3);
    const m = ((1 << (8 * size)) - 1) << sh;
    this.writeReg(base, ((this.s.regs[word(base)]! & ~m) | ((Number(value) << sh) & m)) >>> 0);
  }

  private writeReg(off: number, v: number): void {
    const r = this.s.regs;
    switch (off) {
      case R.SMMU_IDR0: case R.SMMU_IDR1: case R.SMMU_IDR2: case R.SMMU_IDR3: case R.SMMU_IDR4: case R.SMMU_IDR5:
      case R.SMMU_IIDR: case R.SMMU_AIDR: case R.SMMU_CR0ACK: case R.SMMU_STATUSR: case R.SMMU_IRQ_CTRLACK: case R.SMMU_GERROR:
        return; // read-only
      case R.SMMU_CR0: {
        const old = r[W_CR0ACK]!;
        const nv = v & 0x1f;
        r[word(R.SMMU_CR0)] = nv;
        r[W_CR0ACK] = nv; // the model completes updates at once
        if (nv & R.CR0_CMDQEN && !(old & R.CR0_CMDQEN)) this.processCmdq();
        return;
      }
      case R.SMMU_GBPA:
        // Only a write with Update = 1 takes effect; Update reads 0 once done.
        if (v & R.GBPA_UPDATE) r[word(R.SMMU_GBPA)] = (v & ~R.GBPA_UPDATE) >>> 0;
        return;
      case R.SMMU_IRQ_CTRL:
        r[word(R.SMMU_IRQ_CTRL)] = v & 7;
        r[word(R.SMMU_IRQ_CTRLACK)] = v & 7;
        return;
      case R.SMMU_GERRORN: {
        r[word(R.SMMU_GERRORN)] = v;
        this.processCmdq(); // resumes if CMDQ_ERR was acknowledged
        return;
      }
      case R.SMMU_CMDQ_PROD:
        r[word(R.SMMU_CMDQ_PROD)] = qPtr(v, this.cmdqMaxShift);
        this.processCmdq();
        return;
      case R.SMMU_CMDQ_CONS:
        // Software may only set CONS while the queue is disabled.
        if (!(r[W_CR0ACK]! & R.CR0_CMDQEN)) r[word(R.SMMU_CMDQ_CONS)] = v;
        return;
      case R.SMMU_EVENTQ_PROD:
        if (!(r[W_CR0ACK]! & R.CR0_EVENTQEN)) r[word(R.SMMU_EVENTQ_PROD)] = v;
        return;
      default:
        r[word(off)] = v;
    }
  }

  private toggleGerror(bit: number, why: string): void {
    const r = this.s.regs;
    const active = r[word(R.SMMU_GERROR)]! ^ r[word(R.SMMU_GERRORN)]!;
    if (active & bit) return; // already pending
    r[word(R.SMMU_GERROR)] = (r[word(R.SMMU_GERROR)]! ^ bit) >>> 0;
    if (r[word(R.SMMU_IRQ_CTRL)]! & R.IRQ_CTRL_GERROR_IRQEN) {
      this.irq?.raise({ controller: 'gic', source: this.name, addr: 0n, data: BigInt(bit), detail: `SMMU global error interrupt: ${why}` });
    }
  }

  /** Queue base address and effective log2 size (capped to the IDR1 maximum). */
  private queue(baseOff: number, maxShift: number): { base: u64; shift: number } {
    const v = this.reg64(baseOff);
    return { base: v & 0x000f_ffff_ffff_ffe0n, shift: Math.min(Number(v & 0x1fn), maxShift) };
  }

  // ---- command queue ----------------------------------------------------------

  private processCmdq(): void {
    const r = this.s.regs;
    if (!(r[W_CR0ACK]! & R.CR0_CMDQEN)) return;
    if ((r[word(R.SMMU_GERROR)]! ^ r[word(R.SMMU_GERRORN)]!) & R.GERROR_CMDQ_ERR) return; // stopped until acknowledged
    const { base, shift } = this.queue(R.SMMU_CMDQ_BASE, this.cmdqMaxShift);
    const prod = r[word(R.SMMU_CMDQ_PROD)]!;
    let cons = qPtr(r[word(R.SMMU_CMDQ_CONS)]!, shift);
    for (let n = 0; !qEmpty(prod, cons, shift) && n < 2 << shift; n++) {
      const at = base + BigInt(C.CMD_SIZE * qIdx(cons, shift));
      let err: number;
      let cmd: u64[] = [];
      try {
        cmd = this.mem.readWords(at, 2);
        err = this.execCommand(cmd);
      } catch (e) {
        if (!(e instanceof BusError)) throw e;
        err = R.CERROR_ABT;
      }
      if (err !== R.CERROR_NONE) {
        r[word(R.SMMU_CMDQ_CONS)] = (cons | (err << R.CMDQ_CONS_ERR_LO)) >>> 0;
        this.toggleGerror(R.GERROR_CMDQ_ERR, `command at ${hex(at)}: ${err === R.CERROR_ILL ? 'CERROR_ILL' : 'CERROR_ABT'}`);
        return;
      }
      this.s.stats.commands++;
      this.countCommand(cmd);
      cons = qInc(cons, shift);
    }
    r[word(R.SMMU_CMDQ_CONS)] = cons;
  }

  /** Execute one command; returns a CMDQ_CONS.ERR code (0 = done). */
  private execCommand(cmd: u64[]): number {
    const op = Number(cmd[0]! & 0xffn);
    const sid = Number(cmd[0]! >> 32n);
    const asid = Number(cmd[0]! >> 48n);
    const vmid = Number((cmd[0]! >> 32n) & 0xffffn);
    switch (op) {
      case C.CMD_PREFETCH_CONFIG:
      case C.CMD_PREFETCH_ADDR:
        return 0; // a hint; the model prefetches nothing
      case C.CMD_CFGI_STE:
      case C.CMD_CFGI_CD:
      case C.CMD_CFGI_CD_ALL:
        this.s.cfg.delete(sid);
        return 0;
      case C.CMD_CFGI_ALL: {
        // CMD_CFGI_STE_RANGE: 2^(Range+1) StreamIDs from SID aligned down; Range 31 = all.
        const range = Number(cmd[1]! & 0x1fn);
        if (range >= 31) this.s.cfg.clear();
        else {
          const n = 2 ** (range + 1);
          const lo = sid - (sid % n);
          for (const k of [...this.s.cfg.keys()]) if (k >= lo && k < lo + n) this.s.cfg.delete(k);
        }
        return 0;
      }
      case C.CMD_TLBI_NH_ALL:
        this.tlbDrop((tag) => tag < 0x10000);
        return 0;
      case C.CMD_TLBI_NH_ASID:
        this.tlbDrop((tag) => tag === asid);
        return 0;
      case C.CMD_TLBI_NH_VA:
        this.tlbiVa(asid, cmd, 0xffff_ffff_ffff_f000n);
        return 0;
      case C.CMD_TLBI_NH_VAA: {
        const va = cmd[1]! & 0xffff_ffff_ffff_f000n;
        for (let t = 0; t < 0x10000; t++) if (this.tlbHasTag(t)) this.tlbDropVa(t, va);
        return 0;
      }
      case C.CMD_TLBI_S12_VMALL:
        if (!this.hasS2) return R.CERROR_ILL;
        this.tlbDrop((tag) => tag === 0x10000 + vmid);
        return 0;
      case C.CMD_TLBI_S2_IPA:
        if (!this.hasS2) return R.CERROR_ILL;
        this.tlbiVa(0x10000 + vmid, cmd, 0x000f_ffff_ffff_f000n);
        return 0;
      case C.CMD_TLBI_NSNH_ALL:
        for (const m of this.s.tlb) m.clear();
        return 0;
      case C.CMD_SYNC: {
        const cs = Number((cmd[0]! >> 12n) & 3n);
        if (cs === 1) {
          const msiAddr = cmd[1]! & 0x000f_ffff_ffff_fffcn;
          const msiData = cmd[0]! >> 32n;
          if (msiAddr !== 0n) {
            try {
              this.mem.write32(msiAddr, msiData);
            } catch (e) {
              if (!(e instanceof BusError)) throw e;
              this.toggleGerror(R.GERROR_MSI_CMDQ_ABT_ERR, `CMD_SYNC MSI write to ${hex(msiAddr)} failed`);
            }
          } else {
            this.irq?.raise({ controller: 'gic', source: this.name, addr: 0n, data: 0n, detail: 'SMMU CMD_SYNC completion interrupt' });
          }
        }
        return 0;
      }
      default:
        // TLBI_EL2_* (IDR0.HYP = 0), ATC_INV (no ATS), PRI_RESP (no PRI),
        // RESUME (no stalls) and unknown opcodes are illegal here.
        return R.CERROR_ILL;
    }
  }

  /** Per-class and per-tag command counts (cost model); the command already executed without error. */
  private countCommand(cmd: u64[]): void {
    const st = this.s.stats;
    const op = Number(cmd[0]! & 0xffn);
    const tagCounts = (tag: number): SmmuTagCounts => (st.byTag[tag] ??= { tlbi: 0, syncs: 0 });
    const tlbi = (tag: number): void => {
      st.tlbiCommands++;
      tagCounts(tag).tlbi++;
      this.s.syncTag = this.s.syncTag === null || this.s.syncTag === tag ? tag : -1;
    };
    switch (op) {
      case C.CMD_CFGI_STE:
      case C.CMD_CFGI_CD:
      case C.CMD_CFGI_CD_ALL: {
        st.cfgiCommands++;
        const sid = Number(cmd[0]! >> 32n);
        (st.bySid[sid] ??= newSidCounts()).cfgInvalidations++;
        return;
      }
      case C.CMD_CFGI_ALL:
        st.cfgiCommands++;
        return;
      case C.CMD_TLBI_NH_ASID:
      case C.CMD_TLBI_NH_VA:
        return tlbi(Number(cmd[0]! >> 48n));
      case C.CMD_TLBI_S12_VMALL:
      case C.CMD_TLBI_S2_IPA:
        return tlbi(0x10000 + Number((cmd[0]! >> 32n) & 0xffffn));
      case C.CMD_TLBI_NH_ALL:
      case C.CMD_TLBI_NH_VAA:
      case C.CMD_TLBI_NSNH_ALL:
        return tlbi(-1);
      case C.CMD_SYNC:
        st.syncs++;
        tagCounts(this.s.syncTag ?? -1).syncs++;
        this.s.syncTag = null;
        return;
      default:
    }
  }

  private tlbHasTag(tag: number): boolean {
    for (const m of this.s.tlb) for (const k of m.keys()) if (Math.floor(k / TAG_MUL) === tag) return true;
    return false;
  }
  private tlbDrop(pred: (tag: number) => boolean): void {
    for (const m of this.s.tlb) for (const k of [...m.keys()]) if (pred(Math.floor(k / TAG_MUL))) m.delete(k);
  }
  /**
   * TLBI by address. With IDR3.RIL and TG != 0 a command covers a range:
   * (NUM + 1) << SCALE granules of the size TG names (1: 4K, 2: 16K,
   * 3: 64K), as QEMU's smmuv3_s1_range_inval and the SMMUv3.2 spec read
   * it. Without RIL (or TG = 0) the address alone.
   */
  private tlbiVa(tag: number, cmd: u64[], addrMask: u64): void {
    const va = cmd[1]! & addrMask;
    const tg = Number((cmd[1]! >> 10n) & 3n);
    if (!(this.s.regs[word(R.SMMU_IDR3)]! & R.IDR3_RIL) || tg === 0) return this.tlbDropVa(tag, va);
    const num = Number((cmd[0]! >> 12n) & 0x1fn);
    const scale = Number((cmd[0]! >> 20n) & 0x1fn);
    const len = BigInt(num + 1) << BigInt(scale + [0, 12, 14, 16][tg]!);
    this.tlbDropRange(tag, va, len);
  }
  /** Drop every IOTLB entry of `tag` overlapping [va, va + len). */
  private tlbDropRange(tag: number, va: u64, len: u64): void {
    const lo = va;
    const hi = va + len;
    this.s.tlb.forEach((m, i) => {
      const sh = BigInt(SIZE_SHIFT[i]!);
      for (const k of [...m.keys()]) {
        if (Math.floor(k / TAG_MUL) !== tag) continue;
        const start = BigInt(k - tag * TAG_MUL) << sh;
        if (start < hi && start + (1n << sh) > lo) m.delete(k);
      }
    });
  }
  private tlbDropVa(tag: number, va: u64): void {
    if (va >> 48n !== 0n) return;
    const vpn = Number(va >> 12n);
    this.s.tlb[0].delete(tag * TAG_MUL + vpn);
    this.s.tlb[1].delete(tag * TAG_MUL + Math.floor(vpn / 512));
    this.s.tlb[2].delete(tag * TAG_MUL + Math.floor(vpn / 262144));
  }

  // ---- event queue ------------------------------------------------------------

  /**
   * Write one event record at EVENTQ_BASE + 32 * PROD.index and advance
   * PROD. Queue full: the record is discarded and EVENTQ_PROD.OVFLG is
   * toggled, unless an overflow is already pending (OVFLG != CONS.OVACKFLG),
   * which is how Linux (queue_sync_prod) detects "events lost".
   * EVENTQEN = 0: discarded, nothing recorded.
   */
  private recordEvent(ev: u64[]): boolean {
    const r = this.s.regs;
    if (!(r[W_CR0ACK]! & R.CR0_EVENTQEN)) return false;
    const { base, shift } = this.queue(R.SMMU_EVENTQ_BASE, this.evtqMaxShift);
    const wp = word(R.SMMU_EVENTQ_PROD);
    const prod = r[wp]!;
    const cons = r[word(R.SMMU_EVENTQ_CONS)]!;
    if (qFull(prod, cons, shift)) {
      if (this.eventRecord === 'qemu-7.2') {
        // QEMU 7.2 smmuv3_write_eventq: a full queue is a failed write (MEMTX_ERROR), and
        // smmuv3_record_event raises GERROR.EVENTQ_ABT_ERR; it never sets EVENTQ_PROD.OVFLG.
        this.s.stats.eventsLost++;
        this.toggleGerror(R.GERROR_EVENTQ_ABT_ERR, 'event queue full (QEMU reports it as an aborted write)');
        return false;
      }
      if ((prod & R.Q_OVERFLOW_FLAG) === (cons & R.Q_OVERFLOW_FLAG)) r[wp] = (prod ^ R.Q_OVERFLOW_FLAG) >>> 0;
      this.s.stats.eventsLost++;
      return false;
    }
    const at = base + BigInt(E.EVT_SIZE * qIdx(prod, shift));
    try {
      this.mem.writeWords(at, ev);
    } catch (e) {
      if (!(e instanceof BusError)) throw e;
      this.toggleGerror(R.GERROR_EVENTQ_ABT_ERR, `event queue write to ${hex(at)} failed`);
      return false;
    }
    r[wp] = qInc(prod, shift);
    this.s.stats.events++;
    if (r[word(R.SMMU_IRQ_CTRL)]! & R.IRQ_CTRL_EVENTQ_IRQEN) {
      this.irq?.raise({ controller: 'gic', source: this.name, addr: 0n, data: ev[0]! & 0xffn, detail: `SMMU event queue interrupt: ${E.eventName(Number(ev[0]! & 0xffn))}` });
    }
    return true;
  }

  // ---- translation --------------------------------------------------------------

  /** The cost-model counters of a StreamID (created on first use). */
  private sidCounts(sid: number): SmmuSidCounts {
    return (this.s.stats.bySid[sid] ??= newSidCounts());
  }

  translate(req: DmaRequest, opts?: TranslateOptions): Translation {
    if ((this.s.regs[W_CR0ACK]! & R.CR0_SMMUEN) === 0) return this.disabled(req);
    const useTlb = opts?.useTlb !== false;
    const sc = useTlb ? this.sidCounts(req.sid) : undefined;
    if (sc) sc.translations++;
    if (sc && req.ssid === undefined) {
      // Hot path: config cache + IOTLB hit. Numbers for page numbers, Map lookups.
      const c = this.s.cfg.get(req.sid);
      if (c !== undefined) {
        if (c.tag >= 0 && req.addr < c.iaLimit) {
          const vpn = Number(req.addr >> 12n);
          const t = this.s.tlb;
          const e = t[0].get(c.tag * TAG_MUL + vpn) ?? t[1].get(c.tag * TAG_MUL + Math.floor(vpn / 512)) ?? t[2].get(c.tag * TAG_MUL + Math.floor(vpn / 262144));
          if (e !== undefined) {
            const need = permNeeded(req.write, req.privileged === true, req.exec === true);
            if ((e.perm & need) === need) {
              this.s.stats.tlbHits++;
              sc.tlbHits++;
              return { ok: true, pa: e.oa | (req.addr & e.mask), steps: [{ level: 'IOTLB', desc: e.desc, note: 'hit' }], iotlbHit: true };
            }
          }
        } else if (c.kind === 'bypass') {
          sc.bypass++;
          return { ok: true, pa: req.addr, steps: [{ level: 'STE', descAddr: c.steAddr, note: 'config cache hit: Config=bypass, address passes through' }], iotlbHit: false };
        }
      }
    }
    return this.translateSlow(req, useTlb, opts?.record !== false);
  }

  private disabled(req: DmaRequest): Translation {
    const gbpa = this.s.regs[word(R.SMMU_GBPA)]!;
    if (gbpa & R.GBPA_ABORT) {
      return { ok: false, fault: { source: this.name, code: -1, name: 'GBPA.ABORT', detail: `the SMMU is disabled (CR0.SMMUEN=0) and GBPA.ABORT=1: the transaction to ${hex(req.addr)} is terminated without an event`, recorded: false }, steps: [{ level: 'GBPA', note: 'SMMUEN=0, ABORT=1: terminate' }] };
    }
    return { ok: true, pa: req.addr, steps: [{ level: 'GBPA', note: 'SMMUEN=0, ABORT=0: bypass, address used as-is' }], iotlbHit: false };
  }

  private translateSlow(req: DmaRequest, useTlb: boolean, record: boolean): Translation {
    const steps: TranslationStep[] = [];
    const got = this.resolveConfig(req, useTlb, steps);
    const sc = useTlb ? this.sidCounts(req.sid) : undefined;
    if (sc) sc.cfgReads += memReads(steps, 0);
    if ('fault' in got) return this.fail(got, steps, record);
    const c = got.cfg;
    if (c.kind === 'abort') {
      return { ok: false, fault: { source: this.name, code: -1, name: 'STE abort', detail: `STE for StreamID ${req.sid} has Config=abort: the transaction is terminated without an event`, recorded: false }, steps };
    }
    if (c.kind === 'bypass') {
      if (sc) sc.bypass++;
      return { ok: true, pa: req.addr, steps, iotlbHit: false };
    }
    const p = c.walk!;
    const access = { write: req.write, privileged: req.privileged === true, exec: req.exec === true };
    if (useTlb && req.addr < c.iaLimit) {
      const vpn = Number(req.addr >> 12n);
      const t = this.s.tlb;
      const e = t[0].get(c.tag * TAG_MUL + vpn) ?? t[1].get(c.tag * TAG_MUL + Math.floor(vpn / 512)) ?? t[2].get(c.tag * TAG_MUL + Math.floor(vpn / 262144));
      if (e !== undefined) {
        steps.push({ level: 'IOTLB', desc: e.desc, note: `hit (${c.kind === 's1' ? 'ASID' : 'VMID'} ${c.kind === 's1' ? c.tag : c.tag - 0x10000}): ${permText(e.perm)}` });
        const need = permNeeded(access.write, access.privileged, access.exec);
        if ((e.perm & need) === need) {
          this.s.stats.tlbHits++;
          sc!.tlbHits++;
          return { ok: true, pa: e.oa | (req.addr & e.mask), steps, iotlbHit: true };
        }
        return this.fail(this.walkFault(req, c, { fault: 'permission', level: e.level, cls: E.CLASS_IN, detail: `the cached translation does not allow this access (${permText(e.perm)})` }), steps, record);
      }
      this.s.stats.tlbMisses++;
      sc!.tlbMisses++;
    }
    this.s.stats.walks++;
    const before = steps.length;
    const w = walkVmsa(this.mem, p, req.addr, access, steps);
    if (sc) {
      sc.walks++;
      sc.walkReads += memReads(steps, before);
    }
    if (!w.ok) return this.fail(this.walkFault(req, c, w), steps, record);
    const mask = (1n << BigInt(w.blockShift)) - 1n;
    if (useTlb) {
      const cls = SIZE_SHIFT.indexOf(w.blockShift as 12 | 21 | 30);
      const m = this.s.tlb[cls]!;
      if (m.size >= IOTLB_CAPACITY) m.delete(m.keys().next().value!);
      m.set(c.tag * TAG_MUL + Number(req.addr >> BigInt(w.blockShift)), { oa: w.oa, mask, perm: w.perm, level: w.level, desc: w.desc });
    }
    return { ok: true, pa: w.oa | (req.addr & mask), steps, iotlbHit: false };
  }

  private fail(f: Fail, steps: TranslationStep[], record: boolean): Translation {
    const recorded = f.event !== null && record ? this.recordEvent(f.event) : false;
    return { ok: false, fault: { ...f.fault, recorded }, steps };
  }

  private cfgError(req: DmaRequest, type: number, detail: string, fetchAddr?: u64): Fail {
    // QEMU 7.2 smmuv3_record_event puts an F_CD_FETCH's address in dword 2 (EVT_SET_ADDR, the
    // InputAddr field), not in dword 3 where F_STE_FETCH's goes (EVT_SET_ADDR2).
    const qemuCdFetch = this.eventRecord === 'qemu-7.2' && type === E.F_CD_FETCH;
    const ev = qemuCdFetch
      ? E.encodeEvent({ type, sid: req.sid, ssv: req.ssid !== undefined, ssid: req.ssid ?? this.unsetSsid, inputAddr: fetchAddr })
      : E.encodeEvent({ type, sid: req.sid, ssv: req.ssid !== undefined, ssid: req.ssid ?? this.unsetSsid, fetchAddr });
    return { event: ev, fault: { source: this.name, code: type, name: E.eventName(type), detail, recorded: false } };
  }

  private walkFault(req: DmaRequest, c: SmmuConfig, w: { fault: string; level: number; cls: number; descAddr?: u64; detail: string }): Fail {
    const type = { translation: E.F_TRANSLATION, 'addr-size': E.F_ADDR_SIZE, access: E.F_ACCESS, permission: E.F_PERMISSION, eabt: E.F_WALK_EABT }[w.fault]!;
    const s2 = c.kind === 's2';
    const ev = this.eventRecord === 'qemu-7.2' ? qemuWalkEvent(type, req.sid, req.addr, !req.write, w.descAddr) : E.encodeEvent({
      type, sid: req.sid, ssv: req.ssid !== undefined, ssid: req.ssid ?? this.unsetSsid,
      privileged: req.privileged === true, instruction: req.exec === true, read: !req.write, s2, class: w.cls,
      ttRead: w.cls === E.CLASS_TT ? true : undefined, inputAddr: req.addr,
      ipa: s2 ? req.addr : undefined, fetchAddr: !s2 && type === E.F_WALK_EABT ? w.descAddr : undefined,
    });
    // Translation-class faults are recorded only when CD.R / STE.S2R is set; external aborts always.
    const rec = type === E.F_WALK_EABT || c.record;
    const stage = s2 ? 'stage 2' : 'stage 1';
    return { event: rec ? ev : null, fault: { source: this.name, code: type, name: E.eventName(type), detail: `${stage}, ${req.write ? 'write' : 'read'} of ${hex(req.addr)}: ${w.detail}${rec ? '' : ' (not recorded: CD.R/STE.S2R = 0)'}`, recorded: false } };
  }

  /** Config for a StreamID: from the config cache, else fetched and checked (and cached). */
  private resolveConfig(req: DmaRequest, useTlb: boolean, steps: TranslationStep[]): { cfg: SmmuConfig } | Fail {
    let cfg = useTlb ? this.s.cfg.get(req.sid) : undefined;
    if (cfg) {
      steps.push({ level: 'STE', descAddr: cfg.steAddr, desc: cfg.ste, note: `config cache hit (memory not read): Config=${cfg.kind}` });
      if (cfg.cd) steps.push({ level: 'CD', descAddr: cfg.cdAddr, desc: cfg.cd, note: `config cache hit: ASID ${cfg.tag}` });
    } else {
      const regs = { strtabBase: this.reg64(R.SMMU_STRTAB_BASE), strtabBaseCfg: this.reg32(R.SMMU_STRTAB_BASE_CFG) };
      const got = fetchConfig(this.mem, regs, this.caps, req.sid, steps);
      if ('type' in got) return this.cfgError(req, got.type, got.detail, got.fetchAddr);
      cfg = got.cfg;
      if (useTlb) this.s.cfg.set(req.sid, cfg);
    }
    if (req.ssid !== undefined && cfg.kind !== 'abort' && cfg.kind !== 'bypass') {
      return this.cfgError(req, E.C_BAD_SUBSTREAMID, `SubstreamID ${req.ssid} given, but STE.S1CDMax = 0 (no substreams)`);
    }
    return { cfg };
  }

  // ---- views for inspectors and commands ----------------------------------------

  /** Stream table registers decoded: where the STE of `sid` is (linear only; 2-level needs memory). */
  strtab(): { base: u64; log2size: number; fmt: number; split: number } {
    const cfg = this.reg32(R.SMMU_STRTAB_BASE_CFG);
    return { base: this.reg64(R.SMMU_STRTAB_BASE) & 0x000f_ffff_ffff_ffc0n, log2size: cfg & 0x3f, fmt: (cfg >> 16) & 3, split: (cfg >> 6) & 0x1f };
  }
  /** The event queue as the SMMU sees it. */
  eventQueue(): { base: u64; shift: number; prod: number; cons: number; enabled: boolean } {
    const q = this.queue(R.SMMU_EVENTQ_BASE, this.evtqMaxShift);
    return { ...q, prod: this.reg32(R.SMMU_EVENTQ_PROD), cons: this.reg32(R.SMMU_EVENTQ_CONS), enabled: (this.reg32(R.SMMU_CR0ACK) & R.CR0_EVENTQEN) !== 0 };
  }
  commandQueue(): { base: u64; shift: number; prod: number; cons: number; enabled: boolean } {
    const q = this.queue(R.SMMU_CMDQ_BASE, this.cmdqMaxShift);
    return { ...q, prod: this.reg32(R.SMMU_CMDQ_PROD), cons: this.reg32(R.SMMU_CMDQ_CONS), enabled: (this.reg32(R.SMMU_CR0ACK) & R.CR0_CMDQEN) !== 0 };
  }
  /** IOTLB contents as rows (tag, VA of the page/block, size, OA, permissions). */
  iotlb(): { tag: number; stage: 1 | 2; va: u64; size: number; oa: u64; perm: string }[] {
    const out: { tag: number; stage: 1 | 2; va: u64; size: number; oa: u64; perm: string }[] = [];
    this.s.tlb.forEach((m, i) => {
      for (const [k, e] of m) {
        const tag = Math.floor(k / TAG_MUL);
        const stage = tag >= 0x10000 ? 2 : 1;
        out.push({ tag: stage === 2 ? tag - 0x10000 : tag, stage, va: BigInt(k - tag * TAG_MUL) << BigInt(SIZE_SHIFT[i]!), size: 2 ** SIZE_SHIFT[i]!, oa: e.oa, perm: permText(e.perm) });
      }
    });
    return out;
  }
  /** Config cache contents: StreamID -> what was cached. */
  configCache(): { sid: number; kind: string; steAddr: u64; ste: u64[]; cdAddr?: u64; cd?: u64[]; tag: number }[] {
    return [...this.s.cfg].map(([sid, c]) => ({ sid, kind: c.kind, steAddr: c.steAddr, ste: [...c.ste], cdAddr: c.cdAddr, cd: c.cd && [...c.cd], tag: c.tag }));
  }
  stats(): Readonly<SmmuV3Stats> {
    return this.s.stats;
  }

  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as SmmuV3State);
  }
}
