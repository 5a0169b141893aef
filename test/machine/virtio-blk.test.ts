import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildVirtioTestbed } from '../../src/machine/virtio/testbed.ts';
import { DMA_LAB_DISK, DiskImage, makeDmaLabDisk, mbrChs } from '../../src/machine/virtio/disk.ts';
import { encodeDesc, VRING_DESC_F_NEXT as NEXT, VRING_DESC_F_WRITE as WRITE } from '../../src/machine/virtio/ring.ts';
import { VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT } from '../../src/machine/virtio/blk.ts';
import type { Iommu } from '../../src/machine/dma.ts';
import { PCI_COMMAND } from '../../src/machine/pci.ts';

// ---- the disk image ------------------------------------------------------------

test('MBR: 0x55AA at 510, two entries with the documented types, starts and sizes', () => {
  const d = makeDmaLabDisk();
  const s = d.read(0n, 1);
  assert.is(s[510], 0x55);
  assert.is(s[511], 0xaa);
  // Entry 1 at 446: bootable, CHS 20 21 00 for LBA 2048 (fdisk's classic value), type 0x83, and
  // last CHS for LBA 1837055 with 255 heads x 63 sectors: cylinder 114, head 29159 % 255 = 89, sector 38 + 1.
  assert.equal([...s.subarray(446, 446 + 8)], [0x80, 0x20, 0x21, 0x00, 0x83, 89, 39, 114]);
  assert.equal([...s.subarray(454, 462)], [0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x1c, 0x00]); // 2048, 1835008
  // Entry 2 at 462: type 0x82, start 1837056 (0x1c0800), size 260096 (0x3f800).
  assert.is(s[462], 0x00);
  assert.is(s[466], 0x82);
  assert.equal([...s.subarray(470, 478)], [0x00, 0x08, 0x1c, 0x00, 0x00, 0xf8, 0x03, 0x00]);
  assert.equal([...s.subarray(478, 510)], new Array(32).fill(0));
  assert.is(new TextDecoder().decode(s.subarray(0, 12)), 'dma-lab disk');
  assert.is(s[440]! | (s[441]! << 8) | (s[442]! << 16) | (s[443]! << 24), DMA_LAB_DISK.diskSignature);
  // vda2 ends exactly at the end of the 1 GiB disk.
  assert.is(1837056 + 260096, 2097152);
  assert.is(d.capacity, 2097152n);
});

test('CHS encoding: LBA 0 -> 0/0/1, LBA 2048 -> head 32 sector 33, past cylinder 1023 saturates', () => {
  assert.equal(mbrChs(0), [0, 1, 0]);
  assert.equal(mbrChs(2048), [32, 33, 0]);
  assert.equal(mbrChs(16450560), [0xfe, 0xff, 0xff]);
});

test('vda1 carries an ext4 superblock (0xEF53 at byte 1080 of the partition) and a text sector; vda2 a swap signature', () => {
  const d = makeDmaLabDisk();
  const sb = d.read(2050n, 1);
  assert.is(sb[0x38], 0x53);
  assert.is(sb[0x39], 0xef);
  assert.is(new TextDecoder().decode(sb.subarray(0x78, 0x78 + 12)), 'dma-lab-root');
  assert.match(new TextDecoder().decode(d.read(4096n, 1)), /^hello from vda1/);
  const sw = d.read(1837063n, 1);
  assert.is(new TextDecoder().decode(sw.subarray(502, 512)), 'SWAPSPACE2');
});

test('the disk is sparse, zero where unwritten, range-checked and undoable', () => {
  const d = new DiskImage(16n);
  assert.equal([...d.read(3n, 1)], new Array(512).fill(0));
  const snap = d.saveState();
  d.write(3n, new Uint8Array(512).fill(7));
  assert.is(d.read(3n, 1)[0], 7);
  assert.equal(d.usedSectors(), [3n]);
  d.restoreState(snap);
  assert.is(d.read(3n, 1)[0], 0);
  assert.throws(() => d.read(15n, 2));
  assert.throws(() => d.write(0n, new Uint8Array(100)));
});

// ---- the device, driven by hand -----------------------------------------------------

const IO = 0x3eff_1000n;
const RING = 0x4010_0000n;
const AVAIL = RING + 0x1000n;
const USED = RING + 0x2000n;
const REQ = 0x4020_0000n;
const DATA = 0x4021_0000n;

function setup(o: Parameters<typeof buildVirtioTestbed>[0] = {}) {
  const t = buildVirtioTestbed({ ...o, disk: o.disk ?? makeDmaLabDisk('QM00001-dma-lab') });
  t.dev.configWrite(PCI_COMMAND, 2, 0x7n);
  const mem = t.machine.memory;
  mem.write8(IO + 18n, 3);
  mem.write16(IO + 14n, 0);
  mem.write32(IO + 8n, Number(RING >> 12n));
  return t;
}

/** Queue one request as chain 0..2 (or with `dataLen` 0: 0..1) in avail slot `slot` and notify. */
function request(t: ReturnType<typeof setup>, type: number, sector: bigint, dataLen: number, slot = 0, write = true) {
  const mem = t.machine.memory;
  mem.write32(REQ, type);
  mem.write32(REQ + 4n, 0);
  mem.write64(REQ + 8n, sector);
  mem.write8(REQ + 16n, 0xee);
  if (dataLen) {
    mem.write(RING, encodeDesc({ addr: REQ, len: 16, flags: NEXT, next: 1 }));
    mem.write(RING + 16n, encodeDesc({ addr: DATA, len: dataLen, flags: NEXT | (write ? WRITE : 0), next: 2 }));
    mem.write(RING + 32n, encodeDesc({ addr: REQ + 16n, len: 1, flags: WRITE, next: 0 }));
  } else {
    mem.write(RING, encodeDesc({ addr: REQ, len: 16, flags: NEXT, next: 1 }));
    mem.write(RING + 16n, encodeDesc({ addr: REQ + 16n, len: 1, flags: WRITE, next: 0 }));
  }
  mem.write16(AVAIL + 4n + BigInt(2 * slot), 0);
  mem.write16(AVAIL + 2n, slot + 1);
  mem.write16(IO + 16n, 0);
  return { status: mem.read8(REQ + 16n), usedIdx: mem.read16(USED + 2n), usedId: mem.read32(USED + 4n + BigInt(8 * slot)), usedLen: mem.read32(USED + 8n + BigInt(8 * slot)) };
}

test('T_IN of sector 0: the MBR lands in the data buffer, status OK, used {id 0, len 513}, interrupt', () => {
  const t = setup();
  const r = request(t, VIRTIO_BLK_T_IN, 0n, 512);
  assert.equal(r, { status: VIRTIO_BLK_S_OK, usedIdx: 1, usedId: 0, usedLen: 513 });
  const mem = t.machine.memory;
  assert.is(mem.read8(DATA + 510n), 0x55);
  assert.is(mem.read8(DATA + 511n), 0xaa);
  assert.is(t.dev.isr & 1, 1);
  assert.equal(t.dev.requests().map((x) => [x.type, x.sector, x.bytes, x.status]), [[0, 0n, 512, 0]]);
  const labels = t.machine.trace.records().map((x) => x.what);
  assert.equal(labels.slice(0, 10), ['avail.idx', 'avail.ring[0]', 'desc[0]', 'desc[1]', 'desc[2]', 'blk hdr', 'blk data', 'blk status', 'used.ring[0]', 'used.idx']);
});

test('T_OUT writes the disk; T_GET_ID returns the serial; an unknown type is UNSUPP; past the end is IOERR', () => {
  const t = setup();
  t.machine.memory.write(DATA, new Uint8Array(512).fill(0x5a));
  assert.is(request(t, VIRTIO_BLK_T_OUT, 100n, 512, 0, false).status, VIRTIO_BLK_S_OK);
  assert.is(t.dev.disk.read(100n, 1)[7], 0x5a);
  assert.is(request(t, VIRTIO_BLK_T_GET_ID, 0n, 20, 1).status, VIRTIO_BLK_S_OK);
  assert.is(new TextDecoder().decode(t.machine.memory.read(DATA, 15)), 'QM00001-dma-lab');
  assert.is(request(t, 0x77, 0n, 0, 2).status, VIRTIO_BLK_S_UNSUPP);
  assert.is(request(t, VIRTIO_BLK_T_IN, 2097152n, 512, 3).status, VIRTIO_BLK_S_IOERR);
  assert.is(t.machine.memory.read16(USED + 2n), 4);
});

test('a descriptor loop stops the device ("Looped descriptor") instead of hanging', () => {
  const t = setup();
  const mem = t.machine.memory;
  mem.write(RING, encodeDesc({ addr: REQ, len: 16, flags: NEXT, next: 1 }));
  mem.write(RING + 16n, encodeDesc({ addr: DATA, len: 512, flags: NEXT, next: 0 }));
  mem.write16(AVAIL + 4n, 0);
  mem.write16(AVAIL + 2n, 1);
  mem.write16(IO + 16n, 0);
  assert.is(t.dev.broken, 'Looped descriptor');
  // Bounded by the queue size: 256 descriptors followed, the 257th read is the one that trips the check.
  assert.is(t.machine.trace.records().filter((r) => r.what?.startsWith('desc[')).length, 257);
  assert.is(mem.read16(USED + 2n), 0);
  const before = t.machine.trace.records().length;
  mem.write16(IO + 16n, 0);
  assert.is(t.machine.trace.records().length, before, 'a broken device ignores notifies until reset');
  mem.write8(IO + 18n, 0);
  assert.is(t.dev.broken, undefined);
});

test('a device-writable buffer before a device-readable one is an error', () => {
  const t = setup();
  const mem = t.machine.memory;
  mem.write(RING, encodeDesc({ addr: DATA, len: 512, flags: NEXT | WRITE, next: 1 }));
  mem.write(RING + 16n, encodeDesc({ addr: REQ, len: 16, flags: 0, next: 0 }));
  mem.write16(AVAIL + 2n, 1);
  mem.write16(IO + 16n, 0);
  assert.is(t.dev.broken, 'Incorrect order for descriptors');
});

test('a head index past the table, or next past the table, is a device error', () => {
  const t = setup();
  const mem = t.machine.memory;
  mem.write16(AVAIL + 4n, 300);
  mem.write16(AVAIL + 2n, 1);
  mem.write16(IO + 16n, 0);
  assert.is(t.dev.broken, 'Guest says index 300 is available');
  const u = setup();
  u.machine.memory.write(RING, encodeDesc({ addr: REQ, len: 16, flags: NEXT, next: 999 }));
  u.machine.memory.write16(AVAIL + 2n, 1);
  u.machine.memory.write16(IO + 16n, 0);
  assert.is(u.dev.broken, 'Desc next is 999');
});

test('an indirect table (VIRTIO_RING_F_INDIRECT_DESC negotiated) is followed like a direct chain', () => {
  const t = setup();
  const mem = t.machine.memory;
  mem.write32(IO + 4n, 1 << 28);
  const TABLE = 0x4030_0000n;
  mem.write32(REQ, VIRTIO_BLK_T_IN);
  mem.write64(REQ + 8n, 2050n);
  mem.write(TABLE, encodeDesc({ addr: REQ, len: 16, flags: NEXT, next: 1 }));
  mem.write(TABLE + 16n, encodeDesc({ addr: DATA, len: 512, flags: NEXT | WRITE, next: 2 }));
  mem.write(TABLE + 32n, encodeDesc({ addr: REQ + 16n, len: 1, flags: WRITE, next: 0 }));
  mem.write(RING, encodeDesc({ addr: TABLE, len: 48, flags: 4, next: 0 }));
  mem.write16(AVAIL + 2n, 1);
  mem.write16(IO + 16n, 0);
  assert.is(t.dev.broken, undefined);
  assert.is(mem.read8(REQ + 16n), 0);
  assert.is(mem.read16(DATA + 0x38n), 0xef53);
  assert.ok(t.machine.trace.records().some((r) => r.what === 'indirect desc[2]'));
});

test('an indirect descriptor without the feature negotiated stops the device', () => {
  const t = setup();
  const mem = t.machine.memory;
  mem.write(RING, encodeDesc({ addr: 0x4030_0000n, len: 48, flags: 4, next: 0 }));
  mem.write16(AVAIL + 2n, 1);
  mem.write16(IO + 16n, 0);
  assert.match(t.dev.broken!, /VIRTIO_RING_F_INDIRECT_DESC was not negotiated/);
});

const faultAll: Iommu = {
  name: 'smmu0',
  kind: 'smmuv3',
  translate: (req) => ({ ok: false, fault: { source: 'smmu0', code: 0x10, name: 'F_TRANSLATION', detail: `no mapping for ${req.addr.toString(16)}`, recorded: true }, steps: [] }),
  saveState: () => ({}),
  restoreState: () => {},
};

test('a translated device whose IOMMU faults everything stops at its first ring read (avail.idx)', () => {
  const t = setup();
  t.dev.dmaMaster = { ...t.dev.dmaMaster, path: 'translated', iommu: faultAll };
  request(t, VIRTIO_BLK_T_IN, 0n, 512);
  assert.ok(t.dev.broken);
  assert.match(t.dev.broken!, /DMA fault reading avail\.idx at 0x40101002/);
  assert.is(t.dev.lastFault!.what, 'avail.idx');
  assert.is(t.dev.lastFault!.fault.name, 'F_TRANSLATION');
  const recs = t.machine.trace.records();
  assert.is(recs.length, 1);
  assert.is(recs[0]!.outcome.kind, 'fault');
  assert.is(t.machine.memory.read16(USED + 2n), 0);
  assert.is(t.machine.memory.read8(REQ + 16n), 0xee, 'status never written');
});

test('without bus mastering the device cannot touch the ring', () => {
  const t = setup();
  t.dev.configWrite(PCI_COMMAND, 2, 0x3n);
  request(t, VIRTIO_BLK_T_IN, 0n, 512);
  assert.match(t.dev.broken!, /bus mastering is disabled/);
  assert.is(t.machine.trace.records().length, 0);
});

test('a VERSION_1 device that faults sets DEVICE_NEEDS_RESET', () => {
  const t = buildVirtioTestbed({ disableLegacy: true });
  t.dev.configWrite(PCI_COMMAND, 2, 0x7n);
  const M = 0x80_0000_0000n;
  const mem = t.machine.memory;
  mem.write8(M + 20n, 3);
  mem.write32(M + 8n, 1);
  mem.write32(M + 12n, 1);
  mem.write8(M + 20n, 11);
  mem.write16(M + 22n, 0);
  mem.write32(M + 32n, Number(RING & 0xffff_ffffn));
  mem.write32(M + 40n, Number(AVAIL & 0xffff_ffffn));
  mem.write32(M + 48n, Number(USED & 0xffff_ffffn));
  mem.write16(M + 28n, 1);
  mem.write8(M + 20n, 15);
  t.dev.dmaMaster = { ...t.dev.dmaMaster, path: 'translated', iommu: faultAll };
  mem.write16(M + 0x3000n, 0);
  assert.ok(t.dev.broken);
  assert.is(t.dev.status & 0x40, 0x40);
  assert.is(t.dev.isr & 2, 2, 'config-change interrupt');
});

test('device state (queue indices, request log, disk) rolls back with restoreState', () => {
  const t = setup();
  const snap = t.dev.saveState();
  t.machine.memory.write(DATA, new Uint8Array(512).fill(1));
  request(t, VIRTIO_BLK_T_OUT, 5n, 512, 0, false);
  assert.is(t.dev.disk.read(5n, 1)[0], 1);
  t.dev.restoreState(snap);
  assert.is(t.dev.disk.read(5n, 1)[0], 0);
  assert.is(t.dev.requests().length, 0);
  assert.is(t.dev.queueState(0)!.lastAvailIdx, 0);
});

test.run();
