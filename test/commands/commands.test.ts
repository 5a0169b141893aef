import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSession } from '../../src/commands/index.ts';
import type { Session, Outcome } from '../../src/commands/session.ts';
import { renderLines, renderError } from '../../src/commands/render.ts';
import { lineText } from '../../src/inspect/view.ts';

const text = (o: Outcome): string => {
  if (!o.ok) return renderError(o, false);
  if (o.empty) return '';
  return renderLines(o.result.lines, false);
};
const run = (s: Session, line: string): string => {
  const o = s.execute(line);
  if (!o.ok) throw new Error(`unexpected failure of '${line}':\n${renderError(o, false)}`);
  return text(o);
};
const fail = (s: Session, line: string): Extract<Outcome, { ok: false }> => {
  const o = s.execute(line);
  if (o.ok) throw new Error(`'${line}' should have failed`);
  return o;
};

test('print shows exact u64 in hex and decimal, with gdb formats', () => {
  const s = createSession();
  assert.is(run(s, 'print 0xffffffffffffffff+1'), '$ = 0x0 (0)');
  assert.is(run(s, 'print/x 4K * 3'), '$ = 0x3000');
  assert.is(run(s, 'print/d -1'), '$ = -1');
  assert.is(run(s, 'print/u -1'), '$ = 18446744073709551615');
  assert.is(run(s, 'print/t 0x0000020800000000'), '$ = 1000001' + '0'.repeat(35));
  assert.is(run(s, 'print/o 8'), '$ = 010');
  assert.is(run(s, 'print $ + 1'), '$ = 0x9 (9)');
});

test('xp/FMT follows QEMU memory_dump: 8 bytes a line for b, 16 otherwise', () => {
  const s = createSession();
  run(s, 'write 0x40000000 0x1122334455667788');
  assert.is(run(s, 'xp/8xb 0x40000000'), '0000000040000000: 0x88 0x77 0x66 0x55 0x44 0x33 0x22 0x11');
  assert.is(run(s, 'xp/2xg 0x40000000'), '0000000040000000: 0x1122334455667788 0x0000000000000000');
  assert.is(run(s, 'xp/4xw 0x40000000'), '0000000040000000: 0x55667788 0x11223344 0x00000000 0x00000000');
  assert.is(run(s, 'xp/2uh 0x40000000'), '0000000040000000: 30600 21862');
  assert.is(run(s, 'xp/1db 0x40000000'), '0000000040000000: -120');
  assert.is(run(s, 'xp/1ob 0x40000001'), '0000000040000001: 0167');
  assert.is(run(s, 'xp/10xb 0x40000000').split('\n').length, 2);
});

test('xp formats are sticky and a bare xp continues after the last address', () => {
  const s = createSession();
  run(s, 'xp/2xg 0x40000000');
  assert.is(run(s, 'xp'), '0000000040000010: 0x0000000000000000 0x0000000000000000');
  assert.is(run(s, 'xp/1 0x40000100'), '0000000040000100: 0x0000000000000000');
  assert.is(run(s, 'xp/b'), '0000000040000108: 0x00');
});

test('xp without a format is a hexdump with an ASCII column', () => {
  const s = createSession();
  run(s, 'write 0x40000010 0x6c2d616d64 size=g');
  const out = run(s, 'xp 0x40000000').split('\n');
  assert.is(out.length, 4);
  assert.is(out[1], '0000000040000010  64 6d 61 2d 6c 00 00 00  00 00 00 00 00 00 00 00  |dma-l...........|');
});

test('xp/c shows characters the way QEMU does', () => {
  const s = createSession();
  run(s, 'write 0x40000000 0x0a41 size=h');
  assert.is(run(s, 'xp/2c 0x40000000'), "0000000040000000: 'A' '\\n'");
});

test('a malformed number fails with a caret under it and no stack trace', () => {
  const s = createSession();
  const o = fail(s, 'xp/8xb 0x4000zz');
  assert.is(renderError(o, false), [
    "error: '0x4000zz' is not a valid number: hex digits are 0-9 and a-f",
    '  xp/8xb 0x4000zz',
    '         ^^^^^^^^',
    '  expected: a number such as 0x40000000, 4096, 0b101 or 4K (K M G T suffixes), or an expression in parentheses',
  ].join('\n'));
});

test('a typo in a command name suggests the closest command', () => {
  const s = createSession();
  const o = fail(s, 'infp mtree');
  assert.match(o.error.message, "unknown command 'infp'; did you mean 'info'?");
  assert.equal(o.error.span, { start: 0, end: 4 });
  assert.match(fail(s, 'info mtre').error.message, "did you mean 'info mtree'?");
  assert.match(fail(s, 'prnt 1').error.message, "did you mean 'print'?");
});

test('a hole in the memory map is an error naming the address', () => {
  const s = createSession();
  const o = fail(s, 'xp/4xb 0x30000000000');
  assert.match(o.error.message, 'no memory or device at physical address 0x30000000000');
  assert.equal(o.error.span, { start: 7, end: 20 });
});

test('write checks the value fits the size; fill is bounded and says its limit', () => {
  const s = createSession();
  assert.match(fail(s, 'write 0x40000000 0x1ff size=b').error.message, 'does not fit in 1 byte');
  assert.match(fail(s, 'write 0x40000000 1 size=q').error.message, "'q' is not a valid option size");
  assert.match(fail(s, 'fill 0x40000000 1G 0').error.message, 'fill is limited to 16M');
  assert.match(fail(s, 'fill 0x40000000 16 0x100').error.message, 'is not a byte');
  assert.match(fail(s, 'write 0x0 1').error.message, 'read-only');
  assert.match(fail(s, 'write 0x40000000').error.message, "'write' needs value");
  assert.match(fail(s, 'write 0x40000000 1 2').error.message, "'2' is extra");
});

test('undo puts memory back; reset is undoable too; looking is not an undo step', () => {
  const s = createSession();
  run(s, 'write 0x40000000 0xaa size=b');
  run(s, 'fill 0x40001000 8K 0x55');
  run(s, 'xp/1xb 0x40000000');
  assert.is(run(s, 'undo'), 'undid: fill 0x40001000 8K 0x55');
  assert.is(run(s, 'xp/1xb 0x40002fff'), '0000000040002fff: 0x00');
  assert.is(run(s, 'xp/1xb 0x40000000'), '0000000040000000: 0xaa');
  run(s, 'reset');
  assert.is(run(s, 'xp/1xb 0x40000000'), '0000000040000000: 0x00');
  run(s, 'undo');
  assert.is(run(s, 'xp/1xb 0x40000000'), '0000000040000000: 0xaa');
  run(s, 'undo');
  assert.is(run(s, 'xp/1xb 0x40000000'), '0000000040000000: 0x00');
  assert.match(fail(s, 'undo').error.message, 'nothing to undo');
});

test('a command that fails after changing memory leaves the machine exactly as it was', () => {
  const s = createSession();
  run(s, 'write 0x40000000 0x1234');
  s.registry.add({
    name: 'test-partial',
    summary: 'writes, then fails',
    help: '',
    examples: [],
    args: [],
    mutates: true,
    run(sess) {
      sess.machine.memory.write64(0x4000_0000n, 0xdeadn);
      sess.machine.memory.write64(0x4100_0000n, 0xbeefn);
      sess.machine.trace.clear();
      throw new Error('boom');
    },
  });
  const pages = s.machine.memory.pageCount();
  const o = fail(s, 'test-partial');
  assert.match(o.error.message, 'internal error: boom');
  assert.is(s.machine.memory.read64(0x4000_0000n), 0x1234n);
  assert.is(s.machine.memory.read64(0x4100_0000n), 0n);
  assert.is(s.machine.memory.pageCount(), pages);
  assert.is(s.undoDepth, 1);
});

test('info mtree lists the QEMU virt memory map', () => {
  const s = createSession();
  const out = run(s, 'info mtree');
  assert.match(out, '0000000040000000-000000007fffffff (prio 0, ram): mach-virt.ram');
  assert.match(out, '000000003f000000-000000003fffffff (prio 0, i/o): pcie.0-ecam');
  assert.match(out, '0000000009000000-0000000009000fff (prio 0, i/o): pl011');
});

test('info pci decodes the host bridge from its configuration space', () => {
  const s = createSession();
  const out = run(s, 'info pci');
  assert.match(out, 'Host bridge: PCI device 1b36:0008');
  // ECAM read of vendor/device at bus 0 dev 0 fn 0, and an empty slot reads all ones
  assert.is(run(s, 'xp/1xw 0x3f000000'), '000000003f000000: 0x00081b36');
  assert.is(run(s, 'xp/1xw 0x3f008000'), '000000003f008000: 0xffffffff');
});

test('the PL011 answers with its PrimeCell ID', () => {
  const s = createSession();
  assert.is(run(s, 'xp/4xw 0x09000ff0'), '0000000009000ff0: 0x0000000d 0x000000f0 0x00000005 0x000000b1');
});

test('help lists every command and shows one in full', () => {
  const s = createSession();
  const all = run(s, 'help');
  for (const c of ['print', 'xp', 'write', 'fill', 'info mtree', 'info pci', 'info machine', 'undo', 'reset', 'help']) assert.match(all, c);
  const xp = run(s, 'help xp');
  assert.match(xp, 'usage: '.slice(0, 0) + 'xp[/FMT] [ADDR]');
  assert.match(xp, 'examples:');
  assert.match(run(s, 'help info'), 'info mtree');
  for (const c of s.registry.all()) {
    assert.ok(c.summary.length > 0, `${c.name} has a summary`);
    assert.ok(c.examples.length > 0, `${c.name} has examples`);
    for (const e of c.examples) {
      // Each example runs on a fresh session of the machine it is written for,
      // after that command's set-up lines (e.g. 'boot').
      const sess = createSession(c.exampleMachine);
      for (const pre of c.exampleSetup ?? []) assert.ok(sess.execute(pre).ok, `set-up '${pre}' for ${c.name}`);
      const o = sess.execute(e);
      if (!o.ok && !/nothing to undo|nothing examined/.test(o.error.message)) assert.unreachable(`example '${e}' of ${c.name} fails on ${c.exampleMachine ?? 'arm-virt'}: ${o.error.message}`);
    }
  }
});

test('empty lines and comments are no-ops', () => {
  const s = createSession();
  assert.ok(s.execute('').ok);
  assert.ok(s.execute('   # just a comment').ok);
  assert.is(lineText(s.execute('print 1 # one').ok ? [] : []), '');
});

test('machine options are validated', () => {
  assert.throws(() => createSession('arm-virt', new Map([['ram', '3X']])), /not a size/);
  assert.throws(() => createSession('no-such'), /unknown machine/);
  const s = createSession('arm-virt', new Map([['ram', '1T']]));
  assert.match(run(s, 'info machine'), 'ram     1T');
});


test('every preset pane is a look-only command that runs on the booted machine', async () => {
  const { PRESETS } = await import('../../src/scenarios/index.ts');
  for (const p of PRESETS) {
    for (const pane of p.panes ?? []) {
      const s = createSession(p.name);
      const word = pane.run.split(' ');
      const spec = s.registry.get(word.slice(0, 2).join(' ')) ?? s.registry.get(word[0]!);
      assert.ok(spec, `${p.name} pane ${pane.title}: ${pane.run} is a command`);
      assert.not.ok(spec!.mutates, `${p.name} pane ${pane.title} must not change the machine`);
      assert.ok(s.execute('boot').ok);
      // A pane may legitimately fail (the fast model's ring does not translate: that is the lesson),
      // but with a user-facing error, never an internal one.
      const o = s.execute(pane.run);
      if (!o.ok) assert.not.match(o.error.message, 'internal error', `${p.name} pane ${pane.title}: ${pane.run}`);
    }
  }
});

test.run();
