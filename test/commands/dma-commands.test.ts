/**
 * dma map / unmap / alloc and iova on QEMU virt with an SMMUv3: a
 * translated modern virtio-blk (iommu_platform=on, disable-legacy=on), an
 * identity-domain device (dma-direct), a forced swiotlb, and the error
 * paths. IOVA expectations from REFERENCE.md 4.5 (top-down below 4 GiB for
 * PCI devices, size-aligned, page offset kept); the physical side is the
 * buffer given to the command.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSession } from '../../src/commands/index.ts';
import { dmaBitMask } from '../../src/machine/u64.ts';
import { booted, fails, ok, spanText, text } from './helpers.ts';

const TRANSLATED = 'vda.iommu_platform=on vda.disable-legacy=on';
type MapData = { dma: bigint; ops: string; pages: { iova: bigint; pa: bigint | undefined }[]; deviceOk: boolean; deviceReaches?: bigint };
type WalkData = { ok: boolean; pa?: bigint; fault?: { name: string } };
const hx = (v: bigint): string => `0x${v.toString(16)}`;

test('iommu-dma: dma map gives an IOVA from the top of the 32-bit space, mapped to the buffer; unmap removes it', () => {
  const s = booted('qemu-virt-smmuv3', TRANSLATED);
  const r = ok(s, 'dma map vda 0x41000123 100 to_device');
  const d = r.data as MapData;
  assert.is(d.ops, 'iommu-dma');
  assert.ok(d.dma < 1n << 32n && d.dma >= (1n << 32n) - (1n << 20n), `IOVA ${hx(d.dma)} sits just below 4 GiB`);
  assert.is(d.dma & 0xfffn, 0x123n, 'the offset in the page is kept');
  assert.equal(d.pages, [{ iova: d.dma & ~0xfffn, pa: 0x41000000n }]);
  assert.ok(d.deviceOk);
  assert.is(d.deviceReaches, 0x41000123n);
  assert.match(text(r), 'served by iommu-dma');
  const w = ok(s, `walk vda ${hx(d.dma)}`).data as WalkData;
  assert.equal([w.ok, w.pa], [true, 0x41000123n]);
  // TO_DEVICE maps read-only (REFERENCE.md 2.3: AP[2] set): a device write faults.
  assert.is((ok(s, `walk vda ${hx(d.dma)} access=write`).data as WalkData).fault?.name, 'F_PERMISSION');
  // LEN and DIR remembered from dma map
  const u = ok(s, `dma unmap vda ${hx(d.dma)}`);
  assert.equal((u.data as { len: number; dir: string; remembered: boolean }).len, 100);
  assert.is((u.data as { dir: string }).dir, 'DMA_TO_DEVICE');
  assert.is((ok(s, `walk vda ${hx(d.dma)}`).data as WalkData).fault?.name, 'F_TRANSLATION');
});

test('iommu-dma: a 3-page map is rounded to 4 pages and size-aligned; $ holds the DMA address', () => {
  const s = booted('qemu-virt-smmuv3', TRANSLATED);
  const d = ok(s, 'dma map vda 0x41000000 3*4K bidirectional').data as MapData;
  assert.is(d.dma % 0x4000n, 0n, 'a 4-page allocation is 4-page aligned (REFERENCE.md 4.5)');
  assert.equal(d.pages.map((p) => p.pa), [0x41000000n, 0x41001000n, 0x41002000n]);
  const iova = ok(s, 'iova vda').data as { rows: { start: bigint; end: bigint; kind: string }[] };
  assert.ok(iova.rows.some((x) => x.kind === 'allocated' && x.start === d.dma && x.end === d.dma + 0x4000n - 1n), 'the allocator holds the rounded range');
  ok(s, 'dma unmap vda $');
  assert.is((ok(s, `walk vda ${hx(d.dma + 0x2000n)}`).data as WalkData).ok, false);
});

test('dma alloc: zeroed coherent memory, its handle translated to it; dma unmap frees it', () => {
  const s = booted('qemu-virt-smmuv3', TRANSLATED);
  const a = ok(s, 'dma alloc vda 4096').data as { pa: bigint; dma: bigint; ops: string };
  assert.is(a.ops, 'iommu-dma');
  assert.ok(a.dma < 1n << 32n);
  assert.is((ok(s, `walk vda ${hx(a.dma)} access=write`).data as WalkData).pa, a.pa);
  assert.ok(s.machine.memory.read(a.pa, 4096).every((b) => b === 0));
  const u = ok(s, 'dma unmap vda $');
  assert.ok((u.data as { coherent: boolean }).coherent);
  assert.match(text(u), 'dma_free_coherent');
  assert.is((ok(s, `walk vda ${hx(a.dma)}`).data as WalkData).ok, false);
});

test('undo after dma map removes the mapping: the walk fails again', () => {
  const s = booted('qemu-virt-smmuv3', TRANSLATED);
  const d = ok(s, 'dma map vda 0x41000000 4096 from_device').data as MapData;
  assert.ok((ok(s, `walk vda ${hx(d.dma)} access=write`).data as WalkData).ok);
  ok(s, 'undo');
  assert.is((ok(s, `walk vda ${hx(d.dma)}`).data as WalkData).fault?.name, 'F_TRANSLATION');
  // and the remembered length went with it
  assert.match(fails(s, `dma unmap vda ${hx(d.dma)}`).message, 'give its length');
});

test('identity domain: dma-direct, the DMA address is the physical address', () => {
  const s = booted('qemu-virt-smmuv3', 'iommu.passthrough=1');
  const d = ok(s, 'dma map vda 0x41000000 4096 to_device').data as MapData;
  assert.is(d.ops, 'dma-direct');
  assert.is(d.dma, 0x41000000n);
  assert.equal(d.pages, []);
  assert.ok(d.deviceOk);
  assert.match(text(ok(s, 'dma unmap vda $')), 'dma-direct');
  const a = ok(s, 'dma alloc vda 8192').data as { pa: bigint; dma: bigint; ops: string };
  assert.equal([a.ops, a.dma], ['dma-direct', a.pa]);
  assert.match(text(ok(s, 'iova vda')), 'no IOVA allocator');
});

test('swiotlb=force: dma-direct bounces, the device is given the slot', () => {
  const s = booted('qemu-virt-smmuv3', 'iommu.passthrough=1 swiotlb=65536,force');
  s.machine.memory.write64(0x41000000n, 0x1122334455667788n);
  const d = ok(s, 'dma map vda 0x41000000 4096 to_device').data as MapData & { bounceSlot: bigint };
  assert.is(d.ops, 'swiotlb');
  assert.ok(d.dma !== 0x41000000n);
  assert.is(d.bounceSlot, d.dma);
  assert.is(s.machine.memory.read64(d.dma), 0x1122334455667788n, 'TO_DEVICE copies the buffer into the slot');
  ok(s, 'dma unmap vda $');
});

test('a device that bypasses the SMMU but got iommu-dma ops: the IOVA does not reach the buffer', () => {
  const s = booted('qemu-virt-smmuv3');
  const r = ok(s, 'dma map vda 0x41000000 4096 to_device');
  const d = r.data as MapData;
  assert.is(d.ops, 'iommu-dma');
  assert.is(d.deviceOk, false);
  assert.is(d.deviceReaches, d.dma, 'a bypassing device uses the IOVA as a physical address');
  assert.match(text(r), 'bypasses the IOMMU');
});

test('DMA_MAPPING_ERROR is a clear error and leaves the machine unchanged', () => {
  const s = createSession('qemu-virt-smmuv3');
  ok(s, 'boot ram=8G iommu.passthrough=1 swiotlb=65536,noforce');
  const dev = s.system.linux!.device('vda')!;
  dev.dmaMask = dmaBitMask(32);
  const depth = s.undoDepth;
  const line = 'dma map vda 0x200000000 4096 to_device';
  const e = fails(s, line);
  assert.match(e.message, 'returned DMA_MAPPING_ERROR');
  assert.match(e.message, 'overflow');
  assert.ok(e.span);
  assert.is(s.undoDepth, depth);
  assert.is(s.kernel.dmesg().filter((l) => l.text.includes('overflow')).length, 0, 'the failed command was rolled back, log included');
});

test('dma error paths: no boot, bad device, bad direction, not RAM, zero length, unknown unmap', () => {
  const cold = createSession('qemu-virt-smmuv3');
  let line = 'dma map vda 0x41000000 4096 to_device';
  let e = fails(cold, line);
  assert.is(e.message, "the kernel has not booted: run 'boot' first");
  assert.is(spanText(line, e), 'vda');
  const s = booted('qemu-virt-smmuv3', TRANSLATED);
  line = 'dma map vdq 0x41000000 4096 to_device';
  e = fails(s, line);
  assert.match(e.message, "no device 'vdq'");
  assert.is(spanText(line, e), 'vdq');
  line = 'dma map vda 0x41000000 4096 sideways';
  e = fails(s, line);
  assert.match(e.message, "'sideways' is not a valid dir");
  assert.is(spanText(line, e), 'sideways');
  assert.match(e.expected!, 'to_device');
  line = 'dma map vda 0x1000 4096 to_device';
  e = fails(s, line);
  assert.match(e.message, 'is not RAM');
  assert.is(spanText(line, e), '0x1000');
  line = 'dma map vda 0x41000000 0 to_device';
  e = fails(s, line);
  assert.match(e.message, 'at least 1 byte');
  assert.is(spanText(line, e), '0');
  line = 'dma unmap vda 0xfff00000';
  e = fails(s, line);
  assert.match(e.message, 'give its length');
  assert.is(spanText(line, e), '0xfff00000');
  line = 'dma unmap vda 0xfff00000 4096';
  e = fails(s, line);
  assert.match(e.message, 'nothing is mapped at IOVA 0xfff00000');
  assert.is(spanText(line, e), '0xfff00000');
  // Linux's enum names are accepted too
  assert.is((ok(s, 'dma map vda 0x41000000 4096 DMA_BIDIRECTIONAL').data as MapData).ops, 'iommu-dma');
});

test.run();
