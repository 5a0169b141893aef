/**
 * The cost model (kernel/cost.ts): the arithmetic against the documented
 * constants, the counters the hardware models add for it (walk reads per
 * level: REFERENCE.md 2.1 4-level tables for a 48-bit input with a 4 KiB
 * granule; 3.2 levels = AW + 2 for VT-d), inspection walks left out, a
 * CMD_SYNC charged to the ASID of its TLBIs, per-device kernel counters,
 * and baselines.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSession } from '../../src/commands/index.ts';
import { SmmuV3 } from '../../src/machine/smmuv3/smmuv3.ts';
import { VtdUnit } from '../../src/machine/vtd/vtd.ts';
import {
  COST, COST_TABLE, COUNTER_KEYS, MODEL_ASSUMPTIONS, cyclesOf, gatherCounters, snapshotBelow, subtractSnapshot, zeroCounters, type CostCounters,
} from '../../src/kernel/cost.ts';
import { DMA_FROM_DEVICE, DMA_TO_DEVICE } from '../../src/kernel/types.ts';

const counts = (p: Partial<CostCounters>): CostCounters => ({ ...zeroCounters(), ...p });

function booted(preset: string, args: string) {
  const s = createSession(preset);
  const o = s.execute(`boot ${args}`);
  if (!o.ok) throw new Error(`boot failed: ${o.error.message}`);
  const linux = s.system.linux!;
  const dev = linux.device('vda')!;
  return { s, linux, dev };
}

test('the constants: every one documented with a source or the word "assumed"', () => {
  assert.equal(COST_TABLE.map((c) => c.key).sort(), Object.keys(COST).sort());
  for (const c of COST_TABLE) {
    assert.is(c.cycles, COST[c.key]);
    assert.ok(c.source.length > 20, `${c.key} says where it comes from`);
  }
  // Hits are free, a DRAM read is the expensive part of a walk, a sync dwarfs a command.
  assert.is(COST.iotlbHit, 0);
  assert.ok(COST.sync > COST.invalidation && COST.walkRead > COST.iotlbHit);
  assert.is(MODEL_ASSUMPTIONS.length, 2);
  assert.match(MODEL_ASSUMPTIONS[0]!, 'not a measurement');
});

test('cyclesOf: a 4-level walk is 4 dependent DRAM reads; an invalidation waits for its sync; a bounce copies its bytes', () => {
  assert.is(cyclesOf(counts({ walks: 1, walkReads: 4 })).total, 4 * COST.walkRead);
  assert.is(cyclesOf(counts({ iotlbHits: 1000, translations: 1000 })).total, 0);
  const strict = cyclesOf(counts({ invalidations: 1, syncs: 1 }));
  assert.equal([strict.invalidations, strict.syncs, strict.total], [COST.invalidation, COST.sync, COST.invalidation + COST.sync]);
  const b = cyclesOf(counts({ bounces: 1, bounceBytes: 4096 }));
  assert.is(b.bounces, COST.bounce + 4096 / COST.bounceBytesPerCycle);
  // iommu-dma map + unmap against dma-direct's
  assert.is(cyclesOf(counts({ maps: 1, unmaps: 1, iommuMaps: 1, iommuUnmaps: 1 })).dmaApi, COST.mapIommu + COST.unmapIommu);
  assert.is(cyclesOf(counts({ maps: 1, unmaps: 1 })).dmaApi, 2 * COST.mapDirect);
});

test('SMMUv3: a device read through a fresh mapping misses, walks 4 levels (4 reads), then hits; inspection walks are not counted', () => {
  const { s, linux, dev } = booted('qemu-virt-smmuv3', 'vda.iommu_platform=on iommu.strict=1');
  const smmu = s.machine.iommus.find((i): i is SmmuV3 => i instanceof SmmuV3)!;
  const sid = dev.master.sid;
  const before = { ...smmu.stats().bySid[sid]! };
  const iova = linux.dma.mapSingle(dev, 0x4100_0000n, 4096, DMA_TO_DEVICE);
  assert.ok(s.machine.dmaRead(dev.master, iova, 64).ok);
  assert.ok(s.machine.dmaRead(dev.master, iova + 64n, 64).ok);
  const after = smmu.stats().bySid[sid]!;
  assert.is(after.translations - before.translations, 2);
  assert.is(after.tlbMisses - before.tlbMisses, 1);
  assert.is(after.tlbHits - before.tlbHits, 1);
  assert.is(after.walks - before.walks, 1);
  assert.is(after.walkReads - before.walkReads, 4, 'L0..L3 (REFERENCE.md 2.1)');
  // `walk` and the DMA commands' device checks translate with useTlb=false: not device traffic.
  const o = s.execute(`walk vda 0x${iova.toString(16)}`);
  assert.ok(o.ok);
  assert.equal(smmu.stats().bySid[sid], after);
});

test('SMMUv3: a strict unmap issues TLBI_NH_VA + CMD_SYNC, both charged to the ASID of the device\'s domain', () => {
  const { s, linux, dev } = booted('qemu-virt-smmuv3', 'vda.iommu_platform=on iommu.strict=1');
  const smmu = s.machine.iommus.find((i): i is SmmuV3 => i instanceof SmmuV3)!;
  const asid = linux.smmus[0]!.domainInfo(linux.core.getDomainForDev(dev)!)!.asid!;
  const iova = linux.dma.mapSingle(dev, 0x4100_0000n, 4096, DMA_FROM_DEVICE);
  const st0 = structuredClone(smmu.stats());
  linux.dma.unmapSingle(dev, iova, 4096, DMA_FROM_DEVICE);
  const st1 = smmu.stats();
  assert.is(st1.tlbiCommands - st0.tlbiCommands, 1);
  assert.is(st1.syncs - st0.syncs, 1);
  assert.is(st1.byTag[asid]!.tlbi - (st0.byTag[asid]?.tlbi ?? 0), 1);
  assert.is(st1.byTag[asid]!.syncs - (st0.byTag[asid]?.syncs ?? 0), 1);
  // ... and the cost model gives them to vda.
  const snap = gatherCounters(s.machine, linux);
  const row = snap.devices.find((d) => d.name === dev.name)!;
  assert.is(row.counters.syncs, st1.byTag[asid]!.syncs);
  assert.is(snap.total.syncs, st1.syncs, 'the total is the SMMU\'s own count');
  assert.is(snap.other.syncs, st1.syncs - row.counters.syncs, 'boot-time syncs that name no device');
});

test('kernel: DmaMapping charges each device with its calls and what they caused below (strict syncs, queue drains, bounces)', () => {
  const { linux, dev } = booted('qemu-virt-smmuv3', 'vda.iommu_platform=on iommu.strict=0');
  const base = { ...linux.dma.devStats()[dev.name]! };
  for (let i = 0; i < 300; i++) linux.dma.unmapSingle(dev, linux.dma.mapSingle(dev, 0x4100_0000n, 4096, DMA_TO_DEVICE), 4096, DMA_TO_DEVICE);
  const d = linux.dma.devStats()[dev.name]!;
  assert.is(d.maps - base.maps, 300);
  assert.is(d.iommuMaps - base.iommuMaps, 300);
  assert.is(d.fqQueued - base.fqQueued, 300);
  assert.is(d.iotlbSyncs - base.iotlbSyncs, 0, 'lazy: no unmap invalidates on its own');
  assert.ok(d.fqFlushes - base.fqFlushes >= 1, 'a full flush queue (256 slots) was drained');
});

test('kernel: a 32-bit mask on dma-direct bounces a buffer above 4 GiB through swiotlb, charged to the device', () => {
  const { linux, dev } = booted('qemu-virt-smmuv3', 'ram=8G vda.iommu_platform=on iommu.passthrough=1');
  assert.is(linux.dma.dmaSetMaskAndCoherent(dev, 0xffff_ffffn), 0);
  const dma = linux.dma.mapSingle(dev, 0x2_0000_0000n, 4096, DMA_TO_DEVICE);
  assert.ok(linux.swiotlb.isSwiotlbBuffer(dma));
  const d = linux.dma.devStats()[dev.name]!;
  assert.is(d.bounces, 1);
  assert.is(d.bounceBytes, 4096);
});

test('VT-d: a 39-bit (AW=1) domain walks 3 levels; a strict unmap is one IOTLB invalidation and one wait, charged to the DID', () => {
  const { s, linux, dev } = booted('x86-q35-vtd', 'intel-iommu.aw-bits=39 vda.iommu_platform=on iommu=nopt iommu.strict=1');
  const unit = s.machine.iommus.find((i): i is VtdUnit => i instanceof VtdUnit)!;
  assert.is(dev.dmaOps, 'iommu');
  const sid = dev.master.sid;
  const before = { ...(unit.stats().bySid[sid] ?? { walks: 0, walkReads: 0 }) };
  const iova = linux.dma.mapSingle(dev, 0x1_0000_0000n, 4096, DMA_FROM_DEVICE);
  assert.ok(s.machine.dmaWrite(dev.master, iova, new Uint8Array(8)).ok);
  const after = unit.stats().bySid[sid]!;
  assert.is(after.walks - before.walks, 1);
  assert.is(after.walkReads - before.walkReads, 3, 'levels = AW + 2 = 3 (REFERENCE.md 3.2)');
  const st0 = structuredClone(unit.stats());
  linux.dma.unmapSingle(dev, iova, 4096, DMA_FROM_DEVICE);
  const st1 = unit.stats();
  assert.is(st1.iotlbInvalidations - st0.iotlbInvalidations, 1);
  assert.is(st1.waits - st0.waits, 1);
  const snap = gatherCounters(s.machine, linux);
  const row = snap.devices.find((d) => d.name === dev.name)!;
  assert.ok(row.counters.invalidations >= 1 && row.counters.syncs >= 1, 'attributed to vda through its DID');
});

test('baselines: subtract gives the work since; a snapshot below its baseline is detected', () => {
  const { s, linux, dev } = booted('qemu-virt-smmuv3', 'vda.iommu_platform=on');
  const a = gatherCounters(s.machine, linux);
  linux.dma.unmapSingle(dev, linux.dma.mapSingle(dev, 0x4100_0000n, 4096, DMA_TO_DEVICE), 4096, DMA_TO_DEVICE);
  const b = gatherCounters(s.machine, linux);
  const d = subtractSnapshot(b, a);
  assert.is(d.total.maps, 1);
  assert.is(d.total.unmaps, 1);
  assert.is(d.devices.find((x) => x.name === dev.name)!.counters.maps, 1);
  assert.not.ok(snapshotBelow(b, a));
  assert.ok(snapshotBelow(a, b));
  for (const k of COUNTER_KEYS) assert.ok(d.total[k] >= 0, k);
});

test.run();
