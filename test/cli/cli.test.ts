import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, ROOT } from './helpers.ts';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

test('--version and --help', () => {
  const v = cli(['--version']);
  assert.is(v.status, 0);
  assert.is(v.stdout, `dma-lab ${pkg.version}\n`);
  const h = cli(['--help']);
  assert.is(h.status, 0);
  assert.match(h.stdout, 'usage: dma-lab');
  assert.match(h.stdout, 'run FILE|-');
});

test('unknown command or flag: one-line error, the usage, status 2', () => {
  const c = cli(['frobnicate']);
  assert.is(c.status, 2);
  assert.is(c.stderr.split('\n')[0], "dma-lab: unknown command 'frobnicate'");
  assert.match(c.stderr, 'usage: dma-lab');
  const f = cli(['--frob']);
  assert.is(f.status, 2);
  assert.match(f.stderr.split('\n')[0]!, "Unknown option '--frob'");
  const misplaced = cli(['machines', '--keep-going']);
  assert.is(misplaced.status, 2);
  assert.match(misplaced.stderr, "option --keep-going does not apply to 'machines'");
});

test('machines lists the presets one line each', () => {
  const m = cli(['machines']);
  assert.is(m.status, 0);
  assert.match(m.stdout, /^arm-virt\s+QEMU virt board/m);
});

test('the done-means pipe: memory map, eight zero bytes, 0x0, status 0', () => {
  const r = cli(['repl'], { input: 'info mtree\nxp/8xb 0x40000000\nprint 0xffffffffffffffff+1\n' });
  assert.is(r.status, 0);
  assert.match(r.stdout, 'address-space: memory');
  assert.match(r.stdout, '0000000040000000: 0x00 0x00 0x00 0x00 0x00 0x00 0x00 0x00\n');
  assert.match(r.stdout, '$ = 0x0 (0)\n');
  assert.is(r.stderr, '');
});

test('a malformed number through the pipe: status 1, a caret under it, no stack trace', () => {
  const r = cli(['repl'], { input: 'info mtree\nxp/8xb 0x4000zz\nprint 1\n' });
  assert.is(r.status, 1);
  assert.match(r.stderr, '  xp/8xb 0x4000zz\n         ^^^^^^^^\n');
  assert.not.match(r.stderr, /\bat .*\.(js|ts):\d+/);
  assert.match(r.stdout, '$ = 0x1 (1)', 'the pipe goes on after a failed command');
});

test('no command with stdin not a terminal behaves as repl', () => {
  const r = cli([], { input: 'print 2+2\n' });
  assert.is(r.status, 0);
  assert.is(r.stdout, '$ = 0x4 (4)\n');
});

test('run stops at the first failure unless --keep-going; errors name file:line', () => {
  const script = 'print 1\nbogus 2\nprint 3\n';
  const r = cli(['run', '-'], { input: script });
  assert.is(r.status, 1);
  assert.is(r.stdout, '$ = 0x1 (1)\n');
  assert.match(r.stderr, "<stdin>:2: error: unknown command 'bogus'");
  const k = cli(['run', '-', '--keep-going'], { input: script });
  assert.is(k.status, 1);
  assert.is(k.stdout, '$ = 0x1 (1)\n$ = 0x3 (3)\n');
  const ok = cli(['run', '-'], { input: '# comment\n\nprint 5\n' });
  assert.is(ok.status, 0);
});

test('run --json prints one object per command with the structured result or error', () => {
  const r = cli(['run', '-', '--json', '--keep-going'], { input: 'print 0xffffffffffffffff + 1\nxp/2xb 0x40000000\nxp 0x12zz\n' });
  const objs = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.is(objs.length, 3);
  assert.equal(objs[0].result, { kind: 'value', data: { value: '0x0', hex: '0x0', decimal: '0', signed: '0' } });
  assert.is(objs[0].line, 1);
  assert.is(objs[1].result.data.bytes, '0000');
  assert.is(objs[2].ok, false);
  assert.equal(objs[2].error.span, { start: 3, end: 9 });
  assert.is(r.status, 1);
});

test('run of a missing file is a clear error', () => {
  const r = cli(['run', 'no/such/file.dma']);
  assert.is(r.status, 1);
  assert.match(r.stderr, 'cannot read no/such/file.dma: ENOENT');
});

test('--machine picks a preset; an unknown one is refused', () => {
  assert.is(cli(['run', '-', '--machine', 'arm-virt'], { input: 'print 1\n' }).status, 0);
  const bad = cli(['run', '-', '--machine', 'nope'], { input: 'print 1\n' });
  assert.is(bad.status, 2);
  assert.match(bad.stderr, "unknown machine 'nope'");
  const set = cli(['run', '-', '--set', 'ram=2G'], { input: 'info machine\n' });
  assert.match(set.stdout, 'ram     2G');
});

test('NO_COLOR and --no-color: no escape codes (and none when not a terminal)', () => {
  for (const r of [cli(['run', '-'], { input: 'info pci\n', env: { NO_COLOR: '1' } }), cli(['run', '-', '--no-color'], { input: 'info pci\n' })]) {
    assert.is(r.status, 0);
    assert.not.match(r.stdout, '\x1b[');
  }
});

test.run();
