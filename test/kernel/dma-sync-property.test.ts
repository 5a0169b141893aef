/**
 * Property tests of the DMA API's cache rules on a non-coherent device
 * (issue 14), at the arch level (kernel/arch-dma.ts over machine/cache.ts):
 * for any buffer (any alignment and length), any bytes the CPU had written
 * around it and any bytes the device writes into it,
 *   - after arch_sync_dma_for_device (the map) the device reads what the CPU wrote;
 *   - after the device writes and arch_sync_dma_for_cpu, the CPU reads the device's
 *     bytes inside the buffer and its own bytes outside it (dcache_inval_poc cleans
 *     a partial line at either end: nothing next to the buffer is lost);
 *   - without the sync, the CPU's cached copy hides the device's bytes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { PhysicalMemory } from '../../src/machine/memory.ts';
import { CpuCache, CACHE_LINE } from '../../src/machine/cache.ts';
import { archSyncDmaForCpu, archSyncDmaForDevice } from '../../src/kernel/arch-dma.ts';
import { DMA_FROM_DEVICE, DMA_TO_DEVICE } from '../../src/kernel/types.ts';

const BASE = 0x10000n;
const SPAN = 1024; // the area around the buffer the CPU dirtied

function setup(cpuByte: number) {
  const mem = new PhysicalMemory();
  mem.addRegion({ name: 'ram', base: 0n, size: 1n << 20n, kind: 'ram' });
  const c = new CpuCache(mem);
  c.write(BASE, new Uint8Array(SPAN).fill(cpuByte));
  return { mem, c };
}

const buf = fc.record({ off: fc.integer({ min: 0, max: 400 }), len: fc.integer({ min: 1, max: 500 }), cpu: fc.integer({ min: 1, max: 0x7f }), dev: fc.integer({ min: 0x80, max: 0xff }) });

test('map cleans: a non-coherent device reads what the CPU wrote (DMA_TO_DEVICE)', () => {
  fc.assert(
    fc.property(buf, ({ off, len, cpu }) => {
      const { mem, c } = setup(cpu);
      const pa = BASE + BigInt(off);
      archSyncDmaForDevice(c, pa, len, DMA_TO_DEVICE);
      assert.ok(mem.read(pa, len).every((b) => b === cpu));
    }),
    { numRuns: 200, seed: 14 },
  );
});

test('sync for the CPU: the device\'s bytes inside the buffer, the CPU\'s own bytes outside it', () => {
  fc.assert(
    fc.property(buf, ({ off, len, cpu, dev }) => {
      const { mem, c } = setup(cpu);
      const pa = BASE + BigInt(off);
      archSyncDmaForDevice(c, pa, len, DMA_FROM_DEVICE); // dma_map_single
      mem.write(pa, new Uint8Array(len).fill(dev)); // the device writes RAM
      const stale = c.read(pa, 1)[0];
      assert.is(stale, cpu, 'without a sync the CPU sees its cached copy');
      archSyncDmaForCpu(c, pa, len, DMA_FROM_DEVICE); // dma_sync_single_for_cpu
      const view = c.read(BASE, SPAN);
      for (let i = 0; i < SPAN; i++) {
        const inside = i >= off && i < off + len;
        // Bytes in the buffer's first/last line but outside it were cleaned before the invalidate.
        assert.is(view[i], inside ? dev : cpu, `byte ${i} (${inside ? 'inside' : 'outside'}; buffer ${off}+${len}, line ${CACHE_LINE})`);
      }
    }),
    { numRuns: 200, seed: 14 },
  );
});

test('DMA_TO_DEVICE: sync for the CPU does no maintenance, the CPU keeps its bytes', () => {
  fc.assert(
    fc.property(buf, ({ off, len, cpu }) => {
      const { c } = setup(cpu);
      const pa = BASE + BigInt(off);
      archSyncDmaForDevice(c, pa, len, DMA_TO_DEVICE);
      const before = c.size;
      assert.is(archSyncDmaForCpu(c, pa, len, DMA_TO_DEVICE), undefined);
      assert.is(c.size, before);
    }),
    { numRuns: 100, seed: 14 },
  );
});

test('a CPU store next to a buffer that shares its cache line, during the DMA, clobbers the received bytes', () => {
  // Why DMA buffers are cache-line aligned (ARCH_DMA_MINALIGN): the partial
  // line is dirty again when dcache_inval_poc cleans it, and the whole line goes back to RAM.
  const { mem, c } = setup(0x11);
  const pa = BASE + 32n; // the buffer starts mid-line
  archSyncDmaForDevice(c, pa, 256, DMA_FROM_DEVICE);
  mem.write(pa, new Uint8Array(256).fill(0xab));
  c.write(BASE, new Uint8Array([0x22])); // a neighbouring variable in the buffer's first line
  archSyncDmaForCpu(c, pa, 256, DMA_FROM_DEVICE);
  assert.is(c.read(pa, 1)[0], 0x11, 'the first line came back with the CPU\'s stale copy');
  assert.is(c.read(pa + 64n, 1)[0], 0xab, 'whole lines hold the device\'s bytes');
});

test.run();
