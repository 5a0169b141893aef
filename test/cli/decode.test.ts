/** `dma-lab decode`: the seed 000 log and Intel DMAR fault lines of every era decode into the right fields, in text and JSON. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { cli, ROOT } from './helpers.ts';

const fixture = join(ROOT, 'test', 'fixtures', 'seed000-smmu-events.log');
const dmarFixture = join(ROOT, 'test', 'fixtures', 'dmar-faults-eras.log');

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
  assert.is(reps[0]!.form, 'raw');
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

// REFERENCE.md 3.6: the example read fault (00:02.0, page 0xfffff000, reason 6) as each era printed it.
const ERA_LINES: [string, string][] = [
  ['legacy', 'DMAR:[DMA Read] Request device [00:02.0] fault addr fffff000 \nDMAR:[fault reason 06] PTE Read access is not set\n'],
  ['v4', 'DMAR: [DMA Read] Request device [00:02.0] fault addr fffff000 [fault reason 06] PTE Read access is not set\n'],
  ['v5.6', 'DMAR: [DMA Read] Request device [00:02.0] PASID ffffffff fault addr fffff000 [fault reason 06] PTE Read access is not set\n'],
  ['current', 'DMAR: [DMA Read NO_PASID] Request device [00:02.0] fault addr 0xfffff000 [fault reason 0x06] PTE Read access is not set\n'],
];

type DmarJson = { kind: string; form: string; line: number; sid: number; bdf: string; access: string; addr: string; reason: number; reasonText: string; name: string; pasid: unknown; raw: string[]; fields: { name: string; text: string }[] };

for (const [era, input] of ERA_LINES) {
  test(`DMAR fault, ${era} form: read by 00:02.0 (SID 0x0010) of page 0xfffff000, reason 0x06, same record`, () => {
    const r = cli(['decode', '-', '--json'], { input });
    assert.is(r.status, 0, r.stderr + r.stdout);
    const reps = JSON.parse(r.stdout) as DmarJson[];
    assert.is(reps.length, 1);
    const d = reps[0]!;
    assert.equal(
      [d.kind, d.form, d.sid, d.bdf, d.access, d.addr, d.reason, d.name, d.reasonText, d.pasid],
      ['intel-dmar-fault', era, 0x10, '00:02.0', 'read', '0xfffff000', 6, 'VTD_FR_READ', 'PTE Read access is not set', null],
    );
    // REFERENCE 3.4: the fault record Linux read: FI = the page, SID [79:64], FR [103:96], T (bit 126) = read, F (bit 127)
    assert.equal(d.raw, ['0xfffff000', '0xc000000600000010']);
    const text = cli(['decode', '-'], { input }).stdout;
    assert.match(text, 'Intel DMAR DMA read fault by 00:02.0, page 0xfffff000, reason 0x06 VTD_FR_READ');
    assert.match(text, /device\s+SID \[79:64\]\s+00:02\.0 \(source-id 0x0010\)/);
    assert.match(text, /reason\s+FR \[103:96\]\s+0x06 VTD_FR_READ: PTE Read access is not set/);
    assert.match(text, /T\s+\[126\]\s+1\s/);
    assert.match(text, 'nothing is mapped at that IOVA');
    if (era !== 'current') assert.match(text, 'printed in decimal as 06');
  });
}

test('the DMAR fixture: four eras in one log, in line order, each with the status line before it', () => {
  const r = cli(['decode', dmarFixture, '--json']);
  assert.is(r.status, 0, r.stderr);
  const reps = JSON.parse(r.stdout) as (DmarJson & { record: { fsts?: number; time?: number } })[];
  assert.equal(reps.map((x) => x.form), ['legacy', 'v4', 'v5.6', 'current']);
  assert.equal(reps.map((x) => x.line), [4, 8, 11, 14]);
  assert.equal(reps.map((x) => x.record.fsts ?? null), [null, 2, 2, 2]);
  assert.equal(reps.map((x) => x.record.time), [12.0001, 12.0002, 12.0003, 12.0004]);
  assert.ok(reps.every((x) => x.raw[1] === '0xc000000600000010' && x.addr === '0xfffff000'));
});

test('decimal reasons of the old forms: "12" is 0x0c; the current form\'s hex 0x0c is the same', () => {
  const old = JSON.parse(cli(['decode', '-', '--json'], { input: 'DMAR: [DMA Write] Request device [00:1f.2] fault addr 1000 [fault reason 12] non-zero reserved fields in PTE\n' }).stdout) as DmarJson[];
  const cur = JSON.parse(cli(['decode', '-', '--json'], { input: 'DMAR: [DMA Write NO_PASID] Request device [00:1f.2] fault addr 0x1000 [fault reason 0x0c] non-zero reserved fields in PTE\n' }).stdout) as DmarJson[];
  for (const d of [old[0]!, cur[0]!]) assert.equal([d.reason, d.sid, d.access, d.raw[1]], [0x0c, 0xfa, 'write', '0x8000000c000000fa']);
});

test('the DMAR fault lines our own x86 machine prints decode to what its fault record held', () => {
  const run = cli(['run', '-', '--machine', 'x86-q35-vtd'], { input: 'boot iommu.strict=1\ndevdma read nic0 0xfffff000 8\ndmesg\n' });
  const r = cli(['decode', '-', '--json'], { input: run.stdout });
  assert.is(r.status, 0, r.stdout);
  const reps = JSON.parse(r.stdout) as DmarJson[];
  assert.ok(reps.length >= 1);
  assert.ok(reps.every((d) => d.kind === 'intel-dmar-fault' && d.form === 'current' && d.sid === 0x10 && d.addr === '0xfffff000' && d.reason === 6));
});

test.run();
