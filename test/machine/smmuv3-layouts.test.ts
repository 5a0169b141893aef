// SMMUv3 layouts against REFERENCE.md 1.1-1.8 and 2.2-2.3 (values written out by hand from the tables there).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encode, field, get } from '../../src/machine/fields.ts';
import { STE_LAYOUT, L1STD_LAYOUT } from '../../src/machine/smmuv3/ste.ts';
import { CD_LAYOUT } from '../../src/machine/smmuv3/cd.ts';
import { EVENT_LAYOUT, EVENT_TYPES, encodeEvent, F_TRANSLATION, C_BAD_STE, eventName } from '../../src/machine/smmuv3/event.ts';
import * as C from '../../src/machine/smmuv3/cmd.ts';
import { IDR0_LAYOUT, IDR1_LAYOUT, IDR5_LAYOUT, CR0_LAYOUT, GBPA_LAYOUT, STRTAB_BASE_CFG_LAYOUT, Q_BASE_LAYOUT, SMMU_IDR0, SMMU_IDR1, SMMU_IDR5, CR0_SMMUEN, CR0_EVENTQEN, CR0_CMDQEN, GBPA_ABORT } from '../../src/machine/smmuv3/regs.ts';
import { S1_LEAF_LAYOUT, TABLE_DESC_LAYOUT, S2_LEAF_LAYOUT } from '../../src/machine/smmuv3/vmsa.ts';
import { SmmuV3 } from '../../src/machine/smmuv3/smmuv3.ts';
import { PhysicalMemory } from '../../src/machine/memory.ts';

const pos = (l: typeof STE_LAYOUT, name: string): [number, number, number] => {
  const f = field(l, name);
  return [f.word, f.hi, f.lo];
};

test('STE field positions (REFERENCE 1.2)', () => {
  assert.equal(pos(STE_LAYOUT, 'V'), [0, 0, 0]);
  assert.equal(pos(STE_LAYOUT, 'Config'), [0, 3, 1]);
  assert.equal(pos(STE_LAYOUT, 'S1Fmt'), [0, 5, 4]);
  assert.equal(pos(STE_LAYOUT, 'S1ContextPtr'), [0, 51, 6]);
  assert.equal(pos(STE_LAYOUT, 'S1CDMax'), [0, 63, 59]);
  assert.equal(pos(STE_LAYOUT, 'S1DSS'), [1, 1, 0]);
  assert.equal(pos(STE_LAYOUT, 'S1STALLD'), [1, 27, 27]);
  assert.equal(pos(STE_LAYOUT, 'EATS'), [1, 29, 28]);
  assert.equal(pos(STE_LAYOUT, 'STRW'), [1, 31, 30]);
  assert.equal(pos(STE_LAYOUT, 'SHCFG'), [1, 45, 44]);
  assert.equal(pos(STE_LAYOUT, 'S2VMID'), [2, 15, 0]);
  assert.equal(pos(STE_LAYOUT, 'S2T0SZ'), [2, 37, 32]);
  assert.equal(pos(STE_LAYOUT, 'S2SL0'), [2, 39, 38]);
  assert.equal(pos(STE_LAYOUT, 'S2TG'), [2, 47, 46]);
  assert.equal(pos(STE_LAYOUT, 'S2PS'), [2, 50, 48]);
  assert.equal(pos(STE_LAYOUT, 'S2AA64'), [2, 51, 51]);
  assert.equal(pos(STE_LAYOUT, 'S2S'), [2, 57, 57]);
  assert.equal(pos(STE_LAYOUT, 'S2R'), [2, 58, 58]);
  assert.equal(pos(STE_LAYOUT, 'S2TTB'), [3, 51, 4]);
  assert.is(STE_LAYOUT.words, 8);
});

test('the STEs Linux writes encode to the REFERENCE 1.2 values', () => {
  assert.is(encode(STE_LAYOUT, { V: 1, Config: 0 })[0], 0x1n); // abort
  const bypass = encode(STE_LAYOUT, { V: 1, Config: 0b100, SHCFG: 1 });
  assert.is(bypass[0], 0x9n);
  assert.is(bypass[1], 0x0000_1000_0000_0000n);
  // Stage 1: V | Config 0b101 | S1ContextPtr
  assert.is(encode(STE_LAYOUT, { V: 1, Config: 0b101, S1ContextPtr: 0x4800_9000n })[0], 0x4800_900bn);
  assert.is(get(STE_LAYOUT, [0x4800_900bn], 'S1ContextPtr'), 0x4800_9000n);
});

test('L1 stream table descriptor: Span [4:0], L2Ptr [51:6]', () => {
  assert.is(encode(L1STD_LAYOUT, { Span: 9, L2Ptr: 0x4001_0000n })[0], 0x4001_0009n);
});

test('CD field positions and the Linux stage-1 CD (REFERENCE 1.3)', () => {
  assert.equal(pos(CD_LAYOUT, 'T0SZ'), [0, 5, 0]);
  assert.equal(pos(CD_LAYOUT, 'TG0'), [0, 7, 6]);
  assert.equal(pos(CD_LAYOUT, 'IR0'), [0, 9, 8]);
  assert.equal(pos(CD_LAYOUT, 'OR0'), [0, 11, 10]);
  assert.equal(pos(CD_LAYOUT, 'SH0'), [0, 13, 12]);
  assert.equal(pos(CD_LAYOUT, 'EPD0'), [0, 14, 14]);
  assert.equal(pos(CD_LAYOUT, 'EPD1'), [0, 30, 30]);
  assert.equal(pos(CD_LAYOUT, 'V'), [0, 31, 31]);
  assert.equal(pos(CD_LAYOUT, 'IPS'), [0, 34, 32]);
  assert.equal(pos(CD_LAYOUT, 'AA64'), [0, 41, 41]);
  assert.equal(pos(CD_LAYOUT, 'R'), [0, 45, 45]);
  assert.equal(pos(CD_LAYOUT, 'A'), [0, 46, 46]);
  assert.equal(pos(CD_LAYOUT, 'ASET'), [0, 47, 47]);
  assert.equal(pos(CD_LAYOUT, 'ASID'), [0, 63, 48]);
  assert.equal(pos(CD_LAYOUT, 'TTB0'), [1, 51, 4]);
  assert.equal(pos(CD_LAYOUT, 'MAIR'), [3, 63, 0]);
  // T0SZ 16, IR0/OR0/SH0 1/1/3, EPD1, V, IPS 5 (48-bit), AA64, R, A, ASET, ASID 1: bits summed by hand
  // 0x10 | 0x100 | 0x400 | 0x3000 | 1<<30 | 1<<31 | 5<<32 | 1<<41 | 1<<45 | 1<<46 | 1<<47 | 1<<48
  const cd = encode(CD_LAYOUT, { T0SZ: 16, TG0: 0, IR0: 1, OR0: 1, SH0: 3, EPD1: 1, V: 1, IPS: 5, AA64: 1, R: 1, A: 1, ASET: 1, ASID: 1, TTB0: 0x4000_8000n, MAIR: 0xf404ff44n });
  assert.is(cd[0], 0x0001_e205_c000_3510n);
  assert.is(cd[1], 0x4000_8000n);
  assert.is(cd[3], 0xf404ff44n);
});

test('event record positions (REFERENCE 1.4)', () => {
  assert.equal(pos(EVENT_LAYOUT, 'Type'), [0, 7, 0]);
  assert.equal(pos(EVENT_LAYOUT, 'SSV'), [0, 11, 11]);
  assert.equal(pos(EVENT_LAYOUT, 'SubstreamID'), [0, 31, 12]);
  assert.equal(pos(EVENT_LAYOUT, 'StreamID'), [0, 63, 32]);
  assert.equal(pos(EVENT_LAYOUT, 'STAG'), [1, 15, 0]);
  assert.equal(pos(EVENT_LAYOUT, 'Stall'), [1, 31, 31]);
  assert.equal(pos(EVENT_LAYOUT, 'PnU'), [1, 33, 33]);
  assert.equal(pos(EVENT_LAYOUT, 'InD'), [1, 34, 34]);
  assert.equal(pos(EVENT_LAYOUT, 'RnW'), [1, 35, 35]);
  assert.equal(pos(EVENT_LAYOUT, 'S2'), [1, 39, 39]);
  assert.equal(pos(EVENT_LAYOUT, 'CLASS'), [1, 41, 40]);
  assert.equal(pos(EVENT_LAYOUT, 'TTRnW'), [1, 44, 44]);
  assert.equal(pos(EVENT_LAYOUT, 'InputAddr'), [2, 63, 0]);
  assert.equal(pos(EVENT_LAYOUT, 'IPA'), [3, 51, 12]);
  assert.equal(pos(EVENT_LAYOUT, 'FetchAddr'), [3, 51, 3]);
});

const SEED1 = [0x0000_0000_ffff_f010n, 0x0000_0208_0000_0000n, 0x0000_0008_fa08_1002n, 0n];
const SEED2 = [0x0000_0000_ffff_f010n, 0x0000_0208_0000_0000n, 0x0000_0008_fa08_1000n, 0n];

test('seed 000 event words decode to SID 0, read, CLASS 2, the full input address (REFERENCE 1.8)', () => {
  for (const [w, addr] of [[SEED1, 0x8fa081002n], [SEED2, 0x8fa081000n]] as const) {
    assert.is(get(EVENT_LAYOUT, w, 'Type'), 0x10n);
    assert.is(get(EVENT_LAYOUT, w, 'SSV'), 0n);
    assert.is(get(EVENT_LAYOUT, w, 'SubstreamID'), 0xfffffn);
    assert.is(get(EVENT_LAYOUT, w, 'StreamID'), 0n);
    assert.is(get(EVENT_LAYOUT, w, 'STAG'), 0n);
    assert.is(get(EVENT_LAYOUT, w, 'Stall'), 0n);
    assert.is(get(EVENT_LAYOUT, w, 'PnU'), 0n);
    assert.is(get(EVENT_LAYOUT, w, 'InD'), 0n);
    assert.is(get(EVENT_LAYOUT, w, 'RnW'), 1n);
    assert.is(get(EVENT_LAYOUT, w, 'S2'), 0n);
    assert.is(get(EVENT_LAYOUT, w, 'CLASS'), 2n);
    assert.is(get(EVENT_LAYOUT, w, 'TTRnW'), 0n);
    assert.is(get(EVENT_LAYOUT, w, 'InputAddr'), addr);
    assert.is(get(EVENT_LAYOUT, w, 'IPA'), 0n);
  }
  // dw1 has exactly bits 35 and 41 set.
  assert.is(SEED1[1], (1n << 35n) | (1n << 41n));
});

test('encodeEvent rebuilds seed 000 words exactly when the SubstreamID field is filled like the fast model', () => {
  assert.equal(encodeEvent({ type: 0x10, sid: 0, ssv: false, ssid: 0xfffff, read: true, class: 2, inputAddr: 0x8fa081002n }), SEED1);
  // ... and with the field left 0 (QEMU, this model's default) only dword 0 differs.
  assert.equal(encodeEvent({ type: 0x10, sid: 0, ssv: false, ssid: 0, read: true, class: 2, inputAddr: 0x8fa081000n }), [0x10n, SEED2[1], SEED2[2], 0n]);
});

test('event names: C_BAD_STE is 0x04 and there is no F_BAD_STE (REFERENCE 1.5)', () => {
  assert.is(C_BAD_STE, 0x04);
  assert.is(F_TRANSLATION, 0x10);
  assert.ok(!EVENT_TYPES.some((t) => t.name === 'F_BAD_STE'));
  const codes: Record<string, number> = {
    F_UUT: 1, C_BAD_STREAMID: 2, F_STE_FETCH: 3, C_BAD_STE: 4, F_BAD_ATS_TREQ: 5, F_STREAM_DISABLED: 6, F_TRANSL_FORBIDDEN: 7,
    C_BAD_SUBSTREAMID: 8, F_CD_FETCH: 9, C_BAD_CD: 0xa, F_WALK_EABT: 0xb, F_TRANSLATION: 0x10, F_ADDR_SIZE: 0x11, F_ACCESS: 0x12,
    F_PERMISSION: 0x13, F_TLB_CONFLICT: 0x20, F_CFG_CONFLICT: 0x21, E_PAGE_REQUEST: 0x24, F_VMS_FETCH: 0x25,
  };
  for (const [n, c] of Object.entries(codes)) assert.is(eventName(c), n);
  // Linux prints these as UNKNOWN (REFERENCE 1.5, right column).
  for (const c of [0x01, 0x05, 0x07, 0x0b, 0x20, 0x21, 0x24]) assert.is(EVENT_TYPES.find((t) => t.code === c)!.linux, 'UNKNOWN');
});

test('command encodings match linux arm_smmu_cmdq_build_cmd', () => {
  // CFGI_STE: SID [63:32], leaf bit 0 of dword 1
  assert.equal(encode(C.cmdLayout(C.CMD_CFGI_STE), { Opcode: C.CMD_CFGI_STE, StreamID: 8, Leaf: true }), [0x0000_0008_0000_0003n, 1n]);
  // CFGI_ALL: range 31 in dword 1
  assert.equal(encode(C.cmdLayout(C.CMD_CFGI_ALL), { Opcode: C.CMD_CFGI_ALL, Range: 31 }), [0x04n, 0x1fn]);
  // TLBI_NH_ASID: ASID [63:48]
  assert.equal(encode(C.cmdLayout(C.CMD_TLBI_NH_ASID), { Opcode: C.CMD_TLBI_NH_ASID, ASID: 1 }), [0x0001_0000_0000_0011n, 0n]);
  // TLBI_NH_VA: ASID, leaf, VA [63:12]
  assert.equal(encode(C.cmdLayout(C.CMD_TLBI_NH_VA), { Opcode: C.CMD_TLBI_NH_VA, ASID: 1, Leaf: true, Address: 0xfffff000n }), [0x0001_0000_0000_0012n, 0xffff_f001n]);
  // CMD_SYNC, CS=SEV (2<<12), MSH=ISH (3<<22), MSIATTR=OIWB (0xf<<24)
  assert.equal(encode(C.cmdLayout(C.CMD_SYNC), { Opcode: C.CMD_SYNC, CS: 2, MSH: 3, MSIAttr: 0xf }), [0x0fc0_2046n, 0n]);
  assert.is(C.CMD_PREFETCH_CONFIG, 0x01);
  assert.is(C.CMD_TLBI_NSNH_ALL, 0x30);
});

test('register layouts (REFERENCE 1.1) and the ID registers the model reports', () => {
  assert.equal(pos(IDR0_LAYOUT, 'S2P'), [0, 0, 0]);
  assert.equal(pos(IDR0_LAYOUT, 'S1P'), [0, 1, 1]);
  assert.equal(pos(IDR0_LAYOUT, 'TTF'), [0, 3, 2]);
  assert.equal(pos(IDR0_LAYOUT, 'COHACC'), [0, 4, 4]);
  assert.equal(pos(IDR0_LAYOUT, 'ST_LVL'), [0, 28, 27]);
  assert.equal(pos(IDR1_LAYOUT, 'SIDSIZE'), [0, 5, 0]);
  assert.equal(pos(IDR1_LAYOUT, 'EVENTQS'), [0, 20, 16]);
  assert.equal(pos(IDR1_LAYOUT, 'CMDQS'), [0, 25, 21]);
  assert.equal(pos(IDR5_LAYOUT, 'OAS'), [0, 2, 0]);
  assert.equal(pos(IDR5_LAYOUT, 'GRAN4K'), [0, 4, 4]);
  assert.equal(pos(STRTAB_BASE_CFG_LAYOUT, 'FMT'), [0, 17, 16]);
  assert.equal(pos(STRTAB_BASE_CFG_LAYOUT, 'SPLIT'), [0, 10, 6]);
  assert.equal(pos(Q_BASE_LAYOUT, 'ADDR'), [0, 51, 5]);
  assert.is(CR0_SMMUEN, 1);
  assert.is(CR0_EVENTQEN, 4);
  assert.is(CR0_CMDQEN, 8);
  assert.is(GBPA_ABORT, 1 << 20);
  assert.equal(pos(CR0_LAYOUT, 'ATSCHK'), [0, 4, 4]);
  assert.equal(pos(GBPA_LAYOUT, 'Update'), [0, 31, 31]);

  const smmu = new SmmuV3({ name: 's', memory: new PhysicalMemory(), sidBits: 8 });
  const idr0 = [smmu.read(BigInt(SMMU_IDR0), 4)];
  assert.is(get(IDR0_LAYOUT, idr0, 'TTF'), 2n); // AArch64
  assert.is(get(IDR0_LAYOUT, idr0, 'S1P'), 1n);
  assert.is(get(IDR0_LAYOUT, idr0, 'S2P'), 1n);
  assert.is(get(IDR0_LAYOUT, idr0, 'ST_LVL'), 1n); // linear + 2-level
  const idr1 = [smmu.read(BigInt(SMMU_IDR1), 4)];
  assert.is(get(IDR1_LAYOUT, idr1, 'SIDSIZE'), 8n);
  assert.is(get(IDR1_LAYOUT, idr1, 'SSIDSIZE'), 0n);
  const idr5 = [smmu.read(BigInt(SMMU_IDR5), 4)];
  assert.is(get(IDR5_LAYOUT, idr5, 'OAS'), 5n); // 48 bits
  assert.is(get(IDR5_LAYOUT, idr5, 'GRAN4K'), 1n);
});

test('VMSAv8-64 descriptor layouts (REFERENCE 2.2, 2.3, 2.4)', () => {
  assert.equal(pos(S1_LEAF_LAYOUT, 'AttrIndx'), [0, 4, 2]);
  assert.equal(pos(S1_LEAF_LAYOUT, 'NS'), [0, 5, 5]);
  assert.equal(pos(S1_LEAF_LAYOUT, 'AP[1]'), [0, 6, 6]);
  assert.equal(pos(S1_LEAF_LAYOUT, 'AP[2]'), [0, 7, 7]);
  assert.equal(pos(S1_LEAF_LAYOUT, 'SH'), [0, 9, 8]);
  assert.equal(pos(S1_LEAF_LAYOUT, 'AF'), [0, 10, 10]);
  assert.equal(pos(S1_LEAF_LAYOUT, 'nG'), [0, 11, 11]);
  assert.equal(pos(S1_LEAF_LAYOUT, 'OA'), [0, 47, 12]);
  assert.equal(pos(S1_LEAF_LAYOUT, 'DBM'), [0, 51, 51]);
  assert.equal(pos(S1_LEAF_LAYOUT, 'Contiguous'), [0, 52, 52]);
  assert.equal(pos(S1_LEAF_LAYOUT, 'PXN'), [0, 53, 53]);
  assert.equal(pos(S1_LEAF_LAYOUT, 'UXN'), [0, 54, 54]);
  assert.equal(pos(TABLE_DESC_LAYOUT, 'NextLevelTable'), [0, 47, 12]);
  assert.equal(pos(TABLE_DESC_LAYOUT, 'APTable'), [0, 62, 61]);
  assert.equal(pos(TABLE_DESC_LAYOUT, 'NSTable'), [0, 63, 63]);
  assert.equal(pos(S2_LEAF_LAYOUT, 'MemAttr'), [0, 5, 2]);
  assert.equal(pos(S2_LEAF_LAYOUT, 'S2AP'), [0, 7, 6]);
  // 0x0000000080000f47: page, AttrIndx 1, AP[1], SH inner, AF, nG, OA 0x80000000
  const d = [0x0000_0000_8000_0f47n];
  assert.is(get(S1_LEAF_LAYOUT, d, 'AttrIndx'), 1n);
  assert.is(get(S1_LEAF_LAYOUT, d, 'AP[1]'), 1n);
  assert.is(get(S1_LEAF_LAYOUT, d, 'AP[2]'), 0n);
  assert.is(get(S1_LEAF_LAYOUT, d, 'SH'), 3n);
  assert.is(get(S1_LEAF_LAYOUT, d, 'AF'), 1n);
  assert.is(get(S1_LEAF_LAYOUT, d, 'nG'), 1n);
  assert.is(get(S1_LEAF_LAYOUT, d, 'OA'), 0x8000_0000n);
});

test.run();
