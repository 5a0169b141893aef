/**
 * A PCIe NIC function reduced to what the VFIO story needs: config space,
 * a 64-bit BAR holding its MSI-X table and PBA, and bus mastering. Its
 * data path (rings, packets) is not modelled; its DMA is the generic
 * `devdma`, its interrupts `devirq` (it signals an MSI-X vector by writing
 * the entry's data to the entry's address, through its real DMA path).
 *
 * Used by arm-iproc-smmuv3 as seed 002's NIC (a Broadcom NetXtreme-E class
 * function, 14e4:16d7, for which the lab has no kernel driver: it stays
 * unbound until vfio-pci takes it through driver_override).
 * MSI-X layout by default as QEMU's msix_init_exclusive_bar: table at 0,
 * PBA at half the BAR (machine/virtio/msix.ts); a preset can give its own
 * (x86-q35's e1000e: BAR3, table at 0, PBA at 0x2000, 5 vectors, as
 * QEMU's hw/net/e1000e.c).
 */
import type { u64 } from './u64.ts';
import type { AccessSize, MmioHandler } from './memory.ts';
import { PCI_CAP_ID_MSIX, PCI_COMMAND, PciFunction, type PciFunctionInit } from './pci.ts';
import { MsixTable, PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, PCI_MSIX_FLAGS_MASKALL } from './virtio/msix.ts';
import type { DmaMaster } from './dma.ts';
import type { Machine } from './machine.ts';

export const MSIX_NIC_BAR = 0;
export const MSIX_NIC_BAR_SIZE = 0x4000n;

export interface MsixNicLayout {
  /** The BAR holding the table and PBA, the table's offset in it, the PBA's. */
  bar: number;
  tableOffset: number;
  pbaOffset: number;
  vectors: number;
}

export class MsixNic extends PciFunction {
  dmaMaster: DmaMaster;
  private readonly msix: MsixTable;
  private readonly msixCap: number;

  constructor(
    private readonly machine: Machine,
    init: Omit<PciFunctionInit, 'bars'> & { vectors: number; bars?: PciFunctionInit['bars']; msix?: MsixNicLayout },
  ) {
    super({ ...init, bars: init.bars ?? [{ index: MSIX_NIC_BAR, kind: 'mem64', size: MSIX_NIC_BAR_SIZE, prefetchable: false }] });
    this.layout = init.msix ?? { bar: MSIX_NIC_BAR, tableOffset: 0, pbaOffset: Number(MSIX_NIC_BAR_SIZE / 2n), vectors: init.vectors };
    const l = this.layout;
    this.msixCap = this.addCapability(PCI_CAP_ID_MSIX, MsixTable.capabilityBody(l.vectors, l.bar, l.tableOffset, l.pbaOffset));
    // MsixTable decodes offsets from the table's start.
    this.msix = new MsixTable(l.vectors, l.pbaOffset - l.tableOffset, () => this.control(), (v, addr, data) => this.send(v, addr, data));
    this.dmaMaster = { name: init.name, rid: this.rid, sid: this.rid, path: 'bypass' };
  }

  private readonly layout: MsixNicLayout;

  private control(): { enabled: boolean; functionMasked: boolean } {
    const ctl = this.cfg().getUint16(this.msixCap + PCI_MSIX_FLAGS, true);
    return { enabled: (ctl & PCI_MSIX_FLAGS_ENABLE) !== 0, functionMasked: (ctl & PCI_MSIX_FLAGS_MASKALL) !== 0 };
  }

  private send(vector: number, addr: u64, data: number): void {
    if (!this.busMaster) return;
    this.machine.dmaWrite(this.dmaMaster, addr, Uint8Array.of(data & 0xff, (data >>> 8) & 0xff, (data >>> 16) & 0xff, data >>> 24), `msix vector ${vector}`);
  }

  get msixVectors(): number {
    return this.msix.vectors;
  }
  get msixEnabled(): boolean {
    return this.control().enabled;
  }
  signalMsix(v: number): 'sent' | 'pending' | 'disabled' | 'no-such-vector' | 'no-msix' {
    return this.msix.notify(v);
  }
  msixEntry(v: number): { addr: u64; data: number; masked: boolean } | undefined {
    const e = this.msix.entry(v);
    return e ? { addr: this.msix.address(v), data: e.data >>> 0, masked: (e.ctrl & 1) !== 0 } : undefined;
  }

  override barHandler(index: number): MmioHandler | undefined {
    if (index !== this.layout.bar) return undefined;
    const h = this.msix.handler();
    const base = BigInt(this.layout.tableOffset);
    // Registers before the table (e.g. none) are not modelled: reads 0, writes dropped.
    return { read: (o, size) => (o >= base ? h.read(o - base, size) : 0n), write: (o, size, v) => void (o >= base && h.write(o - base, size, v)) };
  }

  protected override onCapabilityWrite(off: number, byte: number): void {
    if (off === this.msixCap + PCI_MSIX_FLAGS + 1) {
      this.config[off] = (this.config[off]! & 0x3f) | (byte & 0xc0);
      this.msix.flushPending();
    }
  }

  override configWrite(off: number, size: AccessSize, value: u64): void {
    super.configWrite(off, size, value);
    if (off <= PCI_COMMAND + 1 && off + size > PCI_COMMAND) this.msix.flushPending();
  }

  override saveState(): unknown {
    return { pci: super.saveState(), msix: this.msix.saveState() };
  }
  override restoreState(s: unknown): void {
    const st = s as { pci: unknown; msix: ReturnType<MsixTable['saveState']> };
    super.restoreState(st.pci);
    this.msix.restoreState(st.msix);
  }
}

/** A function that signals MSI-X in this lab (virtio-pci devices, MsixNic). */
export interface MsixSignaller {
  readonly name: string;
  readonly busMaster: boolean;
  readonly msixVectors: number;
  readonly msixEnabled: boolean;
  signalMsix(v: number): 'sent' | 'pending' | 'disabled' | 'no-such-vector' | 'no-msix';
  msixEntry(v: number): { addr: u64; data: number; masked: boolean } | undefined;
}
