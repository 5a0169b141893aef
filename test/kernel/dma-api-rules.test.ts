// Issue 14: the CPU cache on a non-coherent device, arm64's arch_sync_dma_*
// on it, swiotlb copies tied to the syncs, and every DMA-API debug report in
// the words of kernel/dma/debug.c (format strings checked against the
// kernel's; the device prefix is "<driver> <dev_name>: " as err_printk prints it).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSession, type Session } from '../../src/commands/index.ts';
import { PhysicalMemory } from '../../src/machine/memory.ts';
import { CpuCache } from '../../src/machine/cache.ts';
import { dcacheInvalPoc, archSyncDmaForCpu } from '../../src/kernel/arch-dma.ts';
import { DMA_TO_DEVICE, DMA_FROM_DEVICE } from '../../src/kernel/types.ts';

const BUF = 0x5000_0000n;
const PFX = 'DMA-API: virtio-pci 0000:00:01.0: ';

function boot(opts: string): Session {
  const s = createSession('qemu-virt-smmuv3');
  const o = s.execute(`boot vda.iommu_platform=on ${opts}`);
  assert.ok(o.ok, 'boot');
  return s;
}
function run(s: Session, line: string) {
  const o = s.execute(line);
  if (!o.ok) throw new Error(`${line}: ${o.error.message}`);
  return o.empty ? undefined : o.result;
}
const cpu = (s: Session, len = 16): number[] => [...s.machine.cpuRead(BUF, len)];
const newLog = (s: Session, from: number): string[] => s.kernel.dmesg().slice(from).map((l) => l.text);

// ---- the cache model's paths ---------------------------------------------------------

test('dcache_inval_poc cleans+invalidates a partial line at either end, drops whole lines', () => {
  const mem = new PhysicalMemory();
  mem.addRegion({ name: 'ram', base: 0n, size: 1n << 20n, kind: 'ram' });
  const c = new CpuCache(mem);
  c.write(0x1000n, new Uint8Array(192).fill(0x11)); // three dirty lines 0x1000..0x10bf
  dcacheInvalPoc(c, 0x1020n, 0x80); // [0x1020, 0x10a0): partial, whole, partial
  // The partial lines were written back (civac): the CPU's bytes outside the buffer survive...
  assert.equal([...mem.read(0x1000n, 64)], new Array(64).fill(0x11));
  assert.equal([...mem.read(0x1080n, 64)], new Array(64).fill(0x11));
  // ...the whole line in between was dropped dirty (dc ivac): its bytes never reach RAM...
  assert.equal([...mem.read(0x1040n, 64)], new Array(64).fill(0));
  assert.is(c.stats.dropped, 1);
  // ...and every line of the range is gone from the cache.
  assert.is(c.linesIn(0x1000n, 192).length, 0);
});

test('arch_sync_dma_for_cpu does nothing for DMA_TO_DEVICE, invalidates otherwise', () => {
  const mem = new PhysicalMemory();
  mem.addRegion({ name: 'ram', base: 0n, size: 1n << 20n, kind: 'ram' });
  const c = new CpuCache(mem);
  c.read(0x3000n, 64);
  assert.is(archSyncDmaForCpu(c, 0x3000n, 64, DMA_TO_DEVICE), undefined);
  assert.is(c.size, 1);
  assert.is(archSyncDmaForCpu(c, 0x3000n, 64, DMA_FROM_DEVICE)?.op, 'inval');
  assert.is(c.size, 0);
});

test('non-coherent FROM_DEVICE: the CPU reads a stale line until dma_sync_single_for_cpu', () => {
  const s = boot('iommu.passthrough=1 vda.coherent=no');
  assert.ok(s.machine.cpuCache, 'a cache is modelled');
  run(s, `cpu write ${BUF} 0 2048`);
  run(s, `dma map vda ${BUF} 2048 from_device`);
  // dma_map cleaned: RAM has the zeroes, the lines stay (clean).
  assert.is(s.machine.memory.read(BUF, 1)[0], 0);
  run(s, 'devdma write vda $ 0xab 2048');
  assert.is(s.machine.memory.read(BUF, 1)[0], 0xab, 'the device wrote RAM');
  assert.equal(cpu(s), new Array(16).fill(0), 'the CPU still sees its cached zeroes');
  run(s, 'dma sync vda $ for_cpu');
  assert.equal(cpu(s), new Array(16).fill(0xab));
});

test('non-coherent TO_DEVICE: the device reads stale RAM unless the map cleans', () => {
  const s = boot('iommu.passthrough=1 vda.coherent=no');
  run(s, `cpu write ${BUF} 0x5a 64`);
  assert.is(s.machine.memory.read(BUF, 1)[0], 0, 'the store is only in the cache');
  const r = run(s, 'devdma read vda 0x50000000 4')!.data as { outcome: { data: Uint8Array } };
  assert.equal([...r.outcome.data], [0, 0, 0, 0], 'a non-coherent device reads RAM');
  run(s, `dma map vda ${BUF} 64 to_device`);
  const r2 = run(s, 'devdma read vda $ 4')!.data as { outcome: { data: Uint8Array } };
  assert.equal([...r2.outcome.data], [0x5a, 0x5a, 0x5a, 0x5a], 'dma_map_single cleaned the line');
});

test('a coherent device snoops: no stale bytes either way, and no cache is modelled', () => {
  const s = boot('iommu.passthrough=1');
  assert.is(s.machine.cpuCache, undefined);
  run(s, `cpu write ${BUF} 0 64`);
  run(s, `dma map vda ${BUF} 64 from_device`);
  run(s, 'devdma write vda $ 0xcd 64');
  assert.equal(cpu(s, 4), [0xcd, 0xcd, 0xcd, 0xcd]);
});

test('swiotlb=force: the bounce is copied back on sync_for_cpu, not before', () => {
  const s = boot('iommu.passthrough=1 swiotlb=force');
  run(s, `dma map vda ${BUF} 2048 from_device`);
  const slot = s.env.last!;
  assert.ok(slot !== BUF, 'a bounce slot');
  run(s, 'devdma write vda $ 0xab 2048');
  assert.equal(cpu(s, 4), [0, 0, 0, 0], 'the data is still in the slot');
  const r = run(s, 'dma sync vda $ for_cpu')!;
  assert.is((r.data as { bounces: number }).bounces, 1);
  assert.equal(cpu(s, 4), [0xab, 0xab, 0xab, 0xab]);
  // sync_for_device of a FROM_DEVICE mapping copies nothing in (swiotlb_sync_single_for_device).
  const r2 = run(s, 'dma sync vda $ for_device')!;
  assert.is((r2.data as { bounces: number }).bounces, 0);
});

test('dma_alloc_coherent for a non-coherent device is non-cacheable: CPU stores reach RAM', () => {
  const s = boot('iommu.passthrough=1 vda.coherent=no');
  const r = run(s, 'dma alloc vda 4096')!.data as { pa: bigint };
  run(s, `cpu write ${r.pa} 0x77 64`);
  assert.is(s.machine.memory.read(r.pa, 1)[0], 0x77);
  assert.ok(s.machine.cpuCache!.uncachedAt(r.pa));
});

test('iommu-dma merges a scatterlist whose entries meet on page boundaries', () => {
  const s = boot('iommu.passthrough=0');
  const r = run(s, 'dma map-sg vda 0x50000000:4096,0x50003000:4096,0x50004000:512 to_device')!.data as { nents: number };
  assert.is(r.nents, 1, 'three entries, one IOVA-contiguous segment');
  const s2 = boot('iommu.passthrough=1');
  const r2 = run(s2, 'dma map-sg vda 0x50000000:4096,0x50003000:4096,0x50004000:512 to_device')!.data as { nents: number };
  assert.is(r2.nents, 3, 'dma-direct: one segment per entry');
});

// ---- DMA-API debug: each report --------------------------------------------------------

function dbg(opts = 'iommu.passthrough=1'): Session {
  return boot(`${opts} dma-api-debug=all`);
}

test('dma-debug: boot lines as dma_debug_init prints them; dma_debug=off turns it off', () => {
  const s = dbg();
  const log = s.kernel.dmesg().map((l) => l.text);
  assert.ok(log.includes('DMA-API: preallocated 65536 debug entries'));
  assert.ok(log.includes('DMA-API: debugging enabled by kernel config'));
  const off = boot('dma-api-debug=on cmdline=dma_debug=off');
  assert.ok(off.kernel.dmesg().some((l) => l.text === 'DMA-API: debugging disabled on kernel command line'));
  assert.not.ok(off.system.linux!.dma.debug?.enabled);
});

test('dma-debug: double unmap = "tries to free DMA memory it has not allocated"', () => {
  const s = dbg();
  run(s, `dma map vda ${BUF} 2048 from_device`);
  run(s, 'dma mapping-error vda $');
  run(s, 'dma unmap vda $');
  const n = s.kernel.dmesg().length;
  run(s, 'dma unmap vda 0x50000000 2048 dir=from_device');
  assert.equal(newLog(s, n), [`${PFX}device driver tries to free DMA memory it has not allocated [device address=0x0000000050000000] [size=2048 bytes]`]);
});

test('dma-debug: unmap with a different size and a different direction', () => {
  const s = dbg();
  run(s, `dma map vda ${BUF} 2048 from_device`);
  run(s, 'dma mapping-error vda $');
  const n = s.kernel.dmesg().length;
  run(s, 'dma unmap vda $ 1024 dir=to_device');
  assert.equal(newLog(s, n), [
    `${PFX}device driver frees DMA memory with different size [device address=0x0000000050000000] [map size=2048 bytes] [unmap size=1024 bytes]`,
    `${PFX}device driver frees DMA memory with different direction [device address=0x0000000050000000] [size=2048 bytes] [mapped with DMA_FROM_DEVICE] [unmapped with DMA_TO_DEVICE]`,
  ]);
});

test('dma-debug: unmap without dma_mapping_error = "failed to check map error"', () => {
  const s = dbg();
  run(s, `dma map vda ${BUF} 512 to_device`);
  const n = s.kernel.dmesg().length;
  run(s, 'dma unmap vda $');
  assert.equal(newLog(s, n), [`${PFX}device driver failed to check map error[device address=0x0000000050000000] [size=512 bytes] [mapped as single]`]);
});

test('dma-debug: sync of an unmapped address, and syncs in the wrong direction', () => {
  const s = dbg();
  let n = s.kernel.dmesg().length;
  run(s, 'dma sync vda 0x50000000 for_cpu 64 dir=from_device');
  assert.equal(newLog(s, n), [`${PFX}device driver tries to sync DMA memory it has not allocated [device address=0x0000000050000000] [size=64 bytes]`]);
  run(s, `dma map vda ${BUF} 2048 to_device`);
  n = s.kernel.dmesg().length;
  run(s, 'dma sync vda $ for_cpu dir=from_device');
  assert.equal(newLog(s, n), [
    `${PFX}device driver syncs DMA memory with different direction [device address=0x0000000050000000] [size=2048 bytes] [mapped with DMA_TO_DEVICE] [synced with DMA_FROM_DEVICE]`,
    `${PFX}device driver syncs device read-only DMA memory for cpu [device address=0x0000000050000000] [size=2048 bytes] [mapped with DMA_TO_DEVICE] [synced with DMA_FROM_DEVICE]`,
  ]);
  n = s.kernel.dmesg().length;
  run(s, 'dma sync vda $ for_cpu 4096');
  assert.equal(newLog(s, n), [`${PFX}device driver syncs DMA memory outside allocated range [device address=0x0000000050000000] [allocation size=2048 bytes] [sync offset+size=4096]`]);
});

test('dma-debug: a CPU access while the device owns the buffer (debug_dma_assert_idle text)', () => {
  const s = dbg();
  run(s, `dma map vda ${BUF} 2048 from_device`);
  const n = s.kernel.dmesg().length;
  run(s, `cpu read ${BUF + 0x40n} 16`);
  // cln = PA >> L1_CACHE_SHIFT (6), printed with %pa.
  assert.equal(newLog(s, n), [`${PFX}cpu touching an active dma mapped cacheline [cln=0x0000000001400001]`]);
  run(s, 'dma sync vda $ for_cpu');
  const m = s.kernel.dmesg().length;
  run(s, `cpu read ${BUF} 16`);
  assert.equal(newLog(s, m), [], 'after sync_for_cpu the CPU owns it');
});

test('dma-debug: a device access after unmap is reported by the lab (no kernel can see it)', () => {
  const s = dbg();
  run(s, `dma map vda ${BUF} 2048 from_device`);
  run(s, 'dma mapping-error vda $');
  run(s, 'dma unmap vda $');
  const n = s.kernel.dmesg().length;
  run(s, 'devdma write vda 0x50000000 0xab 64');
  const l = newLog(s, n);
  assert.is(l.length, 1);
  assert.match(l[0]!, /^dma-lab: virtio-pci 0000:00:01\.0: the device wrote 64 bytes at device address 0x0000000050000000 after dma_unmap_single\(\)/);
  // With a strict IOMMU the same access faults instead (nothing to report).
  const t = dbg('iommu.passthrough=0 iommu.strict=1');
  run(t, `dma map vda ${BUF} 2048 from_device`);
  run(t, 'dma mapping-error vda $');
  const iova = t.env.last!;
  run(t, 'dma unmap vda $');
  const r = run(t, `devdma write vda ${iova} 0xab 64`)!.data as { outcome: { ok: boolean } };
  assert.is(r.outcome.ok, false);
});

test('dma-debug: two receive buffers in one cacheline = "cacheline tracking EEXIST"', () => {
  const s = dbg();
  run(s, `dma map vda ${BUF} 32 from_device`);
  const n = s.kernel.dmesg().length;
  run(s, `dma map vda ${BUF + 32n} 32 from_device`);
  assert.equal(newLog(s, n), [`${PFX}cacheline tracking EEXIST, overlapping mappings aren't supported`]);
  // DMA_TO_DEVICE mappings are not tracked: the device does not write them.
  const m = s.kernel.dmesg().length;
  run(s, `dma map vda ${BUF + 0x1000n} 32 to_device`);
  run(s, `dma map vda ${BUF + 0x1020n} 32 to_device`);
  assert.equal(newLog(s, m), []);
});

test('dma-debug: only the first error is printed unless all errors are asked for', () => {
  const s = boot('iommu.passthrough=1 dma-api-debug=on');
  const n = s.kernel.dmesg().length;
  run(s, 'dma unmap vda 0x50000000 64');
  run(s, 'dma unmap vda 0x50001000 64');
  assert.is(newLog(s, n).filter((l) => l.startsWith('DMA-API')).length, 1);
  assert.is(s.system.linux!.dma.debug!.errorCount, 2);
});

test('dma check: a broken receive path fails where it breaks, the fixed one passes everywhere', () => {
  const s = createSession('qemu-virt-smmuv3');
  const bad = 'cpu write 0x50000000 0 2048; dma map vda 0x50000000 2048 from_device; dma mapping-error vda $; devdma write vda $ 0xab 2048; cpu read 0x50000000 2048 expect=0xab; dma unmap vda $';
  const good = 'cpu write 0x50000000 0 2048; dma map vda 0x50000000 2048 from_device; dma mapping-error vda $; devdma write vda $ 0xab 2048; dma sync vda $ for_cpu; cpu read 0x50000000 2048 expect=0xab; dma unmap vda $';
  const rb = run(s, `dma check "${bad}"`)!.data as { passed: number; rows: { config: string; pass: boolean; failedAt: number }[] };
  assert.is(rb.passed, 0);
  assert.is(rb.rows.find((r) => r.config === 'non-coherent')!.failedAt, 5, 'stale bytes at the read');
  assert.is(rb.rows.find((r) => r.config === 'swiotlb=force')!.failedAt, 5, 'no copy back at the read');
  const rg = run(s, `dma check "${good}"`)!.data as { passed: number };
  assert.is(rg.passed, 4);
  assert.is(s.system.linux, undefined, "the session's machine was not booted or touched");
});

test.run();
