/**
 * VT-d interrupt remapping: the interrupt remapping table (IRT) in memory
 * at IRTA (2^(S+1) entries of 128 bits) and the two MSI address formats.
 *
 *   compatibility format (bit 4 = 0):
 *   31      20 19        12 11       5  4   3    2   1 0
 *   [ 0xFEE  ][ dest APIC ][ ext dest ][0][ RH ][ DM ][ x ]     data: [15] TM [14] level [10:8] DLM [7:0] vector
 *   remappable format (bit 4 = 1):
 *   31      20 19                     5  4   3     2          1 0
 *   [ 0xFEE  ][     handle[14:0]      ][1][SHV][handle[15]][ x ]    data: subhandle [15:0] when SHV
 *
 *   interrupt index = handle + (SHV ? data[15:0] : 0)
 *   IRTE lo: [63:32] DST  [23:16] V  [15] IM  [11:8] AVAIL  [7:5] DLM [4] TM [3] RH [2] DM [1] FPD [0] P
 *        hi: [19:18] SVT  [17:16] SQ  [15:0] SID
 *
 * Linux always sets SHV and puts the subhandle in the data (0 for a
 * single MSI or MSI-X vector): index 5 -> address 0xFEE000B8, index 0x8000
 * -> 0xFEE0001C (REFERENCE 3.7).
 *
 * Sources: REFERENCE.md 3.7; QEMU include/hw/i386/intel_iommu.h
 * (VTD_IR_TableEntry, VTD_IR_MSIAddress) and hw/i386/intel_iommu.c
 * (vtd_irte_get, vtd_interrupt_remap_msi: the fault for each check);
 * linux drivers/iommu/intel/irq_remapping.c (fill_msi_msg, prepare_irte,
 * set_irte_sid) and arch/x86/include/asm/msi.h.
 *
 * Two deliberate differences from QEMU, both following the VT-d spec as
 * Linux relies on it: a compatibility-format MSI arriving while IRES = 1
 * and GSTS.CFIS = 0 is blocked with fault 0x25 (QEMU lets it through);
 * SVT = 2 reads the bus range as SID[15:8] = first bus, SID[7:0] = last
 * bus, as Linux's set_irte_verify_bus writes it (QEMU reads the halves
 * the other way round).
 */
import { type u64, hex } from '../u64.ts';
import { get, type Layout } from '../fields.ts';
import { BusError } from '../errors.ts';
import * as F from './fault.ts';

export const IRTE_SIZE = 16;
/** The x86 interrupt address range (REFERENCE 3.7; QEMU VTD_INTERRUPT_ADDR_FIRST/LAST). */
export const X86_MSI_BASE = 0xfee0_0000n;
export const X86_MSI_SIZE = 0x10_0000n;

export const IRTE_LAYOUT: Layout = {
  name: 'IRTE',
  words: 2,
  source: 'REFERENCE.md 3.7; QEMU VTD_IR_TableEntry; linux struct irte',
  fields: [
    { name: 'P', word: 0, hi: 0, lo: 0, kind: 'flag', desc: 'present; 0 = the interrupt is blocked with fault 0x22' },
    { name: 'FPD', word: 0, hi: 1, lo: 1, kind: 'flag', desc: 'fault processing disable for faults found through this entry' },
    { name: 'DM', word: 0, hi: 2, lo: 2, kind: 'flag', desc: 'destination mode: 1 = logical, 0 = physical' },
    { name: 'RH', word: 0, hi: 3, lo: 3, kind: 'flag', desc: 'redirection hint (lowest priority among the destinations)' },
    { name: 'TM', word: 0, hi: 4, lo: 4, kind: 'flag', desc: 'trigger mode: 1 = level, 0 = edge' },
    { name: 'DLM', word: 0, hi: 7, lo: 5, desc: 'delivery mode', values: { '0': 'fixed', '1': 'lowest priority', '2': 'SMI', '4': 'NMI', '5': 'INIT', '7': 'ExtINT' } },
    { name: 'AVAIL', word: 0, hi: 11, lo: 8, desc: 'available to software' },
    { name: 'IM', word: 0, hi: 15, lo: 15, kind: 'flag', desc: 'IRTE mode: 1 = posted (needs CAP.PI; reserved here)' },
    { name: 'V', word: 0, hi: 23, lo: 16, desc: 'vector delivered to the CPU' },
    { name: 'DST', word: 0, hi: 63, lo: 32, desc: 'destination id: xAPIC id in [47:40] (bits 15:8 of this field) unless IRTA.EIME' },
    { name: 'SID', word: 1, hi: 15, lo: 0, desc: 'source id the request must come from (per SVT)' },
    { name: 'SQ', word: 1, hi: 17, lo: 16, desc: 'source-id qualifier: low SID bits ignored', values: { '0': 'all 16 bits', '1': 'ignore bit 2', '2': 'ignore bits 2:1', '3': 'ignore bits 2:0' } },
    { name: 'SVT', word: 1, hi: 19, lo: 18, desc: 'source validation type', values: { '0': 'none', '1': 'SID and SQ', '2': 'bus range SID[15:8]..SID[7:0]', '3': 'reserved' } },
  ],
};

/** Reserved IRTE bits in xAPIC and x2APIC mode alike: lo [14:12], [31:24]; hi [63:20]. IM (posted) too, without CAP.PI. */
export const IRTE_RSVD_LO = 0x0000_0000_ff00_f000n;
export const IRTE_RSVD_HI = 0xffff_ffff_fff0_0000n;

export const MSI_ADDR_COMPAT_LAYOUT: Layout = {
  name: 'MSI address (compatibility format)',
  words: 1,
  source: 'REFERENCE.md 3.7; linux arch/x86/include/asm/msi.h',
  fields: [
    { name: 'DM', word: 0, hi: 2, lo: 2, kind: 'flag', desc: 'destination mode: 1 = logical' },
    { name: 'RH', word: 0, hi: 3, lo: 3, kind: 'flag', desc: 'redirection hint' },
    { name: 'IF', word: 0, hi: 4, lo: 4, kind: 'flag', desc: 'interrupt format: 0 = compatibility' },
    { name: 'ExtDest', word: 0, hi: 11, lo: 5, desc: 'extended destination id bits 8-14 (virtualization extension)' },
    { name: 'DestID', word: 0, hi: 19, lo: 12, desc: 'destination: APIC id (DM = 0), logical id (DM = 1)' },
    { name: 'Base', word: 0, hi: 31, lo: 20, desc: '0xFEE: the interrupt address range' },
  ],
};

export const MSI_ADDR_REMAP_LAYOUT: Layout = {
  name: 'MSI address (remappable format)',
  words: 1,
  source: 'REFERENCE.md 3.7; QEMU VTD_IR_MSIAddress; linux fill_msi_msg',
  fields: [
    { name: 'Handle15', word: 0, hi: 2, lo: 2, kind: 'flag', desc: 'handle bit 15' },
    { name: 'SHV', word: 0, hi: 3, lo: 3, kind: 'flag', desc: 'subhandle valid: add data[15:0] to the handle' },
    { name: 'IF', word: 0, hi: 4, lo: 4, kind: 'flag', desc: 'interrupt format: 1 = remappable' },
    { name: 'Handle', word: 0, hi: 19, lo: 5, desc: 'handle bits 14:0' },
    { name: 'Base', word: 0, hi: 31, lo: 20, desc: '0xFEE: the interrupt address range' },
  ],
};

export const MSI_DATA_COMPAT_LAYOUT: Layout = {
  name: 'MSI data (compatibility format)',
  words: 1,
  source: 'REFERENCE.md 3.7',
  fields: [
    { name: 'Vector', word: 0, hi: 7, lo: 0, desc: 'vector' },
    { name: 'DLM', word: 0, hi: 10, lo: 8, desc: 'delivery mode', values: { '0': 'fixed', '1': 'lowest priority', '2': 'SMI', '4': 'NMI', '5': 'INIT', '7': 'ExtINT' } },
    { name: 'Level', word: 0, hi: 14, lo: 14, kind: 'flag', desc: 'level: assert' },
    { name: 'TM', word: 0, hi: 15, lo: 15, kind: 'flag', desc: 'trigger mode: 1 = level' },
  ],
};

/** The remappable MSI address Linux writes for an IRTE index (fill_msi_msg: SHV always set). */
export function remappableMsiAddress(index: number, shv = true): u64 {
  return X86_MSI_BASE | (BigInt(index & 0x7fff) << 5n) | (1n << 4n) | (shv ? 1n << 3n : 0n) | (BigInt((index >> 15) & 1) << 2n);
}

/** A compatibility-format MSI address for a physical APIC id. */
export function compatMsiAddress(destApicId: number, logical = false, redirHint = false): u64 {
  return X86_MSI_BASE | (BigInt(destApicId & 0xff) << 12n) | (redirHint ? 8n : 0n) | (logical ? 4n : 0n);
}

export interface MsiDecode {
  remappable: boolean;
  /** Remappable: handle and SHV. */
  handle?: number;
  shv?: boolean;
  /** Compatibility: destination, vector, delivery and trigger modes. */
  dest?: number;
  vector?: number;
  dm?: boolean;
  rh?: boolean;
  dlm?: number;
  tm?: boolean;
}

/** Decode a write to the interrupt range (address and 32-bit data). */
export function decodeMsi(addr: u64, data: number): MsiDecode {
  const a = [addr & 0xffff_ffffn];
  if (((addr >> 4n) & 1n) === 1n) {
    const handle = Number(get(MSI_ADDR_REMAP_LAYOUT, a, 'Handle')) | (Number(get(MSI_ADDR_REMAP_LAYOUT, a, 'Handle15')) << 15);
    return { remappable: true, handle, shv: get(MSI_ADDR_REMAP_LAYOUT, a, 'SHV') === 1n };
  }
  const d = [BigInt(data >>> 0)];
  return {
    remappable: false,
    dest: Number(get(MSI_ADDR_COMPAT_LAYOUT, a, 'DestID')),
    dm: get(MSI_ADDR_COMPAT_LAYOUT, a, 'DM') === 1n,
    rh: get(MSI_ADDR_COMPAT_LAYOUT, a, 'RH') === 1n,
    vector: Number(get(MSI_DATA_COMPAT_LAYOUT, d, 'Vector')),
    dlm: Number(get(MSI_DATA_COMPAT_LAYOUT, d, 'DLM')),
    tm: get(MSI_DATA_COMPAT_LAYOUT, d, 'TM') === 1n,
  };
}

/** The interrupt remapping table the unit latched at SIRTP. */
export interface IrTable {
  base: u64;
  /** 2^(S+1). */
  entries: number;
  eime: boolean;
}

/** A remapped interrupt: what reaches the local APIC(s). */
export interface RemappedInterrupt {
  index: number;
  irteAddr: u64;
  irte: u64[];
  vector: number;
  /** Destination APIC id (xAPIC: DST[15:8]; x2APIC: all 32 bits). */
  dest: number;
  dm: boolean;
  rh: boolean;
  dlm: number;
  tm: boolean;
}

export type IrLookup =
  | ({ ok: true } & RemappedInterrupt)
  | { ok: false; reason: number; index: number; detail: string; /** Faults found through an IRTE with FPD = 1 are not recorded. */ suppressed: boolean; irteAddr?: u64; irte?: u64[] };

const SQ_MASK = [0xffff, 0xfffb, 0xfff9, 0xfff8] as const;

/**
 * Remap one remappable-format request (vtd_interrupt_remap_msi +
 * vtd_irte_get). `sid` is the requester id that came with the write.
 */
export function remapRemappable(mem: { readWords(a: u64, n: number): u64[] }, irt: IrTable, sid: number, addr: u64, data: number, caps: { pi: boolean }): IrLookup {
  const m = decodeMsi(addr, data);
  const handle = m.handle!;
  let index = handle;
  if (m.shv) {
    if ((data >>> 16) !== 0) {
      return { ok: false, reason: F.VTD_FR_IR_REQ_RSVD, index: handle, suppressed: false, detail: `SHV is set but the data's reserved bits [31:16] are ${hex(data >>> 16)}` };
    }
    index = handle + (data & 0xffff);
  }
  if (index >= irt.entries) {
    return { ok: false, reason: F.VTD_FR_IR_INDEX_OVER, index, suppressed: false, detail: `index ${index} is beyond the ${irt.entries}-entry interrupt remapping table` };
  }
  const irteAddr = irt.base + BigInt(IRTE_SIZE * index);
  let irte: u64[];
  try {
    irte = mem.readWords(irteAddr, 2);
  } catch (e) {
    if (!(e instanceof BusError)) throw e;
    return { ok: false, reason: F.VTD_FR_IR_ROOT_INVAL, index, suppressed: false, irteAddr, detail: `IRTE ${index} at ${hex(irteAddr)} cannot be read (${e.message})` };
  }
  const g = (n: string): u64 => get(IRTE_LAYOUT, irte, n);
  // From here on faults are qualified by the IRTE's FPD (QEMU: "Even not present").
  const suppressed = g('FPD') === 1n;
  if (g('P') === 0n) return { ok: false, reason: F.VTD_FR_IR_ENTRY_P, index, suppressed, irteAddr, irte, detail: `IRTE ${index} at ${hex(irteAddr)} is not present (P=0)` };
  const rsvdLo = irte[0]! & (IRTE_RSVD_LO | (caps.pi ? 0n : 0x8000n));
  const rsvdHi = irte[1]! & IRTE_RSVD_HI;
  if (rsvdLo !== 0n || rsvdHi !== 0n) {
    return { ok: false, reason: F.VTD_FR_IR_IRTE_RSVD, index, suppressed, irteAddr, irte, detail: `IRTE ${index} has reserved bits set (lo ${hex(rsvdLo)}, hi ${hex(rsvdHi)})` };
  }
  const svt = Number(g('SVT'));
  const want = Number(g('SID'));
  if (svt === 1) {
    const mask = SQ_MASK[Number(g('SQ'))]!;
    if ((want & mask) !== (sid & mask)) {
      return { ok: false, reason: F.VTD_FR_IR_SID_ERR, index, suppressed, irteAddr, irte, detail: `IRTE ${index} accepts source id ${hex(want, 4)} (SQ ${g('SQ')}), but the request came from ${hex(sid, 4)}` };
    }
  } else if (svt === 2) {
    const first = want >> 8;
    const last = want & 0xff;
    const bus = sid >> 8;
    if (bus < first || bus > last) {
      return { ok: false, reason: F.VTD_FR_IR_SID_ERR, index, suppressed, irteAddr, irte, detail: `IRTE ${index} accepts buses ${hex(first, 2)}..${hex(last, 2)}, but the request came from bus ${hex(bus, 2)}` };
    }
  } else if (svt === 3) {
    return { ok: false, reason: F.VTD_FR_IR_SID_ERR, index, suppressed, irteAddr, irte, detail: `IRTE ${index} has the reserved SVT value 3` };
  }
  const dst = Number(g('DST'));
  return {
    ok: true, index, irteAddr, irte, vector: Number(g('V')), dest: irt.eime ? dst >>> 0 : (dst >>> 8) & 0xff,
    dm: g('DM') === 1n, rh: g('RH') === 1n, dlm: Number(g('DLM')), tm: g('TM') === 1n,
  };
}

export const DLM_NAMES: Record<number, string> = { 0: 'fixed', 1: 'lowest priority', 2: 'SMI', 4: 'NMI', 5: 'INIT', 7: 'ExtINT' };

/** The APICs an xAPIC flat-model logical destination names (bit n = the LAPIC whose LDR Linux set to 1 << n). */
export function logicalApicIds(dest: number): number[] {
  const ids: number[] = [];
  for (let i = 0; i < 8; i++) if ((dest >> i) & 1) ids.push(i);
  return ids;
}

/**
 * The local APIC a destination reaches, and the words for it. Physical
 * mode: the APIC id. Logical mode (xAPIC flat model): every LAPIC whose
 * logical id (LDR) shares a bit with the destination; the lab takes the
 * LDRs Linux's flat driver programs, 1 << cpu (APIC id = CPU here). Lowest
 * priority delivers to one of them: hardware arbitrates by task priority,
 * the lab takes the lowest-numbered. `apic` is -1 when no LAPIC matches.
 */
export function lapicTarget(dest: number, logical: boolean, lowestPrio = false): { apic: number; text: string } {
  if (!logical) return { apic: dest, text: `APIC ${dest}` };
  const ids = logicalApicIds(dest);
  const field = `logical 0x${(dest & 0xff).toString(16).padStart(2, '0')}`;
  if (ids.length === 0) return { apic: -1, text: `${field} (flat model: no APIC has that logical id)` };
  if (ids.length === 1) return { apic: ids[0]!, text: `${field} (flat model: APIC ${ids[0]})` };
  return { apic: ids[0]!, text: `${field} (flat model: APICs ${ids.join(',')}${lowestPrio ? `; lowest priority: APIC ${ids[0]} here` : ''})` };
}
