/**
 * MSI-X for a PCI function: the capability in config space, the vector
 * table and pending-bit array in a memory BAR, and delivery.
 *
 * Sources: PCI Local Bus spec 3.0 6.8.2 (MSI-X capability and table);
 * linux include/uapi/linux/pci_regs.h (PCI_MSIX_*); QEMU hw/pci/msix.c
 * (msix_init_exclusive_bar: table at 0, PBA at half the BAR).
 *
 *   capability: +0 id 0x11 | +1 next | +2 le16 Message Control
 *               [10:0] table size - 1, bit 14 Function Mask, bit 15 Enable
 *               +4 le32 table offset | BIR[2:0]   +8 le32 PBA offset | BIR
 *   table entry (16 bytes): +0 addr lo, +4 addr hi, +8 data, +12 vector control (bit 0 mask)
 *
 * An MSI is nothing but a memory write of `data` (32 bits) to `addr`, issued
 * by the device like any DMA: the owner delivers it through its DmaMaster,
 * so on an SMMU system it is translated (the ITS doorbell must be mapped in
 * the device's domain, which is what the iommu-dma MSI cookie does).
 */
import { type u64 } from '../u64.ts';
import type { AccessSize, MmioHandler } from '../memory.ts';
import { clone } from '../state.ts';

export const PCI_MSIX_FLAGS = 2;
export const PCI_MSIX_FLAGS_QSIZE = 0x07ff;
export const PCI_MSIX_FLAGS_MASKALL = 0x4000;
export const PCI_MSIX_FLAGS_ENABLE = 0x8000;
export const PCI_MSIX_TABLE = 4;
export const PCI_MSIX_PBA = 8;
export const PCI_MSIX_TABLE_BIR = 0x7;
export const PCI_MSIX_ENTRY_SIZE = 16;
export const PCI_MSIX_ENTRY_LOWER_ADDR = 0;
export const PCI_MSIX_ENTRY_UPPER_ADDR = 4;
export const PCI_MSIX_ENTRY_DATA = 8;
export const PCI_MSIX_ENTRY_VECTOR_CTRL = 12;
export const PCI_MSIX_ENTRY_CTRL_MASKBIT = 0x1;

export interface MsixEntry {
  addrLo: number;
  addrHi: number;
  data: number;
  ctrl: number;
}

export interface MsixState {
  entries: MsixEntry[];
  /** Pending bit per vector (set when a message fires while masked). */
  pending: boolean[];
}

export interface MsixControl {
  enabled: boolean;
  functionMasked: boolean;
}

/**
 * The table/PBA block behind a BAR. The capability's Message Control lives
 * in the owner's config space; `control()` reads it from there.
 */
export class MsixTable {
  s: MsixState;
  constructor(
    readonly vectors: number,
    /** Byte offset of the PBA in the BAR. */
    readonly pbaOffset: number,
    private readonly control: () => MsixControl,
    private readonly deliver: (vector: number, addr: u64, data: number) => void,
  ) {
    this.s = { entries: Array.from({ length: vectors }, () => ({ addrLo: 0, addrHi: 0, data: 0, ctrl: PCI_MSIX_ENTRY_CTRL_MASKBIT })), pending: new Array(vectors).fill(false) };
  }

  /** The capability body after {id, next}: Message Control, table and PBA offset/BIR. */
  static capabilityBody(vectors: number, bar: number, tableOffset: number, pbaOffset: number): Uint8Array {
    const b = new Uint8Array(10);
    const v = new DataView(b.buffer);
    v.setUint16(0, (vectors - 1) & PCI_MSIX_FLAGS_QSIZE, true);
    v.setUint32(2, (tableOffset & ~7) | (bar & PCI_MSIX_TABLE_BIR), true);
    v.setUint32(6, (pbaOffset & ~7) | (bar & PCI_MSIX_TABLE_BIR), true);
    return b;
  }

  entry(v: number): MsixEntry | undefined {
    return this.s.entries[v];
  }

  address(v: number): u64 {
    const e = this.s.entries[v]!;
    return (BigInt(e.addrHi >>> 0) << 32n) | BigInt(e.addrLo >>> 0);
  }

  /**
   * Fire vector v. Returns 'sent', 'pending' (masked: the PBA bit is set and
   * the message goes out on unmask), or why nothing happened.
   */
  notify(v: number): 'sent' | 'pending' | 'disabled' | 'no-such-vector' {
    const c = this.control();
    if (!c.enabled) return 'disabled';
    const e = this.s.entries[v];
    if (!e) return 'no-such-vector';
    if (c.functionMasked || e.ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT) {
      this.s.pending[v] = true;
      return 'pending';
    }
    this.deliver(v, this.address(v), e.data >>> 0);
    return 'sent';
  }

  /** Deliver pending vectors that are now unmasked (after an unmask or enable). */
  flushPending(): void {
    const c = this.control();
    if (!c.enabled || c.functionMasked) return;
    this.s.pending.forEach((p, v) => {
      const e = this.s.entries[v]!;
      if (p && !(e.ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT)) {
        this.s.pending[v] = false;
        this.deliver(v, this.address(v), e.data >>> 0);
      }
    });
  }

  private readByte(off: number): number {
    if (off < this.vectors * PCI_MSIX_ENTRY_SIZE) {
      const e = this.s.entries[Math.floor(off / PCI_MSIX_ENTRY_SIZE)]!;
      const f = off % PCI_MSIX_ENTRY_SIZE;
      const word = [e.addrLo, e.addrHi, e.data, e.ctrl][f >> 2]!;
      return (word >>> (8 * (f & 3))) & 0xff;
    }
    if (off >= this.pbaOffset) {
      const bit0 = (off - this.pbaOffset) * 8;
      let b = 0;
      for (let i = 0; i < 8; i++) if (this.s.pending[bit0 + i]) b |= 1 << i;
      return b;
    }
    return 0;
  }

  private writeByte(off: number, byte: number): void {
    if (off >= this.vectors * PCI_MSIX_ENTRY_SIZE) return; // PBA is read-only
    const e = this.s.entries[Math.floor(off / PCI_MSIX_ENTRY_SIZE)]!;
    const f = off % PCI_MSIX_ENTRY_SIZE;
    const key = (['addrLo', 'addrHi', 'data', 'ctrl'] as const)[f >> 2]!;
    const sh = 8 * (f & 3);
    let nv = ((e[key] & ~(0xff << sh)) | (byte << sh)) >>> 0;
    if (key === 'ctrl') nv &= PCI_MSIX_ENTRY_CTRL_MASKBIT; // other bits reserved
    if (key === 'addrLo') nv &= ~3 >>> 0; // message address is dword aligned
    e[key] = nv >>> 0;
  }

  handler(): MmioHandler {
    return {
      read: (offset: u64, size: AccessSize): u64 => {
        let v = 0n;
        for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.readByte(Number(offset) + i));
        return v;
      },
      write: (offset: u64, size: AccessSize, value: u64): void => {
        for (let i = 0; i < size; i++) this.writeByte(Number(offset) + i, Number((value >> BigInt(8 * i)) & 0xffn));
        this.flushPending();
      },
    };
  }

  saveState(): MsixState {
    return clone(this.s);
  }
  restoreState(s: MsixState): void {
    this.s = clone(s);
  }
}
