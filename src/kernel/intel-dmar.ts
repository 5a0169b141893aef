/**
 * The DMAR side of Linux's Intel IOMMU support (drivers/iommu/intel/dmar.c):
 * what the kernel prints while it parses the firmware's DMAR table, and the
 * fault lines its fault handler (dmar_fault -> dmar_fault_do_one) prints,
 * in the format of each era. The driver (intel-iommu.ts) reads the
 * registers; this file only formats.
 *
 * pr_fmt of dmar.c by era (boundaries approximate, **unverified** to the
 * release):
 *   ~v3.10 .. v4.0   KBUILD_MODNAME ": "  -> "dmar: "  (seen in a v3.1x dmar.c)
 *   before ~v3.10    none
 *   v4.1 ..          "DMAR: "
 *
 * The fault line (REFERENCE.md 3.6; strings checked in those dmar.c versions):
 *   'legacy'  <= ~v4.0   two lines, "%02d" decimal reason, no PASID:
 *       DMAR:[DMA Read] Request device [00:02.0] fault addr fffff000 
 *       DMAR:[fault reason 06] PTE Read access is not set
 *   'v4'      ~v4.1 .. v5.5    one line:
 *       DMAR: [DMA Read] Request device [00:02.0] fault addr fffff000 [fault reason 06] PTE Read access is not set
 *   'v5.6'    ~v5.6 .. v5.16   PASID printed with %x, -1 when absent:
 *       DMAR: [DMA Read] Request device [00:02.0] PASID ffffffff fault addr fffff000 [fault reason 06] PTE Read access is not set
 *   'current' ~v5.17 ..        hex everywhere, NO_PASID:
 *       DMAR: [DMA Read NO_PASID] Request device [00:02.0] fault addr 0xfffff000 [fault reason 0x06] PTE Read access is not set
 * Interrupt-remapping faults print the IRTE index (FI >> 48) instead:
 *   legacy  "INTR-REMAP: Request device [[00:02.0] fault index 5" + "INTR-REMAP:[fault reason 34] ..." (the "[[" is Linux's)
 *   v4/v5.6 "[INTR-REMAP] Request device [00:02.0] fault index 5 [fault reason 34] ..."
 *   current "[INTR-REMAP] Request device [00:02.0] fault index 0x5 [fault reason 0x22] ..."
 * A short-lived variant printed the device as [0x00:0x02.0]; not modelled.
 */
import { kHashX } from './printk.ts';
import { type u64, hexRaw } from '../machine/u64.ts';
import { linuxFaultReason } from '../machine/vtd/fault.ts';

export type DmarFaultFormat = 'legacy' | 'v4' | 'v5.6' | 'current';

/** The fault-line format of a kernel version (major*100 + minor). */
export function dmarFaultFormatFor(version: number): DmarFaultFormat {
  if (version <= 400) return 'legacy';
  if (version < 506) return 'v4';
  if (version < 517) return 'v5.6';
  return 'current';
}

/** pr_fmt of drivers/iommu/dmar.c in that version (see the table above). */
export function dmarPrefix(version: number): string {
  if (version >= 401) return 'DMAR: ';
  if (version >= 310) return 'dmar: ';
  return '';
}

/** C's "%#016Lx": 0x plus hex, zero-padded to 16 characters in all. */
export const cHash016 = (v: u64): string => `0x${hexRaw(v, 14)}`;
/** The kernel's "%#x" (see printk.ts: 0 prints as 0x0). */
export const cHashX = kHashX;

/** One fault as dmar_fault reads it from a record. */
export interface DmarFaultInfo {
  /** dma_frcd_type: true = read (T = 1). */
  read: boolean;
  reason: number;
  sid: number;
  /** dma_frcd_page_addr(qword @+0): page address, or the IRTE index in [63:48] for IR faults. */
  addr: u64;
  /** PASID when the record has PP = 1. */
  pasid?: number;
}

const bdf = (sid: number): string => `${hexRaw((sid >> 8) & 0xff, 2)}:${hexRaw((sid >> 3) & 0x1f, 2)}.${sid & 7}`;
const dec2 = (n: number): string => n.toString().padStart(2, '0');

/**
 * dmar_fault_do_one: the line(s) for one fault record, without the printk
 * prefix for lines after the first (a two-line printk continues unprefixed).
 */
export function formatDmarFault(fmt: DmarFaultFormat, f: DmarFaultInfo, prefix = fmt === 'legacy' ? '' : 'DMAR: '): string[] {
  const r = linuxFaultReason(f.reason);
  const dev = bdf(f.sid);
  const kind = f.read ? 'DMA Read' : 'DMA Write';
  const index = f.addr >> 48n;
  if (fmt === 'legacy') {
    if (r.type === 'INTR_REMAP') return [`${prefix}INTR-REMAP: Request device [[${dev}] fault index ${index.toString(16)}`, `INTR-REMAP:[fault reason ${dec2(f.reason)}] ${r.text}`];
    return [`${prefix}DMAR:[${kind}] Request device [${dev}] fault addr ${f.addr.toString(16)} `, `DMAR:[fault reason ${dec2(f.reason)}] ${r.text}`];
  }
  if (fmt === 'current') {
    if (r.type === 'INTR_REMAP') return [`${prefix}[INTR-REMAP] Request device [${dev}] fault index 0x${index.toString(16)} [fault reason 0x${hexRaw(f.reason, 2)}] ${r.text}`];
    const tag = f.pasid === undefined ? `${kind} NO_PASID` : `${kind} PASID 0x${f.pasid.toString(16)}`;
    return [`${prefix}[${tag}] Request device [${dev}] fault addr 0x${f.addr.toString(16)} [fault reason 0x${hexRaw(f.reason, 2)}] ${r.text}`];
  }
  if (r.type === 'INTR_REMAP') return [`${prefix}[INTR-REMAP] Request device [${dev}] fault index ${index.toString(16)} [fault reason ${dec2(f.reason)}] ${r.text}`];
  const pasid = fmt === 'v5.6' ? ` PASID ${((f.pasid ?? -1) >>> 0).toString(16)}` : '';
  return [`${prefix}[${kind}] Request device [${dev}]${pasid} fault addr ${f.addr.toString(16)} [fault reason ${dec2(f.reason)}] ${r.text}`];
}

/** The line dmar_fault prints first: "DRHD: handling fault status reg %x". */
export const formatFaultStatus = (fsts: number, prefix: string): string => `${prefix}DRHD: handling fault status reg ${(fsts >>> 0).toString(16)}`;

/** dmar_table_print_dmar_entry, per structure kind. */
export const formatDrhdLine = (base: u64, flags: number, prefix: string): string => `${prefix}DRHD base: ${cHash016(base)} flags: ${cHashX(flags)}`;
export const formatRmrrLine = (base: u64, end: u64, prefix: string): string => `${prefix}RMRR base: ${cHash016(base)} end: ${cHash016(end)}`;
export const formatAtsrLine = (flags: number, prefix: string): string => `${prefix}ATSR flags: ${cHashX(flags)}`;

/**
 * alloc_iommu's line. v4.1+: "dmar%d: reg_base_addr %llx ver %d:%d cap %llx ecap %llx";
 * before: "IOMMU %d: reg_base_addr ..." (v3.1x dmar.c).
 */
export function formatAllocIommuLine(version: number, seq: number, base: u64, ver: number, cap: u64, ecap: u64): string {
  const who = version >= 401 ? `dmar${seq}` : `IOMMU ${seq}`;
  return `${dmarPrefix(version)}${who}: reg_base_addr ${base.toString(16)} ver ${(ver >> 4) & 0xf}:${ver & 0xf} cap ${cap.toString(16)} ecap ${ecap.toString(16)}`;
}
