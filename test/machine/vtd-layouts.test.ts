// VT-d layouts against REFERENCE.md 3.1-3.7 (values written out by hand from the tables there and from QEMU's headers).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encode, field, get, type Layout } from '../../src/machine/fields.ts';
import * as R from '../../src/machine/vtd/regs.ts';
import { ROOT_ENTRY_LAYOUT, CONTEXT_ENTRY_LAYOUT, agawToWidth, agawToLevels, widthToAgaw, sourceId, sidText } from '../../src/machine/vtd/context.ts';
import { SL_PTE_LAYOUT, DMA_PTE_READ, DMA_PTE_WRITE, DMA_PTE_LARGE_PAGE, DMA_PTE_SNP, levelShift, levelIndex } from '../../src/machine/vtd/slpt.ts';
import { FRCD_LAYOUT, encodeFaultRecord, faultReason, linuxFaultReason, FAULT_REASONS } from '../../src/machine/vtd/fault.ts';
import { IRTE_LAYOUT, remappableMsiAddress, compatMsiAddress, decodeMsi } from '../../src/machine/vtd/ir.ts';
import { QI_CC_LAYOUT, QI_IOTLB_LAYOUT, QI_IEC_LAYOUT, QI_WAIT_LAYOUT } from '../../src/machine/vtd/qi.ts';
import { VtdUnit } from '../../src/machine/vtd/vtd.ts';
import { PhysicalMemory } from '../../src/machine/memory.ts';

const pos = (l: Layout, name: string): [number, number, number] => {
  const f = field(l, name);
  return [f.word, f.hi, f.lo];
};

test('register offsets (REFERENCE 3.1, QEMU intel_iommu_internal.h)', () => {
  assert.equal(
    [R.DMAR_VER_REG, R.DMAR_CAP_REG, R.DMAR_ECAP_REG, R.DMAR_GCMD_REG, R.DMAR_GSTS_REG, R.DMAR_RTADDR_REG, R.DMAR_CCMD_REG, R.DMAR_FSTS_REG, R.DMAR_FECTL_REG, R.DMAR_FEDATA_REG, R.DMAR_FEADDR_REG, R.DMAR_FEUADDR_REG, R.DMAR_IRTA_REG],
    [0x00, 0x08, 0x10, 0x18, 0x1c, 0x20, 0x28, 0x34, 0x38, 0x3c, 0x40, 0x44, 0xb8],
  );
  assert.equal([R.DMAR_IQH_REG, R.DMAR_IQT_REG, R.DMAR_IQA_REG, R.DMAR_ICS_REG], [0x80, 0x88, 0x90, 0x9c]);
  assert.is(R.DMAR_IOTLB_REG_OFFSET, 0xf0);
  assert.is(R.DMAR_FRCD_REG_OFFSET, 0x220);
});

test('CAP fields (REFERENCE 3.1)', () => {
  assert.equal(pos(R.CAP_LAYOUT, 'ND'), [0, 2, 0]);
  assert.equal(pos(R.CAP_LAYOUT, 'SAGAW'), [0, 12, 8]);
  assert.equal(pos(R.CAP_LAYOUT, 'MGAW'), [0, 21, 16]);
  assert.equal(pos(R.CAP_LAYOUT, 'FRO'), [0, 33, 24]);
  assert.equal(pos(R.CAP_LAYOUT, 'SLLPS'), [0, 37, 34]);
  assert.equal(pos(R.CAP_LAYOUT, 'PSI'), [0, 39, 39]);
  assert.equal(pos(R.CAP_LAYOUT, 'NFR'), [0, 47, 40]);
});

test('ECAP, GCMD/GSTS, FSTS, FECTL, IRTA fields (REFERENCE 3.1)', () => {
  assert.equal(['QI', 'DT', 'IR', 'EIM', 'PT'].map((n) => field(R.ECAP_LAYOUT, n).lo), [1, 2, 3, 4, 6]);
  assert.equal(pos(R.ECAP_LAYOUT, 'SMTS'), [0, 43, 43]);
  assert.equal(['TE', 'SRTP', 'SFL', 'WBF', 'QIE', 'IRE', 'SIRTP', 'CFI'].map((n) => field(R.GCMD_LAYOUT, n).lo), [31, 30, 29, 27, 26, 25, 24, 23]);
  assert.equal([R.DMA_GCMD_TE, R.DMA_GCMD_SRTP, R.DMA_GCMD_QIE, R.DMA_GCMD_IRE, R.DMA_GCMD_SIRTP, R.DMA_GCMD_CFI].map((b) => b >>> 0), [0x8000_0000, 0x4000_0000, 0x0400_0000, 0x0200_0000, 0x0100_0000, 0x0080_0000]);
  assert.equal(['TES', 'RTPS', 'IRES', 'IRTPS'].map((n) => field(R.GSTS_LAYOUT, n).lo), [31, 30, 25, 24]);
  assert.equal(['PFO', 'PPF', 'IQE', 'ICE', 'ITE', 'PRO'].map((n) => field(R.FSTS_LAYOUT, n).lo), [0, 1, 4, 5, 6, 7]);
  assert.equal(pos(R.FSTS_LAYOUT, 'FRI'), [0, 15, 8]);
  assert.equal(['IM', 'IP'].map((n) => field(R.FECTL_LAYOUT, n).lo), [31, 30]);
  assert.equal(pos(R.IRTA_LAYOUT, 'IRTA'), [0, 63, 12]);
  assert.equal(pos(R.IRTA_LAYOUT, 'EIME'), [0, 11, 11]);
  assert.equal(pos(R.IRTA_LAYOUT, 'S'), [0, 3, 0]);
});

test('QEMU q35 defaults: CAP 0xd2008c22260206, ECAP 0xf00f4a; caching mode adds 0x80', () => {
  const u = new VtdUnit({ name: 'dmar0', memory: new PhysicalMemory() });
  assert.is(u.cap, 0x00d2_008c_2226_0206n);
  assert.is(u.ecap, 0xf0_0f4an);
  assert.is(u.frcdOffset, 0x220);
  assert.is(u.iotlbOffset, 0xf0);
  assert.is(Number(get(R.CAP_LAYOUT, [u.cap], 'MGAW')) + 1, 39);
  assert.is(Number(get(R.CAP_LAYOUT, [u.cap], 'SAGAW')), 0b10); // bit 1 = 39-bit
  // The string a real QEMU guest prints with caching-mode=on (d2008c22260286).
  assert.is(new VtdUnit({ name: 'x', memory: new PhysicalMemory(), cachingMode: true }).cap.toString(16), 'd2008c22260286');
  // aw-bits=48: SAGAW 39|48, MGAW 47.
  const u48 = new VtdUnit({ name: 'y', memory: new PhysicalMemory(), haw: 48 });
  assert.is(Number(get(R.CAP_LAYOUT, [u48.cap], 'SAGAW')), 0b110);
  assert.is(Number(get(R.CAP_LAYOUT, [u48.cap], 'MGAW')), 47);
  assert.is(u.read(BigInt(R.DMAR_VER_REG), 4), 0x10n); // ver 1:0
});

test('root and context entries (REFERENCE 3.2)', () => {
  assert.equal(pos(ROOT_ENTRY_LAYOUT, 'P'), [0, 0, 0]);
  assert.equal(pos(ROOT_ENTRY_LAYOUT, 'CTP'), [0, 63, 12]);
  assert.equal(pos(CONTEXT_ENTRY_LAYOUT, 'P'), [0, 0, 0]);
  assert.equal(pos(CONTEXT_ENTRY_LAYOUT, 'FPD'), [0, 1, 1]);
  assert.equal(pos(CONTEXT_ENTRY_LAYOUT, 'TT'), [0, 3, 2]);
  assert.equal(pos(CONTEXT_ENTRY_LAYOUT, 'SLPTPTR'), [0, 63, 12]);
  assert.equal(pos(CONTEXT_ENTRY_LAYOUT, 'AW'), [1, 2, 0]);
  assert.equal(pos(CONTEXT_ENTRY_LAYOUT, 'AVAIL'), [1, 6, 3]);
  assert.equal(pos(CONTEXT_ENTRY_LAYOUT, 'DID'), [1, 23, 8]);
  // A context entry Linux writes: DID 2, AW 1 (39-bit), TT 0, tables at 0x4000_5000.
  assert.equal(encode(CONTEXT_ENTRY_LAYOUT, { P: 1, TT: 0, SLPTPTR: 0x4000_5000n, AW: 1, DID: 2 }), [0x4000_5001n, 0x201n]);
  assert.equal(encode(CONTEXT_ENTRY_LAYOUT, { P: 1, TT: 2, AW: 1, DID: 1 }), [0x9n, 0x101n]);
});

test('source id and AGAW arithmetic (REFERENCE 3.2)', () => {
  assert.is(sourceId(0, 2, 0), 0x0010);
  assert.is(sidText(0x0010), '00:02.0');
  assert.is(sidText(0x01f9), '01:1f.1');
  assert.equal([1, 2, 3].map(agawToWidth), [39, 48, 57]);
  assert.equal([1, 2, 3].map(agawToLevels), [3, 4, 5]);
  assert.equal([39, 48, 57].map(widthToAgaw), [1, 2, 3]);
});

test('second-level PTE: Linux bits and the REFERENCE 3.3 examples', () => {
  assert.equal([DMA_PTE_READ, DMA_PTE_WRITE, DMA_PTE_LARGE_PAGE, DMA_PTE_SNP], [1n, 2n, 0x80n, 0x800n]);
  assert.equal(['R', 'W', 'PS', 'SNP', 'TM'].map((n) => field(SL_PTE_LAYOUT, n).lo), [0, 1, 7, 11, 62]);
  assert.is(encode(SL_PTE_LAYOUT, { R: 1, W: 1, ADDR: 0x8000_0000n })[0], 0x8000_0003n);
  assert.is(encode(SL_PTE_LAYOUT, { R: 1, W: 1, PS: 1, ADDR: 0x8000_0000n })[0], 0x8000_0083n);
  // Index bits (4-level): PML4 = [47:39], PDP = [38:30], PD = [29:21], PT = [20:12].
  assert.equal([4, 3, 2, 1].map(levelShift), [39, 30, 21, 12]);
  const a = (0x1an << 39n) | (0x2bn << 30n) | (0x3cn << 21n) | (0x4dn << 12n) | 0x123n;
  assert.equal([4, 3, 2, 1].map((l) => levelIndex(a, l)), [0x1a, 0x2b, 0x3c, 0x4d]);
});

test('fault record (REFERENCE 3.4) and the 32-bit view Linux reads', () => {
  assert.equal(pos(FRCD_LAYOUT, 'FI'), [0, 63, 12]);
  assert.equal(pos(FRCD_LAYOUT, 'SID'), [1, 15, 0]); // [79:64]
  assert.equal(pos(FRCD_LAYOUT, 'PP'), [1, 31, 31]); // 95
  assert.equal(pos(FRCD_LAYOUT, 'FR'), [1, 39, 32]); // [103:96]
  assert.equal(pos(FRCD_LAYOUT, 'PV'), [1, 59, 40]); // [123:104]
  assert.equal(pos(FRCD_LAYOUT, 'T'), [1, 62, 62]); // 126
  assert.equal(pos(FRCD_LAYOUT, 'F'), [1, 63, 63]); // 127
  // REFERENCE 3.6 example: read fault, 00:02.0, page 0xfffff000, reason 6.
  const rec = encodeFaultRecord({ addr: 0xffff_f123n, sid: 0x0010, reason: 6, read: true });
  assert.equal(rec, [0xffff_f000n, 0xc000_0006_0000_0010n]);
  const dw8 = Number(rec[1]! & 0xffff_ffffn);
  const dw12 = Number(rec[1]! >> 32n);
  assert.is(dw8 & 0xffff, 0x10); // source id
  assert.is(dw12 & 0xff, 6); // reason
  assert.is((dw12 >>> 30) & 1, 1); // T: read
  assert.is(dw12 >>> 31, 1); // F
  // An IR fault keeps the interrupt index in FI[63:48].
  assert.is(encodeFaultRecord({ irIndex: 5, sid: 0x10, reason: 0x22 })[0]! >> 48n, 5n);
});

test('fault reasons: codes and Linux strings (REFERENCE 3.5)', () => {
  const want: [number, string][] = [
    [0x00, 'Software'], [0x01, 'Present bit in root entry is clear'], [0x02, 'Present bit in context entry is clear'],
    [0x03, 'Invalid context entry'], [0x04, 'Access beyond MGAW'], [0x05, 'PTE Write access is not set'],
    [0x06, 'PTE Read access is not set'], [0x07, 'Next page table ptr is invalid'], [0x08, 'Root table address invalid'],
    [0x09, 'Context table ptr is invalid'], [0x0a, 'non-zero reserved fields in RTP'], [0x0b, 'non-zero reserved fields in CTP'],
    [0x0c, 'non-zero reserved fields in PTE'], [0x0d, 'PCE for translation request specifies blocking'],
  ];
  for (const [code, s] of want) assert.is(linuxFaultReason(code).text, s);
  assert.is(linuxFaultReason(0x25).text, 'Blocked a compatibility format interrupt request');
  assert.is(linuxFaultReason(0x25).type, 'INTR_REMAP');
  assert.is(linuxFaultReason(0x0e).text, 'Unknown');
  assert.is(linuxFaultReason(0x99).type, 'UNKNOWN');
  assert.equal(FAULT_REASONS.filter((r) => r.kind === 'ir').map((r) => r.code), [0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26]);
  assert.is(faultReason(0x01)!.qualified, false);
  assert.is(faultReason(0x06)!.qualified, true);
});

test('IRTE (REFERENCE 3.7)', () => {
  assert.equal(['P', 'FPD', 'DM', 'RH', 'TM', 'IM'].map((n) => field(IRTE_LAYOUT, n).lo), [0, 1, 2, 3, 4, 15]);
  assert.equal(pos(IRTE_LAYOUT, 'DLM'), [0, 7, 5]);
  assert.equal(pos(IRTE_LAYOUT, 'AVAIL'), [0, 11, 8]);
  assert.equal(pos(IRTE_LAYOUT, 'V'), [0, 23, 16]);
  assert.equal(pos(IRTE_LAYOUT, 'DST'), [0, 63, 32]);
  assert.equal(pos(IRTE_LAYOUT, 'SID'), [1, 15, 0]); // [79:64]
  assert.equal(pos(IRTE_LAYOUT, 'SQ'), [1, 17, 16]); // [81:80]
  assert.equal(pos(IRTE_LAYOUT, 'SVT'), [1, 19, 18]); // [83:82]
  // Linux's prepare_irte for vector 0x23 to xAPIC id 2 (dest in [47:40]), RH, verified SID 00:02.0.
  assert.equal(encode(IRTE_LAYOUT, { P: 1, RH: 1, V: 0x23, DST: 2 << 8, SID: 0x10, SVT: 1 }), [0x0000_0200_0023_0009n, 0x4_0010n]);
});

test('MSI addresses (REFERENCE 3.7): remappable index 5 = 0xFEE000B8, 0x8000 = 0xFEE0001C; compatibility APIC 3 = 0xFEE03000', () => {
  assert.is(remappableMsiAddress(5), 0xfee0_00b8n);
  assert.is(remappableMsiAddress(0x8000), 0xfee0_001cn);
  assert.is(compatMsiAddress(3), 0xfee0_3000n);
  assert.equal(decodeMsi(0xfee0_00b8n, 0), { remappable: true, handle: 5, shv: true });
  assert.equal(decodeMsi(0xfee0_001cn, 0), { remappable: true, handle: 0x8000, shv: true });
  const c = decodeMsi(0xfee0_3000n, 0x41);
  assert.is(c.remappable, false);
  assert.is(c.dest, 3);
  assert.is(c.vector, 0x41);
});

test('invalidation descriptors (linux QI_*)', () => {
  // qi_flush_context(global): type 1, G 1 at [5:4].
  assert.is(encode(QI_CC_LAYOUT, { Type: 1, G: 1 })[0], 0x11n);
  // device-selective for DID 2, SID 0x10: DID << 16, SID << 32, G 3.
  assert.is(encode(QI_CC_LAYOUT, { Type: 1, G: 3, DID: 2, SID: 0x10 })[0], 0x0000_0010_0002_0031n);
  assert.equal(encode(QI_IOTLB_LAYOUT, { Type: 2, G: 3, DW: 1, DR: 1, DID: 2, ADDR: 0xffff_f000n, AM: 0 }), [0x2_00f2n, 0xffff_f000n]);
  assert.is(encode(QI_IEC_LAYOUT, { Type: 4, G: 1, IIDX: 5 })[0], 0x5_0000_0014n);
  assert.is(encode(QI_WAIT_LAYOUT, { Type: 5, SW: 1, FN: 1, StatusData: 2 })[0], 0x2_0000_0065n);
});

test.run();
