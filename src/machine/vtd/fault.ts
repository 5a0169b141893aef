/**
 * VT-d primary fault logging: the 128-bit fault recording registers
 * (FRCD) and the fault reason codes.
 *
 *   bits 127 126 125:124 123:104 103:96 95  79:64       63:12  11:0
 *        [F ][T ][ AT  ][  PV  ][ FR  ][PP][..][ SID ][   FI    ][ 0 ]
 *   Linux reads it as: qword @+0 (FI), dword @+8 (SID, PP at bit 31),
 *   dword @+12 (FR [7:0], PV [27:8], T bit 30, F bit 31).
 *
 * For an interrupt-remapping fault FI holds the interrupt index in
 * [63:48] (QEMU VTD_FRCD_IR_IDX; Linux prints addr >> 48).
 *
 * Sources: REFERENCE.md 3.4 and 3.5; QEMU hw/i386/intel_iommu_internal.h
 * (VTD_FRCD_*, VTDFaultReason) and hw/i386/intel_iommu.c
 * (vtd_qualified_faults, vtd_report_frcd_fault); linux
 * drivers/iommu/intel/dmar.c (dma_remap_fault_reasons,
 * irq_remap_fault_reasons, dmar_fault). AT's position is **unverified**.
 */
import type { u64 } from '../u64.ts';
import { encode, type Layout } from '../fields.ts';

export const FRCD_LAYOUT: Layout = {
  name: 'fault record',
  words: 2,
  source: 'REFERENCE.md 3.4; QEMU VTD_FRCD_*; linux dma_frcd_*',
  fields: [
    { name: 'FI', word: 0, hi: 63, lo: 12, kind: 'addr', desc: 'fault info: the faulting page address (DMA); for IR faults the interrupt index sits in [63:48]' },
    { name: 'SID', word: 1, hi: 15, lo: 0, desc: 'source id (requester id) of the faulting request' },
    { name: 'PP', word: 1, hi: 31, lo: 31, kind: 'flag', desc: 'PASID present' },
    { name: 'FR', word: 1, hi: 39, lo: 32, desc: 'fault reason' },
    { name: 'PV', word: 1, hi: 59, lo: 40, desc: 'PASID value (when PP = 1)' },
    { name: 'AT', word: 1, hi: 61, lo: 60, desc: 'address type (position unverified)' },
    { name: 'T', word: 1, hi: 62, lo: 62, kind: 'flag', desc: 'type: 1 = read request, 0 = write request' },
    { name: 'F', word: 1, hi: 63, lo: 63, kind: 'flag', desc: 'fault: the record is valid; software writes 1 to clear' },
  ],
};

// ---- fault reasons (QEMU VTDFaultReason names) -------------------------------
export const VTD_FR_RESERVED = 0x00;
export const VTD_FR_ROOT_ENTRY_P = 0x01;
export const VTD_FR_CONTEXT_ENTRY_P = 0x02;
export const VTD_FR_CONTEXT_ENTRY_INV = 0x03;
export const VTD_FR_ADDR_BEYOND_MGAW = 0x04;
export const VTD_FR_WRITE = 0x05;
export const VTD_FR_READ = 0x06;
export const VTD_FR_PAGING_ENTRY_INV = 0x07;
export const VTD_FR_ROOT_TABLE_INV = 0x08;
export const VTD_FR_CONTEXT_TABLE_INV = 0x09;
export const VTD_FR_ROOT_ENTRY_RSVD = 0x0a;
export const VTD_FR_CONTEXT_ENTRY_RSVD = 0x0b;
export const VTD_FR_PAGING_ENTRY_RSVD = 0x0c;
export const VTD_FR_CONTEXT_ENTRY_TT = 0x0d;
/** Output address inside 0xFEE00000-0xFEEFFFFF (QEMU, 2024; Linux has no string: "Unknown"). */
export const VTD_FR_INTERRUPT_ADDR = 0x0e;
export const VTD_FR_IR_REQ_RSVD = 0x20;
export const VTD_FR_IR_INDEX_OVER = 0x21;
export const VTD_FR_IR_ENTRY_P = 0x22;
export const VTD_FR_IR_ROOT_INVAL = 0x23;
export const VTD_FR_IR_IRTE_RSVD = 0x24;
export const VTD_FR_IR_REQ_COMPAT = 0x25;
export const VTD_FR_IR_SID_ERR = 0x26;

export interface FaultReason {
  code: number;
  /** QEMU's enum name. */
  name: string;
  /** What Linux prints after "[fault reason NN]" (dmar_get_fault_reason). */
  linux: string;
  kind: 'dma' | 'ir';
  /** Recorded only when the context entry's (or IRTE's) FPD is 0. */
  qualified: boolean;
  meaning: string;
}

export const FAULT_REASONS: readonly FaultReason[] = [
  { code: 0x00, name: 'VTD_FR_RESERVED', linux: 'Software', kind: 'dma', qualified: false, meaning: 'reserved (used for advanced fault logging)' },
  { code: 0x01, name: 'VTD_FR_ROOT_ENTRY_P', linux: 'Present bit in root entry is clear', kind: 'dma', qualified: false, meaning: 'no context table for the bus: the root entry is not present' },
  { code: 0x02, name: 'VTD_FR_CONTEXT_ENTRY_P', linux: 'Present bit in context entry is clear', kind: 'dma', qualified: true, meaning: 'the device has no context entry: nothing attached it to a domain' },
  { code: 0x03, name: 'VTD_FR_CONTEXT_ENTRY_INV', linux: 'Invalid context entry', kind: 'dma', qualified: true, meaning: 'the context entry asks for an address width or translation type the unit does not support' },
  { code: 0x04, name: 'VTD_FR_ADDR_BEYOND_MGAW', linux: 'Access beyond MGAW', kind: 'dma', qualified: true, meaning: 'the address is above what the context entry\'s page table (or the unit) can translate' },
  { code: 0x05, name: 'VTD_FR_WRITE', linux: 'PTE Write access is not set', kind: 'dma', qualified: true, meaning: 'a write reached a page-table entry without W: unmapped, or mapped read-only' },
  { code: 0x06, name: 'VTD_FR_READ', linux: 'PTE Read access is not set', kind: 'dma', qualified: true, meaning: 'a read reached a page-table entry without R: unmapped, or mapped write-only' },
  { code: 0x07, name: 'VTD_FR_PAGING_ENTRY_INV', linux: 'Next page table ptr is invalid', kind: 'dma', qualified: true, meaning: 'a page-table entry points to a table that cannot be read' },
  { code: 0x08, name: 'VTD_FR_ROOT_TABLE_INV', linux: 'Root table address invalid', kind: 'dma', qualified: false, meaning: 'the root table (RTADDR) cannot be read' },
  { code: 0x09, name: 'VTD_FR_CONTEXT_TABLE_INV', linux: 'Context table ptr is invalid', kind: 'dma', qualified: false, meaning: 'the context table a root entry points to cannot be read' },
  { code: 0x0a, name: 'VTD_FR_ROOT_ENTRY_RSVD', linux: 'non-zero reserved fields in RTP', kind: 'dma', qualified: false, meaning: 'the root entry has reserved bits set' },
  { code: 0x0b, name: 'VTD_FR_CONTEXT_ENTRY_RSVD', linux: 'non-zero reserved fields in CTP', kind: 'dma', qualified: false, meaning: 'the context entry has reserved bits set' },
  { code: 0x0c, name: 'VTD_FR_PAGING_ENTRY_RSVD', linux: 'non-zero reserved fields in PTE', kind: 'dma', qualified: true, meaning: 'a page-table entry has reserved bits set (e.g. SNP without ECAP.SC, or PS where the level allows no superpage)' },
  { code: 0x0d, name: 'VTD_FR_CONTEXT_ENTRY_TT', linux: 'PCE for translation request specifies blocking', kind: 'dma', qualified: true, meaning: 'the context entry\'s TT blocks this kind of request' },
  { code: 0x0e, name: 'VTD_FR_INTERRUPT_ADDR', linux: 'Unknown', kind: 'dma', qualified: true, meaning: 'the translation produced an address in the interrupt range 0xFEE00000-0xFEEFFFFF (QEMU blocks it)' },
  { code: 0x20, name: 'VTD_FR_IR_REQ_RSVD', linux: 'Detected reserved fields in the decoded interrupt-remapped request', kind: 'ir', qualified: false, meaning: 'the interrupt request has reserved bits set (e.g. data[31:16] with SHV)' },
  { code: 0x21, name: 'VTD_FR_IR_INDEX_OVER', linux: 'Interrupt index exceeded the interrupt-remapping table size', kind: 'ir', qualified: false, meaning: 'the handle is beyond the IRT size (IRTA.S)' },
  { code: 0x22, name: 'VTD_FR_IR_ENTRY_P', linux: 'Present field in the IRTE entry is clear', kind: 'ir', qualified: true, meaning: 'the IRTE the handle selects is not present' },
  { code: 0x23, name: 'VTD_FR_IR_ROOT_INVAL', linux: 'Error accessing interrupt-remapping table pointed by IRTA_REG', kind: 'ir', qualified: false, meaning: 'the interrupt remapping table cannot be read' },
  { code: 0x24, name: 'VTD_FR_IR_IRTE_RSVD', linux: 'Detected reserved fields in the IRTE entry', kind: 'ir', qualified: true, meaning: 'the IRTE has reserved bits set' },
  { code: 0x25, name: 'VTD_FR_IR_REQ_COMPAT', linux: 'Blocked a compatibility format interrupt request', kind: 'ir', qualified: false, meaning: 'a compatibility-format MSI arrived while remapping is on and GSTS.CFIS = 0' },
  { code: 0x26, name: 'VTD_FR_IR_SID_ERR', linux: 'Blocked an interrupt request due to source-id verification failure', kind: 'ir', qualified: true, meaning: 'the requester id does not match the IRTE\'s SID/SQ/SVT' },
];

const BY_CODE = new Map(FAULT_REASONS.map((r) => [r.code, r]));
export const faultReason = (code: number): FaultReason | undefined => BY_CODE.get(code);
/** QEMU-style name, or "reason 0xNN". */
export const faultName = (code: number): string => BY_CODE.get(code)?.name ?? `reason 0x${code.toString(16).padStart(2, '0')}`;

/**
 * Linux's string for a reason (dmar_get_fault_reason): the IR table for
 * 0x20-0x26, the DMA table for 0x00-0x0D, "SM: ..." for 0x30+ (not
 * modelled: printed as "Unknown" here), else "Unknown".
 */
export function linuxFaultReason(code: number): { text: string; type: 'DMA_REMAP' | 'INTR_REMAP' | 'UNKNOWN' } {
  const r = BY_CODE.get(code);
  if (r && r.kind === 'ir') return { text: r.linux, type: 'INTR_REMAP' };
  if (r && code <= 0x0d) return { text: r.linux, type: 'DMA_REMAP' };
  return { text: 'Unknown', type: 'UNKNOWN' };
}

export interface FaultRecordFields {
  /** Faulting address (page-masked when encoded) or, for IR faults, unused. */
  addr?: u64;
  /** IR faults: the interrupt index, stored in FI[63:48]. */
  irIndex?: number;
  sid: number;
  reason: number;
  /** Read request (T = 1). */
  read?: boolean;
  pasid?: number;
  f?: boolean;
}

/** The two qwords of a fault record (vtd_report_dmar_fault / vtd_report_ir_fault). */
export function encodeFaultRecord(r: FaultRecordFields): u64[] {
  const fi = r.irIndex !== undefined ? BigInt(r.irIndex & 0xffff) << 48n : (r.addr ?? 0n) & ~0xfffn & 0xffff_ffff_ffff_ffffn;
  return encode(FRCD_LAYOUT, {
    FI: fi, SID: r.sid, FR: r.reason, T: r.read === true, F: r.f ?? true,
    ...(r.pasid !== undefined ? { PP: true, PV: r.pasid } : {}),
  });
}
