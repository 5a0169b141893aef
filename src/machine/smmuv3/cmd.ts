/**
 * Command queue entries: 16 bytes, 2 dwords, written by software at
 * CMDQ_BASE + 16 * index; the SMMU consumes them up to CMDQ_PROD.
 *
 * Opcodes and field positions verified in linux
 * drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.h (struct arm_smmu_cmdq_ent
 * and CMDQ_*), and in the 2017 drivers/iommu/arm-smmu-v3.c
 * (arm_smmu_cmdq_build_cmd), which agree:
 *   CMDQ_0_OP [7:0], CMDQ_0_SSV bit 11;
 *   PREFETCH_CFG 0x01: SID [63:32]; dw1 SIZE [4:0], ADDR [63:12]
 *   CFGI_STE 0x03 / CFGI_ALL 0x04 / CFGI_CD 0x05 / CFGI_CD_ALL 0x06:
 *     SSID [31:12], SID [63:32]; dw1 LEAF bit 0, RANGE [4:0] (CFGI_ALL: 31)
 *   TLBI_NH_ASID 0x11, TLBI_NH_VA 0x12, TLBI_EL2_ALL 0x20, TLBI_S12_VMALL 0x28,
 *   TLBI_S2_IPA 0x2a, TLBI_NSNH_ALL 0x30: NUM [16:12], SCALE [24:20],
 *     VMID [47:32], ASID [63:48]; dw1 LEAF bit 0, TTL [9:8], TG [11:10],
 *     VA [63:12] (IPA [51:12])
 *   CMD_SYNC 0x46: CS [13:12] (0 none, 1 IRQ, 2 SEV), MSH [23:22],
 *     MSIATTR [27:24], MSIDATA [63:32]; dw1 MSIADDR [51:2]
 */
import type { Layout, FieldDef } from '../fields.ts';

export const CMD_SIZE = 16;

export const CMD_PREFETCH_CONFIG = 0x01;
export const CMD_PREFETCH_ADDR = 0x02;
export const CMD_CFGI_STE = 0x03;
export const CMD_CFGI_ALL = 0x04;
export const CMD_CFGI_CD = 0x05;
export const CMD_CFGI_CD_ALL = 0x06;
export const CMD_TLBI_NH_ALL = 0x10;
export const CMD_TLBI_NH_ASID = 0x11;
export const CMD_TLBI_NH_VA = 0x12;
export const CMD_TLBI_NH_VAA = 0x13;
export const CMD_TLBI_EL2_ALL = 0x20;
export const CMD_TLBI_S12_VMALL = 0x28;
export const CMD_TLBI_S2_IPA = 0x2a;
export const CMD_TLBI_NSNH_ALL = 0x30;
export const CMD_ATC_INV = 0x40;
export const CMD_PRI_RESP = 0x41;
export const CMD_RESUME = 0x44;
export const CMD_SYNC = 0x46;

export const CMD_NAMES: Record<number, string> = {
  [CMD_PREFETCH_CONFIG]: 'CMD_PREFETCH_CONFIG', [CMD_PREFETCH_ADDR]: 'CMD_PREFETCH_ADDR', [CMD_CFGI_STE]: 'CMD_CFGI_STE',
  [CMD_CFGI_ALL]: 'CMD_CFGI_ALL', [CMD_CFGI_CD]: 'CMD_CFGI_CD', [CMD_CFGI_CD_ALL]: 'CMD_CFGI_CD_ALL', [CMD_TLBI_NH_ALL]: 'CMD_TLBI_NH_ALL',
  [CMD_TLBI_NH_ASID]: 'CMD_TLBI_NH_ASID', [CMD_TLBI_NH_VA]: 'CMD_TLBI_NH_VA', [CMD_TLBI_NH_VAA]: 'CMD_TLBI_NH_VAA',
  [CMD_TLBI_EL2_ALL]: 'CMD_TLBI_EL2_ALL', [CMD_TLBI_S12_VMALL]: 'CMD_TLBI_S12_VMALL', [CMD_TLBI_S2_IPA]: 'CMD_TLBI_S2_IPA',
  [CMD_TLBI_NSNH_ALL]: 'CMD_TLBI_NSNH_ALL', [CMD_ATC_INV]: 'CMD_ATC_INV', [CMD_PRI_RESP]: 'CMD_PRI_RESP', [CMD_RESUME]: 'CMD_RESUME',
  [CMD_SYNC]: 'CMD_SYNC',
};

const SRC = 'linux drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.h CMDQ_*';
const OP: FieldDef = { name: 'Opcode', word: 0, hi: 7, lo: 0, desc: 'command opcode', values: Object.fromEntries(Object.entries(CMD_NAMES)) };
const SSV: FieldDef = { name: 'SSV', word: 0, hi: 11, lo: 11, kind: 'flag', desc: 'SubstreamID valid' };
const SID: FieldDef = { name: 'StreamID', word: 0, hi: 63, lo: 32, desc: 'StreamID' };
const SSID: FieldDef = { name: 'SubstreamID', word: 0, hi: 31, lo: 12, desc: 'SubstreamID' };
const LEAF: FieldDef = { name: 'Leaf', word: 1, hi: 0, lo: 0, kind: 'flag', desc: 'leaf only (STE only / last-level TLB entries only)' };
const VMID: FieldDef = { name: 'VMID', word: 0, hi: 47, lo: 32, desc: 'VMID' };
const ASID: FieldDef = { name: 'ASID', word: 0, hi: 63, lo: 48, desc: 'ASID' };

/** Any command: just the opcode (what the SMMU decodes first). */
export const CMD_LAYOUT: Layout = { name: 'command', words: 2, source: SRC, fields: [OP] };

export const CMD_LAYOUTS: Record<number, Layout> = {
  [CMD_PREFETCH_CONFIG]: {
    name: 'CMD_PREFETCH_CONFIG', words: 2, source: SRC,
    fields: [OP, SSV, SSID, SID, { name: 'Size', word: 1, hi: 4, lo: 0, desc: 'range size (log2)' }, { name: 'Addr', word: 1, hi: 63, lo: 12, kind: 'addr', desc: 'address hint' }],
  },
  [CMD_CFGI_STE]: { name: 'CMD_CFGI_STE', words: 2, source: SRC, fields: [OP, SID, LEAF] },
  [CMD_CFGI_ALL]: {
    name: 'CMD_CFGI_ALL', words: 2, source: SRC,
    fields: [OP, { name: 'Range', word: 1, hi: 4, lo: 0, desc: 'log2 of the StreamID range - 1 (31 = all)' }],
  },
  [CMD_CFGI_CD]: { name: 'CMD_CFGI_CD', words: 2, source: SRC, fields: [OP, SSID, SID, LEAF] },
  [CMD_CFGI_CD_ALL]: { name: 'CMD_CFGI_CD_ALL', words: 2, source: SRC, fields: [OP, SID] },
  [CMD_TLBI_NH_ASID]: { name: 'CMD_TLBI_NH_ASID', words: 2, source: SRC, fields: [OP, VMID, ASID] },
  [CMD_TLBI_NH_VA]: {
    name: 'CMD_TLBI_NH_VA', words: 2, source: SRC,
    fields: [
      OP,
      { name: 'NUM', word: 0, hi: 16, lo: 12, desc: 'range invalidation: number of pages - 1 (needs IDR3.RIL)' },
      { name: 'SCALE', word: 0, hi: 24, lo: 20, desc: 'range invalidation scale' },
      VMID, ASID, LEAF,
      { name: 'TTL', word: 1, hi: 9, lo: 8, desc: 'level hint' },
      { name: 'TG', word: 1, hi: 11, lo: 10, desc: 'granule for range invalidation (0 = not a range)' },
      { name: 'Address', word: 1, hi: 63, lo: 12, kind: 'addr', desc: 'VA to invalidate' },
    ],
  },
  [CMD_TLBI_S12_VMALL]: { name: 'CMD_TLBI_S12_VMALL', words: 2, source: SRC, fields: [OP, VMID] },
  [CMD_TLBI_S2_IPA]: {
    name: 'CMD_TLBI_S2_IPA', words: 2, source: SRC,
    fields: [OP, VMID, LEAF, { name: 'Address', word: 1, hi: 51, lo: 12, kind: 'addr', desc: 'IPA to invalidate' }],
  },
  [CMD_TLBI_NSNH_ALL]: { name: 'CMD_TLBI_NSNH_ALL', words: 2, source: SRC, fields: [OP] },
  [CMD_SYNC]: {
    name: 'CMD_SYNC', words: 2, source: SRC,
    fields: [
      OP,
      { name: 'CS', word: 0, hi: 13, lo: 12, desc: 'completion signal', values: { '0': 'none', '1': 'IRQ/MSI', '2': 'SEV' } },
      { name: 'MSH', word: 0, hi: 23, lo: 22, desc: 'MSI shareability' },
      { name: 'MSIAttr', word: 0, hi: 27, lo: 24, desc: 'MSI memory attributes' },
      { name: 'MSIData', word: 0, hi: 63, lo: 32, desc: 'data written to MSIAddress on completion' },
      { name: 'MSIAddress', word: 1, hi: 51, lo: 2, kind: 'addr', desc: 'completion MSI address (CS = IRQ)' },
    ],
  },
};

export const cmdLayout = (op: number): Layout => CMD_LAYOUTS[op] ?? CMD_LAYOUT;
