// io-pgtable-arm stage 1: PTE values from REFERENCE 2.3, table building in memory, blocks, unmap, and
// a cross-check that the SMMU model's walk of the same bytes agrees with iova_to_phys.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PhysicalMemory } from '../../src/machine/memory.ts';
import { PageAllocator } from '../../src/kernel/page-alloc.ts';
import {
  allocIoPgtableArmS1, armLpaeMap, armLpaeUnmap, armLpaeIovaToPhys, armLpaeProtToPte, freeIoPgtable, iommuPgsize, IoPgtableError,
  ARM_LPAE_PTE_TYPE_PAGE, SZ_2M, SZ_1G, SZ_4K,
} from '../../src/kernel/io-pgtable-arm.ts';
import { IOMMU_READ, IOMMU_WRITE, IOMMU_CACHE, IOMMU_NOEXEC, IOMMU_MMIO, IOMMU_PRIV } from '../../src/kernel/types.ts';
import { walkVmsa } from '../../src/machine/smmuv3/vmsa.ts';

const RW = IOMMU_READ | IOMMU_WRITE;
const page = (prot: number, pa: bigint, sh: 'current' | 'legacy' = 'current'): bigint => armLpaeProtToPte(prot, sh) | pa | ARM_LPAE_PTE_TYPE_PAGE;

test('REFERENCE 2.3 PTE examples', () => {
  assert.is(page(RW | IOMMU_CACHE, 0x8000_0000n), 0x0000_0000_8000_0f47n);
  assert.is(page(IOMMU_READ | IOMMU_CACHE, 0x8000_0000n), 0x0000_0000_8000_0fc7n);
  assert.is(page(RW | IOMMU_CACHE | IOMMU_NOEXEC, 0x8000_0000n), 0x0000_0000_8000_0f47n + 0x0060_0000_0000_0000n);
  assert.is(page(RW | IOMMU_MMIO | IOMMU_NOEXEC, 0x8000_0000n), 0x0060_0000_8000_0e4bn);
  assert.is(page(RW | IOMMU_MMIO | IOMMU_NOEXEC, 0x8000_0000n, 'legacy'), 0x0060_0000_8000_0f4bn);
  // Non-cacheable RW: AttrIndx 0, SH outer (current rule).
  assert.is(page(RW, 0x8000_0000n), 0x0000_0000_8000_0e43n);
  // IOMMU_PRIV drops AP[1].
  assert.is(page(RW | IOMMU_CACHE | IOMMU_PRIV, 0x8000_0000n), 0x0000_0000_8000_0f07n);
});

function ctx() {
  const memory = new PhysicalMemory();
  memory.addRegion({ name: 'ram', base: 0x4000_0000n, size: 0x4000_0000n, kind: 'ram' });
  const pages = new PageAllocator([{ base: 0x4000_0000n, size: 0x100_0000n }]);
  return { memory, pages };
}

test('TCR and MAIR for a 48-bit coherent table; legacy MAIR has no index 3', () => {
  const c = ctx();
  const t = allocIoPgtableArmS1(c, { ias: 48, oas: 48 });
  assert.equal(t.tcr, { t0sz: 16, tg: 0, irgn: 1, orgn: 1, sh: 3, ips: 5 });
  assert.is(t.startLevel, 0);
  assert.is(t.mair, 0xf404_ff44n);
  assert.is(allocIoPgtableArmS1(c, { ias: 48, oas: 48, mairIncOcache: false }).mair, 0x0004_ff44n);
  assert.equal(allocIoPgtableArmS1(c, { ias: 48, oas: 40, coherentWalk: false }).tcr, { t0sz: 16, tg: 0, irgn: 0, orgn: 0, sh: 2, ips: 2 });
  assert.is(allocIoPgtableArmS1(c, { ias: 39, oas: 48 }).startLevel, 1);
});

test('map a 4K page: four tables in memory, the leaf where REFERENCE 2.1 indexes say', () => {
  const c = ctx();
  const t = allocIoPgtableArmS1(c, { ias: 48, oas: 48 });
  const before = c.pages.allocatedPages;
  assert.is(armLpaeMap(c, t, 0x8fa081000n, 0x4000_1000n, SZ_4K, RW | IOMMU_CACHE), SZ_4K);
  assert.is(c.pages.allocatedPages - before, 3); // L1, L2, L3 tables
  // IOVA 0x8fa081002 -> L0 0, L1 35, L2 464, L3 129 (REFERENCE 2.1)
  const l0e = c.memory.read64(t.pgd);
  assert.is(l0e & 3n, 3n);
  const l1e = c.memory.read64((l0e & 0xffff_ffff_f000n) + 35n * 8n);
  const l2e = c.memory.read64((l1e & 0xffff_ffff_f000n) + 464n * 8n);
  const l3e = c.memory.read64((l2e & 0xffff_ffff_f000n) + 129n * 8n);
  assert.is(l3e, 0x4000_1f47n);
  assert.is(armLpaeIovaToPhys(c, t, 0x8fa081002n), 0x4000_1002n);
  assert.is(armLpaeIovaToPhys(c, t, 0x8fa082000n), undefined);
});

test('2M and 1G blocks where aligned, 4K pages otherwise', () => {
  const c = ctx();
  const t = allocIoPgtableArmS1(c, { ias: 48, oas: 48 });
  assert.is(iommuPgsize(t.pgsizeBitmap, 0x20_0000n, 0x4020_0000n, SZ_2M), SZ_2M);
  assert.is(iommuPgsize(t.pgsizeBitmap, 0x20_1000n, 0x4020_0000n, SZ_2M), SZ_4K);
  armLpaeMap(c, t, 0x20_0000n, 0x4020_0000n, SZ_2M, RW | IOMMU_CACHE);
  const l1 = c.memory.read64(t.pgd) & 0xffff_ffff_f000n;
  const l2 = c.memory.read64(l1) & 0xffff_ffff_f000n;
  assert.is(c.memory.read64(l2 + 8n), 0x4020_0f45n); // block: type 0b01
  assert.is(armLpaeIovaToPhys(c, t, 0x21_2345n), 0x4021_2345n);
  armLpaeMap(c, t, 0x4000_0000n, 0x8000_0000n, SZ_1G, IOMMU_READ | IOMMU_CACHE);
  assert.is(c.memory.read64(l1 + 8n), 0x8000_0fc5n);
  // 2M + 4K, unaligned start: 4K pages up to the 2M boundary, then a block.
  armLpaeMap(c, t, 0x11f_f000n, 0x41ff_f000n, SZ_4K + SZ_2M, RW);
  assert.is(armLpaeIovaToPhys(c, t, 0x11f_f000n), 0x41ff_f000n);
  assert.is(armLpaeIovaToPhys(c, t, 0x13f_f123n), 0x421f_f123n);
  assert.is(c.memory.read64(l2 + 9n * 8n), 0x4200_0e41n); // L2 index 9: a 2M block, NC (AttrIndx 0, SH outer)
});

test('mapping over a mapping is EEXIST; no R/W maps nothing; unaligned is EINVAL', () => {
  const c = ctx();
  const t = allocIoPgtableArmS1(c, { ias: 48, oas: 48 });
  armLpaeMap(c, t, 0x1000n, 0x4000_0000n, SZ_4K, RW);
  assert.throws(() => armLpaeMap(c, t, 0x1000n, 0x4000_1000n, SZ_4K, RW), (e: unknown) => e instanceof IoPgtableError && e.errno === 'EEXIST');
  assert.is(armLpaeMap(c, t, 0x2000n, 0x4000_1000n, SZ_4K, IOMMU_NOEXEC), 0n);
  assert.throws(() => armLpaeMap(c, t, 0x2800n, 0x4000_1000n, SZ_4K, RW), (e: unknown) => e instanceof IoPgtableError && e.errno === 'EINVAL');
  assert.throws(() => armLpaeMap(c, t, 1n << 48n, 0x4000_1000n, SZ_4K, RW), (e: unknown) => e instanceof IoPgtableError && e.errno === 'ERANGE');
});

test('unmap: pages, a whole table-covered 2M range frees the table, part of a block unmaps nothing', () => {
  const c = ctx();
  const t = allocIoPgtableArmS1(c, { ias: 48, oas: 48 });
  for (let i = 0n; i < 512n; i++) armLpaeMap(c, t, 0x20_0000n + i * SZ_4K, 0x4080_0000n + i * SZ_4K, SZ_4K, RW);
  const allocated = c.pages.allocatedPages;
  assert.is(armLpaeUnmap(c, t, 0x20_0000n, SZ_4K), SZ_4K);
  assert.is(armLpaeIovaToPhys(c, t, 0x20_0000n), undefined);
  assert.is(armLpaeUnmap(c, t, 0x20_0000n, SZ_4K), 0n); // already gone
  assert.is(armLpaeUnmap(c, t, 0x20_1000n, SZ_2M - SZ_4K), SZ_2M - SZ_4K);
  assert.is(c.pages.allocatedPages, allocated); // pages cleared, L3 table kept
  armLpaeMap(c, t, 0x20_0000n, 0x4080_0000n, SZ_4K, RW);
  assert.is(armLpaeUnmap(c, t, 0x20_0000n, SZ_2M), SZ_2M); // covers the L3 table: freed
  assert.is(c.pages.allocatedPages, allocated - 1);
  armLpaeMap(c, t, 0x40_0000n, 0x40a0_0000n, SZ_2M, RW);
  assert.is(armLpaeUnmap(c, t, 0x40_0000n, SZ_4K), 0n);
  assert.is(armLpaeIovaToPhys(c, t, 0x40_0000n), 0x40a0_0000n);
  freeIoPgtable(c, t);
});

test('the SMMU walk of io-pgtable bytes agrees with iova_to_phys (deterministic sample)', () => {
  const c = ctx();
  const t = allocIoPgtableArmS1(c, { ias: 48, oas: 48 });
  let seed = 12345;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const maps: [bigint, bigint][] = [];
  for (let i = 0; i < 64; i++) {
    const iova = (BigInt(rnd()) << 12n) & 0xffff_ffff_f000n;
    const pa = 0x4000_0000n + (BigInt(rnd() % 0x3000_0) << 12n);
    try {
      armLpaeMap(c, t, iova, pa, SZ_4K, RW | IOMMU_CACHE);
      maps.push([iova, pa]);
    } catch (e) {
      if (!(e instanceof IoPgtableError)) throw e;
    }
  }
  assert.ok(maps.length > 50);
  for (const [iova, pa] of maps) {
    const w = walkVmsa(c.memory, { stage: 1, ttb: t.pgd, ias: 48, startLevel: 0, oas: 48 }, iova + 0x10n, { write: true, privileged: false, exec: false }, []);
    assert.ok(w.ok && (w.oa | 0x10n) === pa + 0x10n);
    assert.is(armLpaeIovaToPhys(c, t, iova + 0x10n), pa + 0x10n);
  }
});

test.run();
