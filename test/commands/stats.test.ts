/**
 * `stats`: the point of the cost model. One workload (256 `blk read`s of a
 * sector each) on qemu-virt-smmuv3 with a translated virtio-blk
 * (iommu_platform=on), booted three ways (REFERENCE.md 4.4):
 *   iommu.passthrough=1  identity domain: dma-direct, STE bypass
 *   iommu.strict=1       DMA domain: every unmap invalidates and waits
 *   iommu.strict=0       DMA-FQ: unmaps queue; one invalidation per drain
 * gives three cycle totals in the order passthrough < lazy < strict, and
 * the counts behind them differ as they should.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Session } from '../../src/commands/session.ts';
import type { CostCounters, CostCycles } from '../../src/kernel/cost.ts';
import { booted, fails, ok, text } from './helpers.ts';

const READS = 256;
/**
 * Each read maps three buffers (the header, the data, the status byte of a
 * virtio-blk request) and, with VIRTIO_RING_F_INDIRECT_DESC negotiated, the
 * indirect table that holds their three descriptors (virtqueue_add_split:
 * vring_map_single of the table, DMA_TO_DEVICE).
 */
const MAPS = 4 * READS;

interface StatsData {
  since: 'boot' | 'reset';
  baselineDropped: boolean;
  total: { counters: CostCounters; cycles: CostCycles };
  devices: { name: string; alias?: string; counters: CostCounters }[];
  pendingFlushQueue: number;
}
const stats = (s: Session): StatsData => ok(s, 'stats').data as StatsData;

function workload(mode: string): { s: Session; d: StatsData } {
  const s = booted('qemu-virt-smmuv3', `vda.iommu_platform=on ${mode}`);
  ok(s, 'stats reset');
  for (let i = 0; i < READS; i++) ok(s, `blk read vda ${i}`);
  return { s, d: stats(s) };
}

const runs = {
  passthrough: workload('iommu.passthrough=1'),
  strict: workload('iommu.strict=1'),
  lazy: workload('iommu.strict=0'),
};

test('same workload, three modes: passthrough < lazy < strict in modelled cycles', () => {
  const pt = runs.passthrough.d.total.cycles.total;
  const lazy = runs.lazy.d.total.cycles.total;
  const strict = runs.strict.d.total.cycles.total;
  assert.ok(pt < lazy, `passthrough ${pt} < lazy ${lazy}`);
  assert.ok(lazy < strict, `lazy ${lazy} < strict ${strict}`);
  // All three did the same DMA API work.
  for (const r of Object.values(runs)) {
    assert.is(r.d.since, 'reset');
    assert.is(r.d.total.counters.maps, MAPS);
    assert.is(r.d.total.counters.unmaps, MAPS);
    assert.is(r.d.total.counters.mapErrors, 0);
  }
});

test('passthrough: dma-direct, every transaction bypasses translation: no walks, no invalidations', () => {
  const c = runs.passthrough.d.total.counters;
  assert.is(c.iommuMaps, 0);
  assert.ok(c.translations > 0);
  assert.is(c.bypass, c.translations, 'STE Config=bypass for every access');
  assert.equal([c.iotlbHits, c.iotlbMisses, c.walks, c.walkReads], [0, 0, 0, 0]);
  assert.equal([c.invalidations, c.syncs, c.fqFlushes], [0, 0, 0]);
  const y = runs.passthrough.d.total.cycles;
  assert.is(y.total, y.dmaApi, 'only the (cheap) dma-direct calls cost anything');
});

test('strict: one TLBI_NH_VA + CMD_SYNC per unmap (each mapping is one 4 KiB page)', () => {
  const c = runs.strict.d.total.counters;
  assert.is(c.iommuMaps, MAPS);
  assert.is(c.iotlbSyncs, MAPS);
  assert.is(c.invalidations, MAPS);
  assert.is(c.syncs, MAPS);
  assert.is(c.fqQueued, 0);
  // Each buffer's IOVA is new to the IOTLB (the last one was invalidated): a miss and a 4-level walk.
  assert.ok(c.iotlbMisses >= MAPS);
  assert.is(c.walkReads, 4 * c.walks);
  assert.ok(runs.strict.d.total.cycles.syncs > runs.strict.d.total.cycles.walks, 'waiting for syncs dominates');
});

test('lazy: the unmaps queue their IOVAs; invalidations come batched, one TLBI_NH_ASID + CMD_SYNC per drained queue', () => {
  const c = runs.lazy.d.total.counters;
  assert.is(c.iommuMaps, MAPS);
  assert.is(c.iotlbSyncs, 0);
  assert.is(c.fqQueued, MAPS);
  assert.ok(c.fqFlushes >= 1 && c.fqFlushes <= Math.ceil(MAPS / 255), `${c.fqFlushes} drains of a 256-slot queue`);
  assert.is(c.invalidations, c.fqFlushes);
  assert.is(c.syncs, c.fqFlushes);
  assert.ok(c.syncs < runs.strict.d.total.counters.syncs / 100);
  // The same translation work as strict, give or take the ring's entries a flush-all drops.
  assert.ok(c.walks >= runs.strict.d.total.counters.walks);
  assert.ok(runs.lazy.d.pendingFlushQueue > 0, 'some IOVAs still wait for the timer');
  assert.match(text(ok(runs.lazy.s, 'stats')), 'still wait in a flush queue');
});

test('stats shows per device and in total, with the assumptions in the footer', () => {
  const r = ok(runs.strict.s, 'stats');
  const t = text(r);
  assert.match(t, "since 'stats reset'");
  assert.match(t, 'vda (0000:00:01.0)');
  assert.match(t, 'IOTLB hits / misses');
  assert.match(t, 'table walks / reads');
  assert.match(t, 'invalidation commands');
  assert.match(t, 'syncs (CMD_SYNC / wait)');
  assert.match(t, 'swiotlb bounces / bytes');
  assert.match(t, 'total cycles');
  assert.match(t, 'model, not a measurement');
  const d = r.data as StatsData;
  const vda = d.devices.find((x) => x.alias === 'vda')!;
  assert.equal(vda.counters, d.total.counters, 'after the reset only vda did DMA');
  // Since boot, the boot's own work shows, and "other" holds what names no device.
  const s = booted('qemu-virt-smmuv3', 'vda.iommu_platform=on iommu.strict=1');
  const t2 = text(ok(s, 'stats'));
  assert.match(t2, 'since boot');
  assert.match(t2, 'other');
  assert.match(t2, 'total');
});

test('stats reset is not an undo step; an undo back past it drops the baseline and says so', () => {
  const s = booted('qemu-virt-smmuv3', 'vda.iommu_platform=on iommu.strict=1');
  ok(s, 'blk read vda 0');
  const depth = s.undoDepth;
  ok(s, 'stats reset');
  assert.is(s.undoDepth, depth);
  assert.is(stats(s).total.counters.maps, 0);
  ok(s, 'blk read vda 1');
  assert.is(stats(s).total.counters.maps, 4);
  ok(s, 'undo'); // the read after the reset
  assert.is(stats(s).total.counters.maps, 0);
  ok(s, 'undo'); // the read before it: now below the baseline
  const d = stats(s);
  assert.ok(d.baselineDropped);
  assert.is(d.since, 'boot');
  ok(s, 'blk read vda 0');
  assert.match(text(ok(s, 'stats')), 'since boot');
});

test('a 32-bit mask on a passthrough device: buffers above 4 GiB bounce through swiotlb and stats counts the copies', () => {
  const s = booted('qemu-virt-smmuv3', 'ram=8G vda.iommu_platform=on iommu.passthrough=1');
  ok(s, 'stats reset');
  ok(s, 'dma mask vda 32');
  const m = ok(s, 'dma map vda 0x200000000 4096 to_device').data as { ops: string };
  assert.is(m.ops, 'swiotlb');
  ok(s, 'dma unmap vda $');
  const c = stats(s).total.counters;
  assert.is(c.bounces, 1, 'TO_DEVICE: copied in at map, nothing copied back');
  assert.is(c.bounceBytes, 4096);
  assert.ok(stats(s).total.cycles.bounces > 0);
});

test('help stats lists the constants and where they come from', () => {
  const s = booted('qemu-virt-smmuv3', '');
  const h = text(ok(s, 'help stats'));
  assert.match(h, 'walkRead');
  assert.match(h, 'Latency Numbers');
  assert.match(h, 'assumed');
  assert.match(h, 'not');
  assert.match(fails(s, 'stats zero').message, "'zero' is not a valid action");
});

test.run();
