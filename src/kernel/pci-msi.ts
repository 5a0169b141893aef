/**
 * PCI MSI-X as Linux programs it (drivers/pci/msi/msi.c msix_capability_init,
 * pci_msi_domain_write_msg, pci_msix_write_vector_ctrl): the function's
 * MSI-X capability is found in config space, MSI-X is enabled with the
 * function masked, every vector's message is composed by the interrupt
 * domain and written into the device's table (through the BAR, by MMIO),
 * the function mask is dropped, and request_irq unmasks each vector.
 *
 * Arm with a GICv3 ITS: the ITS driver maps the device and its events
 * (irq-gic-v3-its.ts), iommu_dma_prepare_msi maps the doorbell page in the
 * device's IOMMU domain when it has one (dma-iommu.ts), and the message is
 * {address: that IOVA (or the doorbell itself) + 0x40, data: EventID}.
 * x86: each vector gets a CPU vector from the lab's stand-in allocator (the
 * lowest free from 0x21 on APIC 0, skipping the ISA range 0x30-0x3f) and,
 * with interrupt remapping on, an IRTE from intel-iommu (composeMsi): the
 * device is given the remappable message; with remapping off, the
 * compatibility format 0xfee00000 | APIC << 12, data = vector.
 */
import { type u64, hex } from '../machine/u64.ts';
import type { AccessSize } from '../machine/memory.ts';
import { PCI_CAPABILITY_LIST, PCI_CAP_ID_MSIX, PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, PCI_STATUS, PCI_STATUS_CAP_LIST, type PciFunction } from '../machine/pci.ts';
import { PCI_MSIX_ENTRY_CTRL_MASKBIT, PCI_MSIX_ENTRY_SIZE, PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, PCI_MSIX_FLAGS_MASKALL, PCI_MSIX_FLAGS_QSIZE, PCI_MSIX_TABLE } from '../machine/virtio/msix.ts';
import { ecamAddr } from './virtio/virtio-pci.ts';
import type { Linux } from './linux.ts';
import type { KDevice } from './types.ts';
import { ERRNO_NAMES } from './iommu.ts';
import { clone, type Stateful } from '../machine/state.ts';
import { VtdUnit } from '../machine/vtd/vtd.ts';
import * as VR from '../machine/vtd/regs.ts';

/** x86 device vectors: from FIRST_EXTERNAL_VECTOR + 1, skipping the legacy ISA vectors (a stand-in for arch/x86/kernel/apic/vector.c). */
export const FIRST_DEVICE_VECTOR = 0x21;
export const ISA_VECTORS = [0x30, 0x3f] as const;

export interface X86MsiVector {
  vector: number;
  dest: number;
  /** The IRTE, when interrupt remapping composed the message. */
  index?: number;
  name: string;
  /** request_irq ran (the entry is unmasked). */
  requested: boolean;
}

/** What the PCI MSI layer handed out on x86, per device (for undo and for the vector allocator). */
export class PciMsiState implements Stateful {
  s: { x86: Record<string, X86MsiVector[]> } = { x86: {} };
  saveState(): unknown {
    return clone(this.s);
  }
  restoreState(st: unknown): void {
    this.s = clone(st as PciMsiState['s']);
  }
}

/**
 * The lab's stand-in for the x86 vector allocator: the lowest vector from
 * 0x21 that nothing on APIC `dest` uses (`used`), skipping 0x30-0x3f.
 * Returns undefined when none is left.
 */
export function pickX86Vector(used: ReadonlySet<number>): number | undefined {
  for (let v = FIRST_DEVICE_VECTOR; v <= 0xff; v++) {
    if (v >= ISA_VECTORS[0] && v <= ISA_VECTORS[1]) continue;
    if (!used.has(v)) return v;
  }
  return undefined;
}

/** Vectors in use on APIC `dest`: the PCI MSI layer's, plus the DMAR fault event's. */
export function x86UsedVectors(linux: Linux, dest: number): Set<number> {
  const used = new Set<number>();
  for (const list of Object.values(linux.msi.s.x86)) for (const v of list) if (v.dest === dest) used.add(v.vector);
  for (const u of linux.env.machine.iommus) if (u instanceof VtdUnit) used.add(u.reg32(VR.DMAR_FEDATA_REG) & 0xff);
  return used;
}

export interface MsixCap {
  /** Config-space offset of the capability. */
  pos: number;
  vectors: number;
  bir: number;
  tableOffset: number;
}

export interface MsiVector {
  index: number;
  lpi: number;
  cpu: number;
  event: number;
  address: u64;
  data: number;
  /** Where the entry was written (CPU physical address of the table entry). */
  entryAddr: u64;
}

export type MsiResult = { ok: true; vectors: MsiVector[]; iova: u64 | undefined; deviceId: number } | { ok: false; errno: string; why: string };

function hostOf(linux: Linux, f: PciFunction) {
  const h = linux.env.machine.hostOf(f);
  if (!h) throw new Error(`${f.name} is below no host bridge`);
  return h;
}
const cfgR = (linux: Linux, f: PciFunction, reg: number, size: AccessSize): number => Number(linux.env.machine.memory.readU(ecamAddr(hostOf(linux, f), f, reg), size));
const cfgW = (linux: Linux, f: PciFunction, reg: number, size: AccessSize, v: number): void => linux.env.machine.memory.writeU(ecamAddr(hostOf(linux, f), f, reg), size, BigInt(v));

/** pci_find_capability(dev, PCI_CAP_ID_MSIX) and the table's BIR/offset, read from config space. */
export function findMsixCap(linux: Linux, f: PciFunction): MsixCap | undefined {
  if (!(cfgR(linux, f, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST)) return undefined;
  let pos = cfgR(linux, f, PCI_CAPABILITY_LIST, 1) & ~3;
  for (let guard = 0; pos && guard < 48; guard++) {
    if (cfgR(linux, f, pos, 1) === PCI_CAP_ID_MSIX) {
      const flags = cfgR(linux, f, pos + PCI_MSIX_FLAGS, 2);
      const tbl = cfgR(linux, f, pos + PCI_MSIX_TABLE, 4);
      return { pos, vectors: (flags & PCI_MSIX_FLAGS_QSIZE) + 1, bir: tbl & 7, tableOffset: tbl & ~7 };
    }
    pos = cfgR(linux, f, pos + 1, 1) & ~3;
  }
  return undefined;
}

/** CPU address of the MSI-X table (pci_resource_start of the BIR + offset). */
export function msixTableAddr(linux: Linux, f: PciFunction, cap: MsixCap): u64 | undefined {
  const bar = f.bars.find((b) => b.index === cap.bir);
  if (!bar || bar.addr === 0n) return undefined;
  const cpu = hostOf(linux, f).busToCpu(bar.kind === 'io' ? 'io' : 'mem', bar.addr);
  return cpu === undefined ? undefined : cpu + BigInt(cap.tableOffset);
}

/**
 * pci_alloc_irq_vectors(dev, nvec, nvec, PCI_IRQ_MSIX) then request_irq for
 * each vector, on an Arm machine with an ITS. `name(i)` names vector i's
 * action. Nothing changes when it fails.
 */
export function pciAllocIrqVectors(linux: Linux, dev: KDevice, nvec: number, name: (i: number) => string, o: { unmask?: boolean; preVectors?: number } = {}): MsiResult {
  const unmask = o.unmask !== false;
  // PCI_IRQ_AFFINITY with pre_vectors (virtio's config vector): the remaining vectors are spread one per
  // CPU in order (irq_create_affinity_masks), the pre vectors go wherever the allocator puts them.
  const cpus = linux.env.machine.info.cpus;
  const affinity = o.preVectors === undefined ? undefined : (i: number): number | undefined => (i < o.preVectors! ? undefined : (i - o.preVectors!) % cpus);
  if (linux.its) return pciAllocIrqVectorsMsix(linux, dev, nvec, name, unmask, affinity);
  if (linux.env.machine.info.arch === 'x86_64') return x86AllocMsix(linux, dev, nvec, name, unmask, affinity);
  return { ok: false, errno: 'ENOSYS', why: 'no MSI domain on this machine (no GICv3 ITS with tables, not x86)' };
}

/** MSI-X enable with the function masked, the entries written, then unmasked (msix_capability_init, request_irq). */
function programTable(linux: Linux, f: PciFunction, cap: MsixCap, table: u64, msgs: { address: u64; data: number }[], unmask: boolean): u64[] {
  const mem = linux.env.machine.memory;
  const flags = cfgR(linux, f, cap.pos + PCI_MSIX_FLAGS, 2);
  cfgW(linux, f, cap.pos + PCI_MSIX_FLAGS, 2, flags | PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
  const at = msgs.map((m, i) => {
    const a = table + BigInt(i * PCI_MSIX_ENTRY_SIZE);
    mem.writeU(a, 4, m.address & 0xffff_ffffn);
    mem.writeU(a + 4n, 4, m.address >> 32n);
    mem.writeU(a + 8n, 4, BigInt(m.data >>> 0));
    return a;
  });
  cfgW(linux, f, cap.pos + PCI_MSIX_FLAGS, 2, (flags | PCI_MSIX_FLAGS_ENABLE) & ~PCI_MSIX_FLAGS_MASKALL);
  if (unmask) for (const a of at) mem.writeU(a + 12n, 4, mem.readU(a + 12n, 4) & ~BigInt(PCI_MSIX_ENTRY_CTRL_MASKBIT));
  return at;
}

/** Checks every MSI-X path shares: the capability, the vector count, decode and bus mastering, the table's address. */
function msixPrepare(linux: Linux, dev: KDevice, nvec: number): { ok: true; f: PciFunction; cap: MsixCap; table: u64 } | { ok: false; errno: string; why: string } {
  const f = dev.pci;
  if (!f) return { ok: false, errno: 'EINVAL', why: `${dev.name} is not a PCI function` };
  const cap = findMsixCap(linux, f);
  if (!cap) return { ok: false, errno: 'EINVAL', why: `${dev.name} has no MSI-X capability` };
  if (nvec < 1 || nvec > cap.vectors) return { ok: false, errno: 'ENOSPC', why: `${dev.name}'s MSI-X table has ${cap.vectors} entries; ${nvec} requested (pci_msix_vec_count)` };
  const cmd = cfgR(linux, f, PCI_COMMAND, 2);
  if ((cmd & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)) !== (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)) cfgW(linux, f, PCI_COMMAND, 2, cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
  const table = msixTableAddr(linux, f, cap);
  if (table === undefined) return { ok: false, errno: 'ENOMEM', why: `${dev.name}'s MSI-X table BAR${cap.bir} is not assigned` };
  return { ok: true, f, cap, table };
}

function x86AllocMsix(linux: Linux, dev: KDevice, nvec: number, name: (i: number) => string, unmask: boolean, affinity?: (i: number) => number | undefined): MsiResult {
  if (linux.msi.s.x86[dev.name]) return { ok: false, errno: 'EINVAL', why: `${dev.name} already has MSI-X vectors` };
  const p = msixPrepare(linux, dev, nvec);
  if (!p.ok) return p;
  const list: X86MsiVector[] = [];
  const msgs: { address: u64; data: number }[] = [];
  const usedBy = new Map<number, Set<number>>();
  for (let i = 0; i < nvec; i++) {
    // The lab's stand-in puts unmanaged vectors on APIC 0; a managed vector goes to its CPU's APIC (APIC id = CPU here).
    const cpu = affinity?.(i);
    const dest = cpu ?? 0;
    if (!usedBy.has(dest)) usedBy.set(dest, x86UsedVectors(linux, dest));
    const used = usedBy.get(dest)!;
    const vector = pickX86Vector(used);
    if (vector === undefined) {
      for (const v of list) if (v.index !== undefined) linux.intel?.freeIrte(dev, v.index);
      return { ok: false, errno: 'ENOSPC', why: `no free vector on APIC ${dest} (a stated limit of the lab's stand-in allocator)` };
    }
    used.add(vector);
    let address: u64;
    let data: number;
    let index: number | undefined;
    if (linux.intel) {
      const m = linux.intel.composeMsi(dev, vector, dest, cpu !== undefined);
      address = (BigInt(m.addressHi >>> 0) << 32n) | BigInt(m.addressLo >>> 0);
      data = m.data;
      index = m.index;
    } else {
      address = 0xfee0_0000n | (BigInt(dest) << 12n);
      data = vector;
    }
    list.push({ vector, dest, index, name: name(i), requested: unmask });
    msgs.push({ address, data });
  }
  const at = programTable(linux, p.f, p.cap, p.table, msgs, unmask);
  linux.msi.s.x86[dev.name] = list;
  return { ok: true, vectors: list.map((v, i) => ({ index: i, lpi: -1, cpu: v.dest, event: i, address: msgs[i]!.address, data: msgs[i]!.data, entryAddr: at[i]! })), iova: undefined, deviceId: dev.master.rid ?? dev.master.sid };
}

function pciAllocIrqVectorsMsix(linux: Linux, dev: KDevice, nvec: number, name: (i: number) => string, unmask: boolean, affinity?: (i: number) => number | undefined): MsiResult {
  const its = linux.its!;
  const p = msixPrepare(linux, dev, nvec);
  if (!p.ok) return p;
  const deviceId = dev.master.rid ?? dev.master.sid;
  // The doorbell as the device must address it: through its IOMMU domain's MSI cookie, if any.
  const prep = linux.iommuDma.iommuDmaPrepareMsi(dev, its.doorbell);
  if (!prep.ok) return { ok: false, errno: ERRNO_NAMES[prep.errno] ?? String(prep.errno), why: `iommu_dma_prepare_msi(${hex(its.doorbell)}) failed` };
  // its_msi_prepare / its_create_device (MAPD), its_irq_domain_activate (MAPTI).
  const r = its.setupDevice(dev.name, deviceId, nvec, name, affinity);
  if (!r.ok) return { ok: false, errno: 'ENOSPC', why: r.why };
  const at = programTable(linux, p.f, p.cap, p.table, r.dev.events.map((e) => ({ address: prep.msgAddr, data: e.event })), unmask);
  // request_irq: unmask at the ITS too (property byte + INV).
  if (unmask) for (const e of r.dev.events) its.unmask(dev.name, e.event);
  const vectors = r.dev.events.map((e, i) => ({ index: e.event, lpi: e.lpi, cpu: e.cpu, event: e.event, address: prep.msgAddr, data: e.event, entryAddr: at[i]! }));
  return { ok: true, vectors, iova: prep.iova, deviceId };
}

/** pci_free_irq_vectors: mask and disable MSI-X, free the ITS events. */
export function pciFreeIrqVectors(linux: Linux, dev: KDevice): void {
  const f = dev.pci;
  const x86 = linux.msi.s.x86[dev.name];
  const its = linux.its?.devices.find((d) => d.dev === dev.name);
  if (!f || (!x86 && !its)) return;
  const cap = findMsixCap(linux, f);
  if (cap) {
    const table = msixTableAddr(linux, f, cap);
    const n = x86 ? x86.length : its!.events.length;
    if (table !== undefined) for (let i = 0; i < n; i++) linux.env.machine.memory.writeU(table + BigInt(i * PCI_MSIX_ENTRY_SIZE + 12), 4, BigInt(PCI_MSIX_ENTRY_CTRL_MASKBIT));
    const flags = cfgR(linux, f, cap.pos + PCI_MSIX_FLAGS, 2);
    cfgW(linux, f, cap.pos + PCI_MSIX_FLAGS, 2, flags & ~PCI_MSIX_FLAGS_ENABLE);
  }
  if (x86) {
    for (const v of x86) if (v.index !== undefined) linux.intel?.freeIrte(dev, v.index);
    delete linux.msi.s.x86[dev.name];
  }
  if (its) linux.its!.freeDevice(dev.name);
}
