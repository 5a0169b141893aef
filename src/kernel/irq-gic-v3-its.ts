/**
 * Linux's GICv3 ITS driver (drivers/irqchip/irq-gic-v3-its.c) and the LPI
 * set-up of the GICv3 driver, as far as an MSI needs them:
 *
 *   boot (its_probe_one, its_alloc_tables, its_cpu_init_lpis):
 *     the device table (two-level when GITS_BASER0.Indirect sticks, as on
 *     QEMU), the collection table, the command queue (64 KiB), the LPI
 *     property table (64 KiB for 16 ID bits, every byte 0xa2: priority 0xa0,
 *     group 1, disabled) and one pending table per CPU; GITS_CTLR.Enabled;
 *     each CPU's GICR_PROPBASER/PENDBASER and EnableLPIs; MAPC per CPU.
 *   an MSI for a PCI device (its_pci_msi_prepare, its_msi_prepare,
 *     its_create_device, its_irq_domain_alloc / activate, its_unmask_irq):
 *     DeviceID = the requester ID (iommu-map / msi-map identity on the
 *     presets), nvec rounded up to a power of two (32 for DeviceID 0), an
 *     ITT of max(2, nvec) 12-byte entries (256-byte aligned), a level-2
 *     device table page on demand, MAPD; LPIs from 8192 (its_lpi_alloc, first
 *     fit); on activate MAPTI (EventID i -> LPI base + i, collection of the
 *     chosen CPU); on unmask the property byte gets Enable and an INV is sent.
 *
 * Commands are written to the queue in memory and GITS_CWRITER is advanced
 * through MMIO, as the driver does; the ITS model (machine/gic-its.ts)
 * executes them and writes the DTE/ITE/CTE.
 *
 * Where the tables live: a QEMU virt boot of a 6.x kernel prints
 * "allocated 8192 Devices @43620000 ..., Interrupt Collections @43630000,
 * LPI property table @0x43640000, CPU0 pending table @0x43650000" with RAM
 * at 0x40000000. The lab puts them at the same offsets into the first RAM
 * bank on every preset, inside the region it reserves for the kernel image
 * and early allocations (linux.ts KERNEL_RESERVED), so they move no address
 * the page allocator hands out. The command queue, level-2 device table
 * pages and ITTs follow them there (a real kernel kmallocs/allocs those
 * elsewhere).
 *
 * CPU choice for a new LPI: v5.10+ its_select_cpu picks the least loaded
 * online CPU (ties: the lowest); older kernels take the first online CPU.
 * The boot lines are printed for 6.x eras only, in the form verified from
 * QEMU virt boots of 6.x kernels; the 4.x forms differ and are not printed.
 */
import { type u64, hex, hexRaw } from '../machine/u64.ts';
import type { PhysicalMemory } from '../machine/memory.ts';
import { clone, type Stateful } from '../machine/state.ts';
import {
  type GicIts, GITS_BASER, GITS_BASER_INDIRECT, GITS_BASER_VALID, GITS_CBASER, GITS_CMD, GITS_CTLR, GITS_CTLR_ENABLED, GITS_CWRITER, GITS_REGION_SIZE, ITS_CMD_SIZE, ITS_ITT_ENTRY_SIZE, GITS_TYPER,
} from '../machine/gic-its.ts';
import { type GicRedistributors, GICR_CTLR, GICR_CTLR_ENABLE_LPIS, GICR_PENDBASER, GICR_PROPBASER, LPI_FIRST, LPI_PROP_DEFAULT_PRIO, LPI_PROP_ENABLED, LPI_PROP_GROUP1 } from '../machine/gicv3-redist.ts';

const SZ_64K = 0x1_0000n;
/** Offsets into the first RAM bank (see the header). */
const EARLY_BASE = 0x362_0000n;
const ITS_CMD_QUEUE_SZ = SZ_64K;
const ITS_ITT_ALIGN = 256n;
/** 16 LPI ID bits (ITS_MAX_LPI_NRBITS): 64 KiB property table, 8 KiB of pending bits in a 64 KiB table. */
const LPI_NRBITS = 16;
/** Inner shareable, read-allocate write-allocate write-back (GITS_BASER_InnerShareable | GITS_BASER_RaWaWb). */
const ATTRS = (1n << 10n) | (7n << 59n);
/** The same for GICR_PROPBASER/PENDBASER, whose InnerCache is bits [9:7]. */
const GICR_ATTRS = (1n << 10n) | (7n << 7n);

export interface ItsEvent {
  event: number;
  lpi: number;
  cpu: number;
  /** The irq's name, as /proc/interrupts shows the action (e.g. vfio-msix[0](0000:00:01.0)). */
  name: string;
  unmasked: boolean;
}

export interface ItsDevice {
  dev: string;
  deviceId: number;
  itt: u64;
  nrItes: number;
  lpiBase: number;
  nrLpis: number;
  events: ItsEvent[];
}

interface ItsDriverState {
  /** Bump pointer of the early area (offset into the first RAM bank). */
  next: u64;
  cwriter: u64;
  devices: ItsDevice[];
  /** Free LPI ranges [start, start + len). */
  free: { start: number; len: number }[];
  /** Events targeted at each CPU (its_select_cpu's load). */
  load: number[];
  /** Level-2 device table pages allocated, by level-1 index. */
  lvl2: Record<number, string>;
}

export interface GicItsDriverOptions {
  memory: PhysicalMemory;
  its: GicIts;
  redist: GicRedistributors;
  ramBase: u64;
  version: number;
  log: (level: 'info' | 'notice', text: string) => void;
}

export class GicV3ItsDriver implements Stateful {
  readonly its: GicIts;
  readonly redist: GicRedistributors;
  private readonly memory: PhysicalMemory;
  private readonly ramBase: u64;
  private readonly version: number;
  private readonly log: GicItsDriverOptions['log'];
  private s: ItsDriverState;
  /** Addresses fixed at boot. */
  devTable = 0n;
  colTable = 0n;
  propTable = 0n;
  pendTables: u64[] = [];
  cmdq = 0n;
  indirect = false;

  constructor(o: GicItsDriverOptions) {
    this.its = o.its;
    this.redist = o.redist;
    this.memory = o.memory;
    this.ramBase = o.ramBase;
    this.version = o.version;
    this.log = o.log;
    this.s = { next: EARLY_BASE, cwriter: 0n, devices: [], free: [{ start: LPI_FIRST, len: (1 << LPI_NRBITS) - LPI_FIRST }], load: new Array(o.redist.cpus).fill(0), lvl2: {} };
  }

  get doorbell(): u64 {
    return this.its.translaterAddr;
  }

  get devices(): readonly ItsDevice[] {
    return this.s.devices;
  }

  private early(size: u64, align: u64): u64 {
    const off = (this.s.next + align - 1n) & ~(align - 1n);
    this.s.next = off + size;
    return this.ramBase + off;
  }

  private rd64 = (off: number): u64 => this.memory.readU(this.its.base + BigInt(off), 8);
  private wr64 = (off: number, v: u64): void => this.memory.writeU(this.its.base + BigInt(off), 8, v);

  /** Boot: gic_init_bases -> its_init -> its_probe_one; its_cpu_init_lpis for every CPU; MAPC per CPU. */
  init(): void {
    const v6 = this.version >= 600;
    const its = this.its;
    const rdBase = this.redist.frameOf(0);
    if (v6) this.log('info', `GICv3: CPU0: found redistributor 0 region 0:0x${hexRaw(rdBase, 16)}`);
    if (v6) this.log('info', `ITS [mem ${hex(its.base, 8)}-${hex(its.base + GITS_REGION_SIZE - 1n, 8)}]`);
    // its_alloc_tables: BASER0 (devices). Try Indirect; keep it if it sticks and a flat table would exceed two pages.
    const typer = this.rd64(GITS_TYPER);
    const devBits = Number((typer >> 13n) & 0x1fn) + 1;
    let ids = devBits;
    let esz = 8;
    const psz = 0x1_0000;
    const b0 = this.rd64(GITS_BASER);
    if (BigInt(esz) << BigInt(ids) > BigInt(psz * 2)) {
      this.wr64(GITS_BASER, (b0 & ((0x7n << 56n) | (0x1fn << 48n) | (3n << 8n))) | ATTRS | GITS_BASER_INDIRECT);
      this.indirect = (this.rd64(GITS_BASER) & GITS_BASER_INDIRECT) !== 0n;
      if (this.indirect) {
        ids -= Math.log2(psz / esz);
        esz = 8;
      }
    }
    const devBytes = BigInt(Math.max(psz, esz * 2 ** ids));
    this.devTable = this.early(devBytes, SZ_64K);
    this.wr64(GITS_BASER, (b0 & ((0x7n << 56n) | (0x1fn << 48n))) | GITS_BASER_VALID | (this.indirect ? GITS_BASER_INDIRECT : 0n) | ATTRS | this.devTable | (2n << 8n) | (devBytes / SZ_64K - 1n));
    if (v6) this.log('info', `ITS@0x${hexRaw(its.base, 16)}: allocated ${Number(devBytes) / 8} Devices @${hexRaw(this.devTable)} (${this.indirect ? 'indirect' : 'flat'}, esz 8, psz 64K, shr 1)`);
    // BASER1 (collections): one 64 KiB page.
    const b1 = this.rd64(GITS_BASER + 8);
    this.colTable = this.early(SZ_64K, SZ_64K);
    this.wr64(GITS_BASER + 8, (b1 & ((0x7n << 56n) | (0x1fn << 48n))) | GITS_BASER_VALID | ATTRS | this.colTable | (2n << 8n));
    if (v6) this.log('info', `ITS@0x${hexRaw(its.base, 16)}: allocated 8192 Interrupt Collections @${hexRaw(this.colTable)} (flat, esz 8, psz 64K, shr 1)`);
    // LPI property table, every LPI at the default priority, group 1, disabled.
    const propSize = 1n << BigInt(LPI_NRBITS);
    this.propTable = this.early(propSize, SZ_64K);
    this.memory.fill(this.propTable, propSize, LPI_PROP_DEFAULT_PRIO | LPI_PROP_GROUP1);
    if (v6) this.log('info', `GICv3: using LPI property table @0x${hexRaw(this.propTable, 16)}`);
    for (let cpu = 0; cpu < this.redist.cpus; cpu++) this.pendTables.push(this.early(SZ_64K, SZ_64K));
    // The command queue; then enable the ITS.
    this.cmdq = this.early(ITS_CMD_QUEUE_SZ, SZ_64K);
    this.wr64(GITS_CBASER, GITS_BASER_VALID | ATTRS | this.cmdq | (ITS_CMD_QUEUE_SZ / 0x1000n - 1n));
    this.wr64(GITS_CWRITER, 0n);
    this.s.cwriter = 0n;
    this.memory.writeU(its.base + BigInt(GITS_CTLR), 4, GITS_CTLR_ENABLED);
    // Each CPU: GICR_PROPBASER, GICR_PENDBASER, EnableLPIs; then MAPC (ICID = cpu, RDbase = processor number).
    for (let cpu = 0; cpu < this.redist.cpus; cpu++) {
      const rd = this.redist.frameOf(cpu);
      this.memory.writeU(rd + BigInt(GICR_PROPBASER), 8, this.propTable | GICR_ATTRS | BigInt(LPI_NRBITS - 1));
      this.memory.writeU(rd + BigInt(GICR_PENDBASER), 8, this.pendTables[cpu]! | GICR_ATTRS);
      this.memory.writeU(rd + BigInt(GICR_CTLR), 4, GICR_CTLR_ENABLE_LPIS);
      if (v6 && cpu === 0) this.log('info', `GICv3: CPU0: using allocated LPI pending table @0x${hexRaw(this.pendTables[0]!, 16)}`);
      this.send([BigInt(GITS_CMD.MAPC), 0n, GITS_BASER_VALID | (BigInt(cpu) << 16n) | BigInt(cpu), 0n]);
      this.send([BigInt(GITS_CMD.SYNC), 0n, BigInt(cpu) << 16n, 0n]);
    }
  }

  /** its_send_single_command: write 32 bytes at CWRITER, advance it through MMIO. */
  private send(w: u64[]): void {
    this.memory.writeWords(this.cmdq + this.s.cwriter, w);
    this.s.cwriter = (this.s.cwriter + BigInt(ITS_CMD_SIZE)) % ITS_CMD_QUEUE_SZ;
    this.wr64(GITS_CWRITER, this.s.cwriter);
  }

  private allocLpis(n: number): number | undefined {
    const r = this.s.free.find((x) => x.len >= n);
    if (!r) return undefined;
    const base = r.start;
    r.start += n;
    r.len -= n;
    this.s.free = this.s.free.filter((x) => x.len > 0);
    return base;
  }

  private selectCpu(): number {
    if (this.version < 510) return 0;
    let best = 0;
    for (let c = 1; c < this.s.load.length; c++) if (this.s.load[c]! < this.s.load[best]!) best = c;
    return best;
  }

  /**
   * pci_msi / its_pci_msi_prepare + its_create_device for `nvec` vectors,
   * then per vector its_irq_domain_activate (MAPTI) and, as request_irq
   * does, its_unmask_irq. Returns the device, or why not. The caller
   * composes the messages (doorbell address as the IOMMU layer gives it,
   * data = EventID).
   */
  setupDevice(devName: string, deviceId: number, nvecReq: number, name: (i: number) => string, affinity?: (i: number) => number | undefined): { ok: true; dev: ItsDevice } | { ok: false; why: string } {
    if (this.s.devices.some((d) => d.dev === devName)) return { ok: false, why: `${devName} already has ITS vectors (free them first)` };
    if (this.s.devices.some((d) => d.deviceId === deviceId)) return { ok: false, why: `DeviceID ${hex(deviceId)} is already mapped for another device (aliasing requester IDs share an ITT)` };
    let nvec = 1;
    while (nvec < nvecReq) nvec *= 2;
    if (deviceId === 0) nvec = Math.max(nvec, 32);
    const nrItes = Math.max(2, nvec);
    // Level-2 device table page on demand (its_alloc_table_entry).
    if (this.indirect) {
      const perPage = 0x1_0000 / 8;
      const l1 = Math.floor(deviceId / perPage);
      if (!this.s.lvl2[l1]) {
        const page = this.early(SZ_64K, SZ_64K);
        this.memory.writeWords(this.devTable + BigInt(l1 * 8), [page | GITS_BASER_VALID]);
        this.s.lvl2[l1] = hex(page);
      }
    }
    const lpiBase = this.allocLpis(nvec);
    if (lpiBase === undefined) return { ok: false, why: 'no free LPI range (its_lpi_alloc): -ENOSPC' };
    const itt = this.early(BigInt(nrItes * ITS_ITT_ENTRY_SIZE) > ITS_ITT_ALIGN ? BigInt(nrItes * ITS_ITT_ENTRY_SIZE) : ITS_ITT_ALIGN, ITS_ITT_ALIGN);
    const size = Math.log2(nrItes);
    this.send([BigInt(GITS_CMD.MAPD) | (BigInt(deviceId) << 32n), BigInt(size - 1), GITS_BASER_VALID | itt, 0n]);
    const d: ItsDevice = { dev: devName, deviceId, itt, nrItes, lpiBase, nrLpis: nvec, events: [] };
    for (let i = 0; i < nvecReq; i++) {
      // A managed vector's affinity mask names its CPU (irq_create_affinity_masks); others go to the least loaded.
      const want = affinity?.(i);
      const cpu = want !== undefined && want < this.s.load.length ? want : this.selectCpu();
      this.s.load[cpu]!++;
      const lpi = lpiBase + i;
      this.send([BigInt(GITS_CMD.MAPTI) | (BigInt(deviceId) << 32n), BigInt(i) | (BigInt(lpi) << 32n), BigInt(cpu), 0n]);
      d.events.push({ event: i, lpi, cpu, name: name(i), unmasked: false });
    }
    this.s.devices.push(d);
    return { ok: true, dev: d };
  }

  /** its_unmask_irq -> lpi_update_config(Enable) + INV. */
  unmask(devName: string, event: number): void {
    const d = this.s.devices.find((x) => x.dev === devName);
    const e = d?.events.find((x) => x.event === event);
    if (!d || !e) return;
    const a = this.propTable + BigInt(e.lpi - LPI_FIRST);
    this.memory.write(a, Uint8Array.of(this.memory.read(a, 1)[0]! | LPI_PROP_ENABLED));
    this.send([BigInt(GITS_CMD.INV) | (BigInt(d.deviceId) << 32n), BigInt(event), 0n, 0n]);
    e.unmasked = true;
  }

  /** free_irq + its_irq_domain_free: mask, DISCARD each event, MAPD V=0, LPIs back. */
  freeDevice(devName: string): boolean {
    const d = this.s.devices.find((x) => x.dev === devName);
    if (!d) return false;
    for (const e of d.events) {
      const a = this.propTable + BigInt(e.lpi - LPI_FIRST);
      this.memory.write(a, Uint8Array.of(this.memory.read(a, 1)[0]! & ~LPI_PROP_ENABLED));
      this.send([BigInt(GITS_CMD.DISCARD) | (BigInt(d.deviceId) << 32n), BigInt(e.event), 0n, 0n]);
      this.s.load[e.cpu]!--;
    }
    this.send([BigInt(GITS_CMD.MAPD) | (BigInt(d.deviceId) << 32n), 0n, 0n, 0n]);
    this.s.free.push({ start: d.lpiBase, len: d.nrLpis });
    this.s.free.sort((a, b) => a.start - b.start);
    this.s.devices = this.s.devices.filter((x) => x !== d);
    return true;
  }

  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as ItsDriverState);
  }
}
