/** `dma-lab decode`: the seed 000 log decodes into the right fields, in text and JSON. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { cli, ROOT } from './helpers.ts';

const fixture = join(ROOT, 'test', 'fixtures', 'seed000-smmu-events.log');

test('the seed 000 dump: two F_TRANSLATION reads by StreamID 0 of 0x8fa081002 and 0x8fa081000', () => {
  const r = cli(['decode', fixture]);
  assert.is(r.status, 0, r.stderr);
  const reports = r.stdout.split('\n\n');
  assert.is(reports.length, 2);
  for (const [i, addr] of ['0x8fa081002', '0x8fa081000'].entries()) {
    const t = reports[i]!;
    assert.match(t, 'arm-smmu-v3 event 0x10 F_TRANSLATION from 2b400000.smmu');
    assert.match(t, /StreamID\s+dw0\[63:32\]\s+0\s/);
    assert.match(t, /RnW\s+dw1\[35\]\s+1\s/);
    assert.match(t, /CLASS\s+dw1\[41:40\]\s+2 \(input address\)/);
    assert.match(t, new RegExp(`InputAddr\\s+dw2\\[63:0\\]\\s+${addr}\\s`));
    assert.match(t, 'SSV = 0');
  }
});

test('decode --json carries raw words and fields', () => {
  const r = cli(['decode', fixture, '--json']);
  const reps = JSON.parse(r.stdout) as { raw: string[]; type: number; line: number; form: string }[];
  assert.is(reps.length, 2);
  assert.equal(reps[0]!.raw, ['0xfffff010', '0x20800000000', '0x8fa081002', '0x0']);
  assert.is(reps[0]!.type, 16);
  assert.is(reps[1]!.line, 6);
  assert.is(reps[0]!.form, '2017');
});

test('the one-line mail archive form of seed 000 decodes too (stdin)', () => {
  const oneLine = '[ 1.211721] arm-smmu-v3 2b400000.smmu: event 0x10 received: [ 1.211800] arm-smmu-v3 2b400000.smmu: 0x00000000fffff010 [ 1.211880] arm-smmu-v3 2b400000.smmu: 0x0000020800000000 [ 1.211959] arm-smmu-v3 2b400000.smmu: 0x00000008fa081002 [ 1.212075] arm-smmu-v3 2b400000.smmu: 0x0000000000000000 <system hangs failing to read partition table>';
  const r = cli(['decode', '-'], { input: oneLine });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /InputAddr\s+dw2\[63:0\]\s+0x8fa081002/);
});

test('text with no reports: status 1 and a clear line', () => {
  const r = cli(['decode', '-'], { input: 'nothing to see here\n' });
  assert.is(r.status, 1);
  assert.match(r.stdout, 'no IOMMU fault reports found in <stdin>');
});

test('the events our own fast-model boot logs decode to what the model recorded', () => {
  const boot = cli(['run', '-', '--machine', 'arm-fastmodel'], { input: 'boot\n' });
  const r = cli(['decode', '-'], { input: boot.stdout });
  assert.is(r.status, 0, r.stdout);
  assert.match(r.stdout, 'F_TRANSLATION from 2b400000.smmu');
  assert.match(r.stdout, /StreamID\s+dw0\[63:32\]\s+0\s/);
});

test.run();
