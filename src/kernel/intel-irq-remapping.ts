/**
 * What Linux's Intel interrupt-remapping code writes (linux
 * drivers/iommu/intel/irq_remapping.c): the 1 MiB interrupt remapping
 * table, the IRTE for a device MSI, and the remappable-format message the
 * device is given instead of a real destination. The register programming
 * (IRTA, SIRTP, IRE, queued invalidation) is the driver's
 * (intel-iommu.ts); this file holds the formats.
 *
 *   IRTA  = table PA | IR_X2APIC_MODE (EIME, bit 11) | INTR_REMAP_TABLE_REG_SIZE (0xf: 65536 entries)
 *   IRTE  = P | DM (apic->dest_mode_logical) | RH=1 | TM=0 (edge) | DLM=0 (fixed) | V = vector
 *           | DST = dest << 8 (xAPIC; x2APIC: dest) | SVT=1 SQ=0 SID = requester id   (prepare_irte, set_msi_sid)
 *   MSI   address = 0xFEE00000 | handle[14:0] << 5 | 1 << 4 | SHV << 3 | handle[15] << 2, data = subhandle (fill_msi_msg)
 *
 * After writing an IRTE Linux flushes the interrupt entry cache for that
 * index with a queued-invalidation descriptor (modify_irte -> qi_flush_iec);
 * there is no register-based way, so interrupt remapping needs ECAP.QI.
 */
import type { u64 } from '../machine/u64.ts';
import { encode } from '../machine/fields.ts';
import { IRTE_LAYOUT, remappableMsiAddress, compatMsiAddress } from '../machine/vtd/ir.ts';

/** 1 MiB: 2^8 pages (INTR_REMAP_PAGE_ORDER). */
export const INTR_REMAP_PAGE_ORDER = 8;
export const INTR_REMAP_TABLE_REG_SIZE = 0xf;
export const INTR_REMAP_TABLE_ENTRIES = 65536;
/** IR_X2APIC_MODE(mode): IRTA.EIME. */
export const IR_X2APIC_MODE = (eim: boolean): u64 => (eim ? 1n << 11n : 0n);
/** Source validation (irq_remapping.c SVT_*, SQ_*). */
export const SVT_NO_VERIFY = 0;
export const SVT_VERIFY_SID_SQ = 1;
export const SVT_VERIFY_BUS = 2;
export const SQ_ALL_16 = 0;

export interface MsiMsg {
  addressLo: number;
  addressHi: number;
  data: number;
}

export interface PrepareIrteOptions {
  vector: number;
  /** Destination APIC id. */
  dest: number;
  /** eim_mode: 32-bit x2APIC destination instead of dest << 8. */
  eim: boolean;
  /** Requester id checked by the hardware (set_msi_sid for a device on its own bus). */
  sid: number;
  /**
   * apic->dest_mode_logical. x86-64 kernels have used physical destination
   * mode for device interrupts by default for years (exact history
   * **unverified**); default false.
   */
  logical?: boolean;
}

/** prepare_irte + set_msi_sid: the IRTE's two qwords. */
export function prepareIrte(o: PrepareIrteOptions): u64[] {
  return encode(IRTE_LAYOUT, {
    P: 1, DM: o.logical === true, TM: 0, DLM: 0, V: o.vector & 0xff, DST: o.eim ? BigInt(o.dest >>> 0) : BigInt((o.dest & 0xff) << 8), RH: 1,
    SVT: SVT_VERIFY_SID_SQ, SQ: SQ_ALL_16, SID: o.sid & 0xffff,
  });
}

/** fill_msi_msg: the remappable message for an IRTE index and subhandle. */
export function fillMsiMsg(index: number, subhandle: number): MsiMsg {
  return { addressLo: Number(remappableMsiAddress(index)), addressHi: 0, data: subhandle & 0xffff };
}

/** Without interrupt remapping: the compatibility-format message (x86 vector domain, physical destination, fixed, edge). */
export function compatMsiMsg(vector: number, dest: number): MsiMsg {
  return { addressLo: Number(compatMsiAddress(dest)), addressHi: 0, data: vector & 0xff };
}
