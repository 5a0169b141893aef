/**
 * Stream Table Entry (STE): 64 bytes, 8 little-endian dwords, one per
 * StreamID, in a linear table at STRTAB_BASE + 64 * StreamID or behind a
 * level-1 descriptor (2-level format).
 *
 *   dword 0:  63    59 58     52 51                      6 5    4 3    1 0
 *            [S1CDMax][ ...... ][      S1ContextPtr      ][S1Fmt][Config][V]
 *
 * Positions: REFERENCE.md 1.2; linux arm-smmu-v3.h STRTAB_STE_*; QEMU
 * hw/arm/smmuv3-internal.h. Dword 2 bit 57 is S2S per Linux (QEMU has
 * S2HD/S2HA/S2S at 56/57/58; the one-bit disagreement is unverified).
 */
import type { Layout } from '../fields.ts';

export const STE_SIZE = 64;
export const STE_DWORDS = 8;

/** STE.Config encodings (SMMUv3 spec 5.2; linux STRTAB_STE_0_CFG_*). */
export const STE_CFG_ABORT = 0b000;
export const STE_CFG_BYPASS = 0b100;
export const STE_CFG_S1_TRANS = 0b101;
export const STE_CFG_S2_TRANS = 0b110;
export const STE_CFG_NESTED = 0b111;

export const STE_LAYOUT: Layout = {
  name: 'STE',
  words: 8,
  source: 'REFERENCE.md 1.2; linux arm-smmu-v3.h STRTAB_STE_*; QEMU hw/arm/smmuv3-internal.h',
  fields: [
    { name: 'V', word: 0, hi: 0, lo: 0, kind: 'flag', desc: 'valid; 0 = every transaction on this StreamID is terminated with C_BAD_STE' },
    {
      name: 'Config', word: 0, hi: 3, lo: 1, desc: 'what the SMMU does with this stream',
      values: { '0': 'abort (terminate, no event)', '4': 'bypass', '5': 'stage 1 translate, stage 2 bypass', '6': 'stage 1 bypass, stage 2 translate', '7': 'nested (stage 1 + stage 2)' },
    },
    { name: 'S1Fmt', word: 0, hi: 5, lo: 4, desc: 'CD table format', values: { '0': 'linear', '1': '2-level, 4K leaves', '2': '2-level, 64K leaves' } },
    { name: 'S1ContextPtr', word: 0, hi: 51, lo: 6, kind: 'addr', desc: 'PA of the context descriptor (or CD table)' },
    { name: 'S1CDMax', word: 0, hi: 63, lo: 59, desc: 'log2 of the number of CDs (0 = one CD, no SubstreamIDs)' },
    { name: 'S1DSS', word: 1, hi: 1, lo: 0, desc: 'traffic without SubstreamID when S1CDMax != 0', values: { '0': 'terminate', '1': 'bypass stage 1', '2': 'use CD 0' } },
    { name: 'S1CIR', word: 1, hi: 3, lo: 2, desc: 'CD fetch inner cacheability' },
    { name: 'S1COR', word: 1, hi: 5, lo: 4, desc: 'CD fetch outer cacheability' },
    { name: 'S1CSH', word: 1, hi: 7, lo: 6, desc: 'CD fetch shareability' },
    { name: 'S1STALLD', word: 1, hi: 27, lo: 27, kind: 'flag', desc: 'stage 1 stalls disabled' },
    { name: 'EATS', word: 1, hi: 29, lo: 28, desc: 'ATS', values: { '0': 'abort ATS', '1': 'full ATS', '2': 'split-stage ATS' } },
    { name: 'STRW', word: 1, hi: 31, lo: 30, desc: 'StreamWorld', values: { '0': 'NS-EL1', '2': 'EL2' } },
    { name: 'SHCFG', word: 1, hi: 45, lo: 44, desc: 'shareability override (1 = use incoming)' },
    { name: 'S2VMID', word: 2, hi: 15, lo: 0, desc: 'VMID tagging stage 2 TLB entries' },
    { name: 'S2T0SZ', word: 2, hi: 37, lo: 32, desc: 'stage 2 input size = 64 - S2T0SZ' },
    { name: 'S2SL0', word: 2, hi: 39, lo: 38, desc: 'stage 2 start level (4K: 0 = L2, 1 = L1, 2 = L0)' },
    { name: 'S2IR0', word: 2, hi: 41, lo: 40, desc: 'stage 2 walk inner cacheability' },
    { name: 'S2OR0', word: 2, hi: 43, lo: 42, desc: 'stage 2 walk outer cacheability' },
    { name: 'S2SH0', word: 2, hi: 45, lo: 44, desc: 'stage 2 walk shareability' },
    { name: 'S2TG', word: 2, hi: 47, lo: 46, desc: 'stage 2 granule', values: { '0': '4K', '1': '64K', '2': '16K' } },
    { name: 'S2PS', word: 2, hi: 50, lo: 48, desc: 'stage 2 output size (IDR5.OAS encoding)' },
    { name: 'S2AA64', word: 2, hi: 51, lo: 51, kind: 'flag', desc: 'stage 2 tables are AArch64' },
    { name: 'S2ENDI', word: 2, hi: 52, lo: 52, kind: 'flag', desc: 'stage 2 tables big-endian' },
    { name: 'S2PTW', word: 2, hi: 54, lo: 54, kind: 'flag', desc: 'stage 1 walks to device memory fault' },
    { name: 'S2S', word: 2, hi: 57, lo: 57, kind: 'flag', desc: 'stage 2 stall (Linux position; QEMU differs by one, unverified)' },
    { name: 'S2R', word: 2, hi: 58, lo: 58, kind: 'flag', desc: 'record stage 2 faults' },
    { name: 'S2TTB', word: 3, hi: 51, lo: 4, kind: 'addr', desc: 'stage 2 table base (PA)' },
  ],
};

/** Level-1 stream table descriptor (2-level format), 8 bytes. linux STRTAB_L1_DESC_*. */
export const L1STD_LAYOUT: Layout = {
  name: 'L1STD',
  words: 1,
  source: 'REFERENCE.md 1.1; linux arm-smmu-v3.h STRTAB_L1_DESC_SPAN/L2PTR',
  fields: [
    { name: 'Span', word: 0, hi: 4, lo: 0, desc: 'the level-2 table holds 2^(Span-1) STEs; 0 = invalid' },
    { name: 'L2Ptr', word: 0, hi: 51, lo: 6, kind: 'addr', desc: 'PA of the level-2 table' },
  ],
};
