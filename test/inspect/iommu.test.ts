import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { u64 } from '../../src/machine/u64.ts';
import { PciFunction, PciHostBridge } from '../../src/machine/pci.ts';
import { Kernel } from '../../src/kernel/kernel.ts';
import { IommuCore } from '../../src/kernel/iommu.ts';
import { IommuDma } from '../../src/kernel/dma-iommu.ts';
import { infoGroups, infoResv, iovaInfo, iovaRowText } from '../../src/inspect/iommu.ts';
import { DMA_TO_DEVICE, IOMMU_MMIO, IOMMU_NOEXEC, IOMMU_WRITE, type DomainType, type IommuDomain, type IommuDriver, type KDevice, type ResvRegion } from '../../src/kernel/types.ts';
import { FakeIommu } from '../kernel/fake-iommu.ts';

// ---- a fake IOMMU driver: a Map-based page table per domain ------------------------


// QEMU virt's PCIe windows (src/scenarios/arm-virt.ts).
const host = new PciHostBridge({
  name: 'pcie.0', segment: 0, busStart: 0, busEnd: 15, ecamBase: 0x3f00_0000n,
  windows: [
    { kind: 'mem32', cpuBase: 0x1000_0000n, pciBase: 0x1000_0000n, size: 0x2eff_0000n },
    { kind: 'io', cpuBase: 0x3eff_0000n, pciBase: 0x0n, size: 0x1_0000n },
    { kind: 'mem64-pref', cpuBase: 0x80_0000_0000n, pciBase: 0x80_0000_0000n, size: 0x80_0000_0000n },
  ],
});

function dev(name: string, devfn: number): KDevice {
  const fn = new PciFunction({ name, bdf: { segment: 0, bus: 0, dev: devfn, fn: 0 }, vendorId: 0x1af4, deviceId: 0x1001, classCode: 0x010000, description: 'virtio-blk' });
  return { name, pci: fn, master: { name, sid: fn.rid, path: 'translated', rootComplex: host }, dmaMask: 0xffff_ffff_ffff_ffffn, coherentDmaMask: 0xffff_ffff_ffff_ffffn, busDmaLimit: 0n, dmaOps: 'direct', iommuName: 'smmu0', coherent: true };
}

function setup(cmdline: [string, string][] = []) {
  const kernel = new Kernel(new Map(cmdline));
  const core = new IommuCore(kernel, { arch: 'aarch64', version: 612 });
  core.registerDriver(new FakeIommu());
  const dma = new IommuDma(kernel, core);
  return { core, dma };
}

test('info groups: group number, type, devices', () => {
  const { core } = setup();
  core.probeDevice(dev('0000:00:01.0', 1));
  core.probeDevice(dev('0000:00:02.0', 2));
  assert.equal(infoGroups(core), [
    { group: 0, type: 'DMA', devices: ['0000:00:01.0'] },
    { group: 1, type: 'DMA', devices: ['0000:00:02.0'] },
  ]);
});

test('info resv DEV: the exact sysfs text and the regions with their kind', () => {
  const { core } = setup();
  const d = dev('0000:00:01.0', 1);
  core.probeDevice(d);
  const r = infoResv(core, d);
  assert.is(r.text, '0x0000000008000000 0x00000000080fffff msi\n');
  assert.equal(r.regions, [{ start: 0x800_0000n, end: 0x80f_ffffn, type: 'msi', kind: 'sw-msi' }]);
  assert.equal(infoResv(core, dev('0000:00:09.0', 9)), { device: '0000:00:09.0', group: undefined, text: '', regions: [] });
});

test('iova DEV: reserved PCI windows, allocated, cached and flush-queue ranges in address order', () => {
  const { core, dma } = setup([['iommu.strict', '0']]);
  const d = dev('0000:00:01.0', 1);
  core.probeDevice(d);
  dma.iommuSetupDmaOps(d);
  const a = dma.mapPage(d, 0x4000_0000n, 4096, DMA_TO_DEVICE);
  const b = dma.mapPage(d, 0x4000_1000n, 8192, DMA_TO_DEVICE);
  dma.unmapPage(d, b, 8192, DMA_TO_DEVICE); // lazy: into the flush queue
  const info = iovaInfo(core, dma, d);
  assert.is(info.domain, 'smmu0:1 (DMA-FQ)');
  assert.is(info.granule, 4096);
  assert.is(info.startPfn, 1);
  assert.equal(info.rows.map(iovaRowText), [
    '0x0000000010000000-0x000000003efeffff 192496 pages reserved',
    '0x00000000ffffc000-0x00000000ffffdfff 2 pages flush-queue',
    '0x00000000fffff000-0x00000000ffffffff 1 page allocated',
    '0x0000008000000000-0x000000ffffffffff 134217728 pages reserved',
  ]);
  assert.is(a, 0xffff_f000n);
  dma.iommuDmaFlushQueues();
  assert.is(iovaInfo(core, dma, d).rows[1]!.kind, 'cached', 'after the flush the range sits in the rcache');
  assert.is(iovaInfo(core, dma, d, 2).truncated, true);
});

test('iova DEV on an identity domain says why there is no allocator', () => {
  const { core, dma } = setup([['iommu.passthrough', '1']]);
  const d = dev('0000:00:01.0', 1);
  core.probeDevice(d);
  dma.iommuSetupDmaOps(d);
  const info = iovaInfo(core, dma, d);
  assert.equal(info.rows, []);
  assert.match(info.domain, /identity domain/);
});

test.run();
