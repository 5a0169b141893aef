/**
 * PCI topology: host bridges (root complexes) with their ECAM config
 * window, bus range and address windows, and functions with a real 4 KiB
 * configuration space (type 0 header; PCI Local Bus spec 3.0 ch. 6, PCIe
 * base spec 7.5). `info pci` decodes from these bytes, not from a side copy.
 *
 * Host-bridge windows are the CPU address ranges the root complex forwards
 * downstream to PCI (MMIO and I/O). A device's DMA to an address inside a
 * window of its own root complex is routed peer to peer and never goes
 * upstream to the IOMMU or to memory; that is what makes the windows matter
 * for IOVA allocation (linux drivers/iommu/dma-iommu.c,
 * iova_reserve_pci_windows).
 */
import { type u64, hex } from './u64.ts';
import type { AccessSize, MmioHandler } from './memory.ts';
import { clone, type Stateful } from './state.ts';

// Config space offsets (type 0 header).
export const PCI_VENDOR_ID = 0x00;
export const PCI_DEVICE_ID = 0x02;
export const PCI_COMMAND = 0x04;
export const PCI_STATUS = 0x06;
export const PCI_REVISION_ID = 0x08;
export const PCI_CLASS_PROG = 0x09;
export const PCI_HEADER_TYPE = 0x0e;
export const PCI_BASE_ADDRESS_0 = 0x10;
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
export const PCI_SUBSYSTEM_ID = 0x2e;
export const PCI_CAPABILITY_LIST = 0x34;
export const PCI_INTERRUPT_LINE = 0x3c;
export const PCI_INTERRUPT_PIN = 0x3d;
export const PCI_STATUS_CAP_LIST = 0x10;
export const PCI_COMMAND_IO = 0x1;
export const PCI_COMMAND_MEMORY = 0x2;
export const PCI_COMMAND_MASTER = 0x4;
// Capability ids (include/uapi/linux/pci_regs.h).
export const PCI_CAP_ID_MSI = 0x05;
export const PCI_CAP_ID_VNDR = 0x09;
export const PCI_CAP_ID_EXP = 0x10;
export const PCI_CAP_ID_MSIX = 0x11;

export type BarKind = 'io' | 'mem32' | 'mem64';

export interface Bar {
  index: number;
  kind: BarKind;
  size: u64;
  prefetchable: boolean;
  /** Assigned bus address (PCI side), 0n when unassigned. */
  addr: u64;
}

export interface PciWindow {
  kind: 'io' | 'mem32' | 'mem64' | 'mem64-pref';
  /** CPU physical address of the window. */
  cpuBase: u64;
  /** PCI bus address it maps to (differs for I/O and offset windows). */
  pciBase: u64;
  size: u64;
}

export interface Bdf {
  segment: number;
  bus: number;
  dev: number;
  fn: number;
}

export const formatBdf = (b: Bdf, withSegment = true): string =>
  `${withSegment ? b.segment.toString(16).padStart(4, '0') + ':' : ''}${b.bus.toString(16).padStart(2, '0')}:${b.dev
    .toString(16)
    .padStart(2, '0')}.${b.fn.toString(16)}`;

/** Requester ID as the root complex presents it: bus[15:8] dev[7:3] fn[2:0]. */
export const requesterId = (b: Bdf): number => (b.bus << 8) | (b.dev << 3) | b.fn;

/** Parse "0000:00:02.0", "00:02.0" or "02.0". Returns undefined when malformed. */
export function parseBdf(s: string): Bdf | undefined {
  const m = /^(?:(?:([0-9a-f]{1,4}):)?([0-9a-f]{1,2}):)?([0-9a-f]{1,2})\.([0-7])$/i.exec(s);
  if (!m) return undefined;
  const dev = parseInt(m[3]!, 16);
  if (dev > 31) return undefined;
  return { segment: parseInt(m[1] ?? '0', 16), bus: parseInt(m[2] ?? '0', 16), dev, fn: parseInt(m[4]!, 10) };
}

export interface PciFunctionInit {
  /** The model's short name ("vda", "nic0"), used by commands. */
  name: string;
  bdf: Bdf;
  vendorId: number;
  deviceId: number;
  classCode: number; // 24-bit: base class, subclass, prog-if
  revision?: number;
  subsystemVendorId?: number;
  subsystemId?: number;
  bars?: Omit<Bar, 'addr'>[];
  interruptPin?: number;
  /** A human description for `info pci` ("Virtio block device"). */
  description: string;
}

/**
 * One PCI function. Its 4 KiB config space is the source of truth for
 * IDs, command register, BARs and capabilities.
 */
export class PciFunction implements Stateful {
  readonly name: string;
  readonly bdf: Bdf;
  readonly description: string;
  config = new Uint8Array(4096);
  bars: Bar[];
  /** Where capabilities are appended next. */
  private capTail = 0;
  private capNext = 0x40;

  constructor(init: PciFunctionInit) {
    this.name = init.name;
    this.bdf = init.bdf;
    this.description = init.description;
    const c = this.cfg();
    c.setUint16(PCI_VENDOR_ID, init.vendorId, true);
    c.setUint16(PCI_DEVICE_ID, init.deviceId, true);
    c.setUint8(PCI_REVISION_ID, init.revision ?? 0);
    c.setUint8(PCI_CLASS_PROG, init.classCode & 0xff);
    c.setUint8(PCI_CLASS_PROG + 1, (init.classCode >> 8) & 0xff);
    c.setUint8(PCI_CLASS_PROG + 2, (init.classCode >> 16) & 0xff);
    c.setUint16(PCI_SUBSYSTEM_VENDOR_ID, init.subsystemVendorId ?? 0, true);
    c.setUint16(PCI_SUBSYSTEM_ID, init.subsystemId ?? 0, true);
    c.setUint8(PCI_INTERRUPT_PIN, init.interruptPin ?? 1);
    this.bars = (init.bars ?? []).map((b) => ({ ...b, addr: 0n }));
    for (const b of this.bars) this.writeBarRegister(b);
  }

  cfg(): DataView {
    return new DataView(this.config.buffer);
  }
  get vendorId(): number {
    return this.cfg().getUint16(PCI_VENDOR_ID, true);
  }
  get deviceId(): number {
    return this.cfg().getUint16(PCI_DEVICE_ID, true);
  }
  get classCode(): number {
    const c = this.config;
    return (c[PCI_CLASS_PROG + 2]! << 16) | (c[PCI_CLASS_PROG + 1]! << 8) | c[PCI_CLASS_PROG]!;
  }
  get command(): number {
    return this.cfg().getUint16(PCI_COMMAND, true);
  }
  get rid(): number {
    return requesterId(this.bdf);
  }
  /** Does the function exist now? Always, except an SR-IOV VF its PF has not enabled (machine/sriov.ts). */
  get present(): boolean {
    return true;
  }
  get busMaster(): boolean {
    return (this.command & PCI_COMMAND_MASTER) !== 0;
  }

  /** Firmware assigns a BAR's bus address. */
  assignBar(index: number, addr: u64): void {
    const b = this.bars.find((x) => x.index === index);
    if (!b) throw new Error(`${this.name} has no BAR${index}`);
    b.addr = addr;
    this.writeBarRegister(b);
  }

  private writeBarRegister(b: Bar): void {
    const c = this.cfg();
    const off = PCI_BASE_ADDRESS_0 + 4 * b.index;
    if (b.kind === 'io') {
      c.setUint32(off, Number(b.addr & 0xfffffffcn) | 1, true);
    } else {
      const type = b.kind === 'mem64' ? 0x4 : 0x0;
      const pref = b.prefetchable ? 0x8 : 0;
      c.setUint32(off, Number(b.addr & 0xfffffff0n) | type | pref, true);
      if (b.kind === 'mem64') c.setUint32(off + 4, Number(b.addr >> 32n), true);
    }
  }

  /**
   * Append a capability to the config-space list. `body` starts after the
   * two-byte {id, next} header. Returns the capability's offset.
   */
  addCapability(id: number, body: Uint8Array): number {
    const off = this.capNext;
    const len = 2 + body.length;
    this.config[off] = id;
    this.config[off + 1] = 0;
    this.config.set(body, off + 2);
    if (this.capTail === 0) this.config[PCI_CAPABILITY_LIST] = off;
    else this.config[this.capTail + 1] = off;
    this.capTail = off;
    this.capNext = (off + len + 3) & ~3;
    const st = this.cfg().getUint16(PCI_STATUS, true);
    this.cfg().setUint16(PCI_STATUS, st | PCI_STATUS_CAP_LIST, true);
    return off;
  }

  /** Walk the capability list from config space: [{id, offset}]. */
  capabilities(): { id: number; offset: number }[] {
    const out: { id: number; offset: number }[] = [];
    if (!(this.cfg().getUint16(PCI_STATUS, true) & PCI_STATUS_CAP_LIST)) return out;
    let p = this.config[PCI_CAPABILITY_LIST]! & ~3;
    for (let guard = 0; p !== 0 && guard < 48; guard++) {
      out.push({ id: this.config[p]!, offset: p });
      p = this.config[p + 1]! & ~3;
    }
    return out;
  }

  configRead(off: number, size: AccessSize): u64 {
    if (off + size > 4096) return (1n << BigInt(size * 8)) - 1n;
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.config[off + i]!);
    return v;
  }

  /** Config writes: the command register is writable; IDs and BARs are firmware's here. */
  configWrite(off: number, size: AccessSize, value: u64): void {
    for (let i = 0; i < size; i++) {
      const o = off + i;
      const byte = Number((value >> BigInt(8 * i)) & 0xffn);
      if (o === PCI_COMMAND) this.config[o] = byte & 0x07;
      else if (o === PCI_COMMAND + 1) this.config[o] = byte & 0x05;
      else if (o === PCI_INTERRUPT_LINE) this.config[o] = byte;
      else if (o >= 0x40) this.onCapabilityWrite(o, byte);
    }
  }

  /**
   * The register block behind BAR `index`, for device models to provide.
   * Undefined: nothing answers (a read returns all ones, as a master abort).
   */
  barHandler(_index: number): MmioHandler | undefined {
    return undefined;
  }

  /** Devices with writable capability fields (MSI-X control) override this. */
  protected onCapabilityWrite(off: number, byte: number): void {
    this.config[off] = byte;
  }

  saveState(): unknown {
    return { config: new Uint8Array(this.config), bars: clone(this.bars) };
  }
  restoreState(s: unknown): void {
    const st = s as { config: Uint8Array; bars: Bar[] };
    this.config.set(st.config);
    this.bars = clone(st.bars);
  }
}

export interface PciHostBridgeInit {
  name: string;
  segment: number;
  busStart: number;
  busEnd: number;
  /** ECAM window: 1 MiB of config space per bus (PCIe 7.2.2). */
  ecamBase: u64;
  windows: PciWindow[];
  /**
   * Inbound windows (device tree `dma-ranges`): the bus addresses the root
   * complex forwards upstream. Absent = every address outside the outbound
   * windows goes up. A request outside all of them is not forwarded: it
   * reaches neither the IOMMU nor memory (iProc's PAXB, seed 002).
   */
  dmaRanges?: { pciBase: u64; size: u64 }[];
}

/** A root complex: its ECAM config window, windows, and the functions below it. */
export class PciHostBridge {
  readonly name: string;
  readonly segment: number;
  readonly busStart: number;
  readonly busEnd: number;
  readonly ecamBase: u64;
  readonly windows: PciWindow[];
  readonly dmaRanges: { pciBase: u64; size: u64 }[] | undefined;
  readonly functions: PciFunction[] = [];

  constructor(init: PciHostBridgeInit) {
    Object.assign(this, init);
    this.name = init.name;
    this.segment = init.segment;
    this.busStart = init.busStart;
    this.busEnd = init.busEnd;
    this.ecamBase = init.ecamBase;
    this.windows = init.windows;
    this.dmaRanges = init.dmaRanges;
  }

  /** Does the root complex forward an upstream request for this bus address (dma-ranges)? */
  forwardsUpstream(addr: u64): boolean {
    return !this.dmaRanges || this.dmaRanges.some((r) => addr >= r.pciBase && addr - r.pciBase < r.size);
  }

  get ecamSize(): u64 {
    return BigInt(this.busEnd - this.busStart + 1) << 20n;
  }

  add(fn: PciFunction): PciFunction {
    this.functions.push(fn);
    this.functions.sort((a, b) => a.rid - b.rid);
    return fn;
  }

  find(bdf: Bdf): PciFunction | undefined {
    return this.functions.find(
      (f) => f.present && f.bdf.bus === bdf.bus && f.bdf.dev === bdf.dev && f.bdf.fn === bdf.fn && f.bdf.segment === bdf.segment,
    );
  }

  /** The window (if any) whose CPU range contains addr. */
  windowAt(addr: u64): PciWindow | undefined {
    return this.windows.find((w) => addr >= w.cpuBase && addr - w.cpuBase < w.size);
  }

  /** Translate a PCI bus address in a window back to the CPU address. */
  busToCpu(kind: 'io' | 'mem', busAddr: u64): u64 | undefined {
    for (const w of this.windows) {
      const isIo = w.kind === 'io';
      if (isIo !== (kind === 'io')) continue;
      if (busAddr >= w.pciBase && busAddr - w.pciBase < w.size) return w.cpuBase + (busAddr - w.pciBase);
    }
    return undefined;
  }

  /** MMIO handler for the ECAM window (PCIe enhanced configuration access). */
  ecamHandler(): MmioHandler {
    const locate = (offset: u64): [PciFunction | undefined, number] => {
      const bus = this.busStart + Number(offset >> 20n);
      const dev = Number((offset >> 15n) & 0x1fn);
      const fn = Number((offset >> 12n) & 0x7n);
      return [this.find({ segment: this.segment, bus, dev, fn }), Number(offset & 0xfffn)];
    };
    return {
      read: (offset, size) => {
        const [f, reg] = locate(offset);
        return f ? f.configRead(reg, size) : (1n << BigInt(size * 8)) - 1n;
      },
      write: (offset, size, value) => {
        const [f, reg] = locate(offset);
        f?.configWrite(reg, size, value);
      },
    };
  }

  /**
   * MMIO handler for a window: decode the bus address to a BAR of a
   * function below this bridge (memory or I/O decode must be enabled in its
   * command register). Unclaimed reads return all ones (master abort);
   * unclaimed writes are dropped.
   */
  windowHandler(w: PciWindow): MmioHandler {
    const claim = (offset: u64): [MmioHandler, u64] | undefined => {
      const busAddr = w.pciBase + offset;
      const io = w.kind === 'io';
      for (const f of this.functions) {
        if (!f.present || !(f.command & (io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY))) continue;
        for (const b of f.bars) {
          if ((b.kind === 'io') !== io || b.addr === 0n) continue;
          if (busAddr >= b.addr && busAddr - b.addr < b.size) {
            const h = f.barHandler(b.index);
            if (h) return [h, busAddr - b.addr];
          }
        }
      }
      return undefined;
    };
    return {
      read: (offset, size) => {
        const c = claim(offset);
        return c ? c[0].read(c[1], size) : (1n << BigInt(size * 8)) - 1n;
      },
      write: (offset, size, value) => {
        const c = claim(offset);
        c?.[0].write(c[1], size, value);
      },
    };
  }

  describeWindow(w: PciWindow): string {
    return `${w.kind} ${hex(w.cpuBase, 16)}-${hex(w.cpuBase + w.size - 1n, 16)}`;
  }
}
