/** `repeat N CMD` (issue 13): one command, one undo step, rolled back whole on a failure, a stated limit. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSession } from '../../src/commands/index.ts';
import { REPEAT_MAX } from '../../src/commands/builtin/repeat.ts';
import fc from 'fast-check';
import type { Session } from '../../src/commands/session.ts';
import { booted, checkLine, fails, ok, text } from './helpers.ts';

test('runs the command N times in order: $ counts up', () => {
  const s = createSession();
  ok(s, 'print 0');
  const r = ok(s, 'repeat 3 print $ + 1');
  assert.is(s.env.last, 3n);
  assert.equal((r.data as { count: number; command: string }).count, 3);
  assert.is((r.data as { command: string }).command, 'print $ + 1');
  assert.match(text(r), '── run 1 of 3 ──\n$ = 0x1 (1)');
});

test('the count has a stated limit, with a caret under it', () => {
  const s = createSession();
  for (const n of ['0', String(REPEAT_MAX + 1)]) {
    const e = fails(s, `repeat ${n} print 1`);
    assert.match(e.message, `1 to ${REPEAT_MAX} times (a stated limit)`);
    assert.equal(e.span, { start: 7, end: 7 + n.length });
  }
  ok(s, `repeat ${REPEAT_MAX} print 1`);
});

test('identical outputs are summarised; show=all prints every run', () => {
  const s = createSession();
  const r = text(ok(s, 'repeat 3 write 0x40000001 7 size=b'));
  assert.is(r, '── run 1 of 3 ──\nwrote 0x07 (1 byte) at 0x40000001\n  runs 2-3: each the same output as the run before it');
  const all = text(ok(s, 'repeat 2 print 1 show=all'));
  assert.is(all, '── run 1 of 2 ──\n$ = 0x1 (1)\n── run 2 of 2 ──\n$ = 0x1 (1)');
});

test('one undo step takes every run back', () => {
  const s = createSession();
  ok(s, 'write 0x40000000 1 size=b');
  const depth = s.undoDepth;
  ok(s, 'repeat 4 fill 0x40000010 16 0xaa');
  assert.is(s.undoDepth, depth + 1);
  ok(s, 'undo');
  assert.is(Buffer.from(s.machine.memory.read(0x40000000n, 1)).toString('hex'), '01');
  assert.is(Buffer.from(s.machine.memory.read(0x40000010n, 1)).toString('hex'), '00');
});

test('a failing run rolls back every run before it (and $), and says which run', () => {
  const s = booted('x86-q35-vtd');
  ok(s, 'print 42');
  const e = fails(s, 'repeat 2 driver unbind vda');
  assert.match(e.message, /^run 2 of 2 failed \(the machine is back as before run 1\): .*no driver bound/);
  assert.equal(e.span, { start: 23, end: 26 }, 'the caret is under the inner command\'s argument');
  assert.match(text(ok(s, 'driver info vda')), 'virtio-pci', 'run 1 was rolled back: the driver is still bound');
  assert.is(s.env.last, 42n);
});

test('repeat and undo cannot be repeated; an unknown command is reported at its place', () => {
  const s = createSession();
  assert.match(fails(s, 'repeat 2 undo').message, "'undo' rewrites the undo history");
  assert.match(fails(s, 'repeat 2 repeat 2 print 1').message, 'repeat cannot repeat itself');
  const e = fails(s, 'repeat 2 frob');
  assert.match(e.message, "unknown command 'frob'");
  assert.equal(e.span, { start: 9, end: 13 });
});

test('property: repeat K of any line is an outcome, never an internal error; a failure changes nothing', () => {
  const WORDS = ['xp/8xb', 'print', 'write', 'fill', 'undo', 'reset', 'repeat', 'walk', 'vda', 'dma', 'map', 'smmu', 'events', 'trace', 'show', 'set', 'size=b', 'show=all', 'boot', 'kernel=4.10-rc'];
  const NUMS = ['0', '1', '2', '0x40000000', '0xffffffffffffffff', '4K', '$', '$ + 1', '1/0', '0x12zz', '('];
  const token = fc.oneof(fc.constantFrom(...WORDS), fc.constantFrom(...NUMS), fc.string({ maxLength: 4 }));
  const line = fc.tuple(fc.constantFrom('1', '2', '3', '0', '300', '$'), fc.array(token, { maxLength: 5 })).map(([k, ts]) => `repeat ${k} ${ts.join(' ')}`);
  const fingerprint = (s: Session): string => JSON.stringify([s.system.preset.name, s.machine.memory.pageCount(), s.machine.trace.records().length, s.kernel.dmesg().length, s.undoDepth, s.kernel.booted, String(s.env.last)]);
  const s = createSession('arm-fastmodel', new Map([['kernel', '4.10-rc']]));
  fc.assert(fc.property(line, (l) => checkLine(s, l, fingerprint)), { numRuns: 200, seed: 13 });
});

test.run();
