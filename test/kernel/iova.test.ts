import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { IovaDomain, flsLong, orderBase2, roundupPowOfTwo, IOVA_MAG_SIZE } from '../../src/kernel/iova.ts';

// Limits as dma-iommu passes them: the last usable pfn (inclusive).
const LIMIT32 = 0xfffff; // DMA_BIT_MASK(32) >> 12
const LIMIT48 = 0xf_ffff_ffff; // 48-bit aperture end >> 12
const iova = (pfn: number): bigint => BigInt(pfn) << 12n;

test('helpers: fls_long, order_base_2, roundup_pow_of_two', () => {
  assert.is(flsLong(0), 0);
  assert.is(flsLong(1), 1);
  assert.is(flsLong(2), 2);
  assert.is(flsLong(3), 2);
  assert.is(flsLong(2 ** 40), 41);
  assert.is(flsLong(2 ** 40 - 1), 40);
  assert.is(orderBase2(1), 0);
  assert.is(orderBase2(3), 2);
  assert.is(orderBase2(32), 5);
  assert.is(roundupPowOfTwo(3), 4);
  assert.is(roundupPowOfTwo(17), 32);
});

test('REFERENCE 4.5: first 1-page allocation below a 32-bit limit is IOVA 0xfffff000', () => {
  const d = new IovaDomain(4096, 1);
  assert.is(iova(d.allocIovaFast(1, LIMIT32, true)), 0xfffff000n);
});

test('REFERENCE 4.5: a 3-page request (rounded to 4) in an empty domain returns 0xffffc000', () => {
  const d = new IovaDomain(4096, 1);
  const pfn = d.allocIovaFast(3, LIMIT32, true);
  assert.is(iova(pfn), 0xffffc000n);
  // It occupies 4 pages (rounded up for the rcache classes).
  assert.equal(d.findIova(pfn), { lo: 0xffffc, hi: 0xfffff, reserved: false });
});

test('REFERENCE 4.5: first page of a 48-bit limit (non-PCI) is 0xfffffffff000', () => {
  const d = new IovaDomain(4096, 1);
  assert.is(iova(d.allocIovaFast(1, LIMIT48, true)), 0xfffffffff000n);
});

test('next-fit below the cached node (iova.c): 1 page then 4 pages then 1 page', () => {
  // After 0xfffff the cached node is that range; the 4-page request walks
  // down from it: high = 0xfffff, (0xfffff - 4) & ~3 = 0xffff8. The gap
  // 0xffffc..0xffffe is left behind by alignment; the next 1-page request
  // continues below the cached node (0xffff7), not in the gap.
  const d = new IovaDomain(4096, 1);
  assert.is(d.allocIovaFast(1, LIMIT32, true), 0xfffff);
  assert.is(d.allocIovaFast(4, LIMIT32, true), 0xffff8);
  assert.is(d.allocIovaFast(1, LIMIT32, true), 0xffff7);
});

test('freeing above the cached node moves the cache up: the freed hole is reused', () => {
  const d = new IovaDomain(4096, 1);
  const a = d.allocIova(1, LIMIT32)!;
  const b = d.allocIova(1, LIMIT32)!;
  const c = d.allocIova(1, LIMIT32)!;
  assert.equal([a.lo, b.lo, c.lo], [0xfffff, 0xffffe, 0xffffd]);
  d.freeIova(b.lo); // tree free, not rcache
  assert.is(d.allocIova(1, LIMIT32)!.lo, 0xffffe);
});

test('size-aligned: an 8-page range starts on an 8-page boundary; sizes of 32+ pages are not rounded', () => {
  const d = new IovaDomain(4096, 1);
  d.allocIovaFast(1, LIMIT32, true); // 0xfffff
  const p8 = d.allocIovaFast(8, LIMIT32, true);
  assert.is(p8 % 8, 0);
  assert.is(p8, 0xffff0);
  const p33 = d.allocIovaFast(33, LIMIT32, true);
  const r = d.findIova(p33)!;
  assert.is(r.hi - r.lo + 1, 33);
  assert.is(r.lo % 64, 0, 'aligned to roundup_pow_of_two(33) = 64');
});

test('start pfn: IOVA page 0 is never handed out', () => {
  const d = new IovaDomain(4096, 1);
  const got: number[] = [];
  for (;;) {
    const p = d.allocIovaFast(1, 7, false);
    if (!p) break;
    got.push(p);
  }
  assert.equal(got, [7, 6, 5, 4, 3, 2, 1]);
});

test('reserve_iova: a hole is skipped; an overlapping reservation only adds the part not yet reserved (iova.c __adjust_overlap_range)', () => {
  const d = new IovaDomain(4096, 1);
  d.reserveIova(0xf0000, 0xfffff); // the top 64 MiB below 4 GiB
  assert.is(d.allocIovaFast(1, LIMIT32, true), 0xeffff);
  d.reserveIova(0xe0000, 0xe0fff);
  d.reserveIova(0xe0800, 0xe1fff); // overlaps the first 0x800 pages: only 0xe1000.. is added
  d.reserveIova(0xdf000, 0xe0010); // starts below: the existing range is widened downwards
  const r = d.ranges().ranges.filter((x) => x.kind === 'reserved');
  assert.equal(r.map((x) => [x.lo, x.hi]), [[0xdf000, 0xe0fff], [0xe1000, 0xe1fff], [0xf0000, 0xfffff]]);
  assert.is(d.checkTree(), undefined);
});

test('rcache: a freed 1-page range comes straight back; it stays allocated in the tree meanwhile', () => {
  const d = new IovaDomain(4096, 1);
  const a = d.allocIovaFast(1, LIMIT32, true);
  d.allocIovaFast(1, LIMIT32, true);
  d.freeIovaFast(a, 1);
  assert.equal(d.findIova(a), { lo: a, hi: a, reserved: false });
  assert.ok(d.cachedPfns().has(a));
  assert.is(d.ranges().ranges.find((r) => r.lo === a)!.kind, 'cached');
  assert.is(d.allocIovaFast(1, LIMIT32, true), a);
  assert.not.ok(d.cachedPfns().has(a));
});

test('rcache: a cached pfn above the limit is not handed out; the tree is used instead', () => {
  const d = new IovaDomain(4096, 1);
  const hi = d.allocIovaFast(1, LIMIT48, true);
  d.freeIovaFast(hi, 1);
  const lo = d.allocIovaFast(1, LIMIT32, true);
  assert.is(lo, 0xfffff);
  assert.ok(d.cachedPfns().has(hi));
});

test('rcache: magazines overflow to the depot, and the depot back to the tree (bounded depot)', () => {
  const d = new IovaDomain(4096, 1, { magSize: 4, maxGlobalMags: 1 });
  const pfns: number[] = [];
  for (let i = 0; i < 20; i++) pfns.push(d.allocIovaFast(1, LIMIT32, true));
  for (const p of pfns) d.freeIovaFast(p, 1);
  // loaded 4 + prev 4 + depot 1x4 = 12 cached, 8 went back to the tree.
  assert.is(d.cachedPfns().size, 12);
  assert.is(d.count, 12);
});

test('exhaustion: alloc_iova_fast returns 0; flushing the rcache gives cached ranges back first', () => {
  const d = new IovaDomain(4096, 1);
  const got: number[] = [];
  for (;;) {
    const p = d.allocIovaFast(2, 15, true);
    if (!p) break;
    got.push(p);
  }
  assert.equal(got, [14, 12, 10, 8, 6, 4, 2]);
  d.freeIovaFast(8, 2); // into the 2-page rcache
  assert.is(d.allocIovaFast(4, 15, false), 0, '4 pages do not fit without flushing');
  d.freeIovaFast(10, 2);
  assert.is(d.allocIovaFast(4, 15, true), 8, 'flush_rcache frees 8..11 back to the tree');
});

test('max32_alloc_size: after a failed 32-bit allocation, requests that big fail fast until a free below 4 GiB', () => {
  const d = new IovaDomain(4096, 1);
  d.reserveIova(1, 0xfffff);
  assert.is(d.allocIovaFast(1, LIMIT32, false), 0);
  assert.is(d.max32AllocSize, 1);
  assert.is(d.allocIovaFast(1, LIMIT48, false), 0xfffffffff, 'above 4 GiB is unaffected');
});

// A seeded generator (no Math.random: tests are deterministic too).
const lcg = (seed: number) => () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;

test('property: random alloc/free keeps ranges disjoint, aligned, within limits; tree stays valid', () => {
  const d = new IovaDomain(4096, 1);
  const rnd = lcg(7);
  const live = new Map<number, number>();
  for (let i = 0; i < 6000; i++) {
    if (rnd() < 0.6 || live.size === 0) {
      const size = 1 + Math.floor(rnd() * 48);
      const limit = rnd() < 0.5 ? 0x3ffff : LIMIT48;
      const p = d.allocIovaFast(size, limit, true);
      if (!p) continue;
      const r = d.findIova(p)!;
      const len = r.hi - r.lo + 1;
      assert.ok(r.hi <= limit, 'below the limit');
      assert.is(r.lo % roundupPowOfTwo(size), 0, 'size-aligned');
      assert.ok(len >= size);
      live.set(p, size);
    } else {
      const keys = [...live.keys()];
      const p = keys[Math.floor(rnd() * keys.length)]!;
      d.freeIovaFast(p, live.get(p)!);
      live.delete(p);
    }
  }
  assert.is(d.checkTree(), undefined);
  const rs = d.ranges().ranges;
  for (let i = 1; i < rs.length; i++) assert.ok(rs[i]!.lo > rs[i - 1]!.hi, 'disjoint and sorted');
  for (const p of live.keys()) assert.is(d.ranges().ranges.find((r) => r.lo === p)!.kind, 'allocated');
});

test('saveState/restoreState: the restored allocator makes the same choices', () => {
  const d = new IovaDomain(4096, 1);
  const rnd = lcg(3);
  const live: [number, number][] = [];
  for (let i = 0; i < 500; i++) {
    if (rnd() < 0.7 || !live.length) {
      const s = 1 + Math.floor(rnd() * 40);
      const p = d.allocIovaFast(s, LIMIT32, true);
      if (p) live.push([p, s]);
    } else {
      const [p, s] = live.splice(Math.floor(rnd() * live.length), 1)[0]!;
      d.freeIovaFast(p, s);
    }
  }
  const snap = d.saveState();
  assert.is(d.saveState(), snap, 'an unchanged domain hands out the same snapshot (cheap undo)');
  const a = [1, 3, 40, 1, 8].map((s) => d.allocIovaFast(s, LIMIT32, true));
  d.restoreState(snap);
  assert.is(d.checkTree(), undefined);
  const b = [1, 3, 40, 1, 8].map((s) => d.allocIovaFast(s, LIMIT32, true));
  assert.equal(b, a);
  const e = new IovaDomain(4096, 1);
  e.restoreState(snap);
  assert.equal([1, 3, 40, 1, 8].map((s) => e.allocIovaFast(s, LIMIT32, true)), a);
});

test('IOVA_MAG_SIZE is 127 on current kernels', () => {
  assert.is(IOVA_MAG_SIZE, 127);
});

test.run();
