import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PhysicalMemory } from '../../src/machine/memory.ts';
import { BusError, LimitError } from '../../src/machine/errors.ts';

const mk = (): PhysicalMemory => {
  const m = new PhysicalMemory();
  m.addRegion({ name: 'ram', base: 0x4000_0000n, size: 1n << 40n, kind: 'ram' });
  return m;
};

test('a terabyte of RAM costs no pages until written; unwritten RAM reads zero', () => {
  const m = mk();
  assert.is(m.pageCount(), 0);
  assert.is(m.read64(0x4000_0000n + (1n << 39n)), 0n);
  assert.equal([...m.read(0x4000_0ff8n, 16)], new Array(16).fill(0));
  assert.is(m.pageCount(), 0, 'reads never allocate');
  m.write8(0x4000_0000n, 1);
  assert.is(m.pageCount(), 1);
});

test('little-endian scalar access at every size', () => {
  const m = mk();
  m.write64(0x4000_0000n, 0x1122_3344_5566_7788n);
  assert.is(m.read8(0x4000_0000n), 0x88);
  assert.is(m.read16(0x4000_0000n), 0x7788);
  assert.is(m.read32(0x4000_0004n), 0x1122_3344);
  assert.is(m.read64(0x4000_0000n), 0x1122_3344_5566_7788n);
  assert.equal([...m.read(0x4000_0000n, 3)], [0x88, 0x77, 0x66]);
});

test('accesses that cross a page boundary split correctly', () => {
  const m = mk();
  m.write64(0x4000_0ffcn, 0xaabb_ccdd_eeff_0011n);
  assert.is(m.read64(0x4000_0ffcn), 0xaabb_ccdd_eeff_0011n);
  assert.is(m.read32(0x4000_1000n), 0xaabb_ccdd);
  assert.is(m.pageCount(), 2);
});

test('a 64-bit value with bits above 2^53 is stored exactly', () => {
  const m = mk();
  m.write64(0x4000_0010n, 0xffff_ffff_ffff_ffffn);
  assert.is(m.read64(0x4000_0010n), 0xffff_ffff_ffff_ffffn);
  m.write64(0x4000_0018n, (1n << 53n) + 1n);
  assert.is(m.read64(0x4000_0018n), (1n << 53n) + 1n);
});

test('an access to a hole is a BusError naming the address', () => {
  const m = mk();
  try {
    m.read32(0x1000n);
    assert.unreachable();
  } catch (e) {
    assert.instance(e, BusError);
    assert.match((e as Error).message, '0x1000');
  }
  assert.throws(() => m.write8(0x3fff_ffffn, 0), (e: Error) => e instanceof BusError && e.message.includes('0x3fffffff'));
});

test('an access running past a region end is refused', () => {
  const m = new PhysicalMemory();
  m.addRegion({ name: 'small', base: 0x1000n, size: 0x1000n, kind: 'ram' });
  assert.throws(() => m.read64(0x1ffcn), /runs past the end of small/);
});

test('ROM refuses writes; MMIO goes to its handler with offset and size', () => {
  const m = new PhysicalMemory();
  m.addRegion({ name: 'rom', base: 0n, size: 0x1000n, kind: 'rom' });
  const seen: [bigint, number, bigint][] = [];
  m.addRegion({ name: 'dev', base: 0x9000_0000n, size: 0x1000n, kind: 'mmio', handler: { read: (o, s) => BigInt(s) * 0x100n + o, write: (o, s, v) => void seen.push([o, s, v]) } });
  assert.throws(() => m.write8(0x10n, 1), /read-only/);
  assert.is(m.read32(0x9000_0010n), 0x410);
  m.write16(0x9000_0020n, 0xbeef);
  assert.equal(seen, [[0x20n, 2, 0xbeefn]]);
});

test('regions may not overlap', () => {
  const m = mk();
  assert.throws(() => m.addRegion({ name: 'x', base: 0x4000_1000n, size: 0x1000n, kind: 'ram' }), /overlaps/);
});

test('a rolled-back transaction restores written and newly created pages', () => {
  const m = mk();
  m.write32(0x4000_0000n, 0x1234);
  m.begin();
  m.write32(0x4000_0000n, 0xdead);
  m.write32(0x4000_5000n, 0xbeef);
  m.rollback();
  assert.is(m.read32(0x4000_0000n), 0x1234);
  assert.is(m.read32(0x4000_5000n), 0);
  assert.is(m.pageCount(), 1);
});

test('a committed journal reverts later (undo)', () => {
  const m = mk();
  m.begin();
  m.fill(0x4000_0000n, 0x2000n, 0xaa);
  const j = m.commit();
  assert.is(m.read8(0x4000_1fffn), 0xaa);
  m.revert(j);
  assert.is(m.read8(0x4000_1fffn), 0);
  assert.is(m.pageCount(), 0);
});

test('the page limit is explicit', () => {
  const m = mk();
  m.maxPages = 2;
  m.write8(0x4000_0000n, 1);
  m.write8(0x4000_1000n, 1);
  assert.throws(() => m.write8(0x4000_2000n, 1), (e: Error) => e instanceof LimitError && /at most 2 pages/.test(e.message));
});

test('10,000 scattered pages cost 10,000 pages', () => {
  const m = mk();
  for (let i = 0; i < 10_000; i++) m.write8(0x4000_0000n + BigInt(i) * 0x1_0000_0000n / 64n, i & 0xff);
  assert.is(m.pageCount(), 10_000);
});

test('the stated bound on written RAM is 1 GiB per machine (issue 12 item 12)', () => {
  const m = new PhysicalMemory();
  assert.is(m.maxPages * 4096, 1 << 30);
});

test.run();
