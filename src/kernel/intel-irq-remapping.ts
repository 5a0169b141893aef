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

/**
 * How Linux's x86 APIC driver routes device interrupts, by era
 * (arch/x86/kernel/apic/apic_flat_64.c): with up to 8 possible CPUs in
 * xAPIC mode the "flat" driver won (physflat_probe: more than 8 CPUs),
 * which uses logical destination mode with each CPU's logical id 1 << cpu
 * (apic_flat_calc_apicid); commit a31e58e129f7 "x86/apic: Switch all APICs
 * to Fixed delivery mode" (v4.15) ended its lowest-priority delivery, where
 * an unmanaged interrupt targeted every online CPU of its affinity (flat
 * logical mask); commit 838ba7733e4e "x86/apic: Remove logical destination
 * mode for 64-bit" (v6.12) made every 64-bit kernel physical. Not modelled:
 * x2APIC mode (the lab keeps physical; 6.x defaults to x2apic_cluster, whose
 * format is not verified here) and the FADT/OEM quirks that force physical.
 */
export interface ApicRouting {
  logical: boolean;
  lowestPrio: boolean;
}

export function x86ApicRouting(version: number, cpus: number, x2apic: boolean): ApicRouting {
  if (x2apic || version >= 612 || cpus > 8) return { logical: false, lowestPrio: false };
  return { logical: true, lowestPrio: version < 415 };
}

/**
 * The destination field Linux computes for a vector on `cpu` (cfg->dest_apicid):
 * the APIC id (= CPU in the lab) in physical mode; 1 << cpu in flat logical
 * mode, or, before v4.15, the mask of every online CPU for an unmanaged
 * (affinity: all CPUs) interrupt.
 */
export function apicDestField(r: ApicRouting, cpu: number, managed: boolean, cpus: number): number {
  if (!r.logical) return cpu;
  if (r.lowestPrio && !managed) return (1 << Math.min(cpus, 8)) - 1;
  return (1 << cpu) & 0xff;
}

export interface PrepareIrteOptions {
  vector: number;
  /** Destination APIC id. */
  dest: number;
  /** eim_mode: 32-bit x2APIC destination instead of dest << 8. */
  eim: boolean;
  /** Requester id checked by the hardware (set_msi_sid for a device on its own bus). */
  sid: number;
  /** apic->dest_mode_logical (x86ApicRouting); default false. */
  logical?: boolean;
  /** apic->irq_delivery_mode was lowest priority (before v4.15, flat mode). */
  lowestPrio?: boolean;
}

/** prepare_irte + set_msi_sid: the IRTE's two qwords. */
export function prepareIrte(o: PrepareIrteOptions): u64[] {
  return encode(IRTE_LAYOUT, {
    P: 1, DM: o.logical === true, TM: 0, DLM: o.lowestPrio ? 1 : 0, V: o.vector & 0xff, DST: o.eim ? BigInt(o.dest >>> 0) : BigInt((o.dest & 0xff) << 8), RH: 1,
    SVT: SVT_VERIFY_SID_SQ, SQ: SQ_ALL_16, SID: o.sid & 0xffff,
  });
}

/** fill_msi_msg: the remappable message for an IRTE index and subhandle. */
export function fillMsiMsg(index: number, subhandle: number): MsiMsg {
  return { addressLo: Number(remappableMsiAddress(index)), addressHi: 0, data: subhandle & 0xffff };
}

/**
 * Without interrupt remapping: the compatibility-format message
 * (__irq_msi_compose_msg; edge). Destination mode from the APIC driver;
 * before v4.15 a lowest-priority message also set the redirection hint
 * (MSI_ADDR_REDIRECTION_LOWPRI) and delivery mode 1 (MSI_DATA_DELIVERY_LOWPRI).
 */
export function compatMsiMsg(vector: number, dest: number, r: ApicRouting = { logical: false, lowestPrio: false }): MsiMsg {
  return { addressLo: Number(compatMsiAddress(dest, r.logical, r.lowestPrio)), addressHi: 0, data: (vector & 0xff) | (r.lowestPrio ? 1 << 8 : 0) };
}
