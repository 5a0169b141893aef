/**
 * The x86 interrupt address range, 0xFEE00000-0xFEEFFFFF: a device's write
 * there is an interrupt message (MSI), never a memory write, whether DMA
 * remapping is on or off. The DMA engine (machine.ts) hands such writes to
 * this window before any translation; they go to the VT-d unit that
 * handles the device's interrupts, which remaps them through its IRT when
 * interrupt remapping is on (GSTS.IRES) and passes them in compatibility
 * format otherwise. Without a VT-d unit the window decodes the
 * compatibility format itself: destination APIC id [19:12], vector from
 * the data's low byte.
 *
 * Which unit handles a device: by default the unit in the master's DMA
 * path (DmaMaster.iommu), else the only unit of the platform. Interrupt
 * remapping is platform-wide on a q35: QEMU's MSI writes go through the
 * IOMMU's interrupt region even for a device whose DMA bypasses
 * translation. A preset with several units passes `unitFor`.
 *
 * Every delivered interrupt lands in the machine's InterruptLog with
 * controller 'ir' (remapped through an IRTE) or 'lapic' (compatibility
 * format); a blocked one is returned as a fault (the unit recorded it in
 * its fault registers).
 *
 * Sources: REFERENCE.md 3.7; QEMU hw/i386/intel_iommu.c vtd_mem_ir_write
 * (the requester id comes with the write as a memory transaction
 * attribute, the data is one dword).
 */
import { type u64, hex } from '../u64.ts';
import type { DmaMaster, InterruptWindow } from '../dma.ts';
import type { DmaFault } from '../trace.ts';
import type { InterruptLog } from '../interrupts.ts';
import { VtdUnit } from './vtd.ts';
import { sidText } from './context.ts';
import { decodeMsi, lapicTarget, DLM_NAMES, X86_MSI_BASE, X86_MSI_SIZE } from './ir.ts';

export interface X86InterruptWindowOptions {
  interrupts: InterruptLog;
  /** The platform's VT-d units (none: compatibility format only). */
  units?: VtdUnit[];
  /** Which unit takes a device's interrupts (default: DmaMaster.iommu if a VT-d unit, else the only unit). */
  unitFor?: (m: DmaMaster) => VtdUnit | undefined;
}

export class X86InterruptWindow implements InterruptWindow {
  readonly base: u64 = X86_MSI_BASE;
  readonly size: u64 = X86_MSI_SIZE;
  private readonly log: InterruptLog;
  private readonly units: VtdUnit[];
  private readonly pick: (m: DmaMaster) => VtdUnit | undefined;

  constructor(o: X86InterruptWindowOptions) {
    this.log = o.interrupts;
    this.units = o.units ?? [];
    this.pick = o.unitFor ?? ((m): VtdUnit | undefined => (m.iommu instanceof VtdUnit ? m.iommu : this.units.length === 1 ? this.units[0] : undefined));
  }

  deliver(m: DmaMaster, addr: u64, data: Uint8Array): { ok: boolean; detail: string; fault?: DmaFault } {
    // An MSI is one dword; shorter writes are zero-extended, longer ones keep their first dword.
    let value = 0;
    for (let i = Math.min(4, data.length) - 1; i >= 0; i--) value = ((value << 8) | data[i]!) >>> 0;
    const extra = data.length > 4 ? ` (a ${data.length}-byte write: only the first dword is the interrupt data)` : '';
    const sid = m.rid ?? m.sid;
    const unit = this.pick(m);
    if (unit) {
      const out = unit.interruptRequest(sid, addr, value);
      if (!out.ok) return { ok: false, detail: out.detail, fault: out.fault };
      this.log.raise({ controller: out.controller, source: sidText(sid), addr, data: BigInt(value), detail: `${m.name}: ${out.detail}${extra}` });
      return { ok: true, detail: `MSI from ${m.name} (${sidText(sid)}): ${out.detail}${extra}` };
    }
    const c = decodeMsi(addr & ~0x10n, value);
    const detail = `compatibility format: ${sidText(sid)} -> vector ${hex(c.vector!, 2)} to ${lapicTarget(c.dest!, c.dm!, c.dlm === 1).text} (${DLM_NAMES[c.dlm!] ?? c.dlm}, ${c.tm ? 'level' : 'edge'})${extra}`;
    this.log.raise({ controller: 'lapic', source: sidText(sid), addr, data: BigInt(value), detail: `${m.name}: ${detail}` });
    return { ok: true, detail: `MSI from ${m.name}: ${detail}` };
  }
}
