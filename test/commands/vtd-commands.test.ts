/**
 * vtd root / context / faults, ir table, msi, devdma, and walk / info iommu /
 * x on the x86 q35 + intel-iommu preset. Expected values come from
 * REFERENCE.md 3 (bit positions of root/context entries, fault records,
 * IRTEs and MSI addresses; fault reasons and Linux's strings; the QEMU
 * CAP/ECAP), 4.4 (iommu=pt -> identity) and 6.4 (the ITS doorbell), or from
 * another command's output where the address is the model's choice.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSession } from '../../src/commands/index.ts';
import { booted, fails, ok, spanText, text } from './helpers.ts';

const X86 = 'x86-q35-vtd';

type ContextData = { present: boolean; tt: number; aw: number; width: number; levels: number; did: number; fpd: boolean; slptptr: bigint; words: bigint[]; addr: bigint; rootAddr: bigint; kernel: { type: string } | null };
type FaultRec = { index: number; words: bigint[]; empty: boolean; pending: boolean; summary: { sid: number; bdf: string; reason: number; read: boolean; addr: bigint; linux: string; pending: boolean } };
type FaultsData = { fsts: number; records: FaultRec[]; kernelLog: { text: string }[]; kernelFaults: { era: string; sid: number; reason: number; addr?: bigint; access?: string }[] };

/** Context-entry fields straight from the raw halves, REFERENCE.md 3.2 positions. */
const ctxBits = (w: bigint[]) => ({ p: Number(w[0]! & 1n), fpd: Number((w[0]! >> 1n) & 1n), tt: Number((w[0]! >> 2n) & 3n), slptptr: w[0]! & ~0xfffn, aw: Number(w[1]! & 7n), did: Number((w[1]! >> 8n) & 0xffffn) });

test('vtd context under iommu=pt: TT=2 pass-through, present, AW=1, the kernel\'s identity domain', () => {
  const s = booted(X86, 'iommu=pt');
  for (const dev of ['vda', 'nic0', '00:02.0']) {
    const d = ok(s, `vtd context ${dev}`).data as ContextData;
    const b = ctxBits(d.words);
    assert.is(b.p, 1);
    assert.is(b.tt, 2, `${dev}: TT=2 (REFERENCE 3.2: pass-through)`);
    assert.is(d.tt, 2);
    assert.is(b.aw, 1, 'Linux writes the unit\'s msagaw: 39-bit QEMU unit -> AW 1');
    assert.is(d.kernel?.type, 'identity');
  }
  const t = text(ok(s, 'vtd context nic0'));
  assert.match(t, 'TT=2 pass-through');
  // and a walk ends at the context entry with the address as-is
  const w = ok(s, 'walk nic0 0x123456000').data as { ok: boolean; pa: bigint; passThrough: boolean; steps: { level: string }[] };
  assert.ok(w.ok);
  assert.is(w.pa, 0x1_2345_6000n);
  assert.ok(w.passThrough);
  assert.not.ok(w.steps.some((x) => x.level === 'PDP'), 'no page table is read');
});

test('vtd context translated: TT=0 with a DID, AW=1 (39-bit, 3 levels), SLPTPTR is where walk starts', () => {
  const s = booted(X86);
  const d = ok(s, 'vtd context nic0').data as ContextData;
  const b = ctxBits(d.words);
  assert.equal([b.p, b.tt, b.aw, b.fpd], [1, 0, 1, 0]);
  assert.ok(b.did > 0, 'a domain id');
  assert.equal([d.tt, d.aw, d.width, d.levels, d.did, d.slptptr], [0, 1, 39, 3, b.did, b.slptptr], 'width = 30 + 9*AW, levels = AW + 2');
  // REFERENCE 3.2: context entry at CTP + 16*devfn; 00:02.0 is devfn 0x10
  const root = ok(s, 'vtd root').data as { root: bigint; entries: { bus: number; words: bigint[]; ctp: bigint; contexts: { bdf: string }[] }[] };
  const bus0 = root.entries.find((e) => e.bus === 0)!;
  assert.is(bus0.ctp, bus0.words[0]! & ~0xfffn);
  assert.is(d.addr, bus0.ctp + 16n * 0x10n);
  assert.is(d.rootAddr, root.root);
  assert.ok(['00:00.0', '00:01.0', '00:02.0', '00:1f.0', '00:1f.2', '00:1f.3'].every((x) => bus0.contexts.some((c) => c.bdf === x)));
  const w = ok(s, 'walk nic0 0x1000').data as { steps: { level: string; tableAddr?: bigint }[] };
  assert.is(w.steps.find((x) => x.level === 'PDP')!.tableAddr, b.slptptr, '3-level walk starts at the PDP table = SLPTPTR');
  // vda and nic0 are in different domains: different DIDs
  const v = ctxBits((ok(s, 'vtd context vda').data as ContextData).words);
  assert.is.not(v.did, b.did);
  // A bus:dev.fn with no device: a not-present entry, not an error
  const none = ok(s, 'vtd context 00:05.0').data as ContextData;
  assert.is(none.present, false);
  assert.match(text(ok(s, 'vtd context 00:05.0')), 'reason 0x02');
});

test('devdma read of an unmapped IOVA: fault record FR 6, T=1 read, FI page, SID 0x0010; dmar_fault prints and clears it', () => {
  const s = booted(X86);
  const before = ok(s, 'vtd faults').data as FaultsData;
  assert.ok(before.records[0]!.empty);
  const r = ok(s, 'devdma read nic0 0x1234 8');
  const o = (r.data as { outcome: { ok: boolean; fault: { code: number; recorded: boolean; meaning: string } } }).outcome;
  assert.is(o.ok, false);
  assert.is(o.fault.code, 6);
  assert.ok(o.fault.recorded);
  assert.is(o.fault.meaning, 'PTE Read access is not set');
  const d = ok(s, 'vtd faults').data as FaultsData;
  const rec = d.records[0]!;
  // REFERENCE 3.4: FI [63:12], SID [79:64], FR [103:96], T bit 126, F bit 127
  assert.is(rec.words[0], 0x1000n, 'FI: the page, low 12 bits dropped');
  assert.is(rec.words[1]! & 0xffffn, 0x10n, 'SID of 00:02.0');
  assert.is((rec.words[1]! >> 32n) & 0xffn, 6n, 'FR 6');
  assert.is((rec.words[1]! >> 62n) & 1n, 1n, 'T = 1: read');
  assert.is((rec.words[1]! >> 63n) & 1n, 0n, "F cleared: Linux's dmar_fault wrote 1 to it");
  assert.equal([rec.summary.bdf, rec.summary.reason, rec.summary.read, rec.summary.addr, rec.summary.linux], ['00:02.0', 6, true, 0x1000n, 'PTE Read access is not set']);
  assert.ok(d.kernelLog.some((l) => l.text === 'DMAR: DRHD: handling fault status reg 2'));
  assert.ok(d.kernelLog.some((l) => l.text === 'DMAR: [DMA Read NO_PASID] Request device [00:02.0] fault addr 0x1000 [fault reason 0x06] PTE Read access is not set'));
  assert.equal(d.kernelFaults.map((f) => [f.era, f.sid, f.reason, f.addr, f.access]), [['current', 0x10, 6, 0x1000n, 'read']]);
  // undo puts the registers back: nothing was ever recorded
  ok(s, 'undo');
  assert.ok((ok(s, 'vtd faults').data as FaultsData).records[0]!.empty);
});

test('with FECTL.IM set no fault event is sent: the record stays pending (F=1, FSTS.PPF) and the kernel prints nothing', () => {
  const s = booted(X86);
  ok(s, 'write 0xfed90038 0x80000000 size=w'); // FECTL.IM (REFERENCE 3.1: FECTL 0x38, IM bit 31)
  ok(s, 'devdma write nic0 0x5000 0xab 4');
  const d = ok(s, 'vtd faults').data as FaultsData;
  const rec = d.records[0]!;
  assert.is(rec.pending, true);
  assert.is(rec.words[1], 0x8000_0005_0000_0010n, 'F=1, T=0 write, FR 5, SID 0x10');
  assert.is(rec.summary.linux, 'PTE Write access is not set');
  assert.is(d.fsts & 2, 2, 'FSTS.PPF');
  assert.is(d.kernelLog.length, 0);
  assert.match(text(ok(s, 'vtd faults')), 'PENDING');
});

test('the REFERENCE 3.6 example: strict domain, read of 0xfffff000 after unmap; lazy (DMA-FQ) keeps the stale IOTLB entry', () => {
  const strict = booted(X86, 'iommu.strict=1');
  ok(strict, 'dma map nic0 0x100000000 4096 to_device');
  ok(strict, 'devdma read nic0 0xfffff000 8');
  ok(strict, 'dma unmap nic0 0xfffff000');
  ok(strict, 'devdma read nic0 0xfffff000 8');
  const d = ok(strict, 'vtd faults').data as FaultsData;
  assert.equal([d.records[0]!.words[0], d.records[0]!.words[1]! & ~(1n << 63n)], [0xffff_f000n, 0x4000_0006_0000_0010n]);
  assert.ok(d.kernelLog.some((l) => l.text.endsWith('Request device [00:02.0] fault addr 0xfffff000 [fault reason 0x06] PTE Read access is not set')));
  const lazy = booted(X86);
  ok(lazy, 'dma map nic0 0x100000000 4096 to_device');
  ok(lazy, 'devdma read nic0 0xfffff000 8');
  ok(lazy, 'dma unmap nic0 0xfffff000');
  const again = ok(lazy, 'devdma read nic0 0xfffff000 8').data as { outcome: { ok: boolean }; trace: { iotlbHit?: boolean }[] };
  assert.ok(again.outcome.ok, 'the IOTLB still holds the translation until the flush queue is flushed');
  assert.ok(again.trace[0]!.iotlbHit);
});

test('msi nic0: an IRTE with the vector, APIC, SVT=1 SID 0x0010, and the remappable address that selects it', () => {
  const s = booted(X86);
  const m = ok(s, 'msi nic0').data as { format: string; index: number; address: bigint; data: number; vector: number; irte: { words: bigint[] }; landing: { ok: boolean; controller: string; vector: number; dest: number } };
  assert.is(m.format, 'remappable');
  // REFERENCE 3.7: 0xFEE | handle[14:0] << 5 | IF (bit 4) | SHV (bit 3) | handle[15] << 2; data = subhandle 0
  assert.is(m.address, 0xfee0_0000n | (BigInt(m.index) << 5n) | 0x18n);
  assert.is(m.data, 0);
  const [lo, hi] = m.irte.words as [bigint, bigint];
  assert.equal([Number(lo & 1n), Number((lo >> 16n) & 0xffn), Number((lo >> 40n) & 0xffn), Number(hi & 0xffffn), Number((hi >> 18n) & 3n)], [1, m.vector, 0x01, 0x10, 1], 'P, V, xAPIC dest in [47:40] (6.1 flat logical: CPU 0 is logical id 0x01), SID, SVT');
  assert.is(Number((lo >> 2n) & 1n), 1, 'DM = 1: logical (apic_flat on a 4-CPU guest before v6.12)');
  assert.equal([m.landing.ok, m.landing.controller, m.landing.vector, m.landing.dest], [true, 'ir', m.vector, 0]);
  // Asking again shows the same IRTE
  const again = ok(s, 'msi nic0').data as { composed: string; index: number };
  assert.equal([again.composed, again.index], ['existing', m.index]);
  // A chosen vector and APIC: DST = destination << 8 in xAPIC mode; 6.1's flat driver writes APIC 2 as logical id 1 << 2
  const v = ok(s, 'msi vda vector=0x41 apic=2').data as { index: number; address: bigint; irte: { words: bigint[] } };
  assert.is((v.irte.words[0]! >> 32n) & 0xffff_ffffn, 0x400n);
  assert.is((v.irte.words[0]! >> 16n) & 0xffn, 0x41n);
  const t = ok(s, 'ir table').data as { rows: { index: number; vector: number; dest: number; sid: number; present: boolean }[] };
  // Indices 0-14 went to IO-APIC 0's legacy pins at boot (reserved, not written). At probe virtio-pci took
  // IRTEs 15-19 (vda's MSI-X on QEMU 7.2: config on APIC 0, then req.0-req.3 one per CPU, managed: APICs
  // 0-3, written as the flat logical ids 0x01-0x08) and e1000e IRTEs 20-22 (RxQ0, TxQ0, other on APIC 0: 0x23, then 0x25 and 0x26 around the DMAR
  // fault event's 0x24). msi nic0 shows nic0's first; the chosen vector/APIC gets a new IRTE.
  assert.equal(t.rows.map((r) => [r.index, r.vector, r.dest, r.sid, r.present]), [
    [15, 0x21, 0x01, 0x08, true], [16, 0x22, 0x01, 0x08, true], [17, 0x21, 0x02, 0x08, true], [18, 0x21, 0x04, 0x08, true], [19, 0x21, 0x08, 0x08, true],
    [20, 0x23, 0x01, 0x10, true], [21, 0x25, 0x01, 0x10, true], [22, 0x26, 0x01, 0x10, true], [v.index, 0x41, 0x04, 0x08, true],
  ]);
  assert.equal([m.index, m.vector], [20, 0x23], "nic0's first vector, composed by e1000e's probe");
  // The device's write of the message is an interrupt, remapped through the IRTE
  const w = ok(s, `devdma write nic0 0x${m.address.toString(16)} 0 4`).data as { outcome: { ok: boolean }; interrupts: { controller: string; detail: string }[] };
  assert.ok(w.outcome.ok);
  assert.ok(w.interrupts.some((x) => x.controller === 'ir' && x.detail.includes(`vector 0x${m.vector.toString(16)}`)));
  assert.match(text(ok(s, 'msi nic0')), 'e1000e enabled MSI-X for 0000:00:02.0 at probe');
  assert.match(text(ok(s, 'msi vda')), 'enabled MSI-X for vda at probe');
});

test('firmware lies (dmar=omit-nic0): dma-direct address, context entry empty, fault 0x02; compatibility MSI blocked 0x25', () => {
  const s = booted(X86, 'dmar=omit-nic0');
  const map = ok(s, 'dma map nic0 0x100000000 4096 to_device').data as { dma: bigint };
  assert.is(map.dma, 0x1_0000_0000n, 'dma-direct: the physical address');
  const c = ok(s, 'vtd context nic0').data as ContextData;
  assert.is(c.present, false);
  const r = ok(s, 'devdma read nic0 0x100000000 8').data as { outcome: { fault: { code: number } } };
  assert.is(r.outcome.fault.code, 0x02);
  const f = ok(s, 'vtd faults').data as FaultsData;
  assert.is((f.records[0]!.words[1]! >> 32n) & 0xffn, 2n);
  assert.ok(f.kernelLog.some((l) => l.text.includes('[fault reason 0x02] Present bit in context entry is clear')));
  const m = ok(s, 'msi nic0').data as { format: string; address: bigint; data: number; landing: { ok: boolean; fault: { code: number } } };
  assert.is(m.format, 'compatibility');
  assert.is(m.address, 0xfee0_1004n, 'REFERENCE 3.7: DestID 0x01 (CPU 0 as a flat logical id) in [19:12], DM (bit 2) = 1 -> 0xFEE01004');
  assert.equal([m.landing.ok, m.landing.fault.code], [false, 0x25]);
  ok(s, `devdma write nic0 0xfee00000 0x${m.data.toString(16)} 1`);
  const f2 = ok(s, 'vtd faults').data as FaultsData;
  assert.is((f2.records[0]!.words[1]! >> 32n) & 0xffn, 0x25n);
  assert.ok(f2.kernelLog.some((l) => l.text.includes('[INTR-REMAP] Request device [00:02.0] fault index 0x0 [fault reason 0x25] Blocked a compatibility format interrupt request')));
});

test('walk on VT-d speaks VT-d: Linux\'s reason string, fault recording registers and FPD, source-id, no SMMU words', () => {
  const s = booted(X86);
  const r = ok(s, 'walk nic0 0x1000');
  const d = r.data as { ok: boolean; fault: { code: number; meaning: string; qualified: boolean; fpd: bigint } };
  assert.is(d.ok, false);
  assert.equal([d.fault.code, d.fault.meaning, d.fault.qualified, d.fault.fpd], [6, 'PTE Read access is not set', true, 0n]);
  const t = text(r);
  assert.match(t, 'FAULT VTD_FR_READ (0x06): PTE Read access is not set');
  assert.match(t, "fault recording registers unless FPD=1");
  assert.match(t, 'source-id 0x0010 (00:02.0)');
  for (const smmu of ['StreamID', 'STE', 'SubstreamID', 'event queue', 'CD/STE']) assert.not.match(t, smmu);
  // walk recorded nothing
  assert.ok((ok(s, 'vtd faults').data as FaultsData).records[0]!.empty);
  // a write into the interrupt window is not DMA
  assert.match(text(ok(s, 'walk nic0 0xfee00018 access=write')), 'interrupt request before DMA remapping');
  // beyond the 39-bit width: reason 0x04
  assert.is((ok(s, 'walk nic0 0x8000000000').data as { fault: { code: number } }).fault.code, 4);
});

test('info iommu shows the VT-d unit: QEMU CAP/ECAP, GSTS, RTADDR = the root table, IRTA, the DMAR coverage', () => {
  const before = createSession(X86);
  const b = ok(before, 'info iommu').data as { iommus: { registers: { GSTS: number; FECTL: number }; enabled: boolean }[] };
  assert.is(b.iommus[0]!.enabled, false);
  assert.is(b.iommus[0]!.registers.GSTS, 0);
  const s = booted(X86);
  const d = ok(s, 'info iommu').data as { iommus: { kind: string; registers: { CAP: bigint; ECAP: bigint; GSTS: number; RTADDR: bigint; IRTA: bigint }; rootTable: bigint; irTable: { entries: number }; cap: { widths: string[]; frcdOffset: number }; devices: { device: string; claimed: boolean }[] }[] };
  const u = d.iommus[0]!;
  assert.is(u.kind, 'vtd');
  assert.is(u.registers.CAP, 0xd2008c22260206n, 'QEMU intel-iommu CAP (the boot log prints it)');
  assert.is(u.registers.ECAP, 0xf00f4an);
  assert.is(u.registers.GSTS >>> 31, 1, 'TES');
  assert.is(u.rootTable, u.registers.RTADDR & ~0xfffn);
  assert.is(u.irTable.entries, 65536, 'IRTA.S = 0xf: 2^(S+1)');
  assert.equal(u.cap.widths, ['39-bit 3-level']);
  assert.is(u.cap.frcdOffset, 0x220);
  assert.ok(u.devices.every((x) => x.claimed));
  const t = text(ok(s, 'info iommu'));
  assert.match(t, 'Intel VT-d remapping unit');
  assert.match(t, 'DRHD at 0xfed90000, 7 device scopes'); // QEMU 6.0+: explicit scopes, flags 0
  const omit = booted(X86, 'dmar=omit-nic0');
  const o = ok(omit, 'info iommu').data as { iommus: { devices: { device: string; claimed: boolean }[] }[] };
  assert.equal(o.iommus[0]!.devices.filter((x) => !x.claimed).map((x) => x.device), ['nic0']);
});

test('x/FMT dev:DEV:IOVA on VT-d reads through the second-level tables; a fault names Linux\'s reason', () => {
  const s = booted(X86);
  ok(s, 'write 0x100000010 0x1122334455667788');
  const m = ok(s, 'dma map nic0 0x100000000 4096 to_device').data as { dma: bigint };
  const x = ok(s, `x/2xg dev:nic0:0x${(m.dma + 8n).toString(16)}`).data as { bytes: string };
  assert.is(x.bytes, '0000000000000000' + '8877665544332211');
  const e = fails(s, 'x/8xb dev:nic0:0x2000');
  assert.match(e.message, 'VTD_FR_READ 0x06 "PTE Read access is not set"');
});

test('msi on Arm: the ITS doorbell GITS_TRANSLATER, mapped into the DMA domain by iommu_dma_prepare_msi (IOVA + 0x40)', () => {
  const s = booted('qemu-virt-smmuv3', 'vda.iommu_platform=on vda.disable-legacy=on');
  const d = ok(s, 'msi vda').data as { its: { translater: bigint }; iova: bigint; address: bigint; landing: { ok: boolean; pa: bigint } };
  assert.is(d.its.translater, 0x0809_0040n, 'REFERENCE 6.4: ITS base 0x08080000 + 0x10040');
  assert.is(d.iova & 0xfffn, 0n);
  assert.is(d.address, d.iova + 0x40n);
  assert.equal([d.landing.ok, d.landing.pa], [true, 0x0809_0040n]);
  const again = ok(s, 'msi vda').data as { iova: bigint };
  assert.is(again.iova, d.iova, 'the doorbell page is mapped once');
  // a device write of the message reaches the ITS as an MSI
  const w = ok(s, `devdma write vda 0x${d.address.toString(16)} 0 4`).data as { interrupts: { controller: string }[] };
  assert.ok(w.interrupts.some((x) => x.controller === 'its'));
  const e = fails(s, 'msi vda vector=0x30');
  assert.match(e.message, 'an Arm MSI is an EventID');
});

test('error paths: no VT-d unit, not booted, bad arguments', () => {
  const arm = booted('arm-fastmodel');
  for (const line of ['vtd root', 'vtd context 00:00.0', 'vtd faults', 'ir table']) {
    const e = fails(arm, line);
    assert.match(e.message, 'arm-fastmodel has no Intel VT-d unit (its IOMMUs: smmuv3 smmuv3)', line);
    assert.is(e.hint, 'machine x86-q35-vtd');
  }
  const cold = createSession(X86);
  assert.match(fails(cold, 'vtd root').message, 'no root table yet (GSTS.RTPS = 0)');
  assert.match(fails(cold, 'vtd context nic0').message, 'no root table yet');
  assert.match(fails(cold, 'ir table').message, 'no interrupt remapping table yet');
  assert.match(fails(cold, 'msi nic0').message, "run 'boot' first");
  const s = booted(X86);
  const line = 'vtd context nick0';
  const e = fails(s, line);
  assert.match(e.message, "no device 'nick0'");
  assert.is(spanText(line, e), 'nick0');
  assert.match(fails(s, 'msi nic0 vector=0x10').message, 'x86 device vectors are 0x20..0xff');
  assert.match(fails(s, 'msi nic0 apic=256').message, 'does not fit an 8-bit xAPIC destination');
  assert.match(fails(s, 'devdma read nic0 0x1000 0').message, 'one devdma access moves 1..65536 bytes');
  assert.match(fails(s, 'devdma write nic0 0x1000 0x100 1').message, '0x100 is not a byte');
  assert.match(fails(s, 'devdma read lpc0 0x1000 1').message, "no device 'lpc0'");
  // failed commands changed nothing
  assert.ok((ok(s, 'vtd faults').data as FaultsData).records[0]!.empty);
});

test('devdma before boot: translation off (GSTS.TES=0), the address is physical; on Arm a fault runs the event thread', () => {
  const cold = createSession(X86);
  ok(cold, 'write 0x2000 0x41424344 size=w');
  const r = ok(cold, 'devdma read nic0 0x2000 4').data as { outcome: { ok: boolean; data: Uint8Array } };
  assert.ok(r.outcome.ok);
  assert.equal([...r.outcome.data], [0x44, 0x43, 0x42, 0x41]);
  const arm = booted('arm-fastmodel', 'kernel=4.10-rc');
  const t = text(ok(arm, 'devdma read vda 0x1000 4'));
  assert.match(t, 'F_TRANSLATION');
  assert.match(t, "arm-smmu-v3's event-queue thread ran");
  assert.match(t, 'event 0x10 received');
});

test.run();
