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
 * Only the Arm/ITS domain is modelled here; on x86 `msi DEV` composes one
 * IRTE-backed message (commands/builtin/msi.ts).
 */
import { type u64, hex } from '../machine/u64.ts';
import type { AccessSize } from '../machine/memory.ts';
import { PCI_CAPABILITY_LIST, PCI_CAP_ID_MSIX, PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, PCI_STATUS, PCI_STATUS_CAP_LIST, type PciFunction } from '../machine/pci.ts';
import { PCI_MSIX_ENTRY_CTRL_MASKBIT, PCI_MSIX_ENTRY_SIZE, PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, PCI_MSIX_FLAGS_MASKALL, PCI_MSIX_FLAGS_QSIZE, PCI_MSIX_TABLE } from '../machine/virtio/msix.ts';
import { ecamAddr } from './virtio/virtio-pci.ts';
import type { Linux } from './linux.ts';
import type { KDevice } from './types.ts';
import { ERRNO_NAMES } from './iommu.ts';

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
export function pciAllocIrqVectorsMsix(linux: Linux, dev: KDevice, nvec: number, name: (i: number) => string): MsiResult {
  const f = dev.pci;
  const its = linux.its;
  if (!f) return { ok: false, errno: 'EINVAL', why: `${dev.name} is not a PCI function` };
  if (!its) return { ok: false, errno: 'ENOSYS', why: 'no GICv3 ITS driver on this machine: only the Arm ITS MSI domain is modelled for MSI-X' };
  const cap = findMsixCap(linux, f);
  if (!cap) return { ok: false, errno: 'EINVAL', why: `${dev.name} has no MSI-X capability` };
  if (nvec < 1 || nvec > cap.vectors) return { ok: false, errno: 'ENOSPC', why: `${dev.name}'s MSI-X table has ${cap.vectors} entries; ${nvec} requested (pci_msix_vec_count)` };
  const mem = linux.env.machine.memory;
  // pci_enable_device: memory decode, so the table BAR answers; bus mastering, so the device can send its MSI writes.
  const cmd = cfgR(linux, f, PCI_COMMAND, 2);
  if ((cmd & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)) !== (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)) cfgW(linux, f, PCI_COMMAND, 2, cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
  const table = msixTableAddr(linux, f, cap);
  if (table === undefined) return { ok: false, errno: 'ENOMEM', why: `${dev.name}'s MSI-X table BAR${cap.bir} is not assigned` };
  const deviceId = dev.master.rid ?? dev.master.sid;
  // The doorbell as the device must address it: through its IOMMU domain's MSI cookie, if any.
  const prep = linux.iommuDma.iommuDmaPrepareMsi(dev, its.doorbell);
  if (!prep.ok) return { ok: false, errno: ERRNO_NAMES[prep.errno] ?? String(prep.errno), why: `iommu_dma_prepare_msi(${hex(its.doorbell)}) failed` };
  const r = its.setupDevice(dev.name, deviceId, nvec, name);
  if (!r.ok) return { ok: false, errno: 'ENOSPC', why: r.why };
  // msix_capability_init: enable with the function masked, write the entries, unmask the function.
  const flags = cfgR(linux, f, cap.pos + PCI_MSIX_FLAGS, 2);
  cfgW(linux, f, cap.pos + PCI_MSIX_FLAGS, 2, flags | PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
  const vectors: MsiVector[] = [];
  for (const e of r.dev.events) {
    const at = table + BigInt(e.event * PCI_MSIX_ENTRY_SIZE);
    mem.writeU(at, 4, prep.msgAddr & 0xffff_ffffn);
    mem.writeU(at + 4n, 4, prep.msgAddr >> 32n);
    mem.writeU(at + 8n, 4, BigInt(e.event));
    vectors.push({ index: e.event, lpi: e.lpi, cpu: e.cpu, event: e.event, address: prep.msgAddr, data: e.event, entryAddr: at });
  }
  cfgW(linux, f, cap.pos + PCI_MSIX_FLAGS, 2, (flags | PCI_MSIX_FLAGS_ENABLE) & ~PCI_MSIX_FLAGS_MASKALL);
  // request_irq: unmask at the ITS (property byte + INV) and in the table (pci_msix_unmask).
  for (const e of r.dev.events) {
    its.unmask(dev.name, e.event);
    const ctrl = table + BigInt(e.event * PCI_MSIX_ENTRY_SIZE + 12);
    mem.writeU(ctrl, 4, mem.readU(ctrl, 4) & ~BigInt(PCI_MSIX_ENTRY_CTRL_MASKBIT));
  }
  return { ok: true, vectors, iova: prep.iova, deviceId };
}

/** pci_free_irq_vectors: mask and disable MSI-X, free the ITS events. */
export function pciFreeIrqVectors(linux: Linux, dev: KDevice): void {
  const f = dev.pci;
  if (!f || !linux.its?.devices.some((d) => d.dev === dev.name)) return;
  const cap = findMsixCap(linux, f);
  if (cap) {
    const table = msixTableAddr(linux, f, cap);
    const d = linux.its.devices.find((x) => x.dev === dev.name)!;
    if (table !== undefined) for (const e of d.events) linux.env.machine.memory.writeU(table + BigInt(e.event * PCI_MSIX_ENTRY_SIZE + 12), 4, BigInt(PCI_MSIX_ENTRY_CTRL_MASKBIT));
    const flags = cfgR(linux, f, cap.pos + PCI_MSIX_FLAGS, 2);
    cfgW(linux, f, cap.pos + PCI_MSIX_FLAGS, 2, flags & ~PCI_MSIX_FLAGS_ENABLE);
  }
  linux.its.freeDevice(dev.name);
}
