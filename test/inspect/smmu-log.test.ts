// Kernel log parsing: the seed's one-line mail-archive text, the 2017 five-line form, the current form.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseSmmuLog } from '../../src/inspect/smmu-log.ts';

// Seed 000 (shared/sources/000_*.txt) verbatim: the mail archive joined the log lines into one.
const SEED =
  "Booting Linux on an ARM fastmodel containing an SMMU emulation results in an unexpected I/O page fault from the legacy virtio-blk PCI device: [ 1.211721] arm-smmu-v3 2b400000.smmu: event 0x10 received: [ 1.211800] arm-smmu-v3 2b400000.smmu: 0x00000000fffff010 [ 1.211880] arm-smmu-v3 2b400000.smmu: 0x0000020800000000 [ 1.211959] arm-smmu-v3 2b400000.smmu: 0x00000008fa081002 [ 1.212075] arm-smmu-v3 2b400000.smmu: 0x0000000000000000 [ 1.212155] arm-smmu-v3 2b400000.smmu: event 0x10 received: [ 1.212234] arm-smmu-v3 2b400000.smmu: 0x00000000fffff010 [ 1.212314] arm-smmu-v3 2b400000.smmu: 0x0000020800000000 [ 1.212394] arm-smmu-v3 2b400000.smmu: 0x00000008fa081000 [ 1.212471] arm-smmu-v3 2b400000.smmu: 0x0000000000000000 <system hangs failing to read partition table>";

test('seed 000: two events out of one joined line, with times and the device', () => {
  const r = parseSmmuLog(SEED);
  assert.is(r.length, 2);
  assert.equal(r[0]!.raw, [0x0000_0000_ffff_f010n, 0x0000_0208_0000_0000n, 0x0000_0008_fa08_1002n, 0n]);
  assert.equal(r[1]!.raw, [0x0000_0000_ffff_f010n, 0x0000_0208_0000_0000n, 0x0000_0008_fa08_1000n, 0n]);
  for (const [rec, addr] of [[r[0]!, 0x8fa081002n], [r[1]!, 0x8fa081000n]] as const) {
    assert.ok(rec.complete);
    assert.is(rec.type, 0x10);
    assert.is(rec.name, 'F_TRANSLATION');
    assert.is(rec.device, '2b400000.smmu');
    assert.is(rec.fields!.sid, 0);
    assert.is(rec.fields!.read, true);
    assert.is(rec.fields!.class, 2);
    assert.is(rec.fields!.inputAddr, addr);
    assert.is(rec.fields!.ssv, false);
  }
  assert.is(r[0]!.time, 1.211721);
  assert.is(r[1]!.time, 1.212155);
});

const LINES_2017 = `[    1.211721] arm-smmu-v3 2b400000.smmu: event 0x10 received:
[    1.211800] arm-smmu-v3 2b400000.smmu: 	0x00000000fffff010
[    1.211880] arm-smmu-v3 2b400000.smmu: 	0x0000020800000000
[    1.211959] arm-smmu-v3 2b400000.smmu: 	0x00000008fa081002
[    1.212075] arm-smmu-v3 2b400000.smmu: 	0x0000000000000000
[    1.212080] virtio_blk virtio0: something else 0x0000000000001000
`;

test('2017 five-line form with printk times; text after it is not taken as a dword', () => {
  const r = parseSmmuLog(LINES_2017);
  assert.is(r.length, 1);
  assert.is(r[0]!.raw[2], 0x8fa081002n);
  assert.is(r[0]!.decoded, undefined);
});

test('no times, no prefix', () => {
  const r = parseSmmuLog('event 0x04 received:\n\t0x0000000200000004\n\t0x0000000000000000\n\t0x0000000000000000\n\t0x0000000000000000\n');
  assert.is(r.length, 1);
  assert.is(r[0]!.name, 'C_BAD_STE');
  assert.is(r[0]!.fields!.sid, 2);
  assert.is(r[0]!.device, undefined);
});

test('current form with the two decoded lines (REFERENCE 1.6)', () => {
  const text = `arm-smmu-v3 2b400000.smmu: event 0x10 received:
arm-smmu-v3 2b400000.smmu: 	0x00000000fffff010
arm-smmu-v3 2b400000.smmu: 	0x0000020800000000
arm-smmu-v3 2b400000.smmu: 	0x00000008fa081002
arm-smmu-v3 2b400000.smmu: 	0x0000000000000000
arm-smmu-v3 2b400000.smmu: event: F_TRANSLATION client: 0000:00:01.0 sid: 0x0 ssid: 0x0 iova: 0x8fa081002 ipa: 0x0
arm-smmu-v3 2b400000.smmu: unpriv data read s1 "Input address caused fault" stag: 0
arm-smmu-v3 2b400000.smmu: event 0x02 received:
arm-smmu-v3 2b400000.smmu: 	0x0000012c00000002
arm-smmu-v3 2b400000.smmu: 	0x0000000000000000
arm-smmu-v3 2b400000.smmu: 	0x0000000000000000
arm-smmu-v3 2b400000.smmu: 	0x0000000000000000
arm-smmu-v3 2b400000.smmu: event: C_BAD_STREAMID client: (unassigned sid) sid: 0x12c ssid: 0
`;
  const r = parseSmmuLog(text);
  assert.is(r.length, 2);
  const d = r[0]!.decoded!;
  assert.is(d.name, 'F_TRANSLATION');
  assert.is(d.client, '0000:00:01.0');
  assert.is(d.sid, 0n);
  assert.is(d.iova, 0x8fa081002n);
  assert.is(d.ipa, 0n);
  assert.equal(d.access, { privileged: false, instruction: false, read: true, s2: false, className: 'Input address caused fault', stall: false, stag: 0n });
  assert.is(r[1]!.decoded!.client, '(unassigned sid)');
  assert.is(r[1]!.decoded!.sid, 0x12cn);
  assert.is(r[1]!.fields!.sid, 0x12c);
});

test('a report cut short is returned incomplete', () => {
  const r = parseSmmuLog('arm-smmu-v3 2b400000.smmu: event 0x10 received:\narm-smmu-v3 2b400000.smmu: \t0x00000000fffff010\n');
  assert.is(r.length, 1);
  assert.is(r[0]!.complete, false);
  assert.is(r[0]!.raw.length, 1);
});

test.run();
