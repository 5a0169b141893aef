import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildVirtioTestbed } from '../../src/machine/virtio/testbed.ts';
import type { Iommu } from '../../src/machine/dma.ts';
import type { Machine } from '../../src/machine/machine.ts';
import { dmaBitMask, type u64 } from '../../src/machine/u64.ts';
import { Kernel } from '../../src/kernel/kernel.ts';
import { PageAllocator } from '../../src/kernel/page-alloc.ts';
import type { DmaApi, KDevice } from '../../src/kernel/types.ts';
import type { VirtioEnv, VringDmaEra } from '../../src/kernel/virtio/env.ts';
import { VIRTBLK_POLL_LIMIT, blkRead, blkWrite, capacityLine, stringGetSize, virtblkGetId, virtblkName, virtblkProbe } from '../../src/kernel/virtio/virtio-blk.ts';
import { msdosPartition } from '../../src/kernel/virtio/msdos.ts';
import { DiskImage, buildMbr, makeDmaLabDisk } from '../../src/machine/virtio/disk.ts';

// ---- fakes ---------------------------------------------------------------------------

/** dma-direct without an offset: DMA address == physical address. */
function identityDma(machine: Machine, pages: PageAllocator): DmaApi {
  return {
    mapSingle: (_d, pa) => pa,
    unmapSingle: () => {},
    mapSg: (_d, sg) => sg.map((s) => ({ dma: s.pa, len: s.len })),
    unmapSg: () => {},
    allocCoherent: (_d, size) => {
      const n = Math.ceil(size / 4096);
      const pa = pages.alloc(n);
      machine.memory.fill(pa, BigInt(n * 4096), 0);
      return { pa, dma: pa };
    },
    freeCoherent: () => {},
    syncSingleForCpu: () => {},
    syncSingleForDevice: () => {},
  };
}

/**
 * A toy iommu-dma + IOMMU pair: the DMA API hands out IOVAs top-down below
 * 4 GiB and records iova page -> pa page; the IOMMU translates exactly those
 * and faults everything else (F_TRANSLATION, as the SMMU of seed 000 did).
 */
function toyIommuDma(machine: Machine, pages: PageAllocator): { dma: DmaApi; iommu: Iommu; mapped: Map<u64, u64> } {
  const mapped = new Map<u64, u64>();
  let next = 0x1_0000_0000n;
  const map = (pa: u64, size: number): u64 => {
    const first = pa & ~0xfffn;
    const n = BigInt(Math.ceil(Number(pa - first + BigInt(size)) / 4096));
    next -= n * 4096n;
    for (let i = 0n; i < n; i++) mapped.set(next + i * 4096n, first + i * 4096n);
    return next + (pa - first);
  };
  const dma: DmaApi = {
    mapSingle: (_d, pa, size) => map(pa, size),
    unmapSingle: () => {},
    mapSg: (_d, sg) => sg.map((s) => ({ dma: map(s.pa, s.len), len: s.len })),
    unmapSg: () => {},
    allocCoherent: (_d, size) => {
      const n = Math.ceil(size / 4096);
      const pa = pages.alloc(n);
      machine.memory.fill(pa, BigInt(n * 4096), 0);
      return { pa, dma: map(pa, n * 4096) };
    },
    freeCoherent: () => {},
    syncSingleForCpu: () => {},
    syncSingleForDevice: () => {},
  };
  const iommu: Iommu = {
    name: 'smmu0',
    kind: 'smmuv3',
    translate: (req) => {
      const pa = mapped.get(req.addr & ~0xfffn);
      if (pa !== undefined) return { ok: true, pa: pa + (req.addr & 0xfffn), steps: [{ level: 'toy', note: 'mapped' }], iotlbHit: false };
      return { ok: false, fault: { source: 'smmu0', code: 0x10, name: 'F_TRANSLATION', detail: `no mapping for ${req.addr.toString(16)}`, recorded: true }, steps: [] };
    },
    saveState: () => ({}),
    restoreState: () => {},
  };
  return { dma, iommu, mapped };
}

interface Rig {
  env: VirtioEnv;
  kdev: KDevice;
  t: ReturnType<typeof buildVirtioTestbed>;
  dmesg: () => string[];
}

function rig(o: { era?: VringDmaEra; testbed?: Parameters<typeof buildVirtioTestbed>[0]; iommu?: 'none' | 'toy' | 'fault-all' } = {}): Rig {
  const t = buildVirtioTestbed(o.testbed);
  const pages = new PageAllocator([{ base: t.ram.base + 0x10_0000n, size: t.ram.size - 0x10_0000n }]);
  const kernel = new Kernel(new Map());
  let dma = identityDma(t.machine, pages);
  if (o.iommu === 'toy') {
    const toy = toyIommuDma(t.machine, pages);
    dma = toy.dma;
    t.dev.dmaMaster = { ...t.dev.dmaMaster, path: 'translated', iommu: toy.iommu };
  } else if (o.iommu === 'fault-all') {
    const iommu: Iommu = {
      name: 'smmu0',
      kind: 'smmuv3',
      translate: (req) => ({ ok: false, fault: { source: 'smmu0', code: 0x10, name: 'F_TRANSLATION', detail: `no mapping for ${req.addr.toString(16)}`, recorded: true }, steps: [] }),
      saveState: () => ({}),
      restoreState: () => {},
    };
    t.dev.dmaMaster = { ...t.dev.dmaMaster, path: 'translated', iommu };
  }
  const kdev: KDevice = { name: '0000:00:01.0', pci: t.dev, master: t.dev.dmaMaster, dmaMask: dmaBitMask(32), coherentDmaMask: dmaBitMask(32), busDmaLimit: 0n, dmaOps: o.iommu && o.iommu !== 'none' ? 'iommu' : 'direct', coherent: true };
  const env: VirtioEnv = { machine: t.machine, kernel, pages, dma, config: { era: o.era ?? '6.x', arch: 'aarch64', xenDomain: false } };
  return { env, kdev, t, dmesg: () => kernel.dmesg().map((l) => l.text) };
}

// ---- probe and the partition table --------------------------------------------------------

test('legacy-only device, 6.x: probe -> capacity line -> read sector 0 -> " vda: vda1 vda2"', () => {
  const r = rig({ testbed: { disableModern: true } });
  const p = virtblkProbe(r.env, r.kdev, { virtioIndex: 0, diskIndex: 0 });
  assert.ok(p.ok);
  if (!p.ok) return;
  assert.equal(r.dmesg(), [
    'virtio-pci 0000:00:01.0: enabling device (0000 -> 0003)',
    'virtio-pci 0000:00:01.0: virtio_pci: leaving for legacy driver',
    'virtio_blk virtio0: 1/0/0 default/read/poll queues',
    'virtio_blk virtio0: [vda] 2097152 512-byte logical blocks (1.07 GB/1.00 GiB)',
    ' vda: vda1 vda2',
  ]);
  assert.is(p.blk.vdev.transport.mode, 'legacy');
  assert.is(p.blk.capacity, 2097152n);
  assert.is(p.blk.blkSize, 512);
  assert.is(p.blk.segMax, 254);
  assert.equal(p.blk.partitions!.parts.map((x) => [x.name, x.start, x.sectors, x.type, x.bootable]), [['vda1', 2048, 1835008, 0x83, true], ['vda2', 1837056, 260096, 0x82, false]]);
  // Legacy: the device was told QUEUE_PFN = ring PA >> 12, and the ring bypasses the DMA API.
  assert.not.ok(p.blk.vq.useDmaApi);
  assert.is(r.t.dev.queueState(0)!.desc, p.blk.vq.pa);
  assert.is(r.t.dev.status, 1 | 2 | 4);
  assert.is(r.kdev.coherentDmaMask, dmaBitMask(44));
  assert.is(r.kdev.alias, 'vda');
});

test('transitional device: Linux takes the modern interface, negotiates VERSION_1 and sets FEATURES_OK', () => {
  const r = rig({ era: '4.10' });
  const p = virtblkProbe(r.env, r.kdev, { virtioIndex: 0, diskIndex: 0 });
  assert.ok(p.ok);
  if (!p.ok) return;
  assert.is(p.blk.vdev.transport.mode, 'modern');
  assert.ok((p.blk.vdev.features >> 32n) & 1n);
  assert.is(r.t.dev.status, 1 | 2 | 4 | 8);
  assert.is(r.t.dev.lastInterface, 'modern');
  // 2017 kernels print no capacity line at probe; the partition line is the same.
  assert.equal(r.dmesg(), ['virtio-pci 0000:00:01.0: enabling device (0000 -> 0003)', ' vda: vda1 vda2']);
  // Modern rings use align 64: the device got the three addresses separately.
  const q = r.t.dev.queueState(0)!;
  assert.is(q.used - q.desc, 0x1240n);
  // Linux accepts INDIRECT_DESC and EVENT_IDX (vring_transport_features keeps them, bits 28-29);
  // the modern window never showed QEMU's legacy-only NOTIFY_ON_EMPTY (24), ANY_LAYOUT (27), BAD_FEATURE (30).
  assert.is((p.blk.vdev.features >> 28n) & 3n, 3n);
  assert.is(p.blk.vdev.deviceFeatures & ((1n << 24n) | (1n << 27n) | (1n << 30n)), 0n);
});

test('blk read: the ext4 superblock of vda1 and the text sector', () => {
  const r = rig();
  const p = virtblkProbe(r.env, r.kdev, { virtioIndex: 0, diskIndex: 0 });
  if (!p.ok) throw new Error(p.error);
  const sb = blkRead(r.env, r.kdev, p.blk, 2050n, 1);
  assert.ok(sb.ok);
  if (sb.ok) {
    assert.is(sb.data[0x38]! | (sb.data[0x39]! << 8), 0xef53);
    assert.is(sb.polls, 1);
    assert.is(sb.request.maps.length, 3);
  }
  const tx = blkRead(r.env, r.kdev, p.blk, 4096n, 1);
  assert.ok(tx.ok && new TextDecoder().decode(tx.data).startsWith('hello from vda1'));
  const far = blkRead(r.env, r.kdev, p.blk, 2097152n, 1);
  assert.ok(!far.ok && far.reason === 'range');
});

test('blk write then read back; the serial through GET_ID', () => {
  const r = rig({ testbed: { disk: makeDmaLabDisk('dma-lab-0001') } });
  const p = virtblkProbe(r.env, r.kdev, { virtioIndex: 0, diskIndex: 0 });
  if (!p.ok) throw new Error(p.error);
  const w = blkWrite(r.env, r.kdev, p.blk, 10n, new Uint8Array(1024).fill(0xab));
  assert.ok(w.ok);
  const rd = blkRead(r.env, r.kdev, p.blk, 11n, 1);
  assert.ok(rd.ok && rd.data[511] === 0xab);
  assert.is(r.t.dev.disk.read(10n, 1)[0], 0xab);
  const id = virtblkGetId(r.env, r.kdev, p.blk);
  assert.ok(id.ok && id.id === 'dma-lab-0001');
});

test('requests free their pages and descriptors: many reads do not exhaust anything', () => {
  const r = rig();
  const p = virtblkProbe(r.env, r.kdev, { virtioIndex: 0, diskIndex: 0 });
  if (!p.ok) throw new Error(p.error);
  const before = r.env.pages.allocatedPages;
  for (let i = 0; i < 300; i++) assert.ok(blkRead(r.env, r.kdev, p.blk, BigInt(i), 1).ok);
  assert.is(r.env.pages.allocatedPages, before);
  assert.is(p.blk.vq.numFree, p.blk.vq.num);
});

// ---- seed 000: a translated legacy device ----------------------------------------------------

test('seed 000, v4.10: legacy ring with physical addresses behind an SMMU -> fault, the device stops, the poll gives up', () => {
  const r = rig({ era: '4.10', testbed: { disableModern: true }, iommu: 'toy' });
  const p = virtblkProbe(r.env, r.kdev, { virtioIndex: 0, diskIndex: 0 });
  assert.ok(p.ok, 'the probe itself does no DMA');
  if (!p.ok) return;
  assert.not.ok(p.blk.vq.useDmaApi);
  assert.ok(p.scan && !p.scan.ok);
  if (p.scan && !p.scan.ok) {
    assert.is(p.scan.io.reason, 'timeout');
    assert.is(p.scan.io.polls, VIRTBLK_POLL_LIMIT);
  }
  assert.not.ok(r.dmesg().some((l) => l.startsWith(' vda:')), 'no partition line: Linux would still be waiting');
  const f = r.t.machine.trace.records().find((x) => x.outcome.kind === 'fault')!;
  assert.is(f.what, 'avail.idx');
  assert.is(f.addr, p.blk.vq.availPa + 2n, 'the device issued the ring PA as a bus address');
  assert.ok(r.t.dev.broken);
  assert.is(p.blk.stalled, 1);
});

test('seed 000, v4.10-rc: the same machine with the ARM clause -> the ring uses the DMA API and the table is read', () => {
  const r = rig({ era: '4.10-rc', testbed: { disableModern: true }, iommu: 'toy' });
  const p = virtblkProbe(r.env, r.kdev, { virtioIndex: 0, diskIndex: 0 });
  if (!p.ok) throw new Error(p.error);
  assert.ok(p.blk.vq.useDmaApi);
  assert.ok(p.scan?.ok);
  assert.ok(r.dmesg().includes(' vda: vda1 vda2'));
  // The device was told an IOVA (below 4 GiB here), not the ring's PA.
  const q = r.t.dev.queueState(0)!;
  assert.is(q.desc, p.blk.vq.dma);
  assert.ok(q.desc !== p.blk.vq.pa);
  assert.ok(r.t.machine.trace.records().every((x) => x.outcome.kind === 'ok'));
});

test('a device whose DMA faults everywhere stalls; the driver\'s bounded poll returns instead of hanging', () => {
  const r = rig({ iommu: 'fault-all' });
  const p = virtblkProbe(r.env, r.kdev, { virtioIndex: 0, diskIndex: 0 });
  if (!p.ok) throw new Error(p.error);
  const io = blkRead(r.env, r.kdev, p.blk, 0n, 1);
  assert.not.ok(io.ok);
  if (!io.ok) {
    assert.is(io.reason, 'timeout');
    assert.match(io.error, /never completed after 16 polls/);
  }
  // VERSION_1 was negotiated, so the broken device also asks for a reset.
  assert.is(r.t.dev.status & 0x40, 0x40);
  // The faulting device made exactly one access per notify: avail.idx, then ignored the second notify.
  assert.is(r.t.machine.trace.records().length, 1);
});

/** A disk whose every request fails range checks: the device answers VIRTIO_BLK_S_IOERR. */
class FailingDisk extends DiskImage {
  override inRange(): boolean {
    return false;
  }
}

test('an I/O error from the device prints the block layer error and " vda: unable to read partition table"', () => {
  const r = rig({ testbed: { disk: new FailingDisk(2097152n) } });
  const p = virtblkProbe(r.env, r.kdev, { virtioIndex: 0, diskIndex: 0 });
  if (!p.ok) throw new Error(p.error);
  assert.ok(p.scan && !p.scan.ok && p.scan.io.reason === 'ioerr');
  assert.equal(r.dmesg().slice(-2), ['I/O error, dev vda, sector 0 op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0', ' vda: unable to read partition table']);
  const old = rig({ era: '4.10', testbed: { disk: new FailingDisk(2097152n) } });
  virtblkProbe(old.env, old.kdev, { virtioIndex: 0, diskIndex: 0 });
  assert.ok(old.dmesg().includes('blk_update_request: I/O error, dev vda, sector 0'));
});

// ---- pieces --------------------------------------------------------------------------------

test('string_get_size: values Linux prints for common disk sizes', () => {
  assert.is(stringGetSize(2097152n, 512n, 10), '1.07 GB');
  assert.is(stringGetSize(2097152n, 512n, 2), '1.00 GiB');
  assert.is(stringGetSize(41943040n, 512n, 10), '21.5 GB');
  assert.is(stringGetSize(41943040n, 512n, 2), '20.0 GiB');
  assert.is(stringGetSize(204800n, 512n, 10), '105 MB');
  assert.is(stringGetSize(204800n, 512n, 2), '100 MiB');
  assert.is(capacityLine('virtio0', 'vda', 2097152n, 512), 'virtio_blk virtio0: [vda] 2097152 512-byte logical blocks (1.07 GB/1.00 GiB)');
  assert.is(capacityLine('virtio0', 'vda', 4194304n, 512, true), 'virtio_blk virtio0: [vda] new size: 4194304 512-byte logical blocks (2.15 GB/2.00 GiB)');
});

test('virtblk_name_format: vda, vdz, vdaa, vdab', () => {
  assert.equal([0, 25, 26, 27, 701, 702].map(virtblkName), ['vda', 'vdz', 'vdaa', 'vdab', 'vdzz', 'vdaaa']);
});

test('msdos: no 0x55AA or a bad boot indicator is no DOS label; GPT protective is left to efi; past-EOD partitions warn', () => {
  const none = msdosPartition('vda', new Uint8Array(512), 100n);
  assert.is(none.label, 'none');
  assert.is(none.line, undefined);
  const fat = buildMbr([{ type: 0x0c, start: 1, sectors: 10 }], 0);
  fat[446] = 0x29;
  assert.is(msdosPartition('vda', fat, 100n).label, 'none');
  assert.is(msdosPartition('vda', buildMbr([{ type: 0xee, start: 1, sectors: 99 }], 0), 100n).label, 'none');
  const eod = msdosPartition('vda', buildMbr([{ type: 0x83, start: 10, sectors: 200 }, { type: 0x83, start: 500, sectors: 5 }], 0), 100n);
  assert.is(eod.line, ' vda: vda1 vda2');
  assert.equal(eod.warnings, ['vda: p1 size 200 extends beyond EOD, truncated', 'vda: p2 start 500 is beyond EOD, truncated']);
  assert.equal(eod.parts.map((x) => [x.name, x.sectors]), [['vda1', 90]]);
  const ext = msdosPartition('nvme0n1', buildMbr([{ type: 0x83, start: 1, sectors: 10 }, { type: 0x05, start: 20, sectors: 50 }], 0), 100n);
  assert.is(ext.line, ' nvme0n1: nvme0n1p1 nvme0n1p2 < >');
});

test.run();
