/**
 * info virtio, info virtio-queue-status / -element (QEMU's HMP layout, from
 * hw/virtio/virtio-hmp-cmds.c) and blk read, on the fast model (4.10 and
 * 4.10-rc) and QEMU virt with a translated modern device. Disk contents are
 * compared with the disk image itself; request shapes with REFERENCE.md 7.6.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSession } from '../../src/commands/index.ts';
import { VirtioBlkDevice } from '../../src/machine/virtio/blk.ts';
import { DMA_LAB_DISK } from '../../src/machine/virtio/disk.ts';
import type { Session } from '../../src/commands/session.ts';
import { booted, fails, ok, spanText, text } from './helpers.ts';

const TRANSLATED = 'vda.iommu_platform=on vda.disable-legacy=on';
type Dev = {
  transport: string;
  guestFeatureNames: string[];
  statusNames: string[];
  dmaPath: { path: string; iommu?: string; sid: number };
  ring: { useDmaApi: boolean; rule: string } | null;
  queues: { desc: bigint; avail: bigint; used: bigint; addrKind: string }[];
  disk: { partitions: string | null; scanError: { reason: string } | null } | null;
};
const virtio = (s: Session): Dev => (ok(s, 'info virtio').data as { devices: Dev[] }).devices[0]!;
const disk = (s: Session) => (s.machine.pciFunctions().find((f) => f instanceof VirtioBlkDevice) as VirtioBlkDevice).disk;
type BlkData = { outcome: string; polls: number | null; data: Uint8Array | null; request: { descs: { index: string; addr: bigint; len: number; flags: string[]; pa: bigint; mapped: boolean }[] } | null };

test('info virtio, kernel 4.10: legacy device, the ring bypasses the DMA API (the rule says why), no partition line', () => {
  const s = booted('arm-fastmodel');
  const d = virtio(s);
  assert.is(d.transport, 'legacy');
  assert.equal(d.dmaPath, { path: 'translated', iommu: 'smmuv3', sid: 0 });
  assert.is(d.ring!.useDmaApi, false);
  assert.match(d.ring!.rule, 'virtio_has_iommu_quirk');
  assert.is(d.queues[0]!.addrKind, 'physical');
  assert.is(d.disk!.partitions, null);
  assert.is(d.disk!.scanError!.reason, 'timeout');
  assert.not.ok(d.guestFeatureNames.includes('VIRTIO_F_VERSION_1'), 'a legacy device has 32 feature bits (REFERENCE.md 7.1)');
  const t = text(ok(s, 'info virtio'));
  assert.match(t, 'partition-table read never completed');
  assert.match(t, 'avail.idx at 0x');
});

test('info virtio, kernel 4.10-rc: the seed 000 rule puts the legacy ring through the DMA API', () => {
  const d = virtio(booted('arm-fastmodel', 'kernel=4.10-rc'));
  assert.is(d.ring!.useDmaApi, true);
  assert.match(d.ring!.rule, 'CONFIG_ARM64');
  assert.is(d.queues[0]!.addrKind, 'dma');
  assert.is(d.disk!.partitions, ' vda: vda1 vda2');
});

test('info virtio, QEMU iommu_platform=on: modern, ACCESS_PLATFORM negotiated, StreamID 8', () => {
  const d = virtio(booted('qemu-virt-smmuv3', TRANSLATED));
  assert.is(d.transport, 'modern');
  for (const f of ['VIRTIO_F_VERSION_1', 'VIRTIO_F_ACCESS_PLATFORM']) assert.ok(d.guestFeatureNames.includes(f), f);
  assert.equal(d.statusNames.sort(), ['ACKNOWLEDGE', 'DRIVER', 'DRIVER_OK', 'FEATURES_OK']);
  assert.equal(d.dmaPath, { path: 'translated', iommu: 'smmuv3', sid: 8 });
  assert.match(d.ring!.rule, 'ACCESS_PLATFORM');
  // before boot the device side is still shown
  const cold = virtio(createSession('qemu-virt-smmuv3'));
  assert.is(cold.ring, null);
  assert.equal(cold.statusNames, []);
});

test("info virtio-queue-status prints QEMU's HMP fields with the ring addresses info virtio reports", () => {
  const s = booted('qemu-virt-smmuv3', TRANSLATED);
  const q = virtio(s).queues[0]!;
  const lines = text(ok(s, 'info virtio-queue-status vda 0')).split('\n');
  const x16 = (v: bigint): string => `0x${v.toString(16).padStart(16, '0')}`;
  assert.equal(lines.map((l) => l.replace(/:.*$/, ':')), [
    '/machine/peripheral/vda/virtio-backend:',
    '  device_name:', '  queue_index:', '  inuse:', '  used_idx:', '  signalled_used:', '  signalled_used_valid:', '  last_avail_idx:', '  shadow_avail_idx:',
    '  VRing:', '    num:', '    num_default:', '    align:', '    desc:', '    avail:', '    used:',
  ]);
  assert.is(lines[1], '  device_name:          virtio-blk');
  assert.is(lines[2], '  queue_index:          0');
  assert.is(lines[13], `    desc:         ${x16(q.desc)}`);
  assert.is(lines[14], `    avail:        ${x16(q.avail)}`);
  assert.is(lines[15], `    used:         ${x16(q.used)}`);
  // QEMU 7.2 gives virtio-blk-pci one queue per vCPU (4 here): queue 3 exists, queue 4 does not.
  assert.match(text(ok(s, 'info virtio-queue-status vda 3')), '  queue_index:          3');
  const line = 'info virtio-queue-status vda 4';
  const e = fails(s, line);
  assert.is(e.message, 'Invalid virtqueue number 4');
  assert.is(spanText(line, e), '4');
});

test("info virtio-queue-element prints QEMU's layout: the partition read's 3-descriptor chain", () => {
  // INDIRECT_DESC is negotiated, so the chain sits in an indirect table; QEMU lists the table's
  // descriptors, not the ring's one indirect descriptor. With a DMA domain the completed request's
  // table is unmapped, and QEMU (reading it through the IOMMU) cannot map it:
  const t = booted('qemu-virt-smmuv3', TRANSLATED);
  const head = text(ok(t, 'info virtio-queue-element vda 0 0'));
  assert.match(head, /^ {8}addr 0x[0-9a-f]+ len 48 \(indirect\)$/m);
  assert.match(head, 'Cannot map indirect buffer');
  // In an identity domain the table is still readable at its physical address.
  const s = booted('qemu-virt-smmuv3', `${TRANSLATED} iommu.passthrough=1`);
  const lines = text(ok(s, 'info virtio-queue-element vda 0 0')).split('\n');
  assert.is(lines[0], '/machine/peripheral/vda/virtio-backend:');
  assert.is(lines[1], '  device_name: virtio-blk');
  assert.is(lines[2], '  index:   0');
  assert.equal(lines.slice(3, 5), ['  desc:', '    descs:']);
  // REFERENCE.md 7.6: header 16 bytes (device-readable), data (the page-cache read of 8 sectors), status 1 byte.
  assert.match(lines[5]!, /^ {8}addr 0x[0-9a-f]+ len 16 \(next\),$/);
  assert.match(lines[6]!, /^ {8}addr 0x[0-9a-f]+ len 4096 \(write, next\),$/);
  assert.match(lines[7]!, /^ {8}addr 0x[0-9a-f]+ len 1 \(write\)$/);
  assert.equal(lines.slice(8, 15), ['  avail:', '    flags: 0', '    idx:   1', '    ring:  0', '  used:', '    flags: 0', '    idx:   1']);
});

test('blk read vda 2048 1 returns the first sector of vda1, through IOVAs', () => {
  const s = booted('qemu-virt-smmuv3', TRANSLATED);
  const r = ok(s, 'blk read vda 2048 1');
  const d = r.data as BlkData;
  assert.is(d.outcome, 'ok');
  assert.equal([...d.data!], [...disk(s).read(2048n, 1)]);
  assert.is(DMA_LAB_DISK.parts[0].start, 2048);
  const descs = d.request!.descs;
  // One ring descriptor (INDIRECT, 3 x 16 bytes), then the table's three (virtqueue_add_split with vq->indirect).
  assert.equal(descs.map((x) => [x.len, x.flags]), [[48, ['indirect']], [16, ['next']], [512, ['write', 'next']], [1, ['write']]]);
  assert.equal(descs.map((x) => x.index), ['0', 'i0', 'i1', 'i2']);
  for (const x of descs) {
    assert.ok(x.mapped);
    assert.ok(x.addr < 1n << 32n && (x.addr & ~0xfffn) !== (x.pa & ~0xfffn), 'an IOVA, not the physical address');
  }
  const text4096 = ok(s, 'blk read vda 4096').data as BlkData;
  assert.is(new TextDecoder().decode(text4096.data!.subarray(0, DMA_LAB_DISK.text.length)), DMA_LAB_DISK.text);
  const mbr = (ok(s, 'blk read vda 0').data as BlkData).data!;
  assert.equal([mbr[510], mbr[511]], [0x55, 0xaa]);
  const two = ok(s, 'blk read vda 2048 2');
  assert.match(text(two), '512 more bytes not shown');
});

test('blk read on kernel 4.10: physical addresses in the ring, the stopped device never completes', () => {
  const s = booted('arm-fastmodel');
  const r = ok(s, 'blk read vda 2048 1');
  const d = r.data as BlkData;
  assert.is(d.outcome, 'timeout');
  assert.is(d.polls, 16);
  for (const x of d.request!.descs) {
    assert.is(x.mapped, false);
    assert.is(x.addr, x.pa, 'no DMA API: the descriptor carries the physical address');
  }
  assert.match(text(r), 'outcome: timeout');
});

test('blk and virtio error paths', () => {
  const cold = createSession('arm-fastmodel');
  let line = 'blk read vda 0';
  let e = fails(cold, line);
  assert.is(e.message, "the kernel has not booted: run 'boot' first");
  assert.is(spanText(line, e), 'vda');
  const s = booted('arm-fastmodel', 'kernel=4.10-rc');
  line = 'blk read vda 2097152';
  e = fails(s, line);
  assert.match(e.message, 'beyond end of device');
  assert.is(spanText(line, e), '2097152');
  line = 'blk read vda 0 257';
  e = fails(s, line);
  assert.match(e.message, '1..256');
  assert.is(spanText(line, e), '257');
  line = 'blk read sda 0';
  e = fails(s, line);
  assert.match(e.message, "no device 'sda'");
  assert.is(spanText(line, e), 'sda');
});

test.run();
