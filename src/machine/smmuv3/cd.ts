/**
 * Context Descriptor (CD): 64 bytes, 8 dwords. Holds what a stage-1
 * translation needs: the TCR-style fields (T0SZ, TG0, IPS ...), TTB0, MAIR
 * and the ASID that tags IOTLB entries.
 *
 *   dword 0:  63      48 47 46 45 44 43 42 41     34  32 31 30    15 14 13 12 11 10 9 8 7 6 5    0
 *            [  ASID   ][ASET A R S HA HD AA64][.. IPS ][V][EPD1][ENDI EPD0 SH0 OR0  IR0 TG0][T0SZ]
 *   dword 1:  TTB0 [51:4]    dword 3: MAIR
 *
 * Positions: REFERENCE.md 1.3; linux arm-smmu-v3.h CTXDESC_CD_*.
 */
import type { Layout } from '../fields.ts';

export const CD_SIZE = 64;
export const CD_DWORDS = 8;

export const CD_LAYOUT: Layout = {
  name: 'CD',
  words: 8,
  source: 'REFERENCE.md 1.3; linux arm-smmu-v3.h CTXDESC_CD_*',
  fields: [
    { name: 'T0SZ', word: 0, hi: 5, lo: 0, desc: 'TTB0 region size: input addresses have 64 - T0SZ bits' },
    { name: 'TG0', word: 0, hi: 7, lo: 6, desc: 'TTB0 granule', values: { '0': '4K', '1': '64K', '2': '16K' } },
    { name: 'IR0', word: 0, hi: 9, lo: 8, desc: 'walk inner cacheability', values: { '0': 'NC', '1': 'WBWA', '2': 'WT', '3': 'WB' } },
    { name: 'OR0', word: 0, hi: 11, lo: 10, desc: 'walk outer cacheability', values: { '0': 'NC', '1': 'WBWA', '2': 'WT', '3': 'WB' } },
    { name: 'SH0', word: 0, hi: 13, lo: 12, desc: 'walk shareability', values: { '0': 'non-shareable', '2': 'outer', '3': 'inner' } },
    { name: 'EPD0', word: 0, hi: 14, lo: 14, kind: 'flag', desc: 'TTB0 walks disabled (translation fault)' },
    { name: 'ENDI', word: 0, hi: 15, lo: 15, kind: 'flag', desc: 'big-endian tables' },
    { name: 'EPD1', word: 0, hi: 30, lo: 30, kind: 'flag', desc: 'TTB1 walks disabled (Linux always sets it)' },
    { name: 'V', word: 0, hi: 31, lo: 31, kind: 'flag', desc: 'valid; 0 = C_BAD_CD' },
    { name: 'IPS', word: 0, hi: 34, lo: 32, desc: 'output size', values: { '0': '32 bits', '1': '36 bits', '2': '40 bits', '3': '42 bits', '4': '44 bits', '5': '48 bits', '6': '52 bits' } },
    { name: 'TBI0', word: 0, hi: 38, lo: 38, kind: 'flag', desc: 'top byte ignored (TTB0)' },
    { name: 'AA64', word: 0, hi: 41, lo: 41, kind: 'flag', desc: 'AArch64 table format' },
    { name: 'HD', word: 0, hi: 42, lo: 42, kind: 'flag', desc: 'hardware dirty-state update' },
    { name: 'HA', word: 0, hi: 43, lo: 43, kind: 'flag', desc: 'hardware access-flag update' },
    { name: 'S', word: 0, hi: 44, lo: 44, kind: 'flag', desc: 'stall on fault' },
    { name: 'R', word: 0, hi: 45, lo: 45, kind: 'flag', desc: 'record faults in the event queue' },
    { name: 'A', word: 0, hi: 46, lo: 46, kind: 'flag', desc: 'abort (terminate) faulting transactions' },
    { name: 'ASET', word: 0, hi: 47, lo: 47, kind: 'flag', desc: 'ASID set: 1 = not shared with CPU TLB invalidations' },
    { name: 'ASID', word: 0, hi: 63, lo: 48, desc: 'address space ID tagging IOTLB entries' },
    { name: 'TTB0', word: 1, hi: 51, lo: 4, kind: 'addr', desc: 'stage 1 table base (PA)' },
    { name: 'TTB1', word: 2, hi: 51, lo: 4, kind: 'addr', desc: 'TTB1 table base (unused by Linux)' },
    { name: 'MAIR', word: 3, hi: 63, lo: 0, desc: 'memory attributes indexed by AttrIndx (Linux: 0 NC 0x44, 1 WBRWA 0xff, 2 Device 0x04)' },
  ],
};
