import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { U64_MAX } from '../../src/machine/u64.ts';
import { PhysicalMemory } from '../../src/machine/memory.ts';
import { Kernel } from '../../src/kernel/kernel.ts';
import { PageAllocator } from '../../src/kernel/page-alloc.ts';
import { DmaDirect, dmaCapable, physToDma, dmaToPhys, dmaDirectSupported } from '../../src/kernel/dma-direct.ts';
import { DMA_MAPPING_ERROR, DMA_TO_DEVICE, DMA_FROM_DEVICE, DMA_BIDIRECTIONAL, type KDevice } from '../../src/kernel/types.ts';

const dev = (o: Partial<KDevice> = {}): KDevice => ({
  name: 'd0',
  master: { name: 'd0', sid: 0, path: 'bypass' },
  dmaMask: 0xffff_ffffn,
  coherentDmaMask: 0xffff_ffffn,
  busDmaLimit: 0n,
  dmaOps: 'direct',
  coherent: true,
  ...o,
});

test('dma_capable (REFERENCE.md 5.2): last byte at or below min_not_zero(mask, bus_dma_limit)', () => {
  const d = dev();
  assert.ok(dmaCapable(d, 0xffff_f000n, 0x1000));
  assert.not.ok(dmaCapable(d, 0xffff_f000n, 0x1001));
  assert.not.ok(dmaCapable(d, 0x1_0000_0000n, 1));
  assert.not.ok(dmaCapable(d, DMA_MAPPING_ERROR, 1), 'current kernels reject DMA_MAPPING_ERROR');
  const bus = dev({ dmaMask: U64_MAX, busDmaLimit: 0x3fff_ffffn });
  assert.ok(dmaCapable(bus, 0x3fff_f000n, 0x1000));
  assert.not.ok(dmaCapable(bus, 0x4000_0000n, 1), 'bus_dma_limit wins over a wider mask');
  const wide = dev({ dmaMask: U64_MAX });
  assert.ok(dmaCapable(wide, 0xffff_ffff_ffff_f000n, 0x1000));
});

test('phys_to_dma with a dma-ranges offset, and back', () => {
  const d = dev({ dmaRangeMap: [{ cpuStart: 0x8_0000_0000n, dmaStart: 0x0n, size: 0x1_0000_0000n }] });
  assert.is(physToDma(d, 0x8_1234_5678n), 0x1234_5678n);
  assert.is(dmaToPhys(d, 0x1234_5678n), 0x8_1234_5678n);
  assert.is(physToDma(d, 0x4000_0000n), DMA_MAPPING_ERROR, 'outside every range: no DMA address');
  assert.is(physToDma(dev(), 0x4000_0000n), 0x4000_0000n, 'no map: identity');
});

function setup() {
  const kernel = new Kernel(new Map());
  const memory = new PhysicalMemory();
  memory.addRegion({ name: 'ram', base: 0x4000_0000n, size: 0x2_0000_0000n, kind: 'ram' });
  const pages = new PageAllocator([{ base: 0x1_0000_0000n, size: 0x1_4000_0000n }, { base: 0x4000_0000n, size: 0xc000_0000n }]);
  return { kernel, memory, pages, direct: new DmaDirect(kernel, memory, pages) };
}

test('dma_direct_map_page: a reachable buffer maps to its bus address through the offset', () => {
  const { direct } = setup();
  const d = dev({ dmaRangeMap: [{ cpuStart: 0x4000_0000n, dmaStart: 0xc000_0000n, size: 0x4000_0000n }] });
  assert.is(direct.mapPage(d, 0x4000_1000n, 512, DMA_TO_DEVICE), 0xc000_1000n);
});

test('dma_direct_alloc honours the coherent mask (zone fallback): RAM above 4 GiB is skipped for a 32-bit device', () => {
  const { direct, memory } = setup();
  memory.write(0x4000_0000n, new Uint8Array([0x55]));
  const r = direct.alloc(dev(), 4096)!;
  assert.is(r.pa, 0x4000_0000n, 'the first range (above 4 GiB) cannot be used');
  assert.is(r.dma, r.pa);
  assert.is(memory.read(r.pa, 1)[0], 0, 'zeroed');
  const r64 = direct.alloc(dev({ coherentDmaMask: U64_MAX }), 4096)!;
  assert.is(r64.pa, 0x1_0000_0000n);
  direct.free(dev(), 4096, r.pa);
});

test('cache maintenance is counted for non-coherent devices (arm64: clean for_device, invalidate for_cpu unless TO_DEVICE)', () => {
  const { direct } = setup();
  const nc = dev({ coherent: false });
  const a = direct.mapPage(nc, 0x4000_0000n, 64, DMA_FROM_DEVICE);
  direct.unmapPage(nc, a, 64, DMA_FROM_DEVICE);
  const b = direct.mapPage(nc, 0x4000_0000n, 64, DMA_TO_DEVICE);
  direct.unmapPage(nc, b, 64, DMA_TO_DEVICE);
  direct.syncSingleForDevice(nc, b, 64, DMA_BIDIRECTIONAL);
  assert.is(direct.stats().cacheCleans, 3);
  assert.is(direct.stats().cacheInvalidates, 1);
  const c = direct.mapPage(dev(), 0x4000_0000n, 64, DMA_FROM_DEVICE);
  direct.unmapPage(dev(), c, 64, DMA_FROM_DEVICE);
  assert.is(direct.stats().cacheCleans, 3, 'coherent devices need nothing');
});

test('dma_map_sg on dma-direct: one segment per entry; all-or-nothing', () => {
  const { direct } = setup();
  const segs = direct.mapSg(dev(), [{ pa: 0x4000_0000n, len: 100 }, { pa: 0x4000_2000n, len: 200 }], DMA_TO_DEVICE);
  assert.equal(segs, [{ dma: 0x4000_0000n, len: 100 }, { dma: 0x4000_2000n, len: 200 }]);
  assert.equal(direct.mapSg(dev(), [{ pa: 0x4000_0000n, len: 100 }, { pa: 0x1_4000_0000n, len: 200 }], DMA_TO_DEVICE), []);
});

test('dma_direct_supported: 32-bit masks and wider always', () => {
  assert.ok(dmaDirectSupported(0xffff_ffffn));
  assert.ok(dmaDirectSupported(U64_MAX));
  assert.not.ok(dmaDirectSupported(0xff_ffffn));
});

test.run();
