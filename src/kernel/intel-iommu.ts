/**
 * Linux's Intel IOMMU driver (drivers/iommu/intel/{dmar,iommu,irq_remapping}.c),
 * modelled for legacy (non-scalable) mode: parse the firmware's DMAR table,
 * map each DRHD's registers, set up queued (or register-based)
 * invalidation, the root table, context entries and second-level page
 * tables, interrupt remapping, and the fault handler that prints what the
 * hardware recorded. Like the arm-smmu-v3 model, the driver touches the
 * hardware only through MMIO at the DRHD base and bytes in memory.
 *
 * Boot, in Linux's order (the kernel keeps the driver as a Stateful for undo):
 *
 *   const drv = new IntelIommuDriver({ memory: m.memory, pages, dmar: dmarBytes, version: 612,
 *                                      cmdline: kernel.cmdline, log: (l, t) => kernel.log(l, t) });
 *   drv.earlyParams();            // intel_iommu=on|off|sp_off...: "DMAR: IOMMU enabled"
 *   drv.irqRemappingInit();       // x86 APIC setup: dmar_table_init (the DMAR lines), then DMAR-IR
 *                                 // (independent of intel_iommu=off; needs DMAR INTR_REMAP, ECAP.IR, QI)
 *   if (drv.init()) {             // intel_iommu_init: "No RMRR found", QI, root tables, fault IRQ;
 *     core.registerDriver(drv);   //   false when disabled (intel_iommu=off / CONFIG_INTEL_IOMMU_DEFAULT_ON=n)
 *     for (dev of pci) if (drv.deviceLookup(dev.pci.bdf)) { dev.iommuName = drv.name; core.probeDevice(dev); }
 *     drv.enableTranslation();    // GCMD.TE; "DMAR: Intel(R) Virtualization Technology for Directed I/O"
 *   }
 *   drv.composeMsi(dev, vector, apicId);  // IRTE + remappable message when IR is on, else compatibility format
 *   ... device activity ...
 *   drv.dmarFault();              // the fault interrupt's handler: read, print and clear the records
 *
 * Eras: `version` (major*100 + minor) selects the printk formats
 * (intel-dmar.ts) and a few behaviours, each named where it is used.
 * Domain ids (didStart below): before the ida rework every domain, the
 * identity one included, took the first free bit of the unit's domain_ids
 * bitmap, with bit 0 always reserved and bit 1 (FLPT_DEFAULT_DID) reserved
 * only in scalable mode -- so on QEMU's legacy-mode unit a 6.1 kernel's
 * first domain is DID 1. Current kernels allocate from IDA_START_DID 2 and
 * put identity (pass-through) context entries on FLPT_DEFAULT_DID 1
 * ("iommu/vt-d: Use ida to manage domain id", May 2025). Approximation: a paging
 * domain's page table is sized for the units present at allocation
 * (current kernels pass the device to domain_alloc_paging).
 */
import type { u64 } from '../machine/u64.ts';
import type { PhysicalMemory } from '../machine/memory.ts';
import { clone, type Stateful } from '../machine/state.ts';
import { encode, get } from '../machine/fields.ts';
import type { Bdf } from '../machine/pci.ts';
import { decodeDmar, DmarParseError, drhds as tableDrhds, ACPI_DMAR_INCLUDE_ALL, ACPI_DMAR_SCOPE_TYPE_ENDPOINT, ACPI_DMAR_SCOPE_TYPE_BRIDGE, ACPI_DMAR_SCOPE_TYPE_IOAPIC, DMAR_INTR_REMAP, DMAR_X2APIC_OPT_OUT, type DmarDeviceScope } from '../machine/dmar.ts';
import * as R from '../machine/vtd/regs.ts';
import { CONTEXT_ENTRY_LAYOUT, CONTEXT_TT_MULTI_LEVEL, CONTEXT_TT_PASS_THROUGH, agawToWidth } from '../machine/vtd/context.ts';
import * as Q from '../machine/vtd/qi.ts';
import { X86_MSI_BASE, X86_MSI_SIZE } from '../machine/vtd/ir.ts';
import type { PageAllocator } from './page-alloc.ts';
import type { DmesgLine } from './kernel.ts';
import { CURRENT_KERNEL } from './iommu.ts';
import { IOMMU_CACHE, IOMMU_READ, IOMMU_WRITE, type DomainType, type IommuDomain, type IommuDriver, type KDevice, type ResvRegion } from './types.ts';
import { dmarFaultFormatFor, dmarPrefix, formatDrhdLine, formatRmrrLine, formatAtsrLine, type DmarFaultFormat, type DmarFaultInfo } from './intel-dmar.ts';
import { allocPgtable, domainMapping, domainUnmap, iovaToPhys as pgIovaToPhys, freePgtable, DMA_PTE_READ, DMA_PTE_WRITE, DMA_PTE_SNP, type IntelPgtable, type PgtableCtx } from './intel-pgtable.ts';
import { dmarFaultUnit, newRatelimit, type FaultEnv, type RatelimitState } from './intel-fault.ts';
import { DmarUnitOps, FW_BUG, type LogLine, type UnitState } from './intel-unit.ts';
import { INTR_REMAP_PAGE_ORDER, INTR_REMAP_TABLE_REG_SIZE, INTR_REMAP_TABLE_ENTRIES, IR_X2APIC_MODE, prepareIrte, fillMsiMsg, compatMsiMsg, x86ApicRouting, apicDestField, type ApicRouting, type MsiMsg } from './intel-irq-remapping.ts';

/** FLPT_DEFAULT_DID / IDA_START_DID (drivers/iommu/intel/iommu.h). */
export const FLPT_DEFAULT_DID = 1;
export const IDA_START_DID = 2;
/** The first version whose intel-iommu used iommu-dma: before, its own intel_dma_ops ("iommu/vt-d: Convert intel iommu driver to the iommu ops", v5.11). */
export const INTEL_IOMMU_DMA_VERSION = 511;
/** The first version (major*100+minor) whose intel-iommu made default domains (≈v5.3, approximate; privateDomains). */
export const INTEL_DEFAULT_DOMAIN_VERSION = 503;
/**
 * The first kernel modelled with the ida allocator and FLPT_DEFAULT_DID for
 * identity in legacy mode. The patch was posted in May 2025 (for v6.16; the
 * release is **unverified**); the lab's eras are 6.1 (bitmap) and 6.x = 6.15
 * modelled as current, so any value in 602..615 draws the same line.
 */
const IDA_DID_VERSION = 615;
export { QI_LENGTH, DEFAULT_DOMAIN_ADDRESS_WIDTH, MAX_AGAW_WIDTH, type LogLine } from './intel-unit.ts';
/** IOAPIC_RANGE_START/END: the MSI window reported as IOMMU_RESV_MSI. */
export const IOAPIC_RANGE_START = 0xfee0_0000n;
export const IOAPIC_RANGE_END = 0xfeef_ffffn;

export interface IntelIommuDriverOptions {
  memory: PhysicalMemory;
  pages: PageAllocator;
  /** The ACPI DMAR table's bytes, as firmware hands them over (acpi_get_table). */
  dmar: Uint8Array;
  /** Kernel version, major*100 + minor (default: current). */
  version?: number;
  /** Kernel command line: intel_iommu=, intremap=. */
  cmdline?: ReadonlyMap<string, string>;
  /**
   * CONFIG_INTEL_IOMMU_DEFAULT_ON. The Kconfig default is y; many
   * distribution kernels built it n for years (per-distro history
   * **unverified**), leaving DMA remapping off unless intel_iommu=on.
   */
  defaultOn?: boolean;
  log?: (level: DmesgLine['level'], text: string) => void;
  /** Simulated seconds since boot, for the fault handler's printk ratelimit (v4.1+). */
  now?: () => number;
  /** The CPU supports x2APIC: interrupt remapping runs in x2apic (EIM) mode when the units allow it. */
  x2apic?: boolean;
  /** IOAPIC ids the platform has (MADT); each must sit under a DRHD's IOAPIC scope for IR (default [0]). */
  ioapics?: number[];
  /** CONFIG_DMAR_DEBUG: current kernels dump the walk after a fault line (dmar_fault_dump_ptes). */
  dmarDebug?: boolean;
  /** Override the fault-line format the version implies. */
  faultFormat?: DmarFaultFormat;
  /** CONFIG_INTEL_IOMMU_FLOPPY_WA: a 0-16 MiB relaxable region for ISA bridges (default true). */
  floppyWa?: boolean;
  /** Possible CPUs: with 8 or fewer the flat APIC driver routes in logical mode (x86ApicRouting; default 4). */
  cpus?: number;
}

interface DomainPriv {
  id: number;
  type: DomainType;
  /** identity: 'pt' (context TT=2) or 'si' (a 1:1 page table, Linux's si_domain without ECAP.PT). */
  identity?: 'pt' | 'si';
  pt?: IntelPgtable;
  /** unit seq -> domain id and device count there. */
  dids: Record<number, { did: number; refcnt: number }>;
  devices: string[];
  /** Page-table pages to free after the next IOTLB flush (the unmap gather freelist). */
  freelist: u64[];
}

interface DevPriv {
  name: string;
  unit: number;
  bus: number;
  devfn: number;
  domain?: number;
}

interface RmrrPriv {
  base: u64;
  end: u64;
  segment: number;
  scopes: DmarDeviceScope[];
}

interface DriverState {
  tableInit: 0 | 1 | -1;
  haw: number;
  dmarFlags: number;
  units: UnitState[];
  rmrrs: RmrrPriv[];
  atsrs: number;
  dmarDisabled: boolean;
  enabled: boolean;
  translation: boolean;
  irEnabled: boolean;
  eim: boolean;
  superpage: boolean;
  domains: Record<number, DomainPriv>;
  devs: Record<string, DevPriv>;
  nextDomain: number;
  rs: RatelimitState;
}

/** Pins of IO-APIC 0 with a legacy interrupt-source entry on q35 (see enableIrqRemapping). */
export const IOAPIC_LEGACY_PINS = 15;

export class IntelIommuDriver implements IommuDriver, Stateful {
  readonly name = 'intel-iommu';
  readonly version: number;
  readonly faultFormat: DmarFaultFormat;
  private readonly mem: PhysicalMemory;
  private readonly ctx: PgtableCtx;
  private readonly dmarBytes: Uint8Array;
  private readonly cmdline: ReadonlyMap<string, string>;
  private readonly logFn: IntelIommuDriverOptions['log'];
  private readonly now: () => number;
  private readonly o: IntelIommuDriverOptions;
  private readonly hw: DmarUnitOps;
  private s: DriverState;

  constructor(o: IntelIommuDriverOptions) {
    this.o = o;
    this.mem = o.memory;
    this.ctx = { memory: o.memory, pages: o.pages };
    this.dmarBytes = o.dmar;
    this.version = o.version ?? CURRENT_KERNEL;
    this.faultFormat = o.faultFormat ?? dmarFaultFormatFor(this.version);
    this.cmdline = o.cmdline ?? new Map();
    this.logFn = o.log;
    this.now = o.now ?? ((): number => 0);
    this.hw = new DmarUnitOps({ memory: o.memory, pages: o.pages, version: this.version, print: (l, t, out) => this.print(l, t, out) });
    const opts = (this.cmdline.get('intel_iommu') ?? '').split(',');
    let disabled = !(o.defaultOn ?? true);
    for (const w of opts) {
      if (w === 'on') disabled = false;
      else if (w === 'off') disabled = true;
    }
    this.s = {
      tableInit: 0, haw: 0, dmarFlags: 0, units: [], rmrrs: [], atsrs: 0, dmarDisabled: disabled, enabled: false, translation: false,
      irEnabled: false, eim: false, superpage: !opts.includes('sp_off'), domains: {}, devs: {}, nextDomain: 1,
      rs: newRatelimit(),
    };
  }

  /** intel_iommu_enabled: DMA remapping is initialised. */
  get enabled(): boolean {
    return this.s.enabled;
  }
  get irqRemappingEnabled(): boolean {
    return this.s.irEnabled;
  }
  /** pr_fmt of dmar.c / iommu.c in this era. */
  private get pfx(): string {
    return dmarPrefix(this.version);
  }

  private print(level: DmesgLine['level'], text: string, out?: LogLine[]): void {
    out?.push({ level, text });
    this.logFn?.(level, text);
  }

  // ---- MMIO --------------------------------------------------------------------------------



  // ---- boot ----------------------------------------------------------------------------------

  /** The intel_iommu= early parameter (intel_iommu_setup). Before ~v4.1 the driver printed "Intel-IOMMU: enabled". */
  earlyParams(out: LogLine[] = []): LogLine[] {
    const v = this.cmdline.get('intel_iommu');
    if (v === undefined) return out;
    const old = this.version < 401;
    for (const w of v.split(',')) {
      if (w === 'on') this.print('info', old ? 'Intel-IOMMU: enabled' : 'DMAR: IOMMU enabled', out);
      else if (w === 'off') this.print('info', old ? 'Intel-IOMMU: disabled' : 'DMAR: IOMMU disabled', out);
      else if (w === 'sp_off') this.print('info', `${old ? 'Intel-IOMMU: ' : 'DMAR: '}Disable supported super page`, out);
      else if (w === 'strict') this.print('warn', this.version >= 515 ? 'DMAR: intel_iommu=strict deprecated; use iommu.strict=1 instead' : 'DMAR: Disable batched IOTLB flush', out);
      else if (w !== '' && w !== 'igfx_off') this.print('notice', `DMAR: Unknown option - '${w}'`, out);
    }
    return out;
  }

  /**
   * dmar_table_init / parse_dmar_table: print "Host address width", each
   * structure, and for each DRHD map its registers (alloc_iommu). Returns
   * 0, or -errno when the table is unusable. Runs once.
   */
  dmarTableInit(out: LogLine[] = []): number {
    if (this.s.tableInit !== 0) return this.s.tableInit === 1 ? 0 : -19;
    let t;
    try {
      t = decodeDmar(this.dmarBytes);
    } catch (e) {
      if (!(e instanceof DmarParseError)) throw e;
      this.print('warn', `${this.pfx}${FW_BUG}Record passes table end (${e.message})`, out);
      this.print('info', `${this.pfx}${this.version >= 401 ? 'Parse' : 'parse'} DMAR table failure.`, out);
      this.s.tableInit = -1;
      return -22;
    }
    if (t.haw - 1 < 11) {
      this.print('warn', `${this.pfx}Invalid DMAR haw`, out);
      this.s.tableInit = -1;
      return -22;
    }
    this.s.haw = t.haw;
    this.s.dmarFlags = t.flags;
    this.print('info', `${this.pfx}Host address width ${t.haw}`, out);
    let seq = 0;
    for (const st of t.structures) {
      if (st.kind === 'drhd') {
        this.print('info', formatDrhdLine(st.base, st.flags, this.pfx), out);
        const u = this.hw.allocIommu(seq, st.base, st.segment, (st.flags & ACPI_DMAR_INCLUDE_ALL) !== 0, st.scopes, out);
        if (u) {
          this.s.units.push(u);
          seq++;
        }
      } else if (st.kind === 'rmrr') {
        this.print('info', formatRmrrLine(st.base, st.limit, this.pfx), out);
        this.s.rmrrs.push({ base: st.base, end: st.limit, segment: st.segment, scopes: st.scopes });
      } else if (st.kind === 'atsr') {
        this.print('info', formatAtsrLine(st.flags, this.pfx), out);
        this.s.atsrs++;
      }
    }
    if (tableDrhds(t).length === 0) this.print('warn', `${this.pfx}${FW_BUG}No DRHD structure found in DMAR table`, out);
    if (this.s.units.length === 0) {
      this.print('info', `${this.pfx}No DMAR devices found`, out);
      this.s.tableInit = -1;
      return -19;
    }
    this.s.tableInit = 1;
    return 0;
  }


  /**
   * x86 APIC setup's interrupt remapping (irq_remapping_prepare/enable ->
   * intel_prepare_irq_remapping, intel_enable_irq_remapping). Independent of
   * intel_iommu=off. Needs DMAR flags INTR_REMAP, ECAP.IR on every unit,
   * every IOAPIC under a DRHD, and queued invalidation. Returns whether IR
   * is on.
   */
  irqRemappingInit(out: LogLine[] = []): boolean {
    const intremap = (this.cmdline.get('intremap') ?? '').split(',');
    if (intremap.includes('off')) return false;
    if (this.dmarTableInit(out) < 0) return false;
    if (!(this.s.dmarFlags & DMAR_INTR_REMAP)) return false;
    // parse_ioapics_under_ir
    const units = this.s.units.filter((u) => this.hw.ecap(u, 'IR'));
    const ioapicUnits = new Map<number, UnitState>();
    for (const u of units) {
      for (const sc of u.scopes) {
        if (sc.type !== ACPI_DMAR_SCOPE_TYPE_IOAPIC) continue;
        ioapicUnits.set(sc.enumerationId, u);
        this.print('info', `DMAR-IR: IOAPIC id ${sc.enumerationId} under DRHD base  0x${u.base.toString(16)} IOMMU ${u.seq}`, out);
      }
    }
    const fail = (): boolean => {
      if (this.o.x2apic) this.print('warn', 'DMAR-IR: Failed to enable irq remapping. You are vulnerable to irq-injection attacks.', out);
      return false;
    };
    if (units.length === 0) {
      this.print('info', 'DMAR-IR: Not enabling interrupt remapping', out);
      return fail();
    }
    for (const id of this.o.ioapics ?? [0]) {
      if (!ioapicUnits.has(id)) {
        this.print('err', `DMAR-IR: ${FW_BUG}ioapic ${id} has no mapping iommu, interrupt remapping will be disabled`, out);
        this.print('info', 'DMAR-IR: Not enabling interrupt remapping', out);
        return fail();
      }
    }
    if (units.length !== this.s.units.length) return fail();
    let eim = false;
    if (this.o.x2apic) {
      eim = !(this.s.dmarFlags & DMAR_X2APIC_OPT_OUT) || intremap.includes('no_x2apic_optout');
      if (!eim) {
        this.print('info', 'DMAR-IR: x2apic is disabled because BIOS sets x2apic opt out bit.', out);
        this.print('info', "DMAR-IR: Use 'intremap=no_x2apic_optout' to override the BIOS setting.", out);
      }
    }
    for (const u of this.s.units) {
      if (eim && !this.hw.ecap(u, 'EIM')) {
        this.print('info', `DMAR-IR: ${u.name} does not support EIM`, out);
        eim = false;
      }
    }
    this.s.eim = eim;
    if (eim) this.print('info', 'DMAR-IR: Queued invalidation will be enabled to support x2apic and Intr-remapping.', out);
    for (const u of this.s.units) {
      if (!this.setupIrqRemapping(u, out)) {
        this.print('err', `DMAR-IR: Failed to setup irq remapping for ${u.name}`, out);
        return fail();
      }
    }
    // intel_enable_irq_remapping
    for (const u of this.s.units) {
      u.gcmd |= R.DMA_GCMD_IRE;
      this.hw.writel(u, R.DMAR_GCMD_REG, u.gcmd);
      let sts = this.hw.readl(u, R.DMAR_GSTS_REG);
      this.hw.waitOp(u, (sts & R.DMA_GSTS_IRES) !== 0, 'IRE', out);
      // Block compatibility-format MSIs.
      if (sts & R.DMA_GSTS_CFIS) {
        u.gcmd &= ~R.DMA_GCMD_CFI;
        this.hw.writel(u, R.DMAR_GCMD_REG, u.gcmd);
        sts = this.hw.readl(u, R.DMAR_GSTS_REG);
      }
      if (sts & R.DMA_GSTS_CFIS) this.print('warn', 'Compatibility-format IRQs enabled despite intr remapping;\nyou are vulnerable to IRQ injection.', out);
    }
    this.s.irEnabled = true;
    this.print('info', `DMAR-IR: Enabled IRQ remapping in ${eim ? 'x2apic' : 'xapic'} mode`, out);
    for (const u of this.s.units) this.hw.setInterrupt(u); // irq_remap_enable_fault_handling
    // Later in boot, setup_IO_APIC_irqs (arch/x86/kernel/apic/io_apic.c, 3.19+) allocates an irq for
    // every pin of IO-APIC 0 that has an interrupt-source entry (pin_2_irq with IOAPIC_MAP_ALLOC), and in
    // the IR domain each allocation reserves an IRTE (intel_irq_remapping_alloc -> alloc_irte, lowest
    // free index). On q35 that is the 16 legacy ISA IRQs on pins 1-15, IRQ0 on pin 2 (QEMU's MADT
    // override) and pin 0 unconnected: 15 indices, 0-14, before any MSI. The entries are written when
    // each irq is activated (requested), which the lab does not model: they stay zero here. The
    // IO-APIC's unit is the first (QEMU builds one DRHD with the IO-APIC in its scope).
    const io = this.s.units[0]?.ir;
    if (io && io.used.length === 0) {
      io.ioapicPins = IOAPIC_LEGACY_PINS;
      for (let i = 0; i < IOAPIC_LEGACY_PINS; i++) io.used.push(i);
    }
    return true;
  }

  /** intel_setup_irq_remapping: the 1 MiB table, QI, IRTA + SIRTP, a global IEC flush. */
  private setupIrqRemapping(u: UnitState, out: LogLine[]): boolean {
    if (u.ir) return true;
    const table = this.ctx.pages.alloc(1 << INTR_REMAP_PAGE_ORDER);
    this.mem.fill(table, BigInt(4096 << INTR_REMAP_PAGE_ORDER), 0);
    if (!u.qi) {
      dmarFaultUnit(this.faultEnv(), this.s.rs, u, out);
      this.hw.disableQi(u);
      if (!this.hw.enableQi(u)) {
        this.print('err', 'DMAR-IR: Failed to enable queued invalidation', out);
        this.ctx.pages.free(table, 1 << INTR_REMAP_PAGE_ORDER);
        return false;
      }
    }
    u.ir = { table, used: [] };
    this.hw.writeq(u, R.DMAR_IRTA_REG, table | IR_X2APIC_MODE(this.s.eim) | BigInt(INTR_REMAP_TABLE_REG_SIZE));
    this.hw.writel(u, R.DMAR_GCMD_REG, u.gcmd | R.DMA_GCMD_SIRTP);
    this.hw.waitOp(u, (this.hw.readl(u, R.DMAR_GSTS_REG) & R.DMA_GSTS_IRTPS) !== 0, 'SIRTP', out);
    if (!this.hw.cap(u, 'ESIRTPS')) this.hw.qiSubmit(u, [[BigInt(Q.QI_IEC_TYPE), 0n]], out);
    return true;
  }

  /**
   * intel_iommu_init up to (not including) enabling translation: scope
   * init, "No RMRR/ATSR/SATC found", then init_dmars (QI or register
   * invalidation, root table + SRTP, the fault interrupt). Returns whether
   * DMA remapping is on; false when disabled or without usable units.
   */
  init(out: LogLine[] = []): boolean {
    if (this.s.enabled) return true;
    // dmar_table_init runs (and prints the DMAR lines, if IR setup has not) even when remapping is disabled.
    if (this.dmarTableInit(out) < 0) return false;
    if (this.s.dmarDisabled) {
      // intel_disable_iommus: switch off what firmware or a previous kernel left enabled. (DMAR's
      // PLATFORM_OPT_IN forces the IOMMU on only with external-facing ports, which the model has none of.)
      for (const u of this.s.units) if (this.hw.readl(u, R.DMAR_GSTS_REG) & R.DMA_GSTS_TES) this.hw.disableTranslation(u);
      return false;
    }
    if (this.s.rmrrs.length === 0) this.print('info', `${this.pfx}No RMRR found`, out);
    if (this.s.atsrs === 0) this.print('info', `${this.pfx}No ATSR found`, out);
    // SATC (ACPI 6.4-era DMAR structure) parsing arrived around v5.12-v5.13 (version approximate).
    if (this.version >= 513) this.print('info', `${this.pfx}No SATC found`, out);
    for (const u of this.s.units) {
      if (!u.qi) {
        dmarFaultUnit(this.faultEnv(), this.s.rs, u, out);
        this.hw.disableQi(u);
      }
      if (this.hw.enableQi(u)) this.print('info', `${this.pfx}${u.name}: Using Queued invalidation`, out);
      else this.print('info', `${this.pfx}${u.name}: Using Register based invalidation`, out);
      if (this.hw.readl(u, R.DMAR_GSTS_REG) & R.DMA_GSTS_TES) {
        this.hw.disableTranslation(u);
        this.print('warn', `${this.pfx}Translation was enabled for ${u.name} but we are not in kdump mode`, out);
      }
      u.root = this.ctx.pages.alloc(1);
      this.mem.fill(u.root, 4096n, 0);
    }
    for (const u of this.s.units) this.hw.setRootEntry(u, out);
    for (const u of this.s.units) this.hw.setInterrupt(u);
    this.s.enabled = true;
    return true;
  }


  /**
   * dmar_set_interrupt: the fault-event MSI (FEDATA/FEADDR, FECTL unmasked).
   * The vector (0x24 + seq, to APIC 0) stands for what the x86 vector
   * allocator would hand out; the interrupt is never remapped.
   */

  /**
   * v4.x init_dmars after the units are up (drivers/iommu/intel-iommu.c,
   * v4.9): "Setting RMRR:" (printed with or without RMRRs), then
   * iommu_prepare_isa (CONFIG_INTEL_IOMMU_FLOPPY_WA, default y): the first
   * PCI function of class 0x060100 (an ISA bridge: q35's ICH9 LPC) gets a
   * private domain, its context entry, and 0-16MiB mapped 1:1 for the
   * floppy's ISA DMA. `domainFor` is the core's get_domain_for_dev. Not
   * modelled: RMRR identity maps (no preset has an RMRR), and the IOVA
   * reservation of that range (the allocator is set up at the first DMA
   * API mapping, top-down from 4 GiB, far from it).
   */
  prepareIsa(devices: readonly KDevice[], domainFor: (dev: KDevice) => IommuDomain | undefined, o: { staticIdentity?: boolean } = {}, out: LogLine[] = []): void {
    if (!this.s.enabled) return;
    const hwPt = this.s.units.every((u) => this.hw.ecap(u, 'PT'));
    if (o.staticIdentity) {
      // iommu=pt: iommu_prepare_static_identity_mapping puts every PCI device (bus order; PCI-PCI
      // bridges and RMRR-locked devices excepted) in si_domain: hardware pass-through when every
      // unit has ECAP.PT. The lab's per-group identity domains are attached when the groups form.
      for (const d of devices) {
        if (d.iommuName !== this.name || !d.pci || d.pci.classCode >> 8 === 0x0604) continue;
        this.print('info', `${this.pfx}${hwPt ? 'Hardware' : 'Software'} identity mapping for device ${d.name}`, out);
      }
    }
    this.print('info', `${this.pfx}Setting RMRR:`, out);
    if (this.o.floppyWa === false) return;
    const lpc = devices.find((d) => d.pci?.classCode === 0x060100 && d.iommuName === this.name);
    if (!lpc) return;
    this.print('info', `${this.pfx}Prepare 0-16MiB unity mapping for LPC`, out);
    const end = 16n * 1024n * 1024n - 1n;
    const range = `[0x0 - 0x${end.toString(16)}]`;
    if (o.staticIdentity) {
      // domain_prepare_identity_map on si_domain: nothing to do with hardware pass-through; with
      // software pass-through si_domain maps all of RAM already (si_domain_init).
      if (hwPt) this.print('warn', `${this.pfx}Ignoring identity map for HW passthrough device ${lpc.name} ${range}`, out);
      else this.print('info', `${this.pfx}Setting identity map for device ${lpc.name} ${range}`, out);
      return;
    }
    const d = domainFor(lpc);
    if (!d) {
      this.print('err', `${this.pfx}Failed to create 0-16MiB identity map - floppy might not work`, out);
      return;
    }
    this.print('info', `${this.pfx}Setting identity map for device ${lpc.name} ${range}`, out);
    this.map(d, 0n, 0n, end + 1n, IOMMU_READ | IOMMU_WRITE);
  }

  /** iommu_enable_translation for every unit, then the line intel_iommu_init ends with. */
  enableTranslation(out: LogLine[] = []): void {
    if (!this.s.enabled) return;
    for (const u of this.s.units) {
      if (u.gcmd & R.DMA_GCMD_TE) continue;
      u.gcmd |= R.DMA_GCMD_TE;
      this.hw.writel(u, R.DMAR_GCMD_REG, u.gcmd);
      this.hw.waitOp(u, (this.hw.readl(u, R.DMAR_GSTS_REG) & R.DMA_GSTS_TES) !== 0, 'TE', out);
    }
    this.s.translation = true;
    this.print('info', `${this.pfx}Intel(R) Virtualization Technology for Directed I/O`, out);
  }


  // ---- invalidation ------------------------------------------------------------------------------



  /**
   * qi_submit_sync: the descriptors, then a wait descriptor whose status
   * write says the batch is done; IQT moves past them. Checks the status
   * word, else FSTS.IQE.
   */

  /**
   * flush_context: qi_flush_context or __iommu_flush_context. gran: 1
   * global, 2 domain, 3 device.
   */


  /**
   * cache_tag_flush_range for one unit: page-selective with the smallest
   * aligned power-of-two mask covering [start, end] (calculate_psi_aligned_address),
   * domain-selective when PSI is missing or the mask exceeds CAP.MAMV.
   */

  // ---- devices -------------------------------------------------------------------------------------

  private orderedUnits(): UnitState[] {
    // dmar_register_drhd_unit: scoped units at the list head (so in reverse table order), INCLUDE_ALL ones at the tail.
    return [...this.s.units.filter((u) => !u.includeAll).reverse(), ...this.s.units.filter((u) => u.includeAll)];
  }

  /** device_lookup_iommu for a PCI function: the unit's name, or undefined when no DRHD claims it. */
  deviceLookup(b: Bdf): string | undefined {
    return this.lookupUnit(b)?.name;
  }

  private lookupUnit(b: Bdf): UnitState | undefined {
    for (const u of this.orderedUnits()) {
      if (u.segment !== b.segment) continue;
      const hit = u.scopes.some((s) => (s.type === ACPI_DMAR_SCOPE_TYPE_ENDPOINT || s.type === ACPI_DMAR_SCOPE_TYPE_BRIDGE) && s.path.length === 1 && s.startBus === b.bus && s.path[0]!.dev === b.dev && s.path[0]!.fn === b.fn);
      if (hit || u.includeAll) return u;
    }
    return undefined;
  }

  /** intel_iommu_probe_device: find the device's unit and requester id. Throws when no DRHD covers it. */
  probeDevice(dev: KDevice): void {
    if (this.s.devs[dev.name]) return;
    const b = this.bdfOf(dev);
    const u = this.lookupUnit(b);
    if (!u) throw new Error(`${this.name}: ${dev.name} is not under any DRHD (-ENODEV)`);
    this.s.devs[dev.name] = { name: dev.name, unit: u.seq, bus: b.bus, devfn: (b.dev << 3) | b.fn };
  }

  /** The PCI address of a device; a non-PCI device is placed by its firmware source-id. */
  private bdfOf(dev: KDevice): Bdf {
    const sid = dev.fwSid ?? dev.master.sid;
    return dev.pci?.bdf ?? { segment: 0, bus: (sid >> 8) & 0xff, dev: (sid >> 3) & 0x1f, fn: sid & 7 };
  }

  private sidOf(d: DevPriv): number {
    return (d.bus << 8) | d.devfn;
  }



  /** domain_context_clear_one + intel_context_flush_no_pasid: clear the entry, device-selective context flush, domain IOTLB flush. */
  private contextClear(u: UnitState, d: DevPriv): void {
    const at = this.hw.contextAddr(u, d.bus, d.devfn, false);
    if (at === undefined) return;
    const ce = this.mem.readWords(at, 2);
    const did = Number(get(CONTEXT_ENTRY_LAYOUT, ce, 'DID'));
    this.mem.writeWords(at, [0n, 0n]);
    this.hw.flushContext(u, did, this.sidOf(d), 0, 3);
    this.hw.flushIotlb(u, did, 0n, 0, 2);
  }

  /** domain_attach_iommu: the domain's id on a unit (allocated from IDA_START_DID on first use). */
  private attachIommu(d: DomainPriv, u: UnitState): number {
    const cur = d.dids[u.seq];
    if (cur) {
      cur.refcnt++;
      return cur.did;
    }
    const ndoms = 2 ** (4 + 2 * this.hw.cap(u, 'ND'));
    let did = this.didStart(u);
    while (u.dids.includes(did)) did++;
    if (did >= ndoms) throw new Error(`${this.pfx}${u.name}: No free domain ids`);
    u.dids.push(did);
    d.dids[u.seq] = { did, refcnt: 1 };
    return did;
  }

  /**
   * The lowest DID a domain may take. Bitmap era: 0 reserved, 1 reserved
   * only with ECAP.SMTS (iommu_init_domains); ida era: IDA_START_DID.
   */
  private didStart(u: UnitState): number {
    if (this.version >= IDA_DID_VERSION) return IDA_START_DID;
    return this.hw.ecap(u, 'SMTS') ? FLPT_DEFAULT_DID + 1 : FLPT_DEFAULT_DID;
  }

  /** Identity context entries: FLPT_DEFAULT_DID in the ida era, else a DID of their own. */
  private identityHasOwnDid(): boolean {
    return this.version < IDA_DID_VERSION;
  }

  /** domain_attach_iommu for the si_domain (bitmap era): one DID per unit, shared by every identity device. */
  private siAttach(u: UnitState): number {
    if (u.siDid) {
      u.siDid.refcnt++;
      return u.siDid.did;
    }
    let did = this.didStart(u);
    while (u.dids.includes(did)) did++;
    if (did >= 2 ** (4 + 2 * this.hw.cap(u, 'ND'))) throw new Error(`${this.pfx}${u.name}: No free domain ids`);
    u.dids.push(did);
    u.siDid = { did, refcnt: 1 };
    return did;
  }

  private siDetach(u: UnitState): void {
    if (!u.siDid || --u.siDid.refcnt > 0) return;
    const did = u.siDid.did;
    u.dids = u.dids.filter((x) => x !== did);
    delete u.siDid;
  }

  private detachIommu(d: DomainPriv, u: UnitState): void {
    const cur = d.dids[u.seq];
    if (!cur) return;
    if (--cur.refcnt === 0) {
      u.dids = u.dids.filter((x) => x !== cur.did);
      delete d.dids[u.seq];
    }
  }

  /** device_block_translation: clear the device's context entry and drop its old domain. */
  private blockTranslation(info: DevPriv): void {
    const u = this.s.units[info.unit]!;
    if (info.domain === undefined) return;
    this.contextClear(u, info);
    const old = this.s.domains[info.domain];
    if (old) {
      old.devices = old.devices.filter((n) => n !== info.name);
      if (old.identity !== 'pt') this.detachIommu(old, u);
      else if (this.identityHasOwnDid()) this.siDetach(u);
    }
    info.domain = undefined;
  }

  // ---- IommuDriver ---------------------------------------------------------------------------------

  private minAgaw(): { agaw: number; gaw: number; superpage: number } {
    const units = this.s.units;
    if (units.length === 0) return { agaw: 1, gaw: 39, superpage: 0 };
    const agaw = Math.min(...units.map((u) => u.agaw));
    const mgaw = Math.min(...units.map((u) => this.hw.cap(u, 'MGAW') + 1));
    // domain_update_iommu_superpage: fls(cap_super_page_val) over all units.
    const sp = this.s.superpage ? Math.min(...units.map((u) => 32 - Math.clz32(this.hw.cap(u, 'SLLPS') & 3))) : 0;
    return { agaw, gaw: Math.min(agawToWidth(agaw), mgaw), superpage: sp };
  }

  /**
   * intel_iommu_domain_alloc / domain_alloc_paging. Identity is context
   * pass-through when every unit has ECAP.PT; otherwise older kernels built
   * si_domain, a 1:1 page table over all RAM, while current ones (~v6.11,
   * version **unverified**) refuse an identity domain without PT.
   */
  domainAlloc(type: DomainType): IommuDomain {
    const id = this.s.nextDomain++;
    const d: DomainPriv = { id, type, dids: {}, devices: [], freelist: [] };
    const { agaw, gaw, superpage } = this.minAgaw();
    let apertureEnd = 0n;
    let bitmap = 0n;
    if (type === 'identity') {
      const allPt = this.s.units.every((u) => this.hw.ecap(u, 'PT'));
      if (!allPt && this.version >= 611) throw new Error(`${this.name}: identity domain needs ECAP.PT on every unit`);
      d.identity = allPt ? 'pt' : 'si';
    } else if (type !== 'blocked') {
      d.pt = allocPgtable(this.ctx, agaw, gaw, superpage);
      apertureEnd = (1n << BigInt(gaw)) - 1n;
      bitmap = 0x1000n | (superpage >= 1 ? 0x20_0000n : 0n) | (superpage >= 2 ? 0x4000_0000n : 0n);
    }
    this.s.domains[id] = d;
    return { id, type, iommu: this.name, apertureStart: 0n, apertureEnd, pgsizeBitmap: bitmap };
  }

  /** si_domain_init: identity-map every RAM region. */
  private siDomainInit(d: DomainPriv): void {
    if (d.pt) return;
    const { agaw, gaw, superpage } = this.minAgaw();
    d.pt = allocPgtable(this.ctx, agaw, gaw, superpage);
    for (const r of this.mem.listRegions()) {
      if (r.kind !== 'ram' || r.base >> BigInt(gaw) !== 0n) continue;
      domainMapping(this.ctx, d.pt, r.base, r.base, r.size, DMA_PTE_READ | DMA_PTE_WRITE);
    }
  }

  attachDev(dev: KDevice, domain: IommuDomain): void {
    if (!this.s.enabled) throw new Error(`${this.name}: attach before intel_iommu_init`);
    this.probeDevice(dev);
    const info = this.s.devs[dev.name]!;
    const d = this.s.domains[domain.id];
    if (!d) throw new Error(`${this.name}: unknown domain ${domain.id}`);
    if (info.domain === d.id) return;
    const u = this.s.units[info.unit]!;
    this.blockTranslation(info);
    if (d.type === 'blocked') {
      info.domain = d.id;
      d.devices.push(dev.name);
      return;
    }
    const at = this.hw.contextAddr(u, info.bus, info.devfn, true)!;
    const sid = this.sidOf(info);
    let did: number;
    let words: u64[];
    if (d.identity === 'pt') {
      // Pass-through context entry: AW = msagaw, TT = pass-through; DID
      // FLPT_DEFAULT_DID now, the si_domain's own DID before (domain_context_mapping_one).
      did = this.identityHasOwnDid() ? this.siAttach(u) : FLPT_DEFAULT_DID;
      words = encode(CONTEXT_ENTRY_LAYOUT, { P: 1, TT: CONTEXT_TT_PASS_THROUGH, AW: u.msagaw, DID: did });
    } else {
      if (d.identity === 'si') this.siDomainInit(d);
      did = this.attachIommu(d, u);
      // domain_context_mapping_one: DID, SLPTPTR, AW, TT multi-level, fault enable (FPD 0), present.
      words = encode(CONTEXT_ENTRY_LAYOUT, { P: 1, TT: CONTEXT_TT_MULTI_LEVEL, SLPTPTR: d.pt!.pgd, AW: d.pt!.agaw, DID: did });
    }
    this.mem.write64(at + 8n, words[1]!);
    this.mem.write64(at, words[0]!);
    this.hw.contextPresentFlush(u, did, sid);
    info.domain = d.id;
    d.devices.push(dev.name);
  }

  /** Back to no translation at all (device_block_translation): DMA from the device faults 0x02. */
  detachDev(dev: KDevice): void {
    const info = this.s.devs[dev.name];
    if (info) this.blockTranslation(info);
  }

  /**
   * v4.x had no default domains: intel_iommu_domain_alloc made only
   * IOMMU_DOMAIN_UNMANAGED ones, and intel_dma_ops gave each device a
   * private domain at its first mapping (get_valid_domain_for_dev in
   * drivers/iommu/intel-iommu.c, v4.9). Default-domain support came with
   * the v5.3 rework (release approximate); the lab switches at 503.
   */
  privateDomains(): boolean {
    return this.version < INTEL_DEFAULT_DOMAIN_VERSION;
  }

  domainFree(domain: IommuDomain): void {
    const d = this.s.domains[domain.id];
    if (!d) return;
    if (d.pt) freePgtable(this.ctx, d.pt);
    for (const p of d.freelist) this.ctx.pages.free(p, 1);
    delete this.s.domains[domain.id];
  }

  private paging(domain: IommuDomain): DomainPriv & { pt: IntelPgtable } {
    const d = this.s.domains[domain.id];
    if (!d) throw new Error(`${this.name}: unknown domain ${domain.id}`);
    if (!d.pt || d.identity) throw new Error(`${this.name}: domain ${domain.id} (${d.type}) has no page table to map into`);
    return d as DomainPriv & { pt: IntelPgtable };
  }

  private units(d: DomainPriv): { u: UnitState; did: number }[] {
    return Object.entries(d.dids).map(([seq, v]) => ({ u: this.s.units[Number(seq)]!, did: v.did }));
  }

  /**
   * intel_iommu_map: IOMMU_READ/WRITE become DMA_PTE_READ/WRITE. SNP for
   * IOMMU_CACHE when every unit has ECAP.SC (the pre-v5.19 rule;
   * later kernels set SNP only for enforce_cache_coherency, version
   * approximate).
   */
  map(domain: IommuDomain, iova: u64, pa: u64, size: u64, prot: number): void {
    const d = this.paging(domain);
    let attr = 0n;
    if (prot & IOMMU_READ) attr |= DMA_PTE_READ;
    if (prot & IOMMU_WRITE) attr |= DMA_PTE_WRITE;
    if (prot & IOMMU_CACHE && this.version < 519 && this.s.units.length > 0 && this.s.units.every((u) => this.hw.ecap(u, 'SC'))) attr |= DMA_PTE_SNP;
    const r = domainMapping(this.ctx, d.pt, iova, pa, size, attr);
    // Superpages replaced tables, or caching mode caches non-present entries: flush now (iotlb_sync_map).
    for (const { u, did } of this.units(d)) if (r.flush || this.hw.cap(u, 'CM')) this.hw.flushRange(u, did, iova, iova + size - 1n);
  }

  unmap(domain: IommuDomain, iova: u64, size: u64): u64 {
    const d = this.paging(domain);
    const r = domainUnmap(this.ctx, d.pt, iova, size);
    d.freelist.push(...r.freelist);
    return r.size;
  }

  iotlbSync(domain: IommuDomain, iova: u64, size: u64): void {
    const d = this.s.domains[domain.id];
    if (!d || size === 0n) return;
    for (const { u, did } of this.units(d)) this.hw.flushRange(u, did, iova, iova + size - 1n);
    this.freePending(d);
  }

  flushIotlbAll(domain: IommuDomain): void {
    const d = this.s.domains[domain.id];
    if (!d) return;
    for (const { u, did } of this.units(d)) this.hw.flushIotlb(u, did, 0n, 0, 2);
    this.freePending(d);
  }

  /** flush_unmaps without caching mode: a global IOTLB invalidation on every unit, then the page-table pages pending free. */
  flushIotlbGlobal(): void {
    for (const u of this.s.units) this.hw.flushIotlb(u, 0, 0n, 0, 1);
    for (const d of Object.values(this.s.domains)) this.freePending(d);
  }

  private freePending(d: DomainPriv): void {
    for (const p of d.freelist) this.ctx.pages.free(p, 1);
    d.freelist = [];
  }

  iovaToPhys(domain: IommuDomain, iova: u64): u64 | undefined {
    const d = this.s.domains[domain.id];
    if (!d) return undefined;
    if (d.identity === 'pt') return iova;
    if (!d.pt) return undefined;
    return pgIovaToPhys(this.ctx, d.pt, iova);
  }

  /**
   * intel_iommu_get_resv_regions: RMRRs naming the device (direct, or
   * direct-relaxable for USB and graphics devices), the ISA-bridge floppy
   * workaround (0-16 MiB, relaxable), and the interrupt range as IOMMU_RESV_MSI.
   */
  getResvRegions(dev: KDevice): ResvRegion[] {
    const out: ResvRegion[] = [];
    const b = dev.pci?.bdf;
    const cls = dev.pci?.classCode ?? 0;
    const relaxable = cls >> 8 === 0x0c03 || cls >> 16 === 0x03;
    if (b) {
      for (const r of this.s.rmrrs) {
        if (r.segment !== b.segment) continue;
        const hit = r.scopes.some((s) => s.path.length === 1 && s.startBus === b.bus && s.path[0]!.dev === b.dev && s.path[0]!.fn === b.fn);
        if (hit) out.push({ start: r.base, length: r.end - r.base + 1n, prot: IOMMU_READ | IOMMU_WRITE, type: relaxable ? 'direct-relaxable' : 'direct' });
      }
      if ((this.o.floppyWa ?? true) && cls >> 8 === 0x0601) out.push({ start: 0n, length: 1n << 24n, prot: IOMMU_READ | IOMMU_WRITE, type: 'direct-relaxable' });
    }
    out.push({ start: IOAPIC_RANGE_START, length: IOAPIC_RANGE_END - IOAPIC_RANGE_START + 1n, prot: 0, type: 'msi' });
    return out;
  }

  // ---- interrupt remapping for device MSIs ------------------------------------------------------------

  /**
   * The MSI message a device is given for a vector to an APIC: with
   * interrupt remapping, an IRTE (intel_irq_remapping_alloc + activate:
   * alloc_irte, prepare_irte, set_msi_sid, modify_irte + qi_flush_iec) and
   * the remappable-format message pointing at it; without, the plain
   * compatibility format.
   */
  /** IRT indices the unit gave IO-APIC pins at boot (0 when none). */
  ioapicPinIrtes(unitName: string): number {
    return this.s.units.find((u) => u.name === unitName)?.ir?.ioapicPins ?? 0;
  }

  /** How the x86 APIC driver of this kernel routes device interrupts (x86ApicRouting). */
  apicRouting(): ApicRouting {
    return x86ApicRouting(this.version, this.o.cpus ?? 4, this.s.eim);
  }

  /**
   * The message for a vector on `cpu` (managed: its affinity is that one
   * CPU): an IRTE and a remappable message with IR on, else the
   * compatibility format, both with the APIC driver's destination.
   */
  composeMsi(dev: KDevice, vector: number, cpu: number, managed = true): MsiMsg & { index?: number } {
    const r = this.apicRouting();
    const dest = apicDestField(r, cpu, managed, this.o.cpus ?? 4);
    if (!this.s.irEnabled) return compatMsiMsg(vector, dest, r);
    // A device no DRHD covers keeps the x86 vector domain's compatibility format, which the hardware then blocks.
    if (!this.s.devs[dev.name] && !this.lookupUnit(this.bdfOf(dev))) return compatMsiMsg(vector, dest, r);
    this.probeDevice(dev);
    const info = this.s.devs[dev.name]!;
    const u = this.s.units[info.unit]!;
    const ir = u.ir!;
    let index = 0;
    while (ir.used.includes(index)) index++;
    if (index >= INTR_REMAP_TABLE_ENTRIES) throw new Error(`DMAR-IR: IR${u.seq}: can't allocate an IRTE`);
    ir.used.push(index);
    ir.used.sort((a, b) => a - b);
    const irte = prepareIrte({ vector, dest, eim: this.s.eim, sid: this.sidOf(info), logical: r.logical, lowestPrio: r.lowestPrio });
    this.mem.writeWords(ir.table + BigInt(16 * index), irte);
    this.hw.qiSubmit(u, [[(BigInt(index) << 32n) | Q.QI_IEC_SELECTIVE | BigInt(Q.QI_IEC_TYPE), 0n]]);
    return { ...fillMsiMsg(index, 0), index };
  }

  /** clear_entries: zero the IRTE, free the index, flush the interrupt entry cache. */
  freeIrte(dev: KDevice, index: number): void {
    const info = this.s.devs[dev.name];
    if (!info) return;
    const u = this.s.units[info.unit]!;
    if (!u.ir || !u.ir.used.includes(index)) return;
    this.mem.writeWords(u.ir.table + BigInt(16 * index), [0n, 0n]);
    u.ir.used = u.ir.used.filter((i) => i !== index);
    this.hw.qiSubmit(u, [[(BigInt(index) << 32n) | Q.QI_IEC_SELECTIVE | BigInt(Q.QI_IEC_TYPE), 0n]]);
  }

  // ---- faults -------------------------------------------------------------------------------------------

  private faultEnv(): FaultEnv {
    return { ops: this.hw, memory: this.mem, version: this.version, format: this.faultFormat, now: this.now, debug: this.o.dmarDebug === true, print: (l, t, out) => this.print(l, t, out) };
  }


  /**
   * The fault interrupt's handler (dmar_fault) for every unit: print the
   * status, then each pending record from FRI on in this era's format,
   * clearing F as it goes, then clear FSTS. Returns the faults it read and
   * the lines it printed.
   */
  dmarFault(): { faults: (DmarFaultInfo & { unit: string })[]; lines: LogLine[] } {
    const lines: LogLine[] = [];
    const faults: (DmarFaultInfo & { unit: string })[] = [];
    for (const u of this.s.units) faults.push(...dmarFaultUnit(this.faultEnv(), this.s.rs, u, lines).map((f) => ({ ...f, unit: u.name })));
    return { faults, lines };
  }



  // ---- views for inspectors ---------------------------------------------------------------------------

  /** The DRHD units as the driver set them up. */
  unitsInfo(): { name: string; base: u64; cap: u64; ecap: u64; agaw: number; root?: u64; qi: boolean; irTable?: u64; dids: number[] }[] {
    return this.s.units.map((u) => ({ name: u.name, base: u.base, cap: u.cap, ecap: u.ecap, agaw: u.agaw, root: u.root, qi: u.qi !== undefined, irTable: u.ir?.table, dids: [...u.dids] }));
  }
  /** The domain's DID on each unit it is attached to (identity in the bitmap era: the si_domain's). */
  domainTag(domain: IommuDomain): string | undefined {
    const d = this.s.domains[domain.id];
    if (!d) return undefined;
    const tags = d.identity === 'pt'
      ? this.s.units.filter((u) => d.devices.some((n) => this.s.devs[n]?.unit === u.seq)).map((u) => `DID ${this.identityHasOwnDid() ? u.siDid?.did : FLPT_DEFAULT_DID} on ${u.name}`)
      : Object.entries(d.dids).map(([seq, v]) => `DID ${v.did} on ${this.s.units[Number(seq)]!.name}`);
    return tags.length ? tags.join(', ') : undefined;
  }

  /** A domain's page table and ids. */
  domainInfo(domain: IommuDomain): { identity?: 'pt' | 'si'; pgd?: u64; agaw?: number; gaw?: number; dids: Record<string, number>; devices: string[] } | undefined {
    const d = this.s.domains[domain.id];
    if (!d) return undefined;
    const dids: Record<string, number> = {};
    for (const [seq, v] of Object.entries(d.dids)) dids[this.s.units[Number(seq)]!.name] = v.did;
    return { identity: d.identity, pgd: d.pt?.pgd, agaw: d.pt?.agaw, gaw: d.pt?.gaw, dids, devices: [...d.devices] };
  }
  /** Where a device's context entry lives (undefined before its bus has a context table). */
  contextEntryAddr(dev: KDevice): u64 | undefined {
    const info = this.s.devs[dev.name];
    if (!info) return undefined;
    const u = this.s.units[info.unit]!;
    return u.root === undefined ? undefined : this.hw.contextAddr(u, info.bus, info.devfn, false);
  }
  /** Whether an address lies in the interrupt range (never remapped for DMA). */
  static inInterruptRange(addr: u64): boolean {
    return addr >= X86_MSI_BASE && addr - X86_MSI_BASE < X86_MSI_SIZE;
  }

  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as DriverState);
  }
}
