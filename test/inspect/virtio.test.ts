import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildVirtioTestbed } from '../../src/machine/virtio/testbed.ts';
import type { Iommu } from '../../src/machine/dma.ts';
import { dmaBitMask, type u64 } from '../../src/machine/u64.ts';
import { Kernel } from '../../src/kernel/kernel.ts';
import { PageAllocator } from '../../src/kernel/page-alloc.ts';
import type { DmaApi, KDevice } from '../../src/kernel/types.ts';
import { virtblkProbe, type VirtioBlk } from '../../src/kernel/virtio/virtio-blk.ts';
import { qemuDescFlags, virtioQueueElement, virtioQueueStatus, virtioRingViewForDevice, virtioRingViewForVring, virtioStatus } from '../../src/inspect/virtio.ts';

const OFF = 0x10_0000_0000n;

/**
 * Probe vda on the test bed. With `offset`, a fake DMA API adds OFF to every
 * address and a fake IOMMU takes it off again (a stand-in for iommu-dma).
 */
function probed(o: { disableModern?: boolean; offset?: boolean; era?: '4.10' | '4.10-rc' | '6.x' } = {}): { t: ReturnType<typeof buildVirtioTestbed>; blk: VirtioBlk; recorded: () => number } {
  let recorded = 0;
  const t = buildVirtioTestbed({ disableModern: o.disableModern });
  const pages = new PageAllocator([{ base: t.ram.base + 0x10_0000n, size: t.ram.size - 0x10_0000n }]);
  const off = o.offset ? OFF : 0n;
  const dma: DmaApi = {
    mapSingle: (_d, pa) => pa + off,
    unmapSingle: () => {},
    mapSg: (_d, sg) => sg.map((s) => ({ dma: s.pa + off, len: s.len })),
    unmapSg: () => {},
    allocCoherent: (_d, size) => {
      const n = Math.ceil(size / 4096);
      const pa = pages.alloc(n);
      t.machine.memory.fill(pa, BigInt(n * 4096), 0);
      return { pa, dma: pa + off };
    },
    freeCoherent: () => {},
    syncSingleForCpu: () => {},
    syncSingleForDevice: () => {},
  };
  if (o.offset) {
    const iommu: Iommu = {
      name: 'smmu0',
      kind: 'smmuv3',
      translate: (req, opts) => {
        // Count what would be written to the event queue; the inspector must add nothing.
        if (opts?.record !== false && req.addr < OFF) recorded++;
        return req.addr >= OFF
          ? { ok: true, pa: req.addr - OFF, steps: [], iotlbHit: false }
          : { ok: false, fault: { source: 'smmu0', code: 0x10, name: 'F_TRANSLATION', detail: '', recorded: opts?.record !== false }, steps: [] };
      },
      saveState: () => ({}),
      restoreState: () => {},
    };
    t.dev.dmaMaster = { ...t.dev.dmaMaster, path: 'translated', iommu };
  }
  const kdev: KDevice = { name: '0000:00:01.0', pci: t.dev, master: t.dev.dmaMaster, dmaMask: dmaBitMask(32), coherentDmaMask: dmaBitMask(32), busDmaLimit: 0n, dmaOps: 'direct', coherent: true };
  const p = virtblkProbe({ machine: t.machine, kernel: new Kernel(new Map()), pages, dma, config: { era: o.era ?? '6.x', arch: 'aarch64', xenDomain: false } }, kdev, { virtioIndex: 0, diskIndex: 0 });
  if (!p.ok) throw new Error(p.error);
  return { t, blk: p.blk, recorded: () => recorded };
}

test('QEMU descriptor flag names, in QEMU\'s order', () => {
  assert.equal(qemuDescFlags(1), ['next']);
  assert.equal(qemuDescFlags(3), ['write', 'next']);
  assert.equal(qemuDescFlags(2), ['write']);
  assert.equal(qemuDescFlags(4), ['indirect']);
});

test('info virtio-queue-status after the partition read: QEMU field names and values', () => {
  const { t, blk } = probed({ disableModern: true });
  const s = virtioQueueStatus(t.dev, 0);
  assert.ok(s.ok);
  if (!s.ok) return;
  assert.equal(s.value, {
    path: '/machine/peripheral/vda/virtio-backend',
    name: 'virtio-blk',
    queue_index: 0,
    inuse: 0,
    vring_num: 256,
    vring_num_default: 256,
    vring_align: 4096,
    vring_desc: blk.vq.pa,
    vring_avail: blk.vq.pa + 0x1000n,
    vring_used: blk.vq.pa + 0x2000n,
    last_avail_idx: 1,
    shadow_avail_idx: 1,
    used_idx: 1,
    // EVENT_IDX is negotiated: virtio_split_should_notify records the used index it signalled.
    signalled_used: 1,
    signalled_used_valid: true,
  });
  assert.not.ok(virtioQueueStatus(t.dev, 3).ok);
});

test('info virtio-status: status names, transport, features', () => {
  const { t } = probed();
  const s = virtioStatus(t.dev);
  assert.equal(s.status, ['ACKNOWLEDGE', 'DRIVER', 'DRIVER_OK', 'FEATURES_OK']);
  assert.ok(s.guest_features.includes('VIRTIO_F_VERSION_1'));
  assert.ok(s.host_features.includes('VIRTIO_RING_F_INDIRECT_DESC'));
  assert.ok(s.guest_features.includes('VIRTIO_BLK_F_BLK_SIZE'));
  assert.is(s.broken, false);
  assert.is(s.transport.last_interface, 'modern');
  assert.match(s.transport.dma_path, /bypass/);
});

test('info virtio-queue-element 0: the partition read as three descriptors with their buffers', () => {
  const { t, blk } = probed({ disableModern: true });
  const e = virtioQueueElement(t.machine, t.dev, 0, 0);
  assert.ok(e.ok);
  if (!e.ok) return;
  assert.is(e.value.index, 0);
  assert.equal(e.value.descs.map((d) => [d.len, d.flags]), [[16, ['next']], [4096, ['write', 'next']], [1, ['write']]]);
  assert.ok(e.value.descs.every((d) => d.pa === d.addr), 'bypass: bus address == physical address');
  assert.equal(e.value.avail, { flags: 0, idx: 1, ring: 0 });
  assert.equal(e.value.used, { flags: 0, idx: 1 });
  void blk;
});

test('ring view from the driver: descriptors, avail ring, used ring {id 0, len 4097}', () => {
  const { t, blk } = probed();
  const v = virtioRingViewForVring(t.machine.memory, blk.vq);
  assert.ok(v.ok);
  if (!v.ok) return;
  assert.is(v.value.num, 256);
  // INDIRECT_DESC negotiated: the ring holds one descriptor, VRING_DESC_F_INDIRECT (4), 3 x 16 bytes; next keeps the free-list link.
  assert.equal(v.value.desc.map((d) => [d.i, d.len, d.flags, d.next]), [[0, 48, 4, 1]]);
  assert.equal(v.value.avail, { flags: 0, idx: 1, ring: [{ slot: 0, head: 0 }] });
  assert.equal(v.value.used, { flags: 0, idx: 1, ring: [{ slot: 0, id: 0, len: 4097 }] });
  assert.match(v.value.addrKind, /guest-physical/);
});

test('behind a (fake) IOMMU the device holds IOVAs; the inspector resolves them without recording faults', () => {
  const { t, blk, recorded } = probed({ offset: true, era: '6.x', disableModern: false });
  // 6.x without ACCESS_PLATFORM: physical addresses -> the translated device faults at once.
  assert.not.ok(blk.vq.useDmaApi);
  assert.ok(t.dev.broken);
  assert.is(recorded(), 1);
  const s = virtioStatus(t.dev);
  assert.is(s.last_fault!.what, 'avail.idx');
  const r = virtioRingViewForDevice(t.machine, t.dev, 0);
  assert.not.ok(r.ok, 'the ring PA is not an IOVA the IOMMU knows');
  assert.not.ok(virtioQueueElement(t.machine, t.dev, 0).ok);
  assert.is(recorded(), 1, 'inspecting recorded no fault');

  const good = probed({ offset: true, era: '4.10-rc', disableModern: true });
  assert.ok(good.blk.vq.useDmaApi);
  const q = virtioQueueStatus(good.t.dev, 0);
  assert.ok(q.ok && q.value.vring_desc === good.blk.vq.pa + OFF);
  const e = virtioQueueElement(good.t.machine, good.t.dev, 0, 0);
  assert.ok(e.ok);
  if (e.ok) {
    const d: { addr: u64; pa?: u64 }[] = e.value.descs;
    assert.ok(d.every((x) => x.addr === x.pa! + OFF));
  }
  const dv = virtioRingViewForDevice(good.t.machine, good.t.dev, 0);
  assert.ok(dv.ok && dv.value.descPa === good.blk.vq.pa);
});

test.run();
