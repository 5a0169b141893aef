// VT-d decoders and views: rows carry REFERENCE.md 3 positions, faults read in plain language, walks from memory.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Machine } from '../../src/machine/machine.ts';
import { encode } from '../../src/machine/fields.ts';
import { VtdUnit } from '../../src/machine/vtd/vtd.ts';
import * as R from '../../src/machine/vtd/regs.ts';
import { CONTEXT_ENTRY_LAYOUT, ROOT_ENTRY_LAYOUT } from '../../src/machine/vtd/context.ts';
import { encodeFaultRecord } from '../../src/machine/vtd/fault.ts';
import {
  decodeContextEntry, decodeRootEntry, decodePte, decodeFaultRecord, decodeIrte, decodeMsiAddress, decodeRegister, decodeQiDescriptor,
  summarizeFaultRecord, explainFault, faultRecordsOf, contextInMemory, walkVtd, unitRegisters,
} from '../../src/inspect/vtd.ts';

const row = <T extends { name: string }>(rows: T[], name: string): T => rows.find((r) => r.name === name)!;

test('context and root entry rows: names, 128-bit positions, values', () => {
  const ce = encode(CONTEXT_ENTRY_LAYOUT, { P: 1, TT: 2, AW: 1, DID: 1 });
  const rows = decodeContextEntry(ce);
  assert.equal(rows.map((r) => r.name), ['P', 'FPD', 'TT', 'SLPTPTR', 'AW', 'AVAIL', 'DID']);
  assert.is(row(rows, 'DID').bits, '[87:72]');
  assert.is(row(rows, 'AW').bits, '[66:64]');
  assert.match(row(rows, 'TT').text, /pass-through/);
  assert.is(row(decodeRootEntry(encode(ROOT_ENTRY_LAYOUT, { P: 1, CTP: 0x1000n })), 'CTP').text, '0x1000');
});

test('PTE kinds: 0x80000003 a page at level 1, 0x80000083 a superpage at PD, a table at PDP, 0 not present', () => {
  assert.is(decodePte(0x8000_0003n, 1).kind, 'page');
  assert.is(decodePte(0x8000_0083n, 2).kind, 'superpage');
  assert.is(decodePte(0x8000_0083n, 2).level, 'PD');
  assert.is(decodePte(0x5003n, 3).kind, 'table');
  assert.is(decodePte(0n, 4).kind, 'not present');
  assert.is(row(decodePte(0x8000_0003n, 1).rows, 'ADDR').text, '0x80000000');
});

test('fault record rows and summary for the REFERENCE 3.6 example; IR faults show the index', () => {
  const words = encodeFaultRecord({ addr: 0xffff_f000n, sid: 0x10, reason: 6, read: true });
  const rows = decodeFaultRecord(words);
  assert.is(row(rows, 'SID').bits, '[79:64]');
  assert.is(row(rows, 'FR').bits, '[103:96]');
  assert.is(row(rows, 'FR').text, '0x06 (VTD_FR_READ)');
  assert.is(row(rows, 'T').bits, '[126]');
  assert.is(row(rows, 'F').bits, '[127]');
  const s = summarizeFaultRecord(words);
  assert.equal([s.bdf, s.addr, s.read, s.linux, s.pending], ['00:02.0', 0xffff_f000n, true, 'PTE Read access is not set', true]);
  const text = explainFault(s);
  assert.match(text, /^Device 00:02.0 \(source-id 0x0010\) read page 0xfffff000/);
  assert.match(text, /nothing is mapped at that IOVA/);
  const ir = decodeFaultRecord(encodeFaultRecord({ irIndex: 5, sid: 0x10, reason: 0x22 }));
  assert.equal([row(ir, 'FII').bits, row(ir, 'FII').text], ['[63:48]', '5']);
  assert.match(explainFault(summarizeFaultRecord(encodeFaultRecord({ irIndex: 0, sid: 0x10, reason: 0x25 }))), /compatibility-format MSI/);
});

test('IRTE, MSI addresses and QI descriptors decode', () => {
  const rows = decodeIrte([0x0000_0200_0023_0009n, 0x4_0010n]);
  assert.equal(['P', 'RH', 'V', 'DST', 'SID', 'SVT'].map((n) => row(rows, n).text), ['1', '1', '0x23', '0x200', '0x10', '1 (SID and SQ)']);
  assert.is(row(rows, 'SVT').bits, '[83:82]');
  const m = decodeMsiAddress(0xfee0_00b8n, 0);
  assert.is(m.format, 'remappable');
  assert.is(m.index, 5);
  const c = decodeMsiAddress(0xfee0_3000n, 0x41);
  assert.is(c.format, 'compatibility');
  assert.is(row(c.rows, 'DestID').text, '3');
  assert.is(row(c.rows, 'Vector').text, '0x41');
  assert.is(decodeQiDescriptor([0x2_0032n, 0x1000n]).type, 'IOTLB invalidate');
  assert.is(decodeQiDescriptor([0xfn, 0n]).type, 'unknown type 15');
});

test('registers: CAP of QEMU q35 decodes to SAGAW 0x2, MGAW 38, FRO 0x22, NFR 0', () => {
  const rows = decodeRegister('CAP', 0x00d2_008c_2226_0206n)!;
  assert.equal(['SAGAW', 'MGAW', 'FRO', 'NFR', 'SLLPS'].map((n) => row(rows, n).value), [2n, 38n, 0x22n, 0n, 3n]);
  assert.is(decodeRegister('nope', 0n), undefined);
  assert.ok(decodeRegister('gsts', 0xc000_0000n)!.find((r) => r.name === 'TES')!.value === 1n);
});

test('views on a unit: registers, fault records with a reading, the context in memory, a cache-free walk', () => {
  const m = new Machine({ name: 'x', arch: 'x86_64', board: 't', cpus: 1, description: '' });
  m.memory.addRegion({ name: 'ram', base: 0n, size: 0x8000_0000n, kind: 'ram' });
  const unit = new VtdUnit({ name: 'dmar0', memory: m.memory, interrupts: m.interrupts });
  m.memory.addRegion({ name: 'dmar0', base: 0xfed9_0000n, size: R.VTD_REG_SIZE, kind: 'mmio', handler: unit });
  m.memory.writeWords(0x10_0000n, encode(ROOT_ENTRY_LAYOUT, { P: 1, CTP: 0x10_1000n }));
  m.memory.writeWords(0x10_1000n + 16n * 0x10n, encode(CONTEXT_ENTRY_LAYOUT, { P: 1, SLPTPTR: 0x10_2000n, AW: 1, DID: 2 }));
  m.memory.writeU(0xfed9_0020n, 8, 0x10_0000n);
  m.memory.writeU(0xfed9_0018n, 4, BigInt(R.DMA_GCMD_SRTP >>> 0));
  m.memory.writeU(0xfed9_0018n, 4, BigInt(R.DMA_GCMD_TE >>> 0));
  const regs = unitRegisters(unit);
  assert.is(regs.find((r) => r.name === 'RTADDR')!.value, 0x10_0000n);
  assert.is(regs.find((r) => r.name === 'IOTLB')!.offset, 0xf8);
  const w = walkVtd(unit, 0x10, 0xffff_f000n);
  assert.is(w.ok, false);
  assert.is(w.code, 6);
  assert.equal(w.steps.map((s) => s.level), ['root', 'context', 'PDP']);
  assert.is(unit.faultRecords()[0]!.pending, false); // a walk records nothing
  m.dmaRead({ name: 'nic', sid: 0x10, rid: 0x10, path: 'translated', iommu: unit }, 0xffff_f000n, 4);
  const recs = faultRecordsOf(unit);
  assert.is(recs[0]!.offset, 0x220);
  assert.match(recs[0]!.text!, /Device 00:02.0/);
  const c = contextInMemory(m.memory, unit, 0x10);
  assert.is(c.ctxAddr, 0x10_1100n);
  assert.is(row(c.ctxRows!, 'DID').text, '2');
  assert.is(contextInMemory(m.memory, unit, 0x100).ctx, undefined); // bus 1: root entry not present
});

test.run();
