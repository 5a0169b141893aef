/**
 * The Linux arm-smmu-v3 driver, modelled: probe (read the ID registers,
 * allocate the stream table and queues in kernel memory, program the SMMU
 * through its MMIO registers), domains with io-pgtable-arm stage-1 tables,
 * STE/CD installation with configuration and TLB invalidation commands,
 * and the event queue thread that prints faults to the kernel log.
 *
 * Sources: linux drivers/iommu/arm-smmu-v3.c (v4.10-v4.16, the "2017" era
 * of seed 000) and drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.[ch]
 * (current). Behaviour that differs between them is the `era` knob:
 *
 *   era      unattached STEs            ASIDs from  event log                    CD table
 *   '2017'   bypass (disable_bypass=0)  0           dev_info raw dump            one per domain
 *   current  abort (option removed      1           see `eventLog` below         one per master
 *            in v6.10)
 *
 * The event log has its own history inside the current era (`eventLog`):
 *   'raw'      dev_info "event 0x%02x received:" and the four raw dwords,
 *              ratelimited 10/5 s in arm_smmu_evtq_thread (v5.8-v6.13;
 *              Linux 6.1 prints this);
 *   'decoded'  dev_err raw dump, then arm_smmu_dump_event's decoded lines
 *              ("event: F_TRANSLATION client: ... sid: ..."), ratelimited in
 *              arm_smmu_dump_event: "iommu/arm-smmu-v3: Log better event
 *              records" (d814b70b9b90), queued for v6.14 in Dec 2024.
 *
 * The driver never touches the SMMU model's fields: registers are MMIO
 * reads/writes at `base`, structures are bytes it writes to memory, and
 * every cache effect goes through the command queue.
 *
 * At boot (the kernel keeps the driver as a Stateful for undo):
 *
 *   const smmu = new ArmSmmuV3Driver({ memory: m.memory, pages, base: 0x2b400000n, era: '2017',
 *                                      log: (level, text) => kernel.log(level, text) });
 *   smmu.probe();
 *   const dom = smmu.domainAlloc('DMA'); smmu.attachDev(dev, dom);       // dev.fwSid = StreamID
 *   smmu.map(dom, iova, pa, size, prot); ... smmu.unmap(...); smmu.iotlbSync(dom, iova, size);
 *   // after device activity (the SMMU raised its event interrupt in m.interrupts):
 *   const { events, lines } = smmu.evtqThread();                          // lines also went to `log`
 *
 * Domains are finalised (ASID, page table, 2017 CD) on first attach or map,
 * as arm_smmu_domain_finalise did.
 */
import { type u64, hex, hexRaw } from '../machine/u64.ts';
import { kHashX, newRatelimit, ratelimit, type RatelimitState } from './printk.ts';
import type { PhysicalMemory } from '../machine/memory.ts';
import { clone, type Stateful } from '../machine/state.ts';
import { encode, field, get } from '../machine/fields.ts';
import * as R from '../machine/smmuv3/regs.ts';
import { STE_LAYOUT, STE_SIZE, L1STD_LAYOUT, STE_CFG_ABORT, STE_CFG_BYPASS, STE_CFG_S1_TRANS } from '../machine/smmuv3/ste.ts';
import { CD_LAYOUT } from '../machine/smmuv3/cd.ts';
import * as C from '../machine/smmuv3/cmd.ts';
import { EVENT_LAYOUT, EVENT_CLASS_STR, EVT_SIZE, CLASS_TT, eventType, F_PERMISSION, F_STE_FETCH, F_CD_FETCH, F_VMS_FETCH } from '../machine/smmuv3/event.ts';
import { qEmpty, qFull, qIdx, qInc, qWrp } from '../machine/smmuv3/queue.ts';
import { oasBits } from '../machine/smmuv3/vmsa.ts';
import type { PageAllocator } from './page-alloc.ts';
import type { DmesgLine } from './kernel.ts';
import { IOMMU_MMIO, IOMMU_NOEXEC, IOMMU_WRITE, type DomainType, type IommuDomain, type IommuDriver, type KDevice, type ResvRegion } from './types.ts';
import { allocIoPgtableArmS1, armLpaeIovaToPhys, armLpaeMap, armLpaeUnmap, freeIoPgtable, type IoPgtableArm, type IoPgtableContext } from './io-pgtable-arm.ts';

export type SmmuEra = '2017' | 'current';

/** MSI_IOVA_BASE / MSI_IOVA_LENGTH (arm-smmu-v3.h): the SW_MSI window. */
export const MSI_IOVA_BASE = 0x800_0000n;
export const MSI_IOVA_LENGTH = 0x10_0000n;
/** STRTAB_SPLIT: StreamID bits per level-2 table (256 STEs, one PCI bus). */
export const STRTAB_SPLIT = 8;
/** Above this many pages, current kernels invalidate the whole ASID (CMDQ_MAX_TLBI_OPS, ~v6.9+; version unverified). */
export const CMDQ_MAX_TLBI_OPS = 512;

/** ARM_SMMU_FEAT_* as numbered in the 2017 driver (arm_smmu_device.features). */
export const ARM_SMMU_FEAT_2_LVL_STRTAB = 1 << 0;
export const ARM_SMMU_FEAT_2_LVL_CDTAB = 1 << 1;
export const ARM_SMMU_FEAT_TT_LE = 1 << 2;
export const ARM_SMMU_FEAT_TT_BE = 1 << 3;
export const ARM_SMMU_FEAT_PRI = 1 << 4;
export const ARM_SMMU_FEAT_ATS = 1 << 5;
export const ARM_SMMU_FEAT_SEV = 1 << 6;
export const ARM_SMMU_FEAT_MSI = 1 << 7;
export const ARM_SMMU_FEAT_COHERENCY = 1 << 8;
export const ARM_SMMU_FEAT_TRANS_S1 = 1 << 9;
export const ARM_SMMU_FEAT_TRANS_S2 = 1 << 10;
export const ARM_SMMU_FEAT_STALLS = 1 << 11;
export const ARM_SMMU_FEAT_HYP = 1 << 12;
export const ARM_SMMU_FEAT_STALL_FORCE = 1 << 13;
/** Same numbering in later drivers: VAX 14, RANGE_INV 15 (IDR3.RIL, v5.8+), BTM 16, SVA 17 (6.1). */
export const ARM_SMMU_FEAT_VAX = 1 << 14;
export const ARM_SMMU_FEAT_RANGE_INV = 1 << 15;

/**
 * Largest queues the driver allocates, as log2 of entries. 2017
 * (v4.10): CMDQ_MAX_SZ_SHIFT 8, EVTQ_MAX_SZ_SHIFT 7. From v5.3 (d25f6ead162e
 * "iommu/arm-smmu-v3: Increase maximum size of queues"): Q_MAX_SZ_SHIFT
 * (PAGE_SHIFT + CONFIG_CMA_ALIGNMENT = 12 + 8, arm64 defconfig has CMA)
 * less the entry size (16 bytes for commands, 32 for events): 16 and 15.
 * The same commit added arm_smmu_init_one_queue's "allocated %u entries
 * for %s" line.
 */
export const QUEUE_MAX_SHIFT = { '2017': { cmdq: 8, evtq: 7 }, current: { cmdq: 20 - 4, evtq: 20 - 5 } } as const;

export interface ArmSmmuV3DriverOptions {
  memory: PhysicalMemory;
  pages: PageAllocator;
  /** Physical base of the SMMU's register frame (firmware "reg"), e.g. 0x2b400000. */
  base: u64;
  /** dev_name() when the DT node is not named smmu@...: QEMU virt's is smmuv3@9050000 -> "9050000.smmuv3". */
  devName?: string;
  era?: SmmuEra;
  /**
   * arm-smmu-v3.disable_bypass: what an unattached StreamID's STE does.
   * Default: false for '2017' (static bool disable_bypass;), true for
   * 'current' (the option was removed in v6.10 and unattached streams
   * abort).
   */
  disableBypass?: boolean;
  /** Where printk lines go (the Kernel's log), besides being returned. */
  log?: (level: DmesgLine['level'], text: string) => void;
  /** Simulated seconds since boot, for the current era's printk ratelimit. */
  now?: () => number;
  /** The current era's event log form (see the header): 'decoded' (v6.14+, default) or 'raw' (v5.8-v6.13). */
  eventLog?: 'raw' | 'decoded';
  /**
   * The SW_MSI window's base. MSI_IOVA_BASE is hard-coded in every kernel;
   * seed 002's RFC (May 2020, never merged) proposed a module parameter
   * ("arm-smmu.msi_iova_base=0xa0000000", for the SMMUv2 driver). The lab
   * carries the idea to this driver as arm-smmu-v3.msi_iova_base.
   */
  msiIovaBase?: u64;
  /**
   * How the current era builds STEs (see `steWordsFor`): 'write_strtab_ent'
   * (v5.x-v6.8, Linux 6.1: one function writing dword 1 by hand) or
   * 'make_ste' (v6.9+: arm_smmu_make_abort/bypass/cdtable_ste build whole
   * STEs). Default: 'make_ste'. Ignored in the 2017 era.
   */
  steForm?: 'write_strtab_ent' | 'make_ste';
}

/** struct arm_smmu_event (current driver), decoded from a record. */
export interface SmmuEvent {
  raw: u64[];
  id: number;
  name: string;
  sid: number;
  ssv: boolean;
  /** 0 (IOMMU_NO_PASID) when SSV = 0, whatever the raw field holds. */
  ssid: number;
  privileged: boolean;
  instruction: boolean;
  read: boolean;
  s2: boolean;
  stall: boolean;
  stag: number;
  class: number;
  ttrnw: boolean;
  iova: u64;
  ipa: u64;
  fetchAddr: u64;
  /** dev_name() of the master owning the StreamID, if the driver knows one. */
  client?: string;
}

export interface LogLine {
  level: DmesgLine['level'];
  text: string;
}

interface Queue {
  base: u64;
  shift: number;
  prod: number;
  cons: number;
}

interface DomainPriv {
  id: number;
  type: DomainType;
  stage: 's1' | 'bypass' | 'abort' | 'none';
  asid?: number;
  pgtbl?: IoPgtableArm;
  /** 2017: the domain's CD. */
  cdPa?: u64;
  masters: number[];
}

interface MasterPriv {
  dev: string;
  domain?: number;
  /** current era: the master's own CD table (one CD). */
  cdTable?: u64;
}

interface DriverState {
  probed: boolean;
  features: number;
  ias: number;
  oas: number;
  sidBits: number;
  asidBits: number;
  strtab: { twoLevel: boolean; base: u64; log2size: number; l2: Record<number, u64> };
  cmdq: Queue;
  evtq: Queue;
  domains: Record<number, DomainPriv>;
  masters: Record<number, MasterPriv>;
  asids: number[];
  nextDomain: number;
  rs: RatelimitState;
}

const ARM_SMMU_DEV = 'arm-smmu-v3';
const Q_BASE_RWA = 1n << 62n;
const STRTAB_BASE_RA = 1n << 62n;
/** CR1: table and queue walks inner-shareable write-back (arm_smmu_device_reset). */
const CR1_VALUE = (3 << 10) | (1 << 8) | (1 << 6) | (3 << 4) | (1 << 2) | (1 << 0);
/** CR2: RECINVSID | PTM (unverified which era set PTM; the model ignores CR2). */
/** The Address field of CMD_TLBI_NH_VA as a mask, from the command's field table. */
const TLBI_VA_ADDR_MASK: u64 = (() => {
  const a = field(C.cmdLayout(C.CMD_TLBI_NH_VA), 'Address');
  return ((1n << BigInt(a.hi + 1)) - 1n) & ~((1n << BigInt(a.lo)) - 1n);
})();

const CR2_VALUE = (1 << 1) | (1 << 2);

/** The kernel's "%#x" (see printk.ts: 0 prints as 0x0, unlike glibc). */
const cHashX = kHashX;

export class ArmSmmuV3Driver implements IommuDriver, Stateful {
  readonly name: string;
  private syncWords: u64[] | undefined;
  /** CMD_TLBI_NH_VA words without the address, by ASID (derived data, not state). */
  private tlbiVa = new Map<number, [u64, u64]>();
  /** The same for range invalidation (TG = 4K, TTL 3), by ASID. */
  private tlbiRange = new Map<number, [u64, u64]>();
  /** dev_name() of the SMMU platform device: "2b400000.smmu". */
  readonly devName: string;
  readonly era: SmmuEra;
  readonly disableBypass: boolean;
  readonly eventLog: 'raw' | 'decoded';
  readonly msiIovaBase: u64;
  readonly steForm: 'write_strtab_ent' | 'make_ste';
  private readonly mem: PhysicalMemory;
  private readonly ctx: IoPgtableContext;
  private readonly base: u64;
  private readonly logFn: ArmSmmuV3DriverOptions['log'];
  private readonly now: () => number;
  private s: DriverState;

  constructor(o: ArmSmmuV3DriverOptions) {
    this.mem = o.memory;
    this.ctx = { memory: o.memory, pages: o.pages };
    this.base = o.base;
    this.era = o.era ?? 'current';
    this.disableBypass = o.disableBypass ?? this.era !== '2017';
    this.eventLog = o.eventLog ?? 'decoded';
    this.msiIovaBase = o.msiIovaBase ?? MSI_IOVA_BASE;
    this.steForm = o.steForm ?? 'make_ste';
    this.devName = o.devName ?? `${hexRaw(o.base)}.smmu`;
    this.name = this.devName;
    this.logFn = o.log;
    this.now = o.now ?? ((): number => 0);
    this.s = {
      probed: false, features: 0, ias: 0, oas: 0, sidBits: 0, asidBits: 0,
      strtab: { twoLevel: false, base: 0n, log2size: 0, l2: {} },
      cmdq: { base: 0n, shift: 0, prod: 0, cons: 0 },
      evtq: { base: 0n, shift: 0, prod: 0, cons: 0 },
      domains: {}, masters: {}, asids: [], nextDomain: 1,
      rs: newRatelimit(),
    };
  }

  get probed(): boolean {
    return this.s.probed;
  }

  private print(level: DmesgLine['level'], msg: string, out?: LogLine[], prefix = true): void {
    const text = prefix ? `${ARM_SMMU_DEV} ${this.devName}: ${msg}` : msg;
    out?.push({ level, text });
    this.logFn?.(level, text);
  }

  // ---- MMIO ---------------------------------------------------------------------

  private readl(off: number): number {
    return Number(this.mem.readU(this.base + BigInt(off), 4));
  }
  private writel(off: number, v: number): void {
    this.mem.writeU(this.base + BigInt(off), 4, BigInt(v >>> 0));
  }
  private writeq(off: number, v: u64): void {
    this.mem.writeU(this.base + BigInt(off), 8, v);
  }
  /** arm_smmu_write_reg_sync: write, then poll the ACK register (immediate in the model). */
  private writeRegSync(off: number, ackOff: number, v: number): void {
    this.writel(off, v);
    if (this.readl(ackOff) !== v) this.print('err', `timeout waiting for register 0x${off.toString(16)} ack`);
  }
  /** EVTQ PROD/CONS live on register page 1 (0x100a8/0x100ac). */
  private evtqProdOff = R.SMMU_PAGE1 + R.SMMU_EVENTQ_PROD;
  private evtqConsOff = R.SMMU_PAGE1 + R.SMMU_EVENTQ_CONS;

  // ---- probe ----------------------------------------------------------------------

  /** arm_smmu_device_probe: hw_probe, init_structures, device_reset. Returns the lines printed. */
  probe(): LogLine[] {
    const out: LogLine[] = [];
    if (this.s.probed) return out;
    // arm_smmu_device_hw_probe
    const idr0 = this.readl(R.SMMU_IDR0);
    const g0 = (n: string): number => Number(get(R.IDR0_LAYOUT, [BigInt(idr0)], n));
    let f = 0;
    if (g0('ST_LVL') === 1) f |= ARM_SMMU_FEAT_2_LVL_STRTAB;
    if (g0('CD2L')) f |= ARM_SMMU_FEAT_2_LVL_CDTAB;
    const endian = g0('TTENDIAN');
    if (endian === 0 || endian === 2) f |= ARM_SMMU_FEAT_TT_LE;
    if (endian === 0 || endian === 3) f |= ARM_SMMU_FEAT_TT_BE;
    if (g0('PRI')) f |= ARM_SMMU_FEAT_PRI;
    if (g0('ATS')) f |= ARM_SMMU_FEAT_ATS;
    if (g0('SEV')) f |= ARM_SMMU_FEAT_SEV;
    if (g0('MSI')) f |= ARM_SMMU_FEAT_MSI;
    if (g0('HYP')) f |= ARM_SMMU_FEAT_HYP;
    if (g0('COHACC')) f |= ARM_SMMU_FEAT_COHERENCY;
    const stall = g0('STALL_MODEL');
    if (stall === 0 || stall === 2) f |= ARM_SMMU_FEAT_STALLS;
    if (stall === 2) f |= ARM_SMMU_FEAT_STALL_FORCE;
    if (g0('S1P')) f |= ARM_SMMU_FEAT_TRANS_S1;
    if (g0('S2P')) f |= ARM_SMMU_FEAT_TRANS_S2;
    if (!(f & (ARM_SMMU_FEAT_TRANS_S1 | ARM_SMMU_FEAT_TRANS_S2))) {
      this.print('err', 'no translation support!', out);
      return out;
    }
    if ((g0('TTF') & 2) === 0) {
      this.print('err', 'AArch64 table format not supported!', out);
      return out;
    }
    this.s.asidBits = g0('ASID16') ? 16 : 8;
    const idr1 = BigInt(this.readl(R.SMMU_IDR1));
    const g1 = (n: string): number => Number(get(R.IDR1_LAYOUT, [idr1], n));
    // Queue sizes: min(IDR1's maximum, the driver's) -- QUEUE_MAX_SHIFT above.
    this.s.cmdq.shift = Math.min(QUEUE_MAX_SHIFT[this.era].cmdq, g1('CMDQS'));
    this.s.evtq.shift = Math.min(QUEUE_MAX_SHIFT[this.era].evtq, g1('EVENTQS'));
    this.s.sidBits = g1('SIDSIZE');
    // "If the SMMU supports fewer bits than would fill a single L2 stream table, use a linear table instead."
    if (this.s.sidBits <= STRTAB_SPLIT) f &= ~ARM_SMMU_FEAT_2_LVL_STRTAB;
    // IDR3.RIL: range invalidation (v5.8+; the 2017 driver does not read IDR3).
    if (this.era !== '2017' && this.readl(R.SMMU_IDR3) & R.IDR3_RIL) f |= ARM_SMMU_FEAT_RANGE_INV;
    const idr5 = BigInt(this.readl(R.SMMU_IDR5));
    this.s.oas = oasBits(Number(get(R.IDR5_LAYOUT, [idr5], 'OAS')));
    // smmu->ias is set to 40 only for TTF = AArch32+AArch64; an AArch64-only
    // SMMU (QEMU's, the fast model's) keeps 0 until ias = max(ias, oas).
    this.s.ias = Math.max(g0('TTF') === 3 ? 40 : 0, this.s.oas);
    this.s.features = f;
    // Printed by every era's arm_smmu_device_hw_probe (2017 and current, 6.x included).
    this.print('info', `ias ${this.s.ias}-bit, oas ${this.s.oas}-bit (features 0x${(f >>> 0).toString(16).padStart(8, '0')})`, out);

    // arm_smmu_init_structures -> arm_smmu_init_queues: cmdq, then evtq (priq only with PRI).
    this.s.cmdq.base = this.allocQueue((1 << this.s.cmdq.shift) * C.CMD_SIZE, 1 << this.s.cmdq.shift, 'cmdq', out);
    this.s.evtq.base = this.allocQueue((1 << this.s.evtq.shift) * EVT_SIZE, 1 << this.s.evtq.shift, 'evtq', out);
    if (f & ARM_SMMU_FEAT_2_LVL_STRTAB) {
      // arm_smmu_init_strtab_2lvl: up to 2^17 L1 descriptors (STRTAB_L1_SZ_SHIFT 20), all invalid (Span 0).
      const l1Bits = Math.min(17, this.s.sidBits - STRTAB_SPLIT);
      if (l1Bits + STRTAB_SPLIT < this.s.sidBits) this.print('warn', `2-level strtab only covers ${l1Bits + STRTAB_SPLIT}/${this.s.sidBits} bits of SID`, out);
      this.s.strtab = { twoLevel: true, base: this.allocCoherent(8 << l1Bits), log2size: l1Bits + STRTAB_SPLIT, l2: {} };
    } else {
      // arm_smmu_init_strtab_linear: 2^SIDSIZE STEs, each bypass or abort.
      const n = 1 << this.s.sidBits;
      const base = this.allocCoherent(n * STE_SIZE);
      this.s.strtab = { twoLevel: false, base, log2size: this.s.sidBits, l2: {} };
      this.initBypassStes(base, n);
    }

    // arm_smmu_device_reset
    if (this.readl(R.SMMU_CR0) & R.CR0_SMMUEN) {
      this.print('warn', 'SMMU currently enabled! Resetting...', out);
      this.writeRegSync(R.SMMU_CR0, R.SMMU_CR0ACK, 0);
    }
    this.writel(R.SMMU_CR1, CR1_VALUE);
    this.writel(R.SMMU_CR2, CR2_VALUE);
    const st = this.s.strtab;
    this.writeq(R.SMMU_STRTAB_BASE, STRTAB_BASE_RA | (st.base & 0x000f_ffff_ffff_ffc0n));
    this.writel(R.SMMU_STRTAB_BASE_CFG, Number(encode(R.STRTAB_BASE_CFG_LAYOUT, { LOG2SIZE: st.log2size, SPLIT: st.twoLevel ? STRTAB_SPLIT : 0, FMT: st.twoLevel ? 1 : 0 })[0]));
    this.writeq(R.SMMU_CMDQ_BASE, Q_BASE_RWA | this.s.cmdq.base | BigInt(this.s.cmdq.shift));
    this.writel(R.SMMU_CMDQ_PROD, 0);
    this.writel(R.SMMU_CMDQ_CONS, 0);
    let enables = R.CR0_CMDQEN;
    this.writeRegSync(R.SMMU_CR0, R.SMMU_CR0ACK, enables);
    // Invalidate any cached configuration and TLB entries.
    this.issueCmd(C.CMD_CFGI_ALL, { Range: 31 });
    this.issueSync();
    if (f & ARM_SMMU_FEAT_HYP) this.issueCmd(C.CMD_TLBI_EL2_ALL, {});
    this.issueCmd(C.CMD_TLBI_NSNH_ALL, {});
    this.issueSync();
    this.writeq(R.SMMU_EVENTQ_BASE, Q_BASE_RWA | this.s.evtq.base | BigInt(this.s.evtq.shift));
    this.writel(this.evtqProdOff, 0);
    this.writel(this.evtqConsOff, 0);
    enables |= R.CR0_EVENTQEN;
    this.writeRegSync(R.SMMU_CR0, R.SMMU_CR0ACK, enables);
    // arm_smmu_setup_irqs: disable, then enable the event queue and GERROR interrupts.
    this.writeRegSync(R.SMMU_IRQ_CTRL, R.SMMU_IRQ_CTRLACK, 0);
    this.writeRegSync(R.SMMU_IRQ_CTRL, R.SMMU_IRQ_CTRLACK, R.IRQ_CTRL_EVENTQ_IRQEN | R.IRQ_CTRL_GERROR_IRQEN);
    enables |= R.CR0_SMMUEN;
    this.writeRegSync(R.SMMU_CR0, R.SMMU_CR0ACK, enables);
    this.s.probed = true;
    return out;
  }

  /**
   * arm_smmu_init_one_queue: dmam_alloc_coherent of the whole queue
   * (naturally aligned: the page allocator hands out power-of-two blocks,
   * as CMA does up to CONFIG_CMA_ALIGNMENT), and from v5.3 the dev_info line.
   */
  private allocQueue(bytes: number, entries: number, name: string, out: LogLine[]): u64 {
    const pa = this.allocCoherent(bytes);
    if (this.era !== '2017') this.print('info', `allocated ${entries} entries for ${name}`, out);
    return pa;
  }

  /** dmam_alloc_coherent(GFP_ZERO): whole pages, naturally aligned, zeroed. */
  private allocCoherent(bytes: number): u64 {
    const pages = Math.max(1, Math.ceil(bytes / 4096));
    const pa = this.ctx.pages.alloc(pages);
    this.mem.fill(pa, BigInt(pages * 4096), 0);
    return pa;
  }

  /** arm_smmu_init_bypass_stes: every entry bypass (or abort with disable_bypass). */
  private initBypassStes(base: u64, n: number): void {
    const [d0, d1] = this.unassignedSte();
    for (let i = 0; i < n; i++) {
      const a = base + BigInt(i * STE_SIZE);
      this.mem.write64(a, d0);
      this.mem.write64(a + 8n, d1);
    }
  }

  private unassignedSte(): [u64, u64] {
    return this.disableBypass ? this.abortSte() : this.bypassSte();
  }

  /**
   * Dword 1 of a bypass or abort STE. 2017 and write_strtab_ent (v4.1x to
   * v6.8, Linux 6.1): `dst[1] = SHCFG_INCOMING` for both, whatever the
   * SMMU. make_ste (v6.9+): arm_smmu_make_abort_ste leaves dword 1 zero, and
   * arm_smmu_make_bypass_ste sets SHCFG only when IDR1.ATTR_TYPES_OVR says
   * the SMMU can override (ARM_SMMU_FEAT_ATTR_TYPES_OVR, ≈v6.10; neither
   * modelled SMMU has it).
   */
  private shcfgIncoming(bypass: boolean): boolean {
    if (this.era === '2017' || this.steForm === 'write_strtab_ent') return true;
    return bypass && (this.readl(R.SMMU_IDR1) & (1 << 27)) !== 0;
  }
  private abortSte(): [u64, u64] {
    return [encode(STE_LAYOUT, { V: 1, Config: STE_CFG_ABORT })[0]!, this.shcfgIncoming(false) ? encode(STE_LAYOUT, { SHCFG: 1 })[1]! : 0n];
  }
  private bypassSte(): [u64, u64] {
    return [encode(STE_LAYOUT, { V: 1, Config: STE_CFG_BYPASS })[0]!, this.shcfgIncoming(true) ? encode(STE_LAYOUT, { SHCFG: 1 })[1]! : 0n];
  }

  // ---- command queue ----------------------------------------------------------------

  /** arm_smmu_cmdq_build_cmd + arm_smmu_cmdq_insert_cmd + the PROD write. */
  /**
   * Write one command and (by default) publish it by writing CMDQ_PROD. The
   * current driver batches (arm_smmu_cmdq_issue_cmdlist: TLBIs and their
   * CMD_SYNC published with one PROD write); the 2017 driver published each
   * command as it went. `kick: false` leaves the PROD write to the next call.
   */
  private issueCmd(op: number, fields: Record<string, u64 | number | boolean>, kick = true): void {
    // CMD_SYNC's words never change: encode them once (this path runs on every strict unmap).
    const words = op === C.CMD_SYNC ? (this.syncWords ??= encode(C.cmdLayout(op), { Opcode: op, ...fields })) : encode(C.cmdLayout(op), { Opcode: op, ...fields });
    this.issueWords(words, kick);
  }

  /** Write one encoded command into the queue and, unless batching, publish it (CMDQ_PROD). */
  private issueWords(words: readonly u64[], kick = true): void {
    const q = this.s.cmdq;
    if (qFull(q.prod, q.cons, q.shift)) {
      // Publish what is written but not yet kicked, so the SMMU can drain it.
      this.writel(R.SMMU_CMDQ_PROD, q.prod);
      q.cons = this.readl(R.SMMU_CMDQ_CONS);
      if (qFull(q.prod, q.cons, q.shift)) {
        this.print('err', 'CMDQ timeout');
        return;
      }
    }
    this.mem.writeWords(q.base + BigInt(C.CMD_SIZE * qIdx(q.prod, q.shift)), words);
    q.prod = qInc(q.prod, q.shift);
    if (kick) this.writel(R.SMMU_CMDQ_PROD, q.prod);
  }

  /** arm_smmu_cmdq_issue_sync: CMD_SYNC with CS=SEV, then wait until CONS catches up. */
  private issueSync(): void {
    this.issueCmd(C.CMD_SYNC, { CS: 2, MSH: 3, MSIAttr: 0xf });
    const q = this.s.cmdq;
    for (let tries = 0; tries < 4; tries++) {
      q.cons = this.readl(R.SMMU_CMDQ_CONS);
      if (qEmpty(q.prod, q.cons, q.shift)) return;
      // The SMMU stopped on an error: the GERROR interrupt handler fixes it up and it resumes.
      const active = this.readl(R.SMMU_GERROR) ^ this.readl(R.SMMU_GERRORN);
      if (!(active & R.GERROR_CMDQ_ERR)) break;
      this.gerrorHandler();
    }
    this.print('err', 'CMD_SYNC timeout');
  }

  private syncSte(sid: number): void {
    this.issueCmd(C.CMD_CFGI_STE, { StreamID: sid, Leaf: true });
    this.issueSync();
  }

  /** arm_smmu_gerror_handler: report and acknowledge global errors. */
  gerrorHandler(): LogLine[] {
    const out: LogLine[] = [];
    const gerror = this.readl(R.SMMU_GERROR);
    const gerrorn = this.readl(R.SMMU_GERRORN);
    const active = gerror ^ gerrorn;
    if (!(active & 0x1fd)) return out; // GERROR_ERR_MASK
    this.print('warn', `unexpected global error reported (0x${(active >>> 0).toString(16).padStart(8, '0')}), this could be serious`, out);
    if (active & R.GERROR_EVENTQ_ABT_ERR) this.print('err', 'EVTQ write aborted -- events may have been lost', out);
    if (active & R.GERROR_CMDQ_ERR) this.cmdqSkipErr(out);
    this.writel(R.SMMU_GERRORN, gerror);
    return out;
  }

  /** arm_smmu_cmdq_skip_err: print the bad command and turn it into a CMD_SYNC. */
  private cmdqSkipErr(out: LogLine[]): void {
    const cons = this.readl(R.SMMU_CMDQ_CONS);
    const idx = (cons & R.CMDQ_CONS_ERR_MASK) >>> R.CMDQ_CONS_ERR_LO;
    const str = ['No error', 'Illegal command', 'Abort on command fetch', 'ATC invalidate timeout'][idx] ?? 'Unknown';
    this.print('err', `CMDQ error (cons 0x${(cons >>> 0).toString(16).padStart(8, '0')}): ${str}`, out);
    if (idx !== R.CERROR_ILL) return;
    const q = this.s.cmdq;
    const at = q.base + BigInt(C.CMD_SIZE * qIdx(cons, q.shift));
    const cmd = this.mem.readWords(at, 2);
    this.print('err', 'skipping command in error state:', out);
    for (const w of cmd) this.print('err', `\t${hex(w, 16)}`, out);
    this.mem.writeWords(at, encode(C.cmdLayout(C.CMD_SYNC), { Opcode: C.CMD_SYNC, CS: 2, MSH: 3, MSIAttr: 0xf }));
  }

  // ---- stream table ------------------------------------------------------------------

  /** Where the STE of a StreamID is (arm_smmu_get_step_for_sid). */
  steAddrFor(sid: number): u64 | undefined {
    const st = this.s.strtab;
    if (!st.twoLevel) return sid < 2 ** st.log2size ? st.base + BigInt(sid * STE_SIZE) : undefined;
    const l2 = st.l2[Math.floor(sid / 2 ** STRTAB_SPLIT)];
    return l2 === undefined ? undefined : l2 + BigInt((sid % 2 ** STRTAB_SPLIT) * STE_SIZE);
  }

  /** arm_smmu_init_l2_strtab: a level-2 table for the StreamID's bus, on first use. */
  private initL2(sid: number): void {
    const st = this.s.strtab;
    if (!st.twoLevel) return;
    const i = Math.floor(sid / 2 ** STRTAB_SPLIT);
    if (st.l2[i] !== undefined) return;
    const l2 = this.allocCoherent(STE_SIZE << STRTAB_SPLIT);
    this.initBypassStes(l2, 1 << STRTAB_SPLIT);
    st.l2[i] = l2;
    this.mem.write64(st.base + BigInt(8 * i), encode(L1STD_LAYOUT, { Span: STRTAB_SPLIT + 1, L2Ptr: l2 })[0]!);
  }

  /**
   * Install an STE. 2017 (arm_smmu_write_strtab_ent): bypass/abort -> write
   * dwords 0-2 then sync; stage 1 -> write dword 1, sync, write dword 0,
   * sync, CMD_PREFETCH_CONFIG. current (arm_smmu_write_entry, simplified to
   * its non-hitless path): a live entry is first made invalid (V=0) and
   * synced, the other dwords written and synced, then dword 0 and sync.
   */
  private writeSte(sid: number, words: u64[]): void {
    const a = this.steAddrFor(sid);
    if (a === undefined) return;
    const old = this.mem.readWords(a, 8);
    const live = (old[0]! & 1n) === 1n;
    const s1 = Number(get(STE_LAYOUT, words, 'Config')) === STE_CFG_S1_TRANS;
    if (this.era === '2017') {
      if (!s1) {
        this.mem.writeWords(a, words.slice(0, 3));
        this.syncSte(sid);
        return;
      }
      this.mem.writeWords(a + 8n, words.slice(1, 4));
      this.syncSte(sid);
      this.mem.write64(a, words[0]!);
      this.syncSte(sid);
    } else {
      if (live && old[0] !== words[0]) {
        this.mem.write64(a, old[0]! & ~1n);
        this.syncSte(sid);
      }
      this.mem.writeWords(a + 8n, words.slice(1));
      this.syncSte(sid);
      this.mem.write64(a, words[0]!);
      this.syncSte(sid);
    }
    this.issueCmd(C.CMD_PREFETCH_CONFIG, { StreamID: sid });
  }

  private steWordsFor(d: DomainPriv | undefined, m: MasterPriv): u64[] {
    if (!d || d.stage === 'none') {
      const [d0, d1] = this.unassignedSte();
      return [d0, d1, 0n, 0n, 0n, 0n, 0n, 0n];
    }
    if (d.stage === 'bypass') return [...this.bypassSte(), 0n, 0n, 0n, 0n, 0n, 0n];
    if (d.stage === 'abort') return [...this.abortSte(), 0n, 0n, 0n, 0n, 0n, 0n];
    const cd = this.era === '2017' ? d.cdPa! : m.cdTable!;
    return encode(STE_LAYOUT, { V: 1, Config: STE_CFG_S1_TRANS, S1ContextPtr: cd, ...this.s1SteDword1() });
  }

  /**
   * Dword 1 of a stage-1 STE, by era. Every era: S1CIR = S1COR = WBRA (1),
   * S1CSH = inner shareable (3), STRW = NS-EL1 (0: no SMMU here has
   * IDR0.HYP, so never EL2/E2H), S1STALLD only on an SMMU with stalls
   * (neither modelled SMMU has them: STALL_MODEL = 1). No era sets PRIVCFG
   * or MEV in a stage-1 STE (mainline never defined an STE PRIVCFG value;
   * MEV appears only in v6.1x nested STEs).
   *   2017 (drivers/iommu/arm-smmu-v3.c arm_smmu_write_strtab_ent, v4.1x):
   *     EATS = TRANS (1) under #ifdef CONFIG_PCI_ATS, which arm64's
   *     defconfig has (PCI_IOV selects PCI_ATS): set even for an SMMU
   *     without ATS and a device without the capability. No S1DSS. (An
   *     earlier form of the function, with `ste->bypass` instead of
   *     `ste->assigned`, set S1STALLD unconditionally and left a bypass
   *     STE's dword 1 alone; the release that changed it, v4.10 or v4.11,
   *     is not verified. The model uses the later form for the whole era.)
   *   current, write_strtab_ent (v5.6-v6.8, Linux 6.1): S1DSS = SSID0 (2,
   *     "iommu/arm-smmu-v3: Add support for Substream IDs", v5.6); EATS only
   *     for a master with ATS enabled ("iommu/arm-smmu-v3: Add support for
   *     PCI ATS", v5.2; no modelled device has ATS: 0).
   *   make_ste (arm_smmu_make_cdtable_ste, v6.9+): the same fields, the
   *     whole STE built at once with dword 2's S2VMID = 0.
   */
  private s1SteDword1(): Record<string, number> {
    const common = { S1CIR: 1, S1COR: 1, S1CSH: 3, STRW: 0 };
    return this.era === '2017' ? { ...common, EATS: 1 } : { ...common, S1DSS: 2 };
  }

  /** The CD (arm_smmu_write_ctx_desc / arm_smmu_make_s1_cd) for a stage-1 domain. */
  private cdWords(d: DomainPriv): u64[] {
    const p = d.pgtbl!;
    return encode(CD_LAYOUT, {
      T0SZ: p.tcr.t0sz, TG0: p.tcr.tg, IR0: p.tcr.irgn, OR0: p.tcr.orgn, SH0: p.tcr.sh, EPD1: 1, IPS: p.tcr.ips,
      R: 1, A: 1, ASET: 1, AA64: 1, ASID: d.asid!, V: 1, TTB0: p.pgd, MAIR: p.mair,
    });
  }

  private writeCd(at: u64, words: u64[], sid?: number): void {
    // Write dwords 1-3 first, V last (dword 0), as both drivers do.
    this.mem.writeWords(at + 8n, words.slice(1));
    this.mem.write64(at, words[0]!);
    if (this.era === 'current' && sid !== undefined) {
      this.issueCmd(C.CMD_CFGI_CD, { StreamID: sid, SubstreamID: 0, Leaf: true });
      this.issueSync();
    }
  }

  // ---- IommuDriver ---------------------------------------------------------------------

  /** arm_smmu_probe_device: learn a master's StreamID (and its level-2 table). */
  probeDevice(dev: KDevice): void {
    const sid = dev.fwSid ?? dev.master.sid;
    if (!this.s.masters[sid]) {
      this.initL2(sid);
      this.s.masters[sid] = { dev: dev.name };
    }
  }

  /**
   * arm_smmu_domain_alloc. The 2017 driver accepted only UNMANAGED, DMA and
   * IDENTITY (returning NULL otherwise: thrown here); current kernels also
   * have DMA-FQ and a blocking domain.
   */
  domainAlloc(type: DomainType): IommuDomain {
    if (this.era === '2017' && (type === 'DMA-FQ' || type === 'blocked')) {
      throw new Error(`${ARM_SMMU_DEV} ${this.devName}: arm_smmu_domain_alloc: domain type ${type} not supported by the ${this.era} driver`);
    }
    const id = this.s.nextDomain++;
    const stage = type === 'identity' ? 'bypass' : type === 'blocked' ? 'abort' : 'none';
    this.s.domains[id] = { id, type, stage, masters: [] };
    const paging = type === 'DMA' || type === 'DMA-FQ' || type === 'unmanaged';
    return {
      id,
      type,
      iommu: this.devName,
      apertureStart: 0n,
      apertureEnd: paging ? (1n << 48n) - 1n : 0n,
      pgsizeBitmap: paging ? 0x1000n | 0x20_0000n | 0x4000_0000n : 0n,
    };
  }

  /** arm_smmu_domain_finalise: ASID, page table and (2017) CD on first attach. */
  private finalise(d: DomainPriv): void {
    if (d.stage !== 'none') return;
    let asid = this.era === '2017' ? 0 : 1;
    while (this.s.asids.includes(asid)) asid++;
    if (asid >= 2 ** this.s.asidBits) throw new Error('arm-smmu-v3: out of ASIDs');
    this.s.asids.push(asid);
    d.asid = asid;
    // ias = VA_BITS (48), oas = smmu->ias.
    d.pgtbl = allocIoPgtableArmS1(this.ctx, {
      ias: 48, oas: this.s.ias, coherentWalk: (this.s.features & ARM_SMMU_FEAT_COHERENCY) !== 0,
      shareability: this.era === '2017' ? 'legacy' : 'current', mairIncOcache: this.era !== '2017',
    });
    d.stage = 's1';
    if (this.era === '2017') {
      d.cdPa = this.allocCoherent(64);
      this.writeCd(d.cdPa, this.cdWords(d));
    }
  }

  attachDev(dev: KDevice, domain: IommuDomain): void {
    if (!this.s.probed) throw new Error(`${this.devName}: attach before probe`);
    const sid = dev.fwSid ?? dev.master.sid;
    this.probeDevice(dev);
    const m = this.s.masters[sid]!;
    const d = this.s.domains[domain.id];
    if (!d) throw new Error(`${this.devName}: unknown domain ${domain.id}`);
    if (m.domain !== undefined) {
      if (m.domain !== d.id) {
        const old = this.s.domains[m.domain];
        if (old) old.masters = old.masters.filter((x) => x !== sid);
      }
      // 2017: "Already attached to a different domain?" -> arm_smmu_detach_dev (unassigned STE) first,
      // whatever the new domain is; current kernels update the live STE in place.
      if (this.era === '2017') this.writeSte(sid, this.steWordsFor(undefined, m));
    }
    this.finalise(d);
    if (d.stage === 's1' && this.era === 'current') {
      m.cdTable ??= this.allocCoherent(64);
      this.writeCd(m.cdTable, this.cdWords(d), (this.mem.read64(m.cdTable) & (1n << 31n)) !== 0n ? sid : undefined);
    }
    m.domain = d.id;
    if (!d.masters.includes(sid)) d.masters.push(sid);
    this.writeSte(sid, this.steWordsFor(d, m));
  }

  /** arm_smmu_detach_dev: back to the unassigned STE (bypass or abort). */
  detachDev(dev: KDevice): void {
    const sid = dev.fwSid ?? dev.master.sid;
    const m = this.s.masters[sid];
    if (!m || m.domain === undefined) return;
    const d = this.s.domains[m.domain];
    if (d) d.masters = d.masters.filter((x) => x !== sid);
    m.domain = undefined;
    this.writeSte(sid, this.steWordsFor(undefined, m));
  }

  /** arm_smmu_domain_free: page tables, CD and ASID go back. */
  domainFree(domain: IommuDomain): void {
    const d = this.s.domains[domain.id];
    if (!d) return;
    if (d.pgtbl) freeIoPgtable(this.ctx, d.pgtbl);
    if (d.cdPa !== undefined) this.ctx.pages.free(d.cdPa, 1);
    if (d.asid !== undefined) this.s.asids = this.s.asids.filter((a) => a !== d.asid);
    delete this.s.domains[domain.id];
  }

  private paging(domain: IommuDomain): DomainPriv & { pgtbl: IoPgtableArm } {
    const d = this.s.domains[domain.id];
    if (!d) throw new Error(`${this.devName}: unknown domain ${domain.id}`);
    if (d.stage === 'none' && (d.type === 'DMA' || d.type === 'DMA-FQ' || d.type === 'unmanaged')) this.finalise(d);
    if (!d.pgtbl) throw new Error(`${this.devName}: domain ${domain.id} (${d.type}) has no page table`);
    return d as DomainPriv & { pgtbl: IoPgtableArm };
  }

  map(domain: IommuDomain, iova: u64, pa: u64, size: u64, prot: number): void {
    armLpaeMap(this.ctx, this.paging(domain).pgtbl, iova, pa, size, prot);
  }

  unmap(domain: IommuDomain, iova: u64, size: u64): u64 {
    return armLpaeUnmap(this.ctx, this.paging(domain).pgtbl, iova, size);
  }

  /**
   * __arm_smmu_tlb_inv_range, then CMD_SYNC. Without ARM_SMMU_FEAT_RANGE_INV:
   * one TLBI_NH_VA per 4K granule (the whole ASID past CMDQ_MAX_TLBI_OPS,
   * current). With it (IDR3.RIL, v5.8+; QEMU advertises it): range
   * commands, TG = 1 (4K leaf pages), TTL = 3 (the 4K granule is a
   * level-3 entry), and per command the lowest set bit of the remaining
   * page count as SCALE and up to 32 of those as NUM + 1.
   */
  iotlbSync(domain: IommuDomain, iova: u64, size: u64): void {
    const d = this.s.domains[domain.id];
    if (!d || d.stage !== 's1' || !this.s.probed || size === 0n) return;
    const start = iova & ~0xfffn;
    const pages = Number((iova + size - 1n - start) >> 12n) + 1;
    const kickEach = this.era !== 'current';
    if (this.s.features & ARM_SMMU_FEAT_RANGE_INV) {
      // One encode per ASID (TG, TTL, Leaf fixed); NUM [16:12] and SCALE [24:20] and the address vary.
      let t = this.tlbiRange.get(d.asid!);
      if (!t) this.tlbiRange.set(d.asid!, (t = encode(C.cmdLayout(C.CMD_TLBI_NH_VA), { Opcode: C.CMD_TLBI_NH_VA, ASID: d.asid!, Leaf: true, TG: 1, TTL: 3 }) as [u64, u64]));
      let left = pages;
      let va = start;
      while (left > 0) {
        const scale = Math.log2(left & -left);
        const num = Math.floor(left / 2 ** scale) & 0x1f;
        this.issueWords([t[0] | (BigInt(num - 1) << 12n) | (BigInt(scale) << 20n), t[1] | (va & TLBI_VA_ADDR_MASK)], false);
        left -= num * 2 ** scale;
        va += BigInt(num * 2 ** scale) << 12n;
      }
    } else if (this.era === 'current' && pages >= CMDQ_MAX_TLBI_OPS) {
      this.issueCmd(C.CMD_TLBI_NH_ASID, { ASID: d.asid! }, kickEach);
    } else {
      // One encode per ASID: only the Address field changes from page to page.
      let t = this.tlbiVa.get(d.asid!);
      if (!t) this.tlbiVa.set(d.asid!, (t = encode(C.cmdLayout(C.CMD_TLBI_NH_VA), { Opcode: C.CMD_TLBI_NH_VA, ASID: d.asid!, Leaf: true }) as [u64, u64]));
      for (let i = 0; i < pages; i++) this.issueWords([t[0], t[1] | ((start + BigInt(i * 4096)) & TLBI_VA_ADDR_MASK)], kickEach);
    }
    this.issueSync();
  }

  /** arm_smmu_tlb_inv_context: TLBI_NH_ASID + CMD_SYNC. */
  flushIotlbAll(domain: IommuDomain): void {
    const d = this.s.domains[domain.id];
    if (!d || d.stage !== 's1' || !this.s.probed) return;
    this.issueCmd(C.CMD_TLBI_NH_ASID, { ASID: d.asid! });
    this.issueSync();
  }

  iovaToPhys(domain: IommuDomain, iova: u64): u64 | undefined {
    const d = this.s.domains[domain.id];
    if (!d) return undefined;
    if (d.type === 'identity') return iova;
    if (!d.pgtbl) return undefined;
    return armLpaeIovaToPhys(this.ctx, d.pgtbl, iova);
  }

  /** arm_smmu_get_resv_regions: the software-managed MSI window. */
  getResvRegions(_dev: KDevice): ResvRegion[] {
    return [{ start: this.msiIovaBase, length: MSI_IOVA_LENGTH, prot: IOMMU_WRITE | IOMMU_NOEXEC | IOMMU_MMIO, type: 'sw-msi' }];
  }

  /** The ASID a stage-1 domain's TLB entries carry (CD.ASID). */
  domainTag(domain: IommuDomain): string | undefined {
    const d = this.s.domains[domain.id];
    return d?.asid !== undefined ? `ASID ${d.asid}` : undefined;
  }

  /** The ASID and page table of a domain (for inspectors). */
  domainInfo(domain: IommuDomain): { stage: string; asid?: number; pgd?: u64; masters: number[] } | undefined {
    const d = this.s.domains[domain.id];
    return d && { stage: d.stage, asid: d.asid, pgd: d.pgtbl?.pgd, masters: [...d.masters] };
  }

  // ---- event queue -------------------------------------------------------------------------

  /** arm_smmu_decode_event. */
  decodeEvent(raw: u64[]): SmmuEvent {
    const g = (n: string): u64 => get(EVENT_LAYOUT, raw, n);
    const id = Number(g('Type'));
    const sid = Number(g('StreamID'));
    const ssv = g('SSV') === 1n;
    return {
      raw: [...raw], id, name: eventType(id)?.linux ?? 'UNKNOWN', sid, ssv, ssid: ssv ? Number(g('SubstreamID')) : 0,
      privileged: g('PnU') === 1n, instruction: g('InD') === 1n, read: g('RnW') === 1n, s2: g('S2') === 1n,
      stall: g('Stall') === 1n, stag: Number(g('STAG')), class: Number(g('CLASS')), ttrnw: g('TTRnW') === 1n,
      iova: g('InputAddr'), ipa: g('IPA'), fetchAddr: g('FetchAddr'), client: this.s.masters[sid]?.dev,
    };
  }

  /**
   * __ratelimit(DEFAULT_RATELIMIT_INTERVAL = 5 s, BURST = 10) on the event
   * dump. The "callbacks suppressed" line names the function that called
   * __ratelimit: arm_smmu_evtq_thread before v6.14, arm_smmu_dump_event after.
   */
  private ratelimit(out: LogLine[]): boolean {
    const fn = this.eventLog === 'raw' ? 'arm_smmu_evtq_thread' : 'arm_smmu_dump_event';
    return ratelimit(this.s.rs, this.now(), (n) => this.print('warn', `${fn}: ${n} callbacks suppressed`, out, false));
  }

  private dumpEvent(e: SmmuEvent, out: LogLine[]): void {
    const hexId = e.id.toString(16).padStart(2, '0');
    if (this.era === '2017') {
      this.print('info', `event 0x${hexId} received:`, out);
      for (const w of e.raw) this.print('info', `\t${hex(w, 16)}`, out);
      return;
    }
    if (!this.ratelimit(out)) return;
    if (this.eventLog === 'raw') {
      // v5.8-v6.13 (6.1 included): the 2017 dump, ratelimited, still dev_info.
      this.print('info', `event 0x${hexId} received:`, out);
      for (const w of e.raw) this.print('info', `\t${hex(w, 16)}`, out);
      return;
    }
    this.print('err', `event 0x${hexId} received:`, out);
    for (const w of e.raw) this.print('err', `\t${hex(w, 16)}`, out);
    const client = e.client ?? '(unassigned sid)';
    const head = `event: ${e.name} client: ${client} sid: ${cHashX(e.sid)} ssid: ${cHashX(e.ssid)}`;
    if (e.id >= 0x10 && e.id <= 0x13) {
      this.print('err', `${head} iova: ${cHashX(e.iova)} ipa: ${cHashX(e.ipa)}`, out);
      const tt = e.id === F_PERMISSION && e.class === CLASS_TT ? (e.ttrnw ? ' ttd_read' : ' ttd_write') : '';
      this.print('err', `${e.privileged ? 'priv' : 'unpriv'} ${e.instruction ? 'inst' : 'data'} ${e.read ? 'read' : 'write'} ${e.s2 ? 's2' : 's1'} "${EVENT_CLASS_STR[e.class]}"${tt}${e.stall ? ' stall' : ''} stag: ${cHashX(e.stag)}`, out);
    } else if (e.id === F_STE_FETCH || e.id === F_CD_FETCH || e.id === F_VMS_FETCH) {
      this.print('err', `${head} fetch_addr: ${cHashX(e.fetchAddr)}`, out);
    } else {
      this.print('err', head, out);
    }
  }

  /** queue_sync_prod(_in): read PROD; -EOVERFLOW when its overflow flag moved. */
  private syncEvtqProd(out: LogLine[]): void {
    const q = this.s.evtq;
    const prod = this.readl(this.evtqProdOff);
    if ((prod & R.Q_OVERFLOW_FLAG) !== (q.prod & R.Q_OVERFLOW_FLAG)) this.print('err', 'EVTQ overflow detected -- events lost', out);
    q.prod = prod;
  }

  /**
   * arm_smmu_evtq_handler + arm_smmu_evtq_thread: consume every event in the
   * queue (reading the records from memory, advancing CONS by MMIO) and
   * print them as the era's kernel did. Returns the records and the lines.
   */
  evtqThread(): { events: SmmuEvent[]; lines: LogLine[] } {
    const out: LogLine[] = [];
    const events: SmmuEvent[] = [];
    if (!this.s.probed) return { events, lines: out };
    const q = this.s.evtq;
    this.syncEvtqProd(out);
    let guard = 0;
    do {
      while (!qEmpty(q.prod, q.cons, q.shift) && guard++ < 1 << 20) {
        const raw = this.mem.readWords(q.base + BigInt(EVT_SIZE * qIdx(q.cons, q.shift)), 4);
        q.cons = qInc(q.cons, q.shift);
        this.writel(this.evtqConsOff, q.cons); // queue_inc_cons / queue_sync_cons_out
        const e = this.decodeEvent(raw);
        events.push(e);
        this.dumpEvent(e, out);
      }
      this.syncEvtqProd(out);
    } while (!qEmpty(q.prod, q.cons, q.shift) && guard < 1 << 20);
    // "Sync our overflow flag, as we believe we're up to speed"
    q.cons = ((q.prod & R.Q_OVERFLOW_FLAG) | qWrp(q.cons, q.shift) | qIdx(q.cons, q.shift)) >>> 0;
    if (this.era === 'current') this.writel(this.evtqConsOff, q.cons); // queue_sync_cons_ovf; 2017 only updated its copy
    return { events, lines: out };
  }

  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as DriverState);
  }
}
