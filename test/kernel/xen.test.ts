// dom0 on Xen: swiotlb-xen's decisions, Linux's foreign p2m, cache_flush stepping and the
// split block driver, against REFERENCE.md §8.3-§8.5.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { xenArm } from '../../src/scenarios/xen-arm.ts';
import { xenWorldOf, DOMU_ID, DOM0_SWIOTLB } from '../../src/kernel/xen/world.ts';
import { DMA_FROM_DEVICE, DMA_TO_DEVICE } from '../../src/kernel/types.ts';
import { GNTTAB_CACHE_CLEAN } from '../../src/machine/xen/abi.ts';
import { GNTTAB_NR_RESERVED_ENTRIES } from '../../src/kernel/xen/gnttab.ts';

const build = (o: Record<string, string> = {}) => {
  const sys = xenArm.build(new Map(Object.entries(o)));
  return xenWorldOf(sys.machine)!;
};
/** The domU grants `gfn`; dom0 maps it: the dom0 PFN and machine frame. */
const grantAndMap = (w: ReturnType<typeof build>, gfn: number) => {
  const g = w.front.grantForeignAccess(0, gfn, false);
  assert.ok(g.ok);
  const m = w.back.mapRef(DOMU_ID, g.ok ? g.ref : 0, false);
  assert.ok(m.ok);
  return m.ok ? m.mapping : undefined!;
};

test('the first grant reference a guest hands out is 8 (GNTTAB_NR_RESERVED_ENTRIES)', () => {
  const w = build();
  assert.is(GNTTAB_NR_RESERVED_ENTRIES, 8);
  const g = w.front.grantForeignAccess(0, 0x40010, true);
  assert.equal(g.ok && g.ref, 8);
});

test('pfn_to_bfn: foreign PFNs give the MFN, dom0 RAM is 1:1; bfn_to_pfn is the identity on Arm', () => {
  const w = build();
  const m = grantAndMap(w, 0x40010);
  assert.is(m.bfn, w.xen.p2m(DOMU_ID, 0x40010).mfn);
  assert.is(w.back.pfnToBfn(m.pfn), m.bfn);
  assert.is(w.back.pfnToBfn(0x41000), 0x41000);
  assert.is(w.back.bfnToPfn(m.bfn), m.bfn);
  assert.ok(m.pfn !== m.bfn);
  // xen_phys_to_bus keeps the offset in the 4 KiB Xen page
  assert.is(w.swiotlb.xenPhysToBus((BigInt(m.pfn) << 12n) | 0x123n), (BigInt(m.bfn) << 12n) | 0x123n);
});

test('granting the same page twice: one MFN at two dom0 PFNs, so the bus address names no single page', () => {
  const w = build();
  const a = grantAndMap(w, 0x40020);
  const b = grantAndMap(w, 0x40020);
  assert.is(a.bfn, b.bfn);
  assert.ok(a.pfn !== b.pfn);
  assert.equal(w.back.pfnsOfBfn(a.bfn), [a.pfn, b.pfn]);
  assert.equal(w.xen.m2p(a.bfn).owner, DOMU_ID);
  assert.equal(w.xen.m2p(a.bfn).gfn, 0x40020);
});

test('swiotlb-xen: a coherent device uses a foreign page directly at its machine address', () => {
  const w = build();
  const m = grantAndMap(w, 0x40030);
  const r = w.swiotlb.mapPage(w.dev, BigInt(m.pfn) << 12n, 512, DMA_FROM_DEVICE, 'swiotlb-xen');
  assert.equal([r.dma, r.bounced], [BigInt(m.bfn) << 12n, false]);
});

test('swiotlb-xen: a buffer over two machine-discontiguous Xen pages is bounced (range_straddles_page_boundary)', () => {
  const w = build();
  const a = grantAndMap(w, 0x40040);
  const b = grantAndMap(w, 0x40041);
  assert.is(b.pfn, a.pfn + 1); // adjacent in dom0, but the domU's frames are handed out top down
  assert.ok(w.swiotlb.rangeStraddlesPageBoundary((BigInt(a.pfn) << 12n) + 0x800n, 0x1000));
  const r = w.swiotlb.mapPage(w.dev, (BigInt(a.pfn) << 12n) + 0x800n, 0x1000, DMA_TO_DEVICE, 'swiotlb-xen');
  assert.ok(r.bounced);
  assert.is(r.dma, DOM0_SWIOTLB.base);
});

test('xen_arch_need_swiotlb: foreign + non-coherent bounces only without GNTTABOP_cache_flush', () => {
  for (const [cf, bounced] of [['yes', false], ['no', true]] as const) {
    const w = build({ 'sda.coherent': 'no', 'xen.cache-flush': cf });
    const m = grantAndMap(w, 0x40050);
    const r = w.swiotlb.mapPage(w.dev, BigInt(m.pfn) << 12n, 512, DMA_FROM_DEVICE, 'swiotlb-xen');
    assert.is(r.bounced, bounced, `cache-flush=${cf}`);
  }
});

test('dma_cache_maint steps per Xen page as Linux does: offset only in the first op, handle advanced by length', () => {
  const w = build({ 'sda.coherent': 'no' });
  const m = grantAndMap(w, 0x40060);
  const ops: string[] = [];
  w.xen.onCacheOp = (k, pa, len) => ops.push(`${k} ${pa.toString(16)} ${len.toString(16)}`);
  const mfn = BigInt(m.bfn) << 12n;
  w.swiotlb.dmaCacheMaint(w.dev, mfn + 0x100n, 0x1000, GNTTAB_CACHE_CLEAN);
  // First op: page mfn, offset 0x100, length 0xf00. Second: handle mfn+0xf00 -> same frame, offset 0, length 0x100:
  // the wrong range, which is why only buffers within one Xen page reach this path (REFERENCE §8.5).
  assert.equal(ops, [`clean ${(mfn + 0x100n).toString(16)} f00`, `clean ${mfn.toString(16)} 100`]);
});

test('blk read: dma-direct puts the sector in the ballooned-out frame; swiotlb-xen in the domU page', () => {
  const mbr = (w: ReturnType<typeof build>, gfn: number) => [...w.domuRead((BigInt(gfn) << 12n) + 510n, 2)!];
  const a = build();
  const ra = a.blkRead(0n, 1, 'dma-direct');
  assert.equal(mbr(a, ra.gfn!), [0, 0]);
  const b = build();
  const rb = b.blkRead(0n, 1, 'swiotlb-xen');
  assert.equal(mbr(b, rb.gfn!), [0x55, 0xaa]);
  assert.is(b.xen.readEntry(DOMU_ID, rb.gref!)!.flags, 0); // access ended after the backend unmapped
});

test("Catalin's point: with a dma-ranges offset, the 3.19 bus address misses; current swiotlb-xen applies phys_to_dma", () => {
  const old = build({ kernel: '3.19', 'sda.dma-offset': '0x40000000' });
  const r = old.blkRead(0n, 1, 'swiotlb-xen');
  assert.not.ok(r.ok);
  const cur = build({ kernel: '6.x', 'sda.dma-offset': '0x40000000' });
  const c = cur.blkRead(0n, 1, 'swiotlb-xen');
  assert.ok(c.ok);
  assert.equal([...cur.domuRead((BigInt(c.gfn!) << 12n) + 510n, 2)!], [0x55, 0xaa]);
});

test.run();
