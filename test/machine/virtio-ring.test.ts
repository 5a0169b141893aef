import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Machine } from '../../src/machine/machine.ts';
import type { Iommu } from '../../src/machine/dma.ts';
import { decode } from '../../src/machine/fields.ts';
import {
  SplitRing,
  VIRTQ_DESC_LAYOUT,
  VIRTQ_USED_ELEM_LAYOUT,
  VRING_DESC_F_INDIRECT,
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
  decodeDesc,
  encodeDesc,
  specLegacyQueueSize,
  vringAvailSize,
  vringDescSize,
  vringLayout,
  vringNeedEvent,
  vringSize,
  vringUsedSize,
} from '../../src/machine/virtio/ring.ts';

// REFERENCE.md 7.2 table: N, align, vring_size, avail @, used @.
const TABLE: [number, number, number, number, number][] = [
  [128, 4096, 5126, 0x800, 0x1000],
  [256, 4096, 10246, 0x1000, 0x2000],
  [128, 64, 3398, 0x800, 0x940],
  [256, 64, 6726, 0x1000, 0x1240],
];

test('vring_size and part offsets match REFERENCE 7.2 for N=128/256, align 4096/64', () => {
  for (const [n, align, size, avail, used] of TABLE) {
    assert.is(vringSize(n, align), size, `vring_size(${n}, ${align})`);
    const l = vringLayout(0x4000_0000n, n, align);
    assert.is(l.desc, 0x4000_0000n);
    assert.is(l.avail - l.desc, BigInt(avail), `avail offset N=${n} align=${align}`);
    assert.is(l.used - l.desc, BigInt(used), `used offset N=${n} align=${align}`);
    assert.is(l.size, size);
  }
});

test('part sizes: desc 16N, avail 6+2N, used 6+8N', () => {
  assert.is(vringDescSize(256), 4096);
  assert.is(vringAvailSize(256), 518);
  assert.is(vringUsedSize(256), 2054);
  assert.is(vringDescSize(128), 2048);
  assert.is(vringAvailSize(128), 262);
  assert.is(vringUsedSize(128), 1030);
});

test('PAGE_ALIGN(vring_size) for legacy rings is 8192 / 12288, as is the spec legacy total', () => {
  const pageAlign = (x: number): number => Math.ceil(x / 4096) * 4096;
  assert.is(pageAlign(vringSize(128, 4096)), 8192);
  assert.is(pageAlign(vringSize(256, 4096)), 12288);
  assert.is(specLegacyQueueSize(128, 4096), 8192);
  assert.is(specLegacyQueueSize(256, 4096), 12288);
});

test('descriptor flags: NEXT 1, WRITE 2, INDIRECT 4', () => {
  assert.is(VRING_DESC_F_NEXT, 1);
  assert.is(VRING_DESC_F_WRITE, 2);
  assert.is(VRING_DESC_F_INDIRECT, 4);
});

test('virtq_desc layout: addr le64 @0, len le32 @8, flags le16 @12, next le16 @14', () => {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, 0x8fa0_81000n, true);
  v.setUint32(8, 0x200, true);
  v.setUint16(12, 3, true);
  v.setUint16(14, 7, true);
  const d = decodeDesc(b);
  assert.equal(d, { addr: 0x8fa0_81000n, len: 0x200, flags: 3, next: 7 });
  assert.equal(encodeDesc(d), b);
  const words = [v.getBigUint64(0, true), v.getBigUint64(8, true)];
  const f = Object.fromEntries(decode(VIRTQ_DESC_LAYOUT, words).map((x) => [x.name, x.value]));
  assert.equal(f, { addr: 0x8fa0_81000n, len: 0x200n, flags: 3n, next: 7n });
  const u = Object.fromEntries(decode(VIRTQ_USED_ELEM_LAYOUT, [(0x1001n << 32n) | 5n]).map((x) => [x.name, x.value]));
  assert.equal(u, { id: 5n, len: 0x1001n });
});

test('vring_need_event: interrupt only when used_event lies in [old, new)', () => {
  assert.ok(vringNeedEvent(0, 1, 0));
  assert.not.ok(vringNeedEvent(5, 3, 2));
  assert.ok(vringNeedEvent(2, 3, 2));
  assert.ok(vringNeedEvent(0xffff, 1, 0xfffe)); // wraps
});

function ramMachine(): Machine {
  const m = new Machine({ name: 't', arch: 'aarch64', board: 't', cpus: 1, description: '' });
  m.memory.addRegion({ name: 'ram', base: 0x4000_0000n, size: 0x100_0000n, kind: 'ram' });
  return m;
}

test('device accessors read and write the ring through the DMA engine, each traced with its label', () => {
  const m = ramMachine();
  const base = 0x4010_0000n;
  const l = vringLayout(base, 256, 4096);
  m.memory.write(l.desc + 16n * 3n, encodeDesc({ addr: 0x4020_0000n, len: 512, flags: VRING_DESC_F_WRITE, next: 0 }));
  m.memory.write16(l.avail + 2n, 1);
  m.memory.write16(l.avail + 4n, 3);
  const ring = new SplitRing(m, { name: 'vda', sid: 8, path: 'bypass' }, { num: 256, desc: l.desc, avail: l.avail, used: l.used });
  const idx = ring.availIdx();
  assert.ok(idx.ok && idx.value === 1);
  const head = ring.availRing(0);
  assert.ok(head.ok && head.value === 3);
  const d = ring.readDesc(3);
  assert.ok(d.ok && d.value.addr === 0x4020_0000n && d.value.len === 512);
  assert.ok(ring.usedSetElem(0, 3, 513).ok);
  assert.ok(ring.usedSetIdx(1).ok);
  assert.is(m.memory.read32(l.used + 4n), 3);
  assert.is(m.memory.read32(l.used + 8n), 513);
  assert.is(m.memory.read16(l.used + 2n), 1);
  const recs = m.trace.records();
  assert.equal(recs.map((r) => r.what), ['avail.idx', 'avail.ring[0]', 'desc[3]', 'used.ring[0]', 'used.idx']);
  assert.equal(recs.map((r) => r.addr), [l.avail + 2n, l.avail + 4n, l.desc + 48n, l.used + 4n, l.used + 2n]);
  assert.ok(recs.every((r) => r.path === 'bypass' && r.outcome.kind === 'ok'));
});

test('a faulting access comes back as a value with the label and the address', () => {
  const m = ramMachine();
  const iommu: Iommu = {
    name: 'smmu0',
    kind: 'smmuv3',
    translate: () => ({ ok: false, fault: { source: 'smmu0', code: 0x10, name: 'F_TRANSLATION', detail: 'no mapping', recorded: true }, steps: [] }),
    saveState: () => ({}),
    restoreState: () => {},
  };
  const ring = new SplitRing(m, { name: 'vda', sid: 8, path: 'translated', iommu }, { num: 256, desc: 0x8fa08_0000n, avail: 0x8fa08_1000n, used: 0x8fa08_2000n });
  const r = ring.availIdx();
  assert.not.ok(r.ok);
  if (!r.ok) {
    assert.is(r.what, 'avail.idx');
    assert.is(r.at, 0x8fa08_1002n);
    assert.is(r.fault.code, 0x10);
  }
  const rec = m.trace.records()[0]!;
  assert.is(rec.outcome.kind, 'fault');
  assert.is(rec.sid, 8);
  assert.is(rec.what, 'avail.idx');
});

test.run();
