/**
 * smmu ste / cd / events, walk, info iommu / groups / resv on the Arm fast
 * model of seed 000 (kernel 4.10: the legacy ring bypasses the DMA API and
 * the SMMU faults on the device's first ring read) and with the 4.10-rc
 * patch (the ring goes through the DMA API and the disk works).
 * Expected values come from REFERENCE.md (1.2-1.8, 4.2, 7.2), or from other
 * commands' output where the address is the model's choice.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSession } from '../../src/commands/index.ts';
import { SmmuV3 } from '../../src/machine/smmuv3/smmuv3.ts';
import type { EventRecordView } from '../../src/commands/builtin/smmu.ts';
import { booted, fails, ok, spanText, text } from './helpers.ts';

type Q = { avail: bigint; availIdxAddr: bigint; addrKind: string; ringPa: { avail: bigint } | null };
type VirtioData = { devices: { queues: Q[]; disk: { partitions: string | null } | null }[] };

const smmuOf = (s: ReturnType<typeof createSession>): SmmuV3 => s.machine.iommus[0] as SmmuV3;

test('4.10: smmu events holds F_TRANSLATION for StreamID 0 at the ring\'s avail.idx (read from info virtio)', () => {
  const s = booted('arm-fastmodel');
  const v = ok(s, 'info virtio').data as VirtioData;
  const q = v.devices[0]!.queues[0]!;
  assert.is(q.addrKind, 'physical', 'kernel 4.10 gives the legacy device physical ring addresses');
  // REFERENCE.md 7.2: avail.idx is the second le16 of the avail ring.
  const availIdx = q.avail + 2n;
  assert.is(q.availIdxAddr, availIdx);
  const ev = ok(s, 'smmu events').data as { records: EventRecordView[]; pending: number };
  const rec = ev.records.find((r) => r.type === 0x10 && r.sid === 0 && r.inputAddr === availIdx);
  assert.ok(rec, `an F_TRANSLATION record for ${availIdx.toString(16)}`);
  assert.is(rec!.name, 'F_TRANSLATION');
  // REFERENCE.md 1.8: the fast model's dword 0 (SSID field 0xfffff, SSV 0) and dword 1 (RnW, CLASS=2).
  assert.is(rec!.raw[0], 0x00000000fffff010n);
  assert.is(rec!.raw[1], 0x0000020800000000n);
  assert.is(rec!.raw[2], availIdx);
  assert.is(rec!.raw[3], 0n);
  assert.is(rec!.state, 'consumed', "Linux's event thread read it at boot");
  assert.match(rec!.explanation, 'no valid descriptor');
  assert.match(text(ok(s, 'smmu events')), 'F_TRANSLATION (0x10)');
});

test('4.10: walk of that address ends in F_TRANSLATION and changes nothing', () => {
  const s = booted('arm-fastmodel');
  const v = ok(s, 'info virtio').data as VirtioData;
  const addr = v.devices[0]!.queues[0]!.avail + 2n;
  const smmu = smmuOf(s);
  const before = { events: smmu.stats().events, q: smmu.eventQueue(), tlb: smmu.iotlb().length, cfg: smmu.configCache().length, undo: s.undoDepth };
  const w = ok(s, `walk vda 0x${addr.toString(16)}`);
  const d = w.data as { ok: boolean; fault: { name: string; code: number }; steps: { level: string; kind?: string }[] };
  assert.is(d.ok, false);
  assert.is(d.fault.name, 'F_TRANSLATION');
  assert.is(d.fault.code, 0x10);
  assert.equal(d.steps.slice(0, 3).map((x) => x.level), ['L1STD', 'STE', 'CD']);
  const last = d.steps[d.steps.length - 1]!;
  assert.match(last.level, /^L[0-3]$/);
  assert.is(last.kind, 'invalid');
  assert.is(smmu.stats().events, before.events, 'no event recorded');
  assert.equal(smmu.eventQueue(), before.q);
  assert.is(smmu.iotlb().length, before.tlb);
  assert.is(smmu.configCache().length, before.cfg);
  assert.is(s.undoDepth, before.undo, 'walk is not an undo step');
  assert.match(text(w), 'FAULT F_TRANSLATION (0x10)');
});

test('smmu ste 0 decodes a stage-1 STE (Config=0b101) with its S1ContextPtr, smmu cd 0 the CD there', () => {
  const s = booted('arm-fastmodel');
  const r = ok(s, 'smmu ste 0');
  const d = r.data as { words: bigint[]; config: number; fields: { name: string; value: bigint }[]; addr: bigint };
  // REFERENCE.md 1.2: V bit 0, Config [3:1], S1ContextPtr [51:6].
  assert.is(d.words.length, 8);
  assert.is(d.words[0]! & 1n, 1n);
  assert.is((d.words[0]! >> 1n) & 7n, 0b101n);
  assert.is(d.config, 0b101);
  const ptr = d.words[0]! & 0x000f_ffff_ffff_ffc0n;
  assert.ok(ptr !== 0n);
  assert.is(d.fields.find((f) => f.name === 'S1ContextPtr')!.value, ptr);
  assert.is(d.fields.find((f) => f.name === 'Config')!.value, 5n);
  assert.match(text(r), '0b101');
  assert.is(s.machine.memory.read64(d.addr), d.words[0]!, 'the words are read from memory at the STE address');
  const cd = ok(s, 'smmu cd 0').data as { addr: bigint; words: bigint[]; valid: boolean; t0sz: number; ttb0: bigint };
  assert.is(cd.addr, ptr);
  assert.ok(cd.valid);
  // REFERENCE.md 1.3: 48-bit IOVA -> T0SZ 16; Linux always sets EPD1 (bit 30); AA64 bit 41, R 45, A 46.
  assert.is(cd.t0sz, 16);
  for (const b of [30n, 31n, 41n, 45n, 46n]) assert.is((cd.words[0]! >> b) & 1n, 1n, `CD dw0 bit ${b}`);
  assert.is(cd.ttb0, cd.words[1]! & 0x000f_ffff_ffff_fff0n);
});

test('info resv vda prints exactly the sysfs reserved_regions line (SW_MSI 0x8000000, 1 MiB)', () => {
  const s = booted('arm-fastmodel');
  const r = ok(s, 'info resv vda');
  const lines = text(r).split('\n');
  assert.match(lines[0]!, '/sys/kernel/iommu_groups/0/reserved_regions');
  assert.is(lines[1], '0x0000000008000000 0x00000000080fffff msi');
  assert.is((r.data as { text: string }).text, '0x0000000008000000 0x00000000080fffff msi\n');
  const byBdf = ok(s, 'info resv 00:00.0');
  assert.is(text(byBdf).split('\n')[1], '0x0000000008000000 0x00000000080fffff msi');
});

test('4.10-rc: the partition line appears and walk of a ring IOVA reaches the ring', () => {
  const s = booted('arm-fastmodel', 'kernel=4.10-rc');
  const v = ok(s, 'info virtio').data as VirtioData;
  assert.is(v.devices[0]!.disk!.partitions, ' vda: vda1 vda2');
  const q = v.devices[0]!.queues[0]!;
  assert.is(q.addrKind, 'dma');
  assert.ok(q.avail !== q.ringPa!.avail, 'the device is told an IOVA, not the physical address');
  const w = ok(s, `walk vda 0x${(q.avail + 2n).toString(16)}`);
  const d = w.data as { ok: boolean; pa: bigint; steps: { level: string; kind?: string }[] };
  assert.ok(d.ok);
  assert.is(d.pa, q.ringPa!.avail + 2n);
  assert.is(d.steps[d.steps.length - 1]!.kind, 'page');
  assert.equal(w.focus, { addr: d.pa, len: 16 });
  assert.is((ok(s, 'smmu events').data as { records: unknown[] }).records.length, 0, 'no faults this time');
  // write permission is checked too: the ring is mapped read/write (BIDIRECTIONAL coherent memory)
  assert.ok((ok(s, `walk vda 0x${q.avail.toString(16)} access=write`).data as { ok: boolean }).ok);
});

test('info iommu decodes the registers and lists what firmware puts behind the SMMU', () => {
  const cold = createSession('arm-fastmodel');
  const c = (ok(cold, 'info iommu').data as { iommus: { enabled: boolean; registers: { CR0: number; GBPA: number }; devices: { device: string; sid: number }[] }[] }).iommus[0]!;
  assert.is(c.enabled, false);
  assert.is(c.registers.CR0, 0);
  assert.is(c.registers.GBPA & (1 << 20), 0, 'GBPA.ABORT=0 at reset: traffic bypasses');
  assert.equal(c.devices.map((d) => [d.device, d.sid]), [['vda', 0]]);
  const s = booted('arm-fastmodel');
  const r = ok(s, 'info iommu');
  const d = (r.data as { iommus: { base: bigint; enabled: boolean; registers: Record<string, number | bigint>; streamTable: { base: bigint; format: string; log2size: number }; evtq: { base: bigint } }[] }).iommus[0]!;
  assert.is(d.base, 0x2b400000n);
  assert.ok(d.enabled);
  // REFERENCE.md 1.1: CR0 SMMUEN bit0, EVTQEN bit2, CMDQEN bit3.
  assert.is(Number(d.registers.CR0) & 0b1101, 0b1101);
  assert.is(d.streamTable.format, '2-level');
  assert.is(d.streamTable.base, smmuOf(s).strtab().base);
  assert.is(d.evtq.base, smmuOf(s).eventQueue().base);
  const t = text(r);
  assert.match(t, 'SMMUEN=1');
  assert.match(t, 'EVENTQEN=1');
  assert.match(t, 'CMDQEN=1');
});

test('info groups: group 0 holds the disk with the era\'s type string', () => {
  const s = booted('arm-fastmodel');
  const g = ok(s, 'info groups');
  assert.equal((g.data as { groups: unknown[] }).groups, [{ group: 0, type: 'DMA', devices: [{ name: '0000:00:00.0', alias: 'vda' }] }]);
  assert.match(text(g), '/sys/kernel/iommu_groups/0/devices/0000:00:00.0');
  assert.match(text(g), '/sys/kernel/iommu_groups/0/type: DMA');
  const p = booted('qemu-virt-smmuv3', 'iommu.passthrough=1');
  assert.match(text(ok(p, 'info groups')), '/sys/kernel/iommu_groups/0/type: identity');
});

test('error paths: no boot, bad device, bad StreamID, no SMMU, not stage 1 — each a CommandError with a span', () => {
  const cold = createSession('arm-fastmodel');
  let line = 'info resv vda';
  let e = fails(cold, line);
  assert.is(e.message, "the kernel has not booted: run 'boot' first");
  assert.is(spanText(line, e), 'vda');
  e = fails(cold, 'info groups');
  assert.is(e.message, "the kernel has not booted: run 'boot' first");
  assert.ok(e.span);
  line = 'smmu ste 0';
  e = fails(cold, line);
  assert.match(e.message, 'no stream table yet');
  assert.is(spanText(line, e), '0');

  const s = booted('arm-fastmodel');
  line = 'walk vdb 0x1000';
  e = fails(s, line);
  assert.match(e.message, "no device 'vdb'");
  assert.is(spanText(line, e), 'vdb');
  line = 'smmu ste 0x10000';
  e = fails(s, line);
  assert.match(e.message, 'beyond the stream table');
  assert.is(spanText(line, e), '0x10000');
  line = 'smmu cd 300';
  e = fails(s, line);
  assert.match(e.message, 'C_BAD_STREAMID');
  assert.is(spanText(line, e), '300');

  const p = booted('qemu-virt-smmuv3', 'iommu.passthrough=1');
  line = 'smmu cd 8';
  e = fails(p, line);
  assert.match(e.message, 'Config=0b100 (bypass), not stage 1');
  assert.is(spanText(line, e), '8');
  assert.is((ok(p, 'smmu ste 8').data as { config: number }).config, 0b100);

  const virt = createSession('arm-virt');
  e = fails(virt, 'smmu events');
  assert.match(e.message, 'arm-virt has no SMMU');
  assert.ok(e.span);
});

test('walk of a bypassing device says the address is used as-is', () => {
  const s = booted('qemu-virt-smmuv3');
  const d = ok(s, 'walk vda 0x40001234').data as { ok: boolean; bypass: boolean; pa: bigint; steps: unknown[] };
  assert.equal([d.ok, d.bypass, d.pa, d.steps.length], [true, true, 0x40001234n, 0]);
  assert.match(text(ok(s, 'walk vda 0x40001234')), 'used as-is');
});

test.run();
