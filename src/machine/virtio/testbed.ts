/**
 * A minimal machine with one virtio-blk disk: RAM, one PCIe host bridge
 * with QEMU virt's windows and ECAM, and the device at 00:01.0 with its
 * BARs assigned the way Linux assigns them on `-M virt`:
 *
 *   BAR0 io    0x1000      -> CPU 0x3eff1000 (I/O window at 0x3eff0000)
 *   BAR1 mem32 0x10000000  (MSI-X table, PBA at +0x800)
 *   BAR4 mem64 0x8000000000 (modern: common +0, isr +0x1000, device +0x2000, notify +0x3000)
 *
 * For unit tests and small lessons; the real presets live in scenarios/.
 * The device's DMA path starts as 'bypass'; callers set `dev.dmaMaster`.
 */
import { Machine } from '../machine.ts';
import { PciHostBridge } from '../pci.ts';
import type { u64 } from '../u64.ts';
import { VirtioBlkDevice } from './blk.ts';
import { type DiskImage, makeDmaLabDisk } from './disk.ts';
import { VIRTIO_PCI_LEGACY_BAR, VIRTIO_PCI_MODERN_BAR, VIRTIO_PCI_MSIX_BAR } from './virtio-pci-regs.ts';

export interface VirtioTestbedOptions {
  disableLegacy?: boolean;
  disableModern?: boolean;
  iommuPlatform?: boolean;
  vectors?: number;
  queueSize?: number;
  disk?: DiskImage;
  ramBase?: u64;
  ramSize?: u64;
  arch?: 'aarch64' | 'x86_64';
}

export const TESTBED_IO_BAR = 0x1000n;
export const TESTBED_MSIX_BAR = 0x1000_0000n;
export const TESTBED_MODERN_BAR = 0x80_0000_0000n;

export function buildVirtioTestbed(o: VirtioTestbedOptions = {}): { machine: Machine; host: PciHostBridge; dev: VirtioBlkDevice; ram: { base: u64; size: u64 } } {
  const machine = new Machine({ name: 'virtio-testbed', arch: o.arch ?? 'aarch64', board: 'test bed', cpus: 1, description: 'RAM, one PCIe root complex, one virtio-blk' });
  const host = new PciHostBridge({
    name: 'pcie.0',
    segment: 0,
    busStart: 0,
    busEnd: 15,
    ecamBase: 0x3f00_0000n,
    windows: [
      { kind: 'mem32', cpuBase: 0x1000_0000n, pciBase: 0x1000_0000n, size: 0x2eff_0000n },
      { kind: 'io', cpuBase: 0x3eff_0000n, pciBase: 0x0n, size: 0x1_0000n },
      { kind: 'mem64-pref', cpuBase: 0x80_0000_0000n, pciBase: 0x80_0000_0000n, size: 0x80_0000_0000n },
    ],
  });
  machine.addPciHost(host);
  for (const w of host.windows) machine.memory.addRegion({ name: `${host.name}-${w.kind}-window`, base: w.cpuBase, size: w.size, kind: 'mmio', handler: host.windowHandler(w) });
  const ram = { base: o.ramBase ?? 0x4000_0000n, size: o.ramSize ?? 0x400_0000n };
  machine.memory.addRegion({ name: 'ram', base: ram.base, size: ram.size, kind: 'ram' });
  const dev = new VirtioBlkDevice(machine, {
    name: 'vda',
    bdf: { segment: 0, bus: 0, dev: 1, fn: 0 },
    description: 'SCSI storage controller: Red Hat, Inc. Virtio block device',
    disableLegacy: o.disableLegacy,
    disableModern: o.disableModern,
    iommuPlatform: o.iommuPlatform,
    vectors: o.vectors,
    queueSize: o.queueSize,
    disk: o.disk ?? makeDmaLabDisk(),
  });
  machine.addPciFunction(host, dev);
  if (dev.legacy) dev.assignBar(VIRTIO_PCI_LEGACY_BAR, TESTBED_IO_BAR);
  if (dev.vectors > 0) dev.assignBar(VIRTIO_PCI_MSIX_BAR, TESTBED_MSIX_BAR);
  if (dev.modern) dev.assignBar(VIRTIO_PCI_MODERN_BAR, TESTBED_MODERN_BAR);
  dev.dmaMaster = { ...dev.dmaMaster, rootComplex: host };
  return { machine, host, dev, ram };
}
