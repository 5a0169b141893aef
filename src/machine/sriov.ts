/**
 * SR-IOV: a physical function (PF) with the Single Root I/O Virtualization
 * extended capability, and the virtual functions (VFs) it brings to life
 * when software sets VF Enable with NumVFs (PCI Express Base spec, 9.3.3
 * "SR-IOV Extended Capability"; offsets as Linux names them in
 * include/uapi/linux/pci_regs.h PCI_SRIOV_*).
 *
 * Generic: any PF model (a NIC, an NVMe controller) can extend SriovPf and
 * give its VF device ID, TotalVFs, First VF Offset and VF Stride.
 *
 * The VFs exist as objects from power-on (so machine state stays a fixed
 * set of components that undo can snapshot), but a VF is *present* only
 * while the PF's VF Enable is set and its index is below NumVFs: config
 * reads through ECAM see all ones before that, and enumeration skips it.
 * A VF's requester ID is the PF's RID + First VF Offset + index * VF
 * Stride (spec 9.3.3.10/11). A VF's own Vendor ID and Device ID registers
 * read 0xffff (spec 9.3.4.1.1/2): software takes the PF's vendor and the
 * VF Device ID field of the PF's capability (Linux pci_iov_add_virtfn);
 * `vendorId`/`deviceId` here return those, the config bytes stay 0xffff.
 *
 * Extended capability layout (offset from the capability):
 *   0x00  header: ID 0x0010 [15:0], version [19:16], next [31:20]
 *   0x04  SR-IOV Capabilities           0x08  SR-IOV Control (VF Enable bit 0, VF MSE bit 3)
 *   0x0a  SR-IOV Status                 0x0c  InitialVFs    0x0e  TotalVFs
 *   0x10  NumVFs                        0x12  Function Dependency Link
 *   0x14  First VF Offset               0x16  VF Stride     0x1a  VF Device ID
 *   0x1c  Supported Page Sizes          0x20  System Page Size
 *   0x24  VF BAR0..5                    0x3c  VF Migration State Array Offset
 * Not modelled: VF BARs (VF MSE), ARI, migration state, function dependency.
 */
import { PciFunction, type Bdf, type PciFunctionInit, requesterId } from './pci.ts';

/** PCI_EXT_CAP_ID_SRIOV. */
export const PCI_EXT_CAP_ID_SRIOV = 0x10;
export const PCI_SRIOV_CAP = 0x04;
export const PCI_SRIOV_CTRL = 0x08;
export const PCI_SRIOV_CTRL_VFE = 0x01;
export const PCI_SRIOV_CTRL_MSE = 0x08;
export const PCI_SRIOV_STATUS = 0x0a;
export const PCI_SRIOV_INITIAL_VF = 0x0c;
export const PCI_SRIOV_TOTAL_VF = 0x0e;
export const PCI_SRIOV_NUM_VF = 0x10;
export const PCI_SRIOV_FUNC_LINK = 0x12;
export const PCI_SRIOV_VF_OFFSET = 0x14;
export const PCI_SRIOV_VF_STRIDE = 0x16;
export const PCI_SRIOV_VF_DID = 0x1a;
export const PCI_SRIOV_SUP_PGSIZE = 0x1c;
export const PCI_SRIOV_SYS_PGSIZE = 0x20;
/** Where the PF model puts the capability (the first extended capability). */
export const SRIOV_CAP_OFFSET = 0x100;
/** Bytes of the capability the model owns. */
const SRIOV_CAP_LEN = 0x40;

export interface SriovPfInit extends PciFunctionInit {
  totalVfs: number;
  vfDeviceId: number;
  firstVfOffset: number;
  vfStride: number;
  /** Names for the VF objects ("vf0", ...), by index. */
  vfName(index: number): string;
  vfDescription: string;
}

/** A physical function with an SR-IOV capability. */
export class SriovPf extends PciFunction {
  readonly vfs: SriovVf[] = [];

  constructor(init: SriovPfInit) {
    super(init);
    const c = this.cfg();
    const o = SRIOV_CAP_OFFSET;
    // Header: ID, version 1, next 0 (the last extended capability).
    c.setUint32(o, PCI_EXT_CAP_ID_SRIOV | (1 << 16), true);
    c.setUint16(o + PCI_SRIOV_INITIAL_VF, init.totalVfs, true);
    c.setUint16(o + PCI_SRIOV_TOTAL_VF, init.totalVfs, true);
    c.setUint16(o + PCI_SRIOV_VF_OFFSET, init.firstVfOffset, true);
    c.setUint16(o + PCI_SRIOV_VF_STRIDE, init.vfStride, true);
    c.setUint16(o + PCI_SRIOV_VF_DID, init.vfDeviceId, true);
    // 4 KiB pages supported and selected.
    c.setUint32(o + PCI_SRIOV_SUP_PGSIZE, 0x1, true);
    c.setUint32(o + PCI_SRIOV_SYS_PGSIZE, 0x1, true);
    for (let i = 0; i < init.totalVfs; i++) {
      const rid = this.rid + init.firstVfOffset + i * init.vfStride;
      const bdf: Bdf = { segment: this.bdf.segment, bus: (rid >> 8) & 0xff, dev: (rid >> 3) & 0x1f, fn: rid & 7 };
      this.vfs.push(new SriovVf(this, i, { name: init.vfName(i), bdf, vendorId: 0xffff, deviceId: 0xffff, classCode: init.classCode, description: init.vfDescription }));
    }
  }

  private reg16(off: number): number {
    return this.cfg().getUint16(SRIOV_CAP_OFFSET + off, true);
  }

  get totalVfs(): number {
    return this.reg16(PCI_SRIOV_TOTAL_VF);
  }
  get numVfs(): number {
    return this.reg16(PCI_SRIOV_NUM_VF);
  }
  get vfEnabled(): boolean {
    return (this.reg16(PCI_SRIOV_CTRL) & PCI_SRIOV_CTRL_VFE) !== 0;
  }
  get vfDeviceId(): number {
    return this.reg16(PCI_SRIOV_VF_DID);
  }

  /** The VFs present now (VF Enable set, index below NumVFs). */
  presentVfs(): SriovVf[] {
    return this.vfs.filter((v) => v.present);
  }

  /**
   * Only SR-IOV Control and NumVFs are writable in the capability (NumVFs
   * only while VF Enable is clear; a value above TotalVFs is kept as
   * written, as hardware may, but no VF beyond TotalVFs exists).
   */
  protected override onCapabilityWrite(off: number, byte: number): void {
    const rel = off - SRIOV_CAP_OFFSET;
    if (rel < 0 || rel >= SRIOV_CAP_LEN) {
      super.onCapabilityWrite(off, byte);
      return;
    }
    if (rel === PCI_SRIOV_CTRL) this.config[off] = byte & (PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
    else if (rel === PCI_SRIOV_CTRL + 1) this.config[off] = 0;
    else if ((rel === PCI_SRIOV_NUM_VF || rel === PCI_SRIOV_NUM_VF + 1) && !this.vfEnabled) this.config[off] = byte;
    // Everything else in the capability is read-only.
  }
}

/** A virtual function: present only while its PF enables it. */
export class SriovVf extends PciFunction {
  constructor(
    readonly pf: SriovPf,
    readonly index: number,
    init: PciFunctionInit,
  ) {
    super(init);
  }

  override get present(): boolean {
    return this.pf.vfEnabled && this.index < this.pf.numVfs;
  }
  /** The PF's vendor (the VF's own register reads 0xffff). */
  override get vendorId(): number {
    return this.pf.vendorId;
  }
  /** The PF capability's VF Device ID (the VF's own register reads 0xffff). */
  override get deviceId(): number {
    return this.pf.vfDeviceId;
  }
}

/** RID of VF `index` of a PF at `pf` (spec 9.3.3.10/11). */
export const vfRequesterId = (pf: Bdf, firstVfOffset: number, stride: number, index: number): number => requesterId(pf) + firstVfOffset + index * stride;
