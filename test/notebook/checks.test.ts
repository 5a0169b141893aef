/** The check language, and that checking leaves no mark on the machine or the undo history. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSession } from '../../src/commands/index.ts';
import { evaluateCheck, newLines, observe, valueAt, type Observation } from '../../src/notebook/checks.ts';
import type { Check } from '../../src/notebook/format.ts';

const obs = (lines: string[], data: unknown = undefined): Observation => ({ ok: true, lines, data });
const v = (raw: string, value: unknown = raw) => ({ raw, value });
const chk = (c: Partial<Check>): Check => ({ line: 1, run: 'x', ...c });

test('match: substring or /regex/flags; not_match the opposite', () => {
  const o = obs(['0000000040002000: 0xcafef00d', 'RAM 1G, 3 pages touched']);
  assert.ok(evaluateCheck(chk({ match: '0xcafef00d' }), o).pass);
  assert.not.ok(evaluateCheck(chk({ match: '0xCAFEF00D' }), o).pass);
  assert.ok(evaluateCheck(chk({ match: '/0xCAFEF00D/i' }), o).pass);
  assert.ok(evaluateCheck(chk({ match: '/\\d+ pages? touched/' }), o).pass);
  assert.ok(evaluateCheck(chk({ not_match: 'FAULT' }), o).pass);
  assert.not.ok(evaluateCheck(chk({ not_match: 'pages' }), o).pass);
});

test('data: dotted paths into arrays, maps and objects; length of arrays and strings', () => {
  const d = { records: [1, 2, 3], opts: new Map([['ram', '1G']]), list: [{ value: 'x' }], s: 'abcd' };
  assert.equal(valueAt(d, 'records.length'), { found: true, value: 3 });
  assert.equal(valueAt(d, 'opts.ram'), { found: true, value: '1G' });
  assert.equal(valueAt(d, 'list.0.value'), { found: true, value: 'x' });
  assert.equal(valueAt(d, 's.length'), { found: true, value: 4 });
  assert.is(valueAt(d, 'records.9').found, false);
  assert.is(valueAt(d, 'nope.deeper').found, false);
});

test('equals compares numbers exactly in 64 bits whether bigint, number or hex text; else as JSON', () => {
  const big = obs([], { value: 0xffff_ffff_ffff_ffffn, n: 7, hex: '0x10', bytes: '0df0feca', flag: true });
  assert.ok(evaluateCheck(chk({ data: 'value', equals: v('0xffffffffffffffff') }), big).pass);
  assert.not.ok(evaluateCheck(chk({ data: 'value', equals: v('0xfffffffffffffffe') }), big).pass, 'no float rounding');
  assert.ok(evaluateCheck(chk({ data: 'n', equals: v('7', 7) }), big).pass);
  assert.ok(evaluateCheck(chk({ data: 'hex', equals: v('16', 16) }), big).pass);
  assert.ok(evaluateCheck(chk({ data: 'bytes', equals: v('0df0feca') }), big).pass);
  assert.ok(evaluateCheck(chk({ data: 'flag', equals: v('true', true) }), big).pass);
  const miss = evaluateCheck(chk({ data: 'nothing', equals: v('1', 1) }), big);
  assert.not.ok(miss.pass);
  assert.match(miss.detail, 'has no nothing');
});

test('min and max bound a number, alone or together', () => {
  const o = obs([], { n: 5n });
  assert.ok(evaluateCheck(chk({ data: 'n', min: v('5') }), o).pass);
  assert.not.ok(evaluateCheck(chk({ data: 'n', min: v('6') }), o).pass);
  assert.ok(evaluateCheck(chk({ data: 'n', min: v('1'), max: v('0x5') }), o).pass);
  assert.not.ok(evaluateCheck(chk({ data: 'n', max: v('4') }), o).pass);
});

test('since_step: data compares the change since the step began; match looks at new lines only', () => {
  const then = obs(['RAM 1G, 2 pages touched'], { records: [1, 2] });
  const same = obs(['RAM 1G, 2 pages touched'], { records: [1, 2] });
  const more = obs(['RAM 1G, 3 pages touched'], { records: [1, 2, 3] });
  const c = chk({ data: 'records.length', since_step: true, max: v('0') });
  assert.ok(evaluateCheck(c, same, then).pass);
  const r = evaluateCheck(c, more, then);
  assert.not.ok(r.pass);
  assert.match(r.detail, 'changed by 1');
  const m = chk({ match: 'pages touched', since_step: true });
  assert.not.ok(evaluateCheck(m, same, then).pass, 'the line was already there');
  assert.ok(evaluateCheck(m, more, then).pass);
  assert.equal(newLines(['a', 'a', 'b'], ['a']), ['a', 'b']);
});

test('a check whose command fails does not pass, and says why', () => {
  const r = evaluateCheck(chk({ match: 'x' }), { ok: false, lines: [], data: undefined, error: "unknown command 'smmu'" });
  assert.not.ok(r.pass);
  assert.match(r.detail, "unknown command 'smmu'");
});

test('checking leaves no mark: memory, undo history, $, $_, xp format, trace and the machine itself', () => {
  const s = createSession();
  s.execute('write 0x40000000 0x1122334455667788');
  s.execute('print 42');
  s.execute('xp/2xw 0x40000000');
  const before = {
    sys: s.system,
    undo: s.undoDepth,
    env: { ...s.env },
    xp: { ...s.xp },
    mem: Buffer.from(s.machine.memory.read(0x40000000n, 64)).toString('hex'),
    pages: s.machine.memory.pageCount(),
    trace: s.machine.trace.enabled,
  };
  for (const line of ['xp/8xb 0x41000000', 'print 7', 'trace off', 'trace clear', 'write 0x40000000 0', 'fill 0x40100000 4096 0xff', 'reset', 'set ram=2G', 'info mtree']) {
    const o = observe(s, line);
    assert.ok(o.ok, `${line}: ${o.error}`);
  }
  assert.ok(s.system === before.sys, 'reset/set inside a check are undone');
  assert.is(s.undoDepth, before.undo);
  assert.equal({ ...s.env }, before.env);
  assert.equal({ ...s.xp }, before.xp);
  assert.is(Buffer.from(s.machine.memory.read(0x40000000n, 64)).toString('hex'), before.mem);
  assert.is(s.machine.memory.pageCount(), before.pages);
  assert.is(s.machine.trace.enabled, before.trace);
  // and the undo history still undoes what it did before
  assert.ok(s.execute('undo').ok);
  assert.is(Buffer.from(s.machine.memory.read(0x40000000n, 8)).toString('hex'), '0000000000000000');
});

test('undo cannot run as a check (it rewrites history outside the journal)', () => {
  const s = createSession();
  s.execute('write 0x40000000 1');
  const o = observe(s, 'undo');
  assert.not.ok(o.ok);
  assert.match(o.error!, 'rewrites the undo history');
  assert.is(s.undoDepth, 1);
});

test.run();
