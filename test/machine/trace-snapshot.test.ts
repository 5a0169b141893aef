/**
 * The DMA trace's snapshots copy the record list, not the records (issue
 * 15): records are frozen when added, a snapshot is not changed by later
 * records or by clear(), and restoring it gives back exactly the list it
 * held, as often as it is restored.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DmaTrace } from '../../src/machine/trace.ts';

const rec = (addr: bigint) => ({ device: 'vda', op: 'read' as const, addr, len: 512, path: 'bypass' as const, steps: [], outcome: { kind: 'ok' as const, pa: addr } });

test('a snapshot holds its records through later adds, a clear and repeated restores', () => {
  const t = new DmaTrace();
  t.add(rec(0x1000n));
  t.add(rec(0x2000n));
  const snap = t.saveState();
  const before = t.records().map((r) => [r.seq, r.addr]);
  t.add(rec(0x3000n));
  t.clear();
  t.add(rec(0x4000n));
  t.restoreState(snap);
  assert.equal(t.records().map((r) => [r.seq, r.addr]), before);
  assert.is(t.nextSeq, 3);
  t.add(rec(0x5000n));
  t.restoreState(snap);
  assert.equal(t.records().map((r) => [r.seq, r.addr]), before, 'restored twice: the snapshot did not take the later add');
});

test('records are frozen: a snapshot can share them safely', () => {
  const t = new DmaTrace();
  const r = t.add(rec(0x1000n))!;
  assert.ok(Object.isFrozen(r));
  assert.throws(() => {
    (r as { len: number }).len = 1;
  });
});

test.run();
