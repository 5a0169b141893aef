// virtio feature negotiation and indirect descriptors as Linux and QEMU do them (issue 11 item 6).
// Sources: linux drivers/virtio/virtio.c (virtio_dev_probe, virtio_features_ok), drivers/virtio/
// virtio_ring.c (vring_transport_features, virtqueue_add_split, alloc_indirect_split,
// virtqueue_kick_prepare_split, virtqueue_get_buf_ctx_split); QEMU 7.2 hw/virtio/virtio-pci.c
// (virtio_pci_pre_plugged adds VIRTIO_F_BAD_FEATURE; virtio_pci_common_read hides
// vdc->legacy_features from device_feature), include/hw/virtio/virtio.h (VIRTIO_LEGACY_FEATURES),
// hw/virtio/virtio.c (virtqueue_split_pop: vring_set_avail_event; indirect tables read through
// vdev->dma_as).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { booted, ok } from '../commands/helpers.ts';
import { negotiateFeatures } from '../../src/kernel/virtio/virtio-pci.ts';
import { featureBit } from '../../src/machine/virtio/virtio-config.ts';
import { VIRTIO_BLK_F_BLK_SIZE } from '../../src/machine/virtio/blk.ts';
import { Kmalloc } from '../../src/kernel/kmalloc.ts';
import { PageAllocator } from '../../src/kernel/page-alloc.ts';
import type { VirtioBlkDevice } from '../../src/machine/virtio/blk.ts';
import type { Session } from '../../src/commands/session.ts';

const B = featureBit;
const NOTIFY_ON_EMPTY = B(24);
const ANY_LAYOUT = B(27);
const INDIRECT = B(28);
const EVENT_IDX = B(29);
const BAD = B(30);
const V1 = B(32);
const AP = B(33);
const PACKED = B(34);
const RESET = B(40);

test('vring_transport_features: Linux keeps INDIRECT_DESC, EVENT_IDX, VERSION_1, ACCESS_PLATFORM; never BAD_FEATURE', () => {
  const offered = NOTIFY_ON_EMPTY | ANY_LAYOUT | INDIRECT | EVENT_IDX | BAD | V1 | AP | PACKED | RESET | B(VIRTIO_BLK_F_BLK_SIZE);
  const table = B(VIRTIO_BLK_F_BLK_SIZE);
  // v4.10: transport range [28, 34); RING_PACKED (34) and RING_RESET (40) are outside it and in no driver table.
  assert.is(negotiateFeatures(offered, table, 410), table | INDIRECT | EVENT_IDX | V1 | AP);
  // v5.14 keeps RING_PACKED; v6.0+ RING_RESET.
  assert.is(negotiateFeatures(offered, table, 514), table | INDIRECT | EVENT_IDX | V1 | AP | PACKED);
  assert.is(negotiateFeatures(offered, table, 601), table | INDIRECT | EVENT_IDX | V1 | AP | PACKED | RESET);
  // Bits below 28 are device-type bits: NOTIFY_ON_EMPTY/ANY_LAYOUT only if the driver's table has them (virtio_blk's has not).
  assert.is(negotiateFeatures(NOTIFY_ON_EMPTY | ANY_LAYOUT, 0n, 601), 0n);
});

const dev = (s: Session): VirtioBlkDevice => s.system.machine.pciFunctions().find((f) => f.name === 'vda') as unknown as VirtioBlkDevice;

test('QEMU: the modern device_feature window hides NOTIFY_ON_EMPTY, ANY_LAYOUT and BAD_FEATURE; legacy shows them', () => {
  const s = booted('qemu-virt-smmuv3', 'kernel=6.1 vda.iommu_platform=on');
  const d = dev(s);
  const linux = s.system.linux!;
  const vdev = linux.probes.get(linux.device('vda')!.name)!;
  assert.ok(vdev.ok);
  // What Linux read through the modern window.
  const read = (vdev as { blk: { vdev: { deviceFeatures: bigint; features: bigint } } }).blk.vdev;
  assert.is(read.deviceFeatures & (NOTIFY_ON_EMPTY | ANY_LAYOUT | BAD), 0n);
  assert.is(d.hostFeatures() & (NOTIFY_ON_EMPTY | ANY_LAYOUT | BAD), NOTIFY_ON_EMPTY | ANY_LAYOUT | BAD, 'QEMU still holds them');
  // QEMU 7.2's machine type offers RING_RESET; Linux 6.1 accepts it with INDIRECT_DESC, EVENT_IDX, VERSION_1, ACCESS_PLATFORM.
  assert.is(read.features & (INDIRECT | EVENT_IDX | V1 | AP | RESET), INDIRECT | EVENT_IDX | V1 | AP | RESET);
  assert.is(d.status & 0x0f, 0x0f, 'ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK: FEATURES_OK stuck on re-read');

  const f = booted('qemu-virt-smmuv3', 'kernel=6.1 vda.disable-legacy=off vda.disable-modern=on');
  const fd = dev(f);
  // Legacy: HOST_FEATURES shows bits 0-31 of everything, BAD_FEATURE included; the driver drops it.
  assert.is(fd.offeredFeatures() & (NOTIFY_ON_EMPTY | BAD | INDIRECT | EVENT_IDX), NOTIFY_ON_EMPTY | BAD | INDIRECT | EVENT_IDX);
  assert.is(fd.guestFeatures & (NOTIFY_ON_EMPTY | BAD), 0n);
  assert.is(fd.guestFeatures & (INDIRECT | EVENT_IDX), INDIRECT | EVENT_IDX);
  assert.is(fd.status & 0x08, 0, 'a legacy device has no FEATURES_OK handshake');
});

test('a request of three buffers goes into an indirect table the device reads by DMA through the SMMU', () => {
  const s = booted('qemu-virt-smmuv3', 'kernel=6.1 vda.iommu_platform=on');
  const before = s.system.machine.trace.records().length;
  const r = ok(s, 'blk read vda 2048 1').data as { request: { descs: { index: string; addr: bigint; len: number; flags: string[]; pa: bigint }[] } };
  const [head, ...table] = r.request.descs;
  assert.equal([head!.index, head!.len, head!.flags], ['0', 48, ['indirect']]);
  assert.ok(head!.addr !== head!.pa && head!.addr < 1n << 32n, 'the table is given to the device as an IOVA');
  assert.equal(table.map((d) => [d.index, d.len]), [['i0', 16], ['i1', 512], ['i2', 1]]);
  // The device read the table's three descriptors through its DMA path, at the table's IOVA.
  const recs = s.system.machine.trace.records().slice(before - s.system.machine.trace.records().length || undefined);
  const ind = recs.filter((t) => t.what?.startsWith('indirect desc['));
  assert.equal(ind.map((t) => [t.addr, t.len, t.path, t.outcome.kind === 'ok' ? t.outcome.pa : -1n]), [0, 1, 2].map((k) => [head!.addr + BigInt(16 * k), 16, 'translated', head!.pa + BigInt(16 * k)]));
  // The table was unmapped and kfree'd at completion: the IOVA no longer translates.
  assert.match(String(ok(s, `walk vda ${head!.addr}`).lines.map((l) => l.map((x) => x.text).join('')).join('\n')), /F_TRANSLATION/);
});

test('EVENT_IDX: the device publishes avail_event when it pops; the driver publishes used_event when it reaps', () => {
  const s = booted('qemu-virt-smmuv3', 'kernel=6.1 vda.iommu_platform=on');
  ok(s, 'blk read vda 0');
  ok(s, 'blk read vda 1');
  const vq = s.system.linux!.env.machine.memory;
  const q = (s.system.linux!.probes.get(s.system.linux!.device('vda')!.name) as unknown as { blk: { vq: { usedPa: bigint; availPa: bigint; num: number } } }).blk.vq;
  // Three requests so far (the partition read and two reads): avail_event = 3 (next index), used_event = 3 (last_used_idx).
  assert.is(vq.read16(q.usedPa + BigInt(4 + 8 * q.num)), 3);
  assert.is(vq.read16(q.availPa + BigInt(4 + 2 * q.num)), 3);
});

test('EVENT_IDX: a device that never popped is not kicked again (vring_need_event)', () => {
  // The modern device's DMA forced through the SMMU while the ring holds physical addresses: it faults on avail.idx.
  const s = booted('qemu-virt-smmuv3', 'kernel=6.1 vda.dma-path=translated');
  assert.ok(dev(s).broken);
  const d = dev(s);
  const n0 = d.queueState(0)!.notifies;
  ok(s, 'blk read vda 2048 1');
  // avail_event is still 0: the first request's kick covered index 0 only.
  assert.is(d.queueState(0)!.notifies, n0);
});

test('kmalloc: kmalloc-64 objects from one slab page in address order, freed objects reused first', () => {
  const pages = new PageAllocator([{ base: 0x4000_0000n, size: 0x10_0000n }]);
  const k = new Kmalloc(pages);
  const a = k.alloc(48);
  const b = k.alloc(48);
  assert.is(b - a, 64n);
  k.free(a);
  assert.is(k.alloc(40), a);
  assert.is(Kmalloc.cacheFor(48), 64);
  assert.is(Kmalloc.cacheFor(65), 96);
  assert.throws(() => k.free(0x4000_0008n), /did not hand out/);
});

test("the fast model's device (not QEMU's) offers neither INDIRECT_DESC nor EVENT_IDX (seed 000 read avail.flags), nor QEMU's BAD_FEATURE", () => {
  const f = booted('arm-fastmodel');
  assert.is(dev(f).offeredFeatures() & (INDIRECT | EVENT_IDX | BAD), 0n);
});

test.run();
