import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { U64_MAX } from '../../src/machine/u64.ts';
import { PhysicalMemory } from '../../src/machine/memory.ts';
import { Kernel } from '../../src/kernel/kernel.ts';
import { PageAllocator } from '../../src/kernel/page-alloc.ts';
import { Swiotlb, parseSwiotlbParam, IO_TLB_SIZE, IO_TLB_SEGSIZE } from '../../src/kernel/swiotlb.ts';
import { DmaDirect } from '../../src/kernel/dma-direct.ts';
import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_MAPPING_ERROR, DMA_TO_DEVICE, type KDevice } from '../../src/kernel/types.ts';
import { kver } from '../../src/kernel/iommu.ts';

const RAM_BASE = 0x4000_0000n;
const RAM_SIZE = 0x2_0000_0000n; // 8 GiB: 0x40000000..0x23fffffff, so some RAM is above 4 GiB

function setup(cmdline: [string, string][] = [], version?: number) {
  const kernel = new Kernel(new Map(cmdline));
  const memory = new PhysicalMemory();
  memory.addRegion({ name: 'ram', base: RAM_BASE, size: RAM_SIZE, kind: 'ram' });
  const pages = new PageAllocator([{ base: RAM_BASE, size: RAM_SIZE }]);
  const sw = new Swiotlb(kernel, memory, pages, version === undefined ? {} : { version });
  const direct = new DmaDirect(kernel, memory, pages, sw);
  return { kernel, memory, pages, sw, direct, log: () => kernel.dmesg().map((l) => l.text) };
}

const dev32 = (): KDevice => ({ name: '0000:00:02.0', master: { name: 'nic', sid: 0x10, path: 'bypass' }, dmaMask: 0xffff_ffffn, coherentDmaMask: 0xffff_ffffn, busDmaLimit: 0n, dmaOps: 'direct', coherent: true });

test('swiotlb= parsing: slabs rounded up to a multiple of 128 (IO_TLB_SEGSIZE), force/noforce', () => {
  assert.equal(parseSwiotlbParam(undefined), { nslabs: 32768, force: false, noforce: false });
  assert.is(parseSwiotlbParam('1000').nslabs, 1024);
  assert.equal(parseSwiotlbParam('65536,force'), { nslabs: 65536, force: true, noforce: false });
  assert.equal(parseSwiotlbParam('force'), { nslabs: 32768, force: true, noforce: false });
  assert.equal(parseSwiotlbParam('noforce'), { nslabs: 32768, force: false, noforce: true });
  assert.equal(parseSwiotlbParam('4096,4,force'), { nslabs: 4096, nareas: 4, force: true, noforce: false });
});

test('constants: 2048-byte slots, 128-slot segments (REFERENCE.md 5.5)', () => {
  assert.is(IO_TLB_SIZE, 2048);
  assert.is(IO_TLB_SEGSIZE, 128);
});

test('boot: a 64 MiB pool in low memory and the swiotlb_print_info line (end exclusive, %pa)', () => {
  const { sw, log } = setup();
  assert.ok(sw.swiotlbInit(true));
  assert.is(sw.nslabs, 32768);
  assert.ok(sw.end <= 0x1_0000_0000n, 'below 4 GiB');
  // memblock_alloc_low: top-down below 4 GiB.
  assert.equal(log(), ['software IO TLB: mapped [mem 0x00000000fc000000-0x0000000100000000] (64MB)']);
});

test('boot: no pool when all RAM is reachable, unless swiotlb=force; none with swiotlb=noforce', () => {
  let s = setup();
  assert.not.ok(s.sw.swiotlbInit(false));
  assert.equal(s.log(), []);
  s = setup([['swiotlb', 'force']]);
  assert.ok(s.sw.swiotlbInit(false));
  assert.ok(s.sw.forceBounce);
  s = setup([['swiotlb', 'noforce']]);
  assert.not.ok(s.sw.swiotlbInit(true));
  s = setup([['swiotlb', '1024']]);
  s.sw.swiotlbInit(true);
  assert.equal(s.log(), ['software IO TLB: mapped [mem 0x00000000ffe00000-0x0000000100000000] (2MB)']);
});

test('a 32-bit device and a buffer above 4 GiB: bounced through swiotlb, bytes really copied both ways', () => {
  const { sw, direct, memory } = setup();
  sw.swiotlbInit(true);
  const dev = dev32();
  const buf = 0x1_8000_0100n; // above 4 GiB
  const data = new Uint8Array(3000).map((_, i) => (i * 7) & 0xff);
  memory.write(buf, data);
  const dma = direct.mapPage(dev, buf, data.length, DMA_BIDIRECTIONAL);
  assert.ok(dma !== DMA_MAPPING_ERROR);
  assert.ok(dma >= sw.start && dma < sw.end, 'the device gets a slot in the pool');
  assert.ok(dma + BigInt(data.length) - 1n <= 0xffff_ffffn);
  assert.equal(memory.read(dma, data.length), data, 'map copied the buffer into the slot');
  // The device writes its answer into the slot (what it thinks is the buffer).
  memory.write(dma, new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
  direct.unmapPage(dev, dma, data.length, DMA_BIDIRECTIONAL);
  assert.equal([...memory.read(buf, 5)], [0xde, 0xad, 0xbe, 0xef, data[4]!], 'unmap copied it back');
  assert.is(sw.used, 0, 'slots released');
  const log = sw.bounceLog();
  assert.equal(log.map((b) => [b.dir, b.why, b.len, b.orig]), [['to-device', 'map', 3000, buf], ['from-device', 'unmap', 3000, buf]]);
  assert.equal(direct.stats().bounced, 1);
});

test('directions: FROM_DEVICE copies back on unmap and sync_for_cpu; TO_DEVICE never copies back', () => {
  const { sw, direct, memory } = setup();
  sw.swiotlbInit(true);
  const dev = dev32();
  const buf = 0x1_8000_0000n;
  memory.write(buf, new Uint8Array([1, 2, 3, 4]));
  const d1 = direct.mapPage(dev, buf, 4, DMA_TO_DEVICE);
  memory.write(d1, new Uint8Array([9, 9, 9, 9]));
  direct.unmapPage(dev, d1, 4, DMA_TO_DEVICE);
  assert.equal([...memory.read(buf, 4)], [1, 2, 3, 4]);
  const d2 = direct.mapPage(dev, buf, 4, DMA_FROM_DEVICE);
  memory.write(d2, new Uint8Array([5, 6, 7, 8]));
  direct.syncSingleForCpu(dev, d2, 4, DMA_FROM_DEVICE);
  assert.equal([...memory.read(buf, 4)], [5, 6, 7, 8]);
  memory.write(buf, new Uint8Array([0xaa]));
  direct.syncSingleForDevice(dev, d2, 4, DMA_FROM_DEVICE);
  assert.is(memory.read(d2, 1)[0], 5, 'sync_for_device copies only for TO_DEVICE/BIDIRECTIONAL');
  direct.unmapPage(dev, d2, 4, DMA_FROM_DEVICE);
});

test('map copies the original for every direction on v6.0+ (no stale slot contents), only TO_DEVICE/BIDIRECTIONAL before', () => {
  for (const [v, copies] of [[kver('6.6'), true], [kver('5.10'), false]] as const) {
    const { sw, direct, memory } = setup([], v);
    sw.swiotlbInit(true);
    const buf = 0x1_8000_0000n;
    memory.write(buf, new Uint8Array([7, 7]));
    const d = direct.mapPage(dev32(), buf, 2, DMA_FROM_DEVICE);
    assert.is(memory.read(d, 1)[0], copies ? 7 : 0, `v${v}`);
  }
});

test('dma_capable buffers are not bounced; swiotlb=force bounces them anyway', () => {
  let s = setup();
  s.sw.swiotlbInit(true);
  assert.is(s.direct.mapPage(dev32(), 0x8000_0000n, 64, DMA_TO_DEVICE), 0x8000_0000n);
  s = setup([['swiotlb', 'force']]);
  s.sw.swiotlbInit(true);
  const d = s.direct.mapPage(dev32(), 0x8000_0000n, 64, DMA_TO_DEVICE);
  assert.ok(s.sw.isSwiotlbBuffer(d));
});

test('no swiotlb and not capable: DMA_MAPPING_ERROR and one overflow warning', () => {
  const { direct, log } = setup();
  const dev = dev32();
  assert.is(direct.mapPage(dev, 0x1_8000_0000n, 64, DMA_TO_DEVICE), DMA_MAPPING_ERROR);
  assert.is(direct.mapPage(dev, 0x1_8000_0000n, 64, DMA_TO_DEVICE), DMA_MAPPING_ERROR);
  assert.equal(log(), ['0000:00:02.0: DMA addr 0x0000000180000000+64 overflow (mask ffffffff, bus limit 0).'].map((l) => `platform ${l}`));
  assert.is(direct.stats().mapErrors, 2);
});

test('a mapping can span at most one segment (256 KiB); a full pool says so', () => {
  const { sw, direct, log } = setup([['swiotlb', '256']]); // 2 segments, 512 KiB
  sw.swiotlbInit(true);
  const dev = dev32();
  const big = 128 * 2048;
  assert.is(direct.mapPage(dev, 0x1_8000_0000n, big + 1, DMA_TO_DEVICE), DMA_MAPPING_ERROR);
  const a = direct.mapPage(dev, 0x1_8000_0000n, big, DMA_TO_DEVICE);
  const b = direct.mapPage(dev, 0x1_9000_0000n, big, DMA_TO_DEVICE);
  assert.is(b - a, BigInt(big));
  assert.is(direct.mapPage(dev, 0x1_a000_0000n, 2048, DMA_TO_DEVICE), DMA_MAPPING_ERROR);
  assert.ok(log().some((l) => l.includes('swiotlb buffer is full (sz: 2048 bytes), total 256 (slots), used 256 (slots)')));
  direct.unmapPage(dev, a, big, DMA_TO_DEVICE);
  assert.is(direct.mapPage(dev, 0x1_a000_0000n, 2048, DMA_TO_DEVICE), a, 'freed slots are found again (the search wraps)');
  assert.is(sw.stats().full, 2);
});

test('slots: a page-sized buffer gets a page-aligned slot; small ones pack into 2 KiB slots', () => {
  const { sw, direct } = setup();
  sw.swiotlbInit(true);
  const dev = dev32();
  const s1 = direct.mapPage(dev, 0x1_8000_0000n, 100, DMA_TO_DEVICE);
  const s2 = direct.mapPage(dev, 0x1_8000_1000n, 4096, DMA_TO_DEVICE);
  const s3 = direct.mapPage(dev, 0x1_8000_3000n, 100, DMA_TO_DEVICE);
  assert.is(s1, sw.start);
  assert.is(s2, sw.start + 4096n, 'slot 1 skipped: not page aligned');
  assert.is(s3, sw.start + 8192n, 'next-fit from the area index');
});

test('saveState/restoreState brings slots and the bounce log back', () => {
  const { sw, direct } = setup();
  sw.swiotlbInit(true);
  const snap = sw.saveState();
  direct.mapPage(dev32(), 0x1_8000_0000n, 100, DMA_TO_DEVICE);
  assert.is(sw.used, 1);
  sw.restoreState(snap);
  assert.is(sw.used, 0);
  assert.is(sw.bounceLog().length, 0);
  assert.is(direct.mapPage(dev32(), 0x1_8000_0000n, 100, DMA_TO_DEVICE), sw.start);
});

test('the bounce slot must itself be reachable (swiotlb_map re-checks dma_capable)', () => {
  const { sw, direct } = setup();
  sw.swiotlbInit(true);
  const dev = { ...dev32(), dmaMask: 0x3fff_ffffn, busDmaLimit: 0n };
  // The pool sits at 0x40000000, just past a 30-bit mask.
  assert.is(direct.mapPage(dev, 0x1_8000_0000n, 64, DMA_TO_DEVICE), DMA_MAPPING_ERROR);
  assert.is(sw.used, 0);
  void U64_MAX;
});

test.run();
