// The CPU write-back cache (src/machine/cache.ts): a non-coherent device
// sees RAM, the CPU sees its lines, maintenance reconciles them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PhysicalMemory } from '../../src/machine/memory.ts';
import { CpuCache, CACHE_LINE, MAX_LINES } from '../../src/machine/cache.ts';

function setup() {
  const mem = new PhysicalMemory();
  mem.addRegion({ name: 'ram', base: 0x4000_0000n, size: 0x1000_0000n, kind: 'ram' });
  return { mem, c: new CpuCache(mem) };
}
const A = 0x4000_1000n;

test('a CPU store stays in a dirty line: the device (RAM) sees the old bytes until a clean', () => {
  const { mem, c } = setup();
  c.write(A, new Uint8Array([1, 2, 3, 4]));
  assert.equal([...mem.read(A, 4)], [0, 0, 0, 0]);
  assert.equal([...c.read(A, 4)], [1, 2, 3, 4]);
  c.clean(A, 4);
  assert.equal([...mem.read(A, 4)], [1, 2, 3, 4]);
  assert.equal(c.linesIn(A, 4), [{ line: A, dirty: false, stale: false }]);
});

test('a device write behind a cached line: the CPU reads stale bytes until an invalidate', () => {
  const { mem, c } = setup();
  assert.equal([...c.read(A, 2)], [0, 0]);
  mem.write(A, new Uint8Array([0x55, 0xaa]));
  assert.equal([...c.read(A, 2)], [0, 0]);
  assert.equal(c.linesIn(A, 2), [{ line: A, dirty: false, stale: true }]);
  c.invalidate(A, 2);
  assert.equal([...c.read(A, 2)], [0x55, 0xaa]);
});

test('invalidating a dirty line loses the store; clean+invalidate keeps it', () => {
  const { mem, c } = setup();
  c.write(A, new Uint8Array([9]));
  c.invalidate(A, 1);
  assert.is(mem.read(A, 1)[0], 0);
  assert.is(c.stats.dropped, 1);
  c.write(A, new Uint8Array([9]));
  c.cleanInvalidate(A, 1);
  assert.is(mem.read(A, 1)[0], 9);
  assert.is(c.size, 0);
});

test('a range across lines touches each line; maintenance is per line', () => {
  const { mem, c } = setup();
  const at = A + BigInt(CACHE_LINE - 2);
  c.write(at, new Uint8Array([1, 2, 3, 4]));
  assert.is(c.size, 2);
  c.clean(at + 2n, 1);
  assert.equal([...mem.read(at, 4)], [0, 0, 3, 4]);
});

test('bounded: past MAX_LINES the oldest line is written back and evicted, deterministically', () => {
  const { mem, c } = setup();
  c.write(A, new Uint8Array([7]));
  for (let i = 1; i <= MAX_LINES; i++) c.read(A + BigInt(i * CACHE_LINE), 1);
  assert.is(c.size, MAX_LINES);
  assert.is(c.stats.evictions, 1);
  assert.is(mem.read(A, 1)[0], 7);
});

test('save/restore (undo) brings the lines and their dirt back', () => {
  const { mem, c } = setup();
  c.write(A, new Uint8Array([5]));
  const st = c.saveState();
  c.cleanInvalidate(A, 1);
  c.restoreState(st);
  assert.equal(c.linesIn(A, 1), [{ line: A, dirty: true, stale: false }]);
  assert.is(c.read(A, 1)[0], 5);
  mem.write(A, new Uint8Array([0]));
});

test.run();
