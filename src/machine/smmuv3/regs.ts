/**
 * SMMUv3 programming interface: register offsets and register field
 * layouts.
 *
 * Offsets and bit positions: REFERENCE.md 1.1, checked against Linux
 * drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.h (current) and
 * drivers/iommu/arm-smmu-v3.c (2017, where EVTQ_PROD/CONS are written at
 * 0x100a8/0x100ac, i.e. on register page 1) and QEMU hw/arm/smmuv3.c.
 *
 * Register frame implemented (0x20000 bytes):
 *
 *   +0x00000  page 0: IDRs, CR0.., GBPA, GERROR, STRTAB_*, CMDQ_*, EVTQ_BASE ...
 *   +0x10000  page 1: the architected home of EVTQ_PROD/CONS (0x100a8/0x100ac)
 *             and PRIQ_PROD/CONS.
 *
 * Like QEMU ("CONSTRAINED UNPREDICTABLE choice to have page0/1 be exact
 * aliases", hw/arm/smmuv3.c) page 1 aliases page 0, so EVTQ_PROD reads the
 * same at 0xa8 and 0x100a8. The 2017 driver uses the page-1 offsets; a
 * driver with ARM_SMMU_OPT_PAGE0_REGS_ONLY (Cavium) uses page 0. Both work.
 */
import type { Layout } from '../fields.ts';
import { field } from '../fields.ts';

// ---- page 0 offsets (SMMUv3 spec names) -----------------------------------
export const SMMU_IDR0 = 0x000;
export const SMMU_IDR1 = 0x004;
export const SMMU_IDR2 = 0x008;
export const SMMU_IDR3 = 0x00c;
export const SMMU_IDR4 = 0x010;
export const SMMU_IDR5 = 0x014;
export const SMMU_IIDR = 0x018;
export const SMMU_AIDR = 0x01c;
export const SMMU_CR0 = 0x020;
export const SMMU_CR0ACK = 0x024;
export const SMMU_CR1 = 0x028;
export const SMMU_CR2 = 0x02c;
export const SMMU_STATUSR = 0x040;
export const SMMU_GBPA = 0x044;
export const SMMU_AGBPA = 0x048;
export const SMMU_IRQ_CTRL = 0x050;
export const SMMU_IRQ_CTRLACK = 0x054;
export const SMMU_GERROR = 0x060;
export const SMMU_GERRORN = 0x064;
export const SMMU_GERROR_IRQ_CFG0 = 0x068; // 64-bit
export const SMMU_GERROR_IRQ_CFG1 = 0x070;
export const SMMU_GERROR_IRQ_CFG2 = 0x074;
export const SMMU_STRTAB_BASE = 0x080; // 64-bit
export const SMMU_STRTAB_BASE_CFG = 0x088;
export const SMMU_CMDQ_BASE = 0x090; // 64-bit
export const SMMU_CMDQ_PROD = 0x098;
export const SMMU_CMDQ_CONS = 0x09c;
export const SMMU_EVENTQ_BASE = 0x0a0; // 64-bit
export const SMMU_EVENTQ_PROD = 0x0a8; // architected on page 1 (+0x10000)
export const SMMU_EVENTQ_CONS = 0x0ac; // architected on page 1 (+0x10000)
export const SMMU_EVENTQ_IRQ_CFG0 = 0x0b0; // 64-bit
export const SMMU_EVENTQ_IRQ_CFG1 = 0x0b8;
export const SMMU_EVENTQ_IRQ_CFG2 = 0x0bc;
export const SMMU_PRIQ_BASE = 0x0c0; // 64-bit
export const SMMU_PRIQ_PROD = 0x0c8;
export const SMMU_PRIQ_CONS = 0x0cc;
/** Offset of register page 1. */
export const SMMU_PAGE1 = 0x10000;
/** Size of the register frame this model implements (pages 0 and 1). */
export const SMMU_REGION_SIZE = 0x20000n;

/** Registers that are 64 bits wide (a 32-bit access reaches one half). */
export const SMMU_REGS64 = new Set([SMMU_GERROR_IRQ_CFG0, SMMU_STRTAB_BASE, SMMU_CMDQ_BASE, SMMU_EVENTQ_BASE, SMMU_EVENTQ_IRQ_CFG0, SMMU_PRIQ_BASE]);

export const REG_NAMES: Record<number, string> = {
  [SMMU_IDR0]: 'IDR0', [SMMU_IDR1]: 'IDR1', [SMMU_IDR2]: 'IDR2', [SMMU_IDR3]: 'IDR3', [SMMU_IDR4]: 'IDR4', [SMMU_IDR5]: 'IDR5',
  [SMMU_IIDR]: 'IIDR', [SMMU_AIDR]: 'AIDR', [SMMU_CR0]: 'CR0', [SMMU_CR0ACK]: 'CR0ACK', [SMMU_CR1]: 'CR1', [SMMU_CR2]: 'CR2',
  [SMMU_STATUSR]: 'STATUSR', [SMMU_GBPA]: 'GBPA', [SMMU_AGBPA]: 'AGBPA', [SMMU_IRQ_CTRL]: 'IRQ_CTRL', [SMMU_IRQ_CTRLACK]: 'IRQ_CTRLACK',
  [SMMU_GERROR]: 'GERROR', [SMMU_GERRORN]: 'GERRORN', [SMMU_GERROR_IRQ_CFG0]: 'GERROR_IRQ_CFG0', [SMMU_GERROR_IRQ_CFG1]: 'GERROR_IRQ_CFG1',
  [SMMU_GERROR_IRQ_CFG2]: 'GERROR_IRQ_CFG2', [SMMU_STRTAB_BASE]: 'STRTAB_BASE', [SMMU_STRTAB_BASE_CFG]: 'STRTAB_BASE_CFG',
  [SMMU_CMDQ_BASE]: 'CMDQ_BASE', [SMMU_CMDQ_PROD]: 'CMDQ_PROD', [SMMU_CMDQ_CONS]: 'CMDQ_CONS', [SMMU_EVENTQ_BASE]: 'EVENTQ_BASE',
  [SMMU_EVENTQ_PROD]: 'EVENTQ_PROD', [SMMU_EVENTQ_CONS]: 'EVENTQ_CONS', [SMMU_EVENTQ_IRQ_CFG0]: 'EVENTQ_IRQ_CFG0',
  [SMMU_EVENTQ_IRQ_CFG1]: 'EVENTQ_IRQ_CFG1', [SMMU_EVENTQ_IRQ_CFG2]: 'EVENTQ_IRQ_CFG2', [SMMU_PRIQ_BASE]: 'PRIQ_BASE',
  [SMMU_PRIQ_PROD]: 'PRIQ_PROD', [SMMU_PRIQ_CONS]: 'PRIQ_CONS',
};

const SRC = 'REFERENCE.md 1.1; linux drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.h';

// ---- register layouts (one 64-bit word; 32-bit registers use bits [31:0]) --

export const IDR0_LAYOUT: Layout = {
  name: 'SMMU_IDR0',
  words: 1,
  source: SRC,
  fields: [
    { name: 'S2P', word: 0, hi: 0, lo: 0, kind: 'flag', desc: 'stage 2 translation supported' },
    { name: 'S1P', word: 0, hi: 1, lo: 1, kind: 'flag', desc: 'stage 1 translation supported' },
    { name: 'TTF', word: 0, hi: 3, lo: 2, desc: 'translation table formats', values: { '1': 'AArch32', '2': 'AArch64', '3': 'AArch32+AArch64' } },
    { name: 'COHACC', word: 0, hi: 4, lo: 4, kind: 'flag', desc: 'coherent access to tables and queues' },
    { name: 'HTTU', word: 0, hi: 7, lo: 6, desc: 'hardware access/dirty flag updates (0 = none)' },
    { name: 'HYP', word: 0, hi: 9, lo: 9, kind: 'flag', desc: 'EL2 (hypervisor) StreamWorld supported' },
    { name: 'ATS', word: 0, hi: 10, lo: 10, kind: 'flag', desc: 'PCIe ATS supported' },
    { name: 'ASID16', word: 0, hi: 12, lo: 12, kind: 'flag', desc: '16-bit ASIDs' },
    { name: 'MSI', word: 0, hi: 13, lo: 13, kind: 'flag', desc: 'MSI generation for queues and GERROR' },
    { name: 'SEV', word: 0, hi: 14, lo: 14, kind: 'flag', desc: 'WFE wake-up events' },
    { name: 'PRI', word: 0, hi: 16, lo: 16, kind: 'flag', desc: 'PCIe PRI (page request queue)' },
    { name: 'VMID16', word: 0, hi: 18, lo: 18, kind: 'flag', desc: '16-bit VMIDs' },
    { name: 'CD2L', word: 0, hi: 19, lo: 19, kind: 'flag', desc: '2-level CD tables' },
    { name: 'TTENDIAN', word: 0, hi: 22, lo: 21, desc: 'table endianness', values: { '0': 'mixed', '2': 'little', '3': 'big' } },
    { name: 'STALL_MODEL', word: 0, hi: 25, lo: 24, desc: 'stall model', values: { '0': 'stall and terminate', '1': 'terminate only (no stall)', '2': 'stall forced' } },
    { name: 'TERM_MODEL', word: 0, hi: 26, lo: 26, kind: 'flag', desc: '1: terminated transactions always abort (CD.A must be 1)' },
    { name: 'ST_LVL', word: 0, hi: 28, lo: 27, desc: 'stream table formats', values: { '0': 'linear only', '1': 'linear and 2-level' } },
  ],
};

export const IDR1_LAYOUT: Layout = {
  name: 'SMMU_IDR1',
  words: 1,
  source: SRC,
  fields: [
    { name: 'SIDSIZE', word: 0, hi: 5, lo: 0, desc: 'StreamID bits' },
    { name: 'SSIDSIZE', word: 0, hi: 10, lo: 6, desc: 'SubstreamID bits (0 = no substreams)' },
    { name: 'PRIQS', word: 0, hi: 15, lo: 11, desc: 'log2 of max PRI queue entries' },
    { name: 'EVENTQS', word: 0, hi: 20, lo: 16, desc: 'log2 of max event queue entries' },
    { name: 'CMDQS', word: 0, hi: 25, lo: 21, desc: 'log2 of max command queue entries' },
    { name: 'ATTR_TYPES_OVR', word: 0, hi: 27, lo: 27, kind: 'flag', desc: 'incoming attribute override (STE.SHCFG etc.)' },
    { name: 'REL', word: 0, hi: 28, lo: 28, kind: 'flag', desc: 'table/queue base addresses are offsets' },
    { name: 'QUEUES_PRESET', word: 0, hi: 29, lo: 29, kind: 'flag', desc: 'queue bases fixed' },
    { name: 'TABLES_PRESET', word: 0, hi: 30, lo: 30, kind: 'flag', desc: 'table bases fixed' },
  ],
};

export const IDR5_LAYOUT: Layout = {
  name: 'SMMU_IDR5',
  words: 1,
  source: SRC,
  fields: [
    { name: 'OAS', word: 0, hi: 2, lo: 0, desc: 'output address size', values: { '0': '32 bits', '1': '36 bits', '2': '40 bits', '3': '42 bits', '4': '44 bits', '5': '48 bits', '6': '52 bits' } },
    { name: 'GRAN4K', word: 0, hi: 4, lo: 4, kind: 'flag', desc: '4 KiB translation granule' },
    { name: 'GRAN16K', word: 0, hi: 5, lo: 5, kind: 'flag', desc: '16 KiB translation granule' },
    { name: 'GRAN64K', word: 0, hi: 6, lo: 6, kind: 'flag', desc: '64 KiB translation granule' },
    { name: 'VAX', word: 0, hi: 11, lo: 10, desc: 'virtual address extension (1 = 52-bit VA)' },
    { name: 'STALL_MAX', word: 0, hi: 31, lo: 16, desc: 'max outstanding stalled transactions' },
  ],
};

export const CR0_LAYOUT: Layout = {
  name: 'SMMU_CR0',
  words: 1,
  source: SRC,
  fields: [
    { name: 'SMMUEN', word: 0, hi: 0, lo: 0, kind: 'flag', desc: 'translation enabled (0: GBPA decides for all traffic)' },
    { name: 'PRIQEN', word: 0, hi: 1, lo: 1, kind: 'flag', desc: 'PRI queue enabled' },
    { name: 'EVENTQEN', word: 0, hi: 2, lo: 2, kind: 'flag', desc: 'event queue enabled (0: events are discarded)' },
    { name: 'CMDQEN', word: 0, hi: 3, lo: 3, kind: 'flag', desc: 'command queue processing enabled' },
    { name: 'ATSCHK', word: 0, hi: 4, lo: 4, kind: 'flag', desc: 'ATS translated traffic checked' },
  ],
};

export const GBPA_LAYOUT: Layout = {
  name: 'SMMU_GBPA',
  words: 1,
  source: SRC,
  fields: [
    { name: 'MemAttr', word: 0, hi: 3, lo: 0, desc: 'memory attribute override' },
    { name: 'MTCFG', word: 0, hi: 4, lo: 4, kind: 'flag', desc: 'use MemAttr' },
    { name: 'ALLOCCFG', word: 0, hi: 11, lo: 8, desc: 'allocation hints override' },
    { name: 'SHCFG', word: 0, hi: 13, lo: 12, desc: 'shareability override (1 = use incoming)' },
    { name: 'PRIVCFG', word: 0, hi: 17, lo: 16, desc: 'privilege override' },
    { name: 'INSTCFG', word: 0, hi: 19, lo: 18, desc: 'instruction/data override' },
    { name: 'ABORT', word: 0, hi: 20, lo: 20, kind: 'flag', desc: '1: abort all traffic while SMMUEN=0 (no event); 0: let it through untranslated' },
    { name: 'Update', word: 0, hi: 31, lo: 31, kind: 'flag', desc: 'write 1 with new values; reads 0 once they apply' },
  ],
};

export const GERROR_LAYOUT: Layout = {
  name: 'SMMU_GERROR',
  words: 1,
  source: SRC,
  fields: [
    { name: 'CMDQ_ERR', word: 0, hi: 0, lo: 0, kind: 'flag', desc: 'command queue error (see CMDQ_CONS.ERR); command processing stopped' },
    { name: 'EVENTQ_ABT_ERR', word: 0, hi: 2, lo: 2, kind: 'flag', desc: 'event queue write aborted; events lost' },
    { name: 'PRIQ_ABT_ERR', word: 0, hi: 3, lo: 3, kind: 'flag', desc: 'PRI queue write aborted' },
    { name: 'MSI_CMDQ_ABT_ERR', word: 0, hi: 4, lo: 4, kind: 'flag', desc: 'CMD_SYNC MSI write aborted' },
    { name: 'MSI_EVENTQ_ABT_ERR', word: 0, hi: 5, lo: 5, kind: 'flag', desc: 'event queue MSI write aborted' },
    { name: 'MSI_PRIQ_ABT_ERR', word: 0, hi: 6, lo: 6, kind: 'flag', desc: 'PRI queue MSI write aborted' },
    { name: 'MSI_GERROR_ABT_ERR', word: 0, hi: 7, lo: 7, kind: 'flag', desc: 'GERROR MSI write aborted' },
    { name: 'SFM_ERR', word: 0, hi: 8, lo: 8, kind: 'flag', desc: 'service failure mode' },
  ],
};

export const STRTAB_BASE_LAYOUT: Layout = {
  name: 'SMMU_STRTAB_BASE',
  words: 1,
  source: SRC,
  fields: [
    { name: 'ADDR', word: 0, hi: 51, lo: 6, kind: 'addr', desc: 'stream table base (PA)' },
    { name: 'RA', word: 0, hi: 62, lo: 62, kind: 'flag', desc: 'read-allocate hint' },
  ],
};

export const STRTAB_BASE_CFG_LAYOUT: Layout = {
  name: 'SMMU_STRTAB_BASE_CFG',
  words: 1,
  source: SRC,
  fields: [
    { name: 'LOG2SIZE', word: 0, hi: 5, lo: 0, desc: 'log2 of the number of STEs (StreamIDs covered)' },
    { name: 'SPLIT', word: 0, hi: 10, lo: 6, desc: '2-level: StreamID bits indexing a level-2 table (Linux: 8)' },
    { name: 'FMT', word: 0, hi: 17, lo: 16, desc: 'format', values: { '0': 'linear', '1': '2-level' } },
  ],
};

/** CMDQ_BASE, EVENTQ_BASE, PRIQ_BASE. */
export const Q_BASE_LAYOUT: Layout = {
  name: 'SMMU_Q_BASE',
  words: 1,
  source: SRC,
  fields: [
    { name: 'LOG2SIZE', word: 0, hi: 4, lo: 0, desc: 'log2 of the number of queue entries' },
    { name: 'ADDR', word: 0, hi: 51, lo: 5, kind: 'addr', desc: 'queue base (PA)' },
    { name: 'RA', word: 0, hi: 62, lo: 62, kind: 'flag', desc: 'read/write-allocate hint' },
  ],
};

/**
 * Queue pointer registers (PROD/CONS): index in [LOG2SIZE-1:0], the wrap
 * bit at [LOG2SIZE]; CMDQ_CONS.ERR [30:24]; EVENTQ_PROD.OVFLG and
 * EVENTQ_CONS.OVACKFLG at bit 31 (linux Q_OVERFLOW_FLAG).
 */
export const CMDQ_CONS_ERR_LO = 24;
export const CMDQ_CONS_ERR_MASK = 0x7f << CMDQ_CONS_ERR_LO;
export const Q_OVERFLOW_FLAG = 0x8000_0000;
/** CMDQ_CONS.ERR codes (linux CMDQ_ERR_CERROR_*_IDX). */
export const CERROR_NONE = 0;
export const CERROR_ILL = 1;
export const CERROR_ABT = 2;
export const CERROR_ATC_INV_SYNC = 3;

/** A single-bit field's mask as a 32-bit number (for register hot paths). */
export function flagMask(layout: Layout, name: string): number {
  const f = field(layout, name);
  return 2 ** f.lo;
}

export const CR0_SMMUEN = flagMask(CR0_LAYOUT, 'SMMUEN');
export const CR0_PRIQEN = flagMask(CR0_LAYOUT, 'PRIQEN');
export const CR0_EVENTQEN = flagMask(CR0_LAYOUT, 'EVENTQEN');
export const CR0_CMDQEN = flagMask(CR0_LAYOUT, 'CMDQEN');
export const CR0_ATSCHK = flagMask(CR0_LAYOUT, 'ATSCHK');
export const GBPA_ABORT = flagMask(GBPA_LAYOUT, 'ABORT');
export const GBPA_UPDATE = 0x8000_0000;
export const GERROR_CMDQ_ERR = flagMask(GERROR_LAYOUT, 'CMDQ_ERR');
export const GERROR_EVENTQ_ABT_ERR = flagMask(GERROR_LAYOUT, 'EVENTQ_ABT_ERR');
export const GERROR_MSI_CMDQ_ABT_ERR = flagMask(GERROR_LAYOUT, 'MSI_CMDQ_ABT_ERR');
/** SMMU_IDR3 bits: HAD [2], RIL [10] (QEMU hw/arm/smmuv3-internal.h; linux IDR3_RIL). */
export const IDR3_HAD = 1 << 2;
export const IDR3_RIL = 1 << 10;
/** IRQ_CTRL (linux IRQ_CTRL_*_IRQEN). */
export const IRQ_CTRL_GERROR_IRQEN = 1 << 0;
export const IRQ_CTRL_PRIQ_IRQEN = 1 << 1;
export const IRQ_CTRL_EVENTQ_IRQEN = 1 << 2;
