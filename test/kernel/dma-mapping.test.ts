import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type u64, U64_MAX } from '../../src/machine/u64.ts';
import { PhysicalMemory } from '../../src/machine/memory.ts';
import { PciFunction } from '../../src/machine/pci.ts';
import { Kernel } from '../../src/kernel/kernel.ts';
import { PageAllocator } from '../../src/kernel/page-alloc.ts';
import { IommuCore, kver, EIO, EBUSY, EPERM } from '../../src/kernel/iommu.ts';
import { IommuDma } from '../../src/kernel/dma-iommu.ts';
import { DmaDirect } from '../../src/kernel/dma-direct.ts';
import { Swiotlb } from '../../src/kernel/swiotlb.ts';
import { DmaMapping, dmaMappingError } from '../../src/kernel/dma-mapping.ts';
import { DMA_BIDIRECTIONAL, DMA_MAPPING_ERROR, DMA_TO_DEVICE, type DomainType, type IommuDomain, type IommuDriver, type KDevice, type ResvRegion } from '../../src/kernel/types.ts';
import { FakeIommu } from './fake-iommu.ts';

// ---- a fake IOMMU driver: a Map-based page table per domain ------------------------


function vf(name = '0002:81:10.0', iommu = true): KDevice {
  const fn = new PciFunction({ name, bdf: { segment: 2, bus: 0x81, dev: 0x10, fn: 0 }, vendorId: 0x8086, deviceId: 0x10ed, classCode: 0x020000, description: '82599 VF' });
  // PCI devices start with 32-bit masks (REFERENCE.md 5.2).
  return { name, pci: fn, master: { name, sid: fn.rid, path: iommu ? 'translated' : 'bypass' }, dmaMask: 0xffff_ffffn, coherentDmaMask: 0xffff_ffffn, busDmaLimit: 0n, dmaOps: 'direct', iommuName: iommu ? 'smmu0' : undefined, coherent: true };
}

function system(version = 612, cmdline: [string, string][] = []) {
  const kernel = new Kernel(new Map(cmdline));
  const memory = new PhysicalMemory();
  memory.addRegion({ name: 'ram', base: 0x4000_0000n, size: 0x2_0000_0000n, kind: 'ram' });
  const pages = new PageAllocator([{ base: 0x4000_0000n, size: 0x2_0000_0000n }]);
  const core = new IommuCore(kernel, { arch: 'aarch64', version });
  const drv = new FakeIommu();
  core.registerDriver(drv);
  const sw = new Swiotlb(kernel, memory, pages, { version });
  sw.swiotlbInit(true);
  const direct = new DmaDirect(kernel, memory, pages, sw);
  const iommuDma = new IommuDma(kernel, core, { memory, pages });
  const api = new DmaMapping(kernel, direct, iommuDma, core);
  return { kernel, memory, pages, core, drv, sw, direct, iommuDma, api, log: () => kernel.dmesg().map((l) => l.text) };
}

test('dispatch: a device behind the IOMMU with a DMA domain gets iommu-dma; one without gets dma-direct', () => {
  const { api, core } = system();
  const a = vf('0000:00:01.0');
  const b = vf('0000:00:02.0', false);
  core.probeDevice(a);
  assert.is(api.dmaConfigure(a, { driver: 'nvme' }), 0);
  assert.is(api.dmaConfigure(b, { driver: 'e1000e' }), 0);
  assert.is(a.dmaOps, 'iommu');
  assert.is(b.dmaOps, 'direct');
  assert.is(api.mapSingle(a, 0x4000_0000n, 64, DMA_TO_DEVICE), 0xffff_f000n);
  assert.is(api.mapSingle(b, 0x4000_0000n, 64, DMA_TO_DEVICE), 0x4000_0000n);
});

test('dispatch: an identity default domain (iommu.passthrough=1) means dma-direct', () => {
  const { api, core } = system(612, [['iommu.passthrough', '1']]);
  const a = vf();
  core.probeDevice(a);
  api.dmaConfigure(a);
  assert.is(a.dmaOps, 'direct');
  assert.is(api.mapSingle(a, 0x4000_1000n, 64, DMA_TO_DEVICE), 0x4000_1000n);
});

test('dma_set_mask_and_coherent: 64 bits fine; a 24-bit mask is -EIO on dma-direct but fine under iommu-dma', () => {
  const { api, core } = system();
  const d = vf('0000:00:05.0', false);
  api.dmaConfigure(d);
  assert.is(api.dmaSetMaskAndCoherent(d, U64_MAX), 0);
  assert.is(d.dmaMask, U64_MAX);
  assert.is(d.coherentDmaMask, U64_MAX);
  assert.is(api.dmaSetMask(d, 0xff_ffffn), -EIO);
  const i = vf('0000:00:06.0');
  core.probeDevice(i);
  api.dmaConfigure(i);
  assert.is(api.dmaSetMaskAndCoherent(i, 0xff_ffffn), 0);
});

test('DMA_MAPPING_ERROR semantics: dma_mapping_error() is true only for all-ones', () => {
  const { api } = system();
  const d = vf('0000:00:07.0', false);
  api.dmaConfigure(d);
  d.dmaMask = 0x3fff_ffffn; // below the swiotlb pool at 0x40000000: nothing can be reached
  const r = api.mapSingle(d, 0x1_8000_0000n, 64, DMA_TO_DEVICE);
  assert.is(r, DMA_MAPPING_ERROR);
  assert.ok(dmaMappingError(r));
  assert.ok(api.dmaMappingError(r));
  assert.not.ok(dmaMappingError(0n));
  assert.is(api.stats().mapErrors, 1);
});

test('the binding takes DMA-API ownership: the sysfs type cannot change under a bound kernel driver', () => {
  const { api, core } = system();
  const d = vf();
  const g = core.probeDevice(d);
  api.dmaConfigure(d, { driver: 'ixgbevf' });
  assert.is(core.groupStoreType(g, 'identity'), -EPERM);
  api.dmaDeconfigure(d);
  assert.is(core.groupStoreType(g, 'identity'), 8);
  assert.is(d.dmaOps, 'direct');
});

test('a kernel driver cannot bind to a group VFIO owns', () => {
  const { api, core } = system();
  const d = vf();
  const g = core.probeDevice(d);
  assert.is(core.groupClaimDmaOwner(g, 'vfio'), 0);
  assert.is(api.dmaConfigure(d, { driver: 'ixgbevf' }), -EBUSY);
});

test('seed 003 chain (REFERENCE.md 9.3) in the 2017 era: ixgbevf gets IOMMU ops, vfio-pci after it does not', () => {
  const { api, core, log } = system(kver('4.12'));
  const d = vf();
  core.probeDevice(d);
  // 1-2: fresh VF, 32-bit masks; ixgbevf binds -> size 0x100000000 -> IOMMU DMA ops; it raises both masks.
  api.dmaConfigure(d, { driver: 'ixgbevf' });
  assert.is(d.dmaOps, 'iommu');
  assert.is(api.dmaSetMaskAndCoherent(d, U64_MAX), 0);
  // 3: ixgbevf unbinds; the masks stay 64-bit; vfio-pci binds.
  api.dmaDeconfigure(d);
  assert.is(d.coherentDmaMask, U64_MAX);
  api.dmaConfigure(d, { driver: 'vfio-pci', driverManagedDma: true });
  // 4: size wraps to 0 -> the aperture check fails -> platform (direct) ops kept.
  assert.is(d.dmaOps, 'direct');
  assert.equal(log().slice(-2), ['specified DMA range outside IOMMU capability', 'Failed to set up IOMMU for device 0002:81:10.0; retaining platform DMA ops']);
  // Kernel DMA now uses physical addresses while the group is still in the SMMU's DMA domain.
  assert.is(api.mapSingle(d, 0x4000_2000n, 64, DMA_TO_DEVICE), 0x4000_2000n);
});

test('seed 003 chain on a current kernel: vfio-pci after ixgbevf keeps iommu-dma', () => {
  const { api, core, log } = system(kver('6.6'));
  const d = vf();
  core.probeDevice(d);
  api.dmaConfigure(d, { driver: 'ixgbevf' });
  api.dmaSetMaskAndCoherent(d, U64_MAX);
  api.dmaDeconfigure(d);
  api.dmaConfigure(d, { driver: 'vfio-pci', driverManagedDma: true });
  assert.is(d.dmaOps, 'iommu');
  assert.not.ok(log().some((l) => l.includes('Failed to set up IOMMU')));
});

test('map_sg through the dispatcher: PCI segment boundary and max segment size apply', () => {
  const { api, core } = system();
  const d = vf('0000:00:01.0');
  core.probeDevice(d);
  api.dmaConfigure(d);
  const sg = [{ pa: 0x4000_0000n, len: 4096 }, { pa: 0x4001_0000n, len: 4096 }];
  assert.equal(api.mapSg(d, sg, DMA_BIDIRECTIONAL), [{ dma: 0xffff_e000n, len: 8192 }]);
  api.dmaSetMaxSegSize(d, 4096);
  assert.equal(api.mapSg(d, sg, DMA_BIDIRECTIONAL), [{ dma: 0xffff_c000n, len: 4096 }, { dma: 0xffff_d000n, len: 4096 }]);
  assert.is(api.dmaGetSegBoundary(d), 0xffff_ffffn);
});

test('stats: maps, unmaps, IOTLB invalidations and bounces add up across the layers', () => {
  const { api, core, memory } = system();
  const a = vf('0000:00:01.0');
  core.probeDevice(a);
  api.dmaConfigure(a);
  const b = vf('0000:00:02.0', false);
  api.dmaConfigure(b);
  api.unmapSingle(a, api.mapSingle(a, 0x4000_0000n, 64, DMA_TO_DEVICE), 64, DMA_TO_DEVICE);
  memory.write(0x1_8000_0000n, new Uint8Array(64).fill(3));
  api.unmapSingle(b, api.mapSingle(b, 0x1_8000_0000n, 64, DMA_BIDIRECTIONAL), 64, DMA_BIDIRECTIONAL);
  const s = api.stats();
  assert.is(s.maps, 2);
  assert.is(s.unmaps, 2);
  assert.is(s.iotlbSyncs, 1);
  assert.is(s.bounces, 2);
  assert.is(s.bounceBytes, 128);
});

test('coherent allocations dispatch too', () => {
  const { api, core } = system();
  const a = vf('0000:00:01.0');
  core.probeDevice(a);
  api.dmaConfigure(a);
  const r = api.allocCoherent(a, 8192)!;
  assert.is(r.dma, 0xffff_e000n);
  api.freeCoherent(a, 8192, r.pa, r.dma);
  const b = vf('0000:00:02.0', false);
  api.dmaConfigure(b);
  const rb = api.allocCoherent(b, 4096)!;
  assert.is(rb.dma, rb.pa);
});

test('saveState/restoreState round trip of the dispatcher counters and parms', () => {
  const { api } = system();
  const d = vf('0000:00:01.0', false);
  api.dmaConfigure(d);
  const snap = api.saveState();
  api.dmaSetMaxSegSize(d, 512);
  api.mapSingle(d, 0x4000_0000n, 64, DMA_TO_DEVICE);
  api.restoreState(snap);
  assert.is(api.stats().maps, 0);
  assert.is(api.dmaGetMaxSegSize(d), 65536);
});

test.run();
