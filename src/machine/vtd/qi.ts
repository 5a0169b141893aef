/**
 * VT-d queued invalidation: 128-bit descriptors in a ring at IQA, consumed
 * from IQH to IQT when GSTS.QIES = 1. Linux uses this interface whenever
 * ECAP.QI is set (drivers/iommu/intel/dmar.c qi_submit_sync: every batch
 * ends with a wait descriptor whose status write tells the CPU it is done),
 * and interrupt remapping requires it (interrupt entry cache flushes exist
 * only as descriptors).
 *
 *   qw0  63      48 47      32 31      16 15 ... 7  6  5  4  3    0
 *   CC   [   FM   ][   SID   ][   DID   ]           [ G  ][ type 1]
 *   IOTLB            (rsvd)   [   DID   ]   [DR][DW][ G  ][ type 2]
 *        qw1: [63:12] ADDR  [6] IH  [5:0] AM
 *   IEC  [63:48] 0 [47:32] IIDX [31:27] IM ...         [G ][ type 4]
 *   WAIT [63:32] status data          [6] FN [5] SW [4] IF [ type 5]
 *        qw1: status address (dword aligned)
 *
 * Sources: linux drivers/iommu/intel/iommu.h (QI_CC_*, QI_IOTLB_*,
 * QI_IEC_*, QI_IWD_*); QEMU hw/i386/intel_iommu_internal.h
 * (VTD_INV_DESC_*) and intel_iommu.c vtd_process_inv_desc.
 */
import type { Layout } from '../fields.ts';

export const QI_DESC_SIZE = 16;
/** Descriptor types (linux QI_*_TYPE). */
export const QI_CC_TYPE = 0x1;
export const QI_IOTLB_TYPE = 0x2;
export const QI_DIOTLB_TYPE = 0x3;
export const QI_IEC_TYPE = 0x4;
export const QI_IWD_TYPE = 0x5;
/** Granularities in qw0 [5:4] for CC and IOTLB: 1 global, 2 domain, 3 device/page. */
export const QI_GRAN_GLOBAL = 1;
export const QI_GRAN_DOMAIN = 2;
export const QI_GRAN_DEVICE_OR_PAGE = 3;
/** IEC: bit 4 = index-selective (linux QI_IEC_SELECTIVE), else global. */
export const QI_IEC_SELECTIVE = 1n << 4n;
/** Wait descriptor bits (linux QI_IWD_*). */
export const QI_IWD_IF = 1n << 4n;
export const QI_IWD_STATUS_WRITE = 1n << 5n;
export const QI_IWD_FENCE = 1n << 6n;
/** Status values Linux's qi_submit_sync uses (QI_FREE, QI_IN_USE, QI_DONE, QI_ABORT). */
export const QI_FREE = 0;
export const QI_IN_USE = 1;
export const QI_DONE = 2;
export const QI_ABORT = 3;

export const QI_TYPE_NAMES: Record<number, string> = {
  [QI_CC_TYPE]: 'context-cache invalidate',
  [QI_IOTLB_TYPE]: 'IOTLB invalidate',
  [QI_DIOTLB_TYPE]: 'device-TLB invalidate',
  [QI_IEC_TYPE]: 'interrupt entry cache invalidate',
  [QI_IWD_TYPE]: 'invalidation wait',
};

const SRC = 'linux drivers/iommu/intel/iommu.h QI_*; QEMU VTD_INV_DESC_*';

export const QI_CC_LAYOUT: Layout = {
  name: 'context-cache invalidate descriptor',
  words: 2,
  source: SRC,
  fields: [
    { name: 'Type', word: 0, hi: 3, lo: 0, desc: 'descriptor type (1)' },
    { name: 'G', word: 0, hi: 5, lo: 4, desc: 'granularity', values: { '1': 'global', '2': 'domain', '3': 'device' } },
    { name: 'DID', word: 0, hi: 31, lo: 16, desc: 'domain id' },
    { name: 'SID', word: 0, hi: 47, lo: 32, desc: 'source id' },
    { name: 'FM', word: 0, hi: 49, lo: 48, desc: 'function mask' },
  ],
};

export const QI_IOTLB_LAYOUT: Layout = {
  name: 'IOTLB invalidate descriptor',
  words: 2,
  source: SRC,
  fields: [
    { name: 'Type', word: 0, hi: 3, lo: 0, desc: 'descriptor type (2)' },
    { name: 'G', word: 0, hi: 5, lo: 4, desc: 'granularity', values: { '1': 'global', '2': 'domain', '3': 'page' } },
    { name: 'DW', word: 0, hi: 6, lo: 6, kind: 'flag', desc: 'drain writes' },
    { name: 'DR', word: 0, hi: 7, lo: 7, kind: 'flag', desc: 'drain reads' },
    { name: 'DID', word: 0, hi: 31, lo: 16, desc: 'domain id' },
    { name: 'AM', word: 1, hi: 5, lo: 0, desc: 'address mask: 2^AM pages' },
    { name: 'IH', word: 1, hi: 6, lo: 6, kind: 'flag', desc: 'invalidation hint' },
    { name: 'ADDR', word: 1, hi: 63, lo: 12, kind: 'addr', desc: 'page address' },
  ],
};

export const QI_IEC_LAYOUT: Layout = {
  name: 'interrupt entry cache invalidate descriptor',
  words: 2,
  source: SRC,
  fields: [
    { name: 'Type', word: 0, hi: 3, lo: 0, desc: 'descriptor type (4)' },
    { name: 'G', word: 0, hi: 4, lo: 4, desc: 'granularity', values: { '0': 'global', '1': 'index-selective' } },
    { name: 'IM', word: 0, hi: 31, lo: 27, desc: 'index mask: 2^IM entries' },
    { name: 'IIDX', word: 0, hi: 47, lo: 32, desc: 'interrupt index' },
  ],
};

export const QI_WAIT_LAYOUT: Layout = {
  name: 'invalidation wait descriptor',
  words: 2,
  source: SRC,
  fields: [
    { name: 'Type', word: 0, hi: 3, lo: 0, desc: 'descriptor type (5)' },
    { name: 'IF', word: 0, hi: 4, lo: 4, kind: 'flag', desc: 'interrupt on completion (IECTL event)' },
    { name: 'SW', word: 0, hi: 5, lo: 5, kind: 'flag', desc: 'status write: store the data at the address when done' },
    { name: 'FN', word: 0, hi: 6, lo: 6, kind: 'flag', desc: 'fence: earlier descriptors complete first' },
    { name: 'StatusData', word: 0, hi: 63, lo: 32, desc: 'status data' },
    { name: 'StatusAddr', word: 1, hi: 63, lo: 2, kind: 'addr', desc: 'status address' },
  ],
};

/** The layout for a descriptor by its type (undefined for an unknown type). */
export function qiLayout(qw0: bigint): Layout | undefined {
  switch (Number(qw0 & 0xfn)) {
    case QI_CC_TYPE: return QI_CC_LAYOUT;
    case QI_IOTLB_TYPE: return QI_IOTLB_LAYOUT;
    case QI_IEC_TYPE: return QI_IEC_LAYOUT;
    case QI_IWD_TYPE: return QI_WAIT_LAYOUT;
    default: return undefined;
  }
}
