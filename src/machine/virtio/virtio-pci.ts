/**
 * A virtio device on PCI (QEMU's virtio-pci proxy): the legacy I/O register
 * block, the modern vendor capabilities and memory BAR, MSI-X or INTx,
 * status/feature handling and virtio_error(). The ring work (pop, push,
 * should-notify) is in virtqueue.ts; device types (blk.ts) extend this
 * class with their config space and request handling.
 *
 * Sources: virtio spec 1.x 4.1 (PCI transport), 2.7 (split rings);
 * QEMU hw/virtio/virtio-pci.c (virtio_ioport_read/write, virtio_pci_common_*,
 * virtio_pci_device_plugged), hw/virtio/virtio.c (virtqueue_pop,
 * virtio_error, virtio_notify); REFERENCE.md 7.1-7.5.
 *
 * Transports, chosen at construction like QEMU's properties:
 *   disable-legacy=off, disable-modern=off  transitional: device ID 0x1001
 *       (blk), legacy BAR0 *and* modern capabilities (QEMU's default on a
 *       root bus or conventional PCI slot: disable-legacy=auto is off there)
 *   disable-modern=on   legacy only: BAR0, no capabilities, 32 feature bits
 *   disable-legacy=on   modern only: device ID 0x1040 + type, revision 1
 *   iommu_platform=on   offer VIRTIO_F_ACCESS_PLATFORM (bit 33); QEMU refuses
 *       it unless disable-legacy=on, since legacy cannot show bit 33
 *
 * The DMA path (`dmaMaster`) is set by the preset, and it is the crux of
 * the seeds: in QEMU a virtio-pci device WITHOUT iommu_platform=on reaches
 * guest memory directly (its DMA address space is plain system memory,
 * path 'bypass') even when a vIOMMU sits above it, so a driver that hands
 * it guest-physical addresses works and one that hands it IOVAs does not.
 * With iommu_platform=on QEMU routes its DMA through the vIOMMU
 * ('translated'). On the Arm fast model of seed 000 the legacy virtio-blk is
 * translated like any PCI master, which is why physical addresses fault.
 *
 * Interrupts: INTx (ISR bit 0 + an InterruptLog record) unless the driver
 * enables MSI-X; then a vector's message is a DMA write through the same
 * path, so it reaches an ITS doorbell through the SMMU when translated.
 *
 * Not modelled: the VIRTIO_PCI_CAP_PCI_CFG window (QEMU adds one; the other
 * capabilities sit at QEMU's offsets 0x40/0x50/0x60/0x70, MSI-X at 0x84
 * instead of 0x98), packed rings, page-per-vq, notification data, queue
 * reset, and QEMU's legacy bus-master workaround.
 */
import { type u64, hex } from '../u64.ts';
import type { AccessSize, MmioHandler } from '../memory.ts';
import { PciFunction, PCI_CAP_ID_MSIX, PCI_CAP_ID_VNDR, PCI_COMMAND, type Bar, type Bdf, formatBdf } from '../pci.ts';
import type { Machine } from '../machine.ts';
import type { DmaMaster } from '../dma.ts';
import type { DmaFault } from '../trace.ts';
import { clone } from '../state.ts';
import * as R from './virtio-pci-regs.ts';
import {
  VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTIO_CONFIG_S_NEEDS_RESET,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_F_ACCESS_PLATFORM,
  VIRTIO_F_ANY_LAYOUT,
  VIRTIO_F_BAD_FEATURE,
  VIRTIO_F_NOTIFY_ON_EMPTY,
  VIRTIO_F_RING_RESET,
  VIRTIO_F_VERSION_1,
  VIRTIO_LEGACY_FEATURES,
  VIRTIO_RING_F_EVENT_IDX,
  VIRTIO_RING_F_INDIRECT_DESC,
  featureBit,
  hasFeature,
} from './virtio-config.ts';
import { SplitRing, vringLayout } from './ring.ts';
import { type VirtQueueState, type VirtqElement, VIRTQUEUE_MAX_SIZE, ringFault, virtQueueInit, virtqueuePop, virtqueuePush, virtqueueShouldNotify } from './virtqueue.ts';
import { MsixTable, PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, PCI_MSIX_FLAGS_MASKALL } from './msix.ts';

/** QEMU VIRTIO_QUEUE_MAX: queues a device may have. */
export const VIRTIO_QUEUE_MAX = 1024;
/** PCI_COMMAND bit 10: INTx emulation disable. */
const PCI_COMMAND_INTX_DISABLE = 0x400;

export interface VirtioPciOptions {
  /** The model's short name ("vda"); also the DMA trace's device name by default. */
  name: string;
  bdf: Bdf;
  description: string;
  /** QEMU disable-legacy (default off here: a transitional device). */
  disableLegacy?: boolean;
  /** QEMU disable-modern (default off). */
  disableModern?: boolean;
  /** QEMU iommu_platform (default off): offer VIRTIO_F_ACCESS_PLATFORM. */
  iommuPlatform?: boolean;
  /** QEMU vectors: MSI-X table size; 0 = no MSI-X capability (INTx only). Default 2. */
  vectors?: number;
  /**
   * QEMU queue_reset: offer VIRTIO_F_RING_RESET (40) on the modern
   * interface. On by default from QEMU 7.2 machine types (hw_compat_7_1
   * turns it off for older ones); default false here, QEMU 7.2 presets
   * set it.
   */
  queueReset?: boolean;
  /**
   * The 2017 Arm fast model's virtio device, as seed 000's two events show
   * it: when its read of avail.idx faults it still reads avail.flags (the
   * word two bytes lower), then stops. Inferred from the thread's event
   * pair (InputAddr ...1002, then ...1000); the model's own code is not
   * public. QEMU's device stops at the first fault.
   */
  readsFlagsAfterIdxFault?: boolean;
  /** QEMU indirect_desc / event_idx (DEFINE_VIRTIO_COMMON_FEATURES; both default on). */
  indirectDesc?: boolean;
  eventIdx?: boolean;
  /** Offer QEMU's VIRTIO_F_BAD_FEATURE on the legacy interface (default true: the device model is QEMU's). */
  badFeature?: boolean;
}

/** What a device type supplies to the transport. */
export interface VirtioDeviceType {
  /** VIRTIO_ID_* */
  id: number;
  /** Legacy/transitional PCI device ID (0x1000..0x103f). */
  legacyDeviceId: number;
  /** PCI class code (24 bits). */
  classCode: number;
  /** Max size of each queue (the legacy queue size register). */
  queueSizes: number[];
}

/** QEMU's checks on the transport properties (virtio_pci_device_plugged). Undefined when fine. */
export function validateVirtioPciOptions(o: Pick<VirtioPciOptions, 'disableLegacy' | 'disableModern' | 'iommuPlatform' | 'vectors'>): string | undefined {
  if (o.disableLegacy && o.disableModern) return 'disable-legacy=on and disable-modern=on together leave the device with no interface';
  if (o.iommuPlatform && !o.disableLegacy) {
    return 'iommu_platform=on needs disable-legacy=on: VIRTIO_F_IOMMU_PLATFORM was supported by neither legacy nor transitional device (a legacy interface shows only feature bits 0-31)';
  }
  if (o.vectors !== undefined && (o.vectors < 0 || o.vectors > 2048)) return `vectors=${o.vectors} is out of range (0..2048)`;
  return undefined;
}

export type { VirtQueueState, VirtqElement };
export { VIRTQUEUE_MAX_SIZE };

export interface VirtioLastFault {
  queue: number;
  what: string;
  at: u64;
  fault: DmaFault;
}

export interface VirtioPciState {
  status: number;
  isr: number;
  /** Modern device/driver feature select registers. */
  dfselect: number;
  gfselect: number;
  /** Driver feature words as written through the modern window (applied at FEATURES_OK). */
  gf: [number, number];
  /** The negotiated (accepted) driver features. */
  guestFeatures: u64;
  queueSel: number;
  msixConfigVector: number;
  configGeneration: number;
  queues: VirtQueueState[];
  /** QEMU vdev->broken: set by virtio_error(); the device ignores the rings until reset. */
  broken: string | undefined;
  lastFault: VirtioLastFault | undefined;
  intxAsserted: boolean;
  /** The interface the driver used last, for the inspector. */
  lastInterface: 'legacy' | 'modern' | undefined;
}

interface Reg {
  off: number;
  size: number;
  read(): number | bigint;
  /** Read without side effects (ISR), for partial writes and peeking. */
  peek?(): number | bigint;
  write?(v: number): void;
}

/** Access `size` bytes at `off` of a register file, composing partial accesses byte by byte. */
function regRead(regs: Reg[], off: number, size: number, outside: (byteOff: number) => number): u64 {
  const exact = regs.find((r) => r.off === off && r.size === size);
  if (exact) return BigInt(exact.read());
  const cache = new Map<Reg, bigint>();
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) {
    const b = off + i;
    const r = regs.find((x) => b >= x.off && b < x.off + x.size);
    let byte: number;
    if (r) {
      if (!cache.has(r)) cache.set(r, BigInt(r.read()));
      byte = Number((cache.get(r)! >> BigInt(8 * (b - r.off))) & 0xffn);
    } else byte = outside(b);
    v = (v << 8n) | BigInt(byte);
  }
  return v;
}

function regWrite(regs: Reg[], off: number, size: number, value: u64, outside: (byteOff: number, byte: number) => void): void {
  const exact = regs.find((r) => r.off === off && r.size === size);
  if (exact) {
    exact.write?.(Number(value & ((1n << BigInt(8 * size)) - 1n)));
    return;
  }
  const touched = new Map<Reg, bigint>();
  for (let i = 0; i < size; i++) {
    const b = off + i;
    const byte = (value >> BigInt(8 * i)) & 0xffn;
    const r = regs.find((x) => b >= x.off && b < x.off + x.size);
    if (!r) {
      outside(b, Number(byte));
      continue;
    }
    const cur = touched.get(r) ?? BigInt((r.peek ?? r.read)());
    const sh = BigInt(8 * (b - r.off));
    touched.set(r, (cur & ~(0xffn << sh)) | (byte << sh));
  }
  for (const [r, v] of touched) r.write?.(Number(v));
}

const le32 = (v: number): Uint8Array => new Uint8Array([v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]);

export abstract class VirtioPciDevice extends PciFunction {
  /** One object for the device's whole life, so KDevice.master and machine.masters stay valid. */
  private readonly master: DmaMaster;
  readonly legacy: boolean;
  readonly modern: boolean;
  readonly iommuPlatform: boolean;
  readonly queueReset: boolean;
  readonly readsFlagsAfterIdxFault: boolean;
  readonly indirectDesc: boolean;
  readonly eventIdx: boolean;
  readonly badFeature: boolean;
  readonly vectors: number;
  readonly type: VirtioDeviceType;
  /** Config-space offsets of the capabilities this device added. */
  readonly caps: { common?: number; isr?: number; device?: number; notify?: number; msix?: number } = {};
  protected readonly machine: Machine;
  protected readonly msix: MsixTable | undefined;
  protected v: VirtioPciState;

  constructor(machine: Machine, opts: VirtioPciOptions, type: VirtioDeviceType) {
    const err = validateVirtioPciOptions(opts);
    if (err) throw new Error(`${opts.name}: ${err}`);
    const legacy = !opts.disableLegacy;
    const modern = !opts.disableModern;
    const vectors = opts.vectors ?? 2;
    const bars: Omit<Bar, 'addr'>[] = [];
    if (legacy) bars.push({ index: R.VIRTIO_PCI_LEGACY_BAR, kind: 'io', size: BigInt(R.VIRTIO_PCI_LEGACY_BAR_SIZE), prefetchable: false });
    if (vectors > 0) bars.push({ index: R.VIRTIO_PCI_MSIX_BAR, kind: 'mem32', size: BigInt(R.VIRTIO_PCI_MSIX_BAR_SIZE), prefetchable: false });
    if (modern) bars.push({ index: R.VIRTIO_PCI_MODERN_BAR, kind: 'mem64', size: BigInt(R.VIRTIO_PCI_MODERN_BAR_SIZE), prefetchable: true });
    super({
      name: opts.name,
      bdf: opts.bdf,
      vendorId: R.PCI_VENDOR_ID_REDHAT_QUMRANET,
      deviceId: legacy ? type.legacyDeviceId : R.PCI_DEVICE_ID_VIRTIO_10_BASE + type.id,
      revision: legacy ? R.VIRTIO_PCI_ABI_VERSION : 1,
      classCode: type.classCode,
      subsystemVendorId: R.PCI_SUBVENDOR_ID_REDHAT_QUMRANET,
      // Legacy and transitional devices say their virtio type in the subsystem ID.
      subsystemId: legacy ? type.id : R.PCI_SUBDEVICE_ID_QEMU,
      bars,
      interruptPin: 1,
      description: opts.description,
    });
    this.machine = machine;
    this.legacy = legacy;
    this.modern = modern;
    this.iommuPlatform = !!opts.iommuPlatform;
    this.queueReset = !!opts.queueReset;
    this.readsFlagsAfterIdxFault = !!opts.readsFlagsAfterIdxFault;
    this.indirectDesc = opts.indirectDesc ?? true;
    this.eventIdx = opts.eventIdx ?? true;
    this.badFeature = opts.badFeature ?? true;
    this.vectors = vectors;
    this.type = type;
    this.master = { name: opts.name, rid: this.rid, sid: this.rid, path: 'bypass' };
    machine.masters.set(opts.name, this.master);
    this.v = this.freshState();

    if (modern) {
      const cap = (cfgType: number, offset: number, length: number, extra?: Uint8Array): number => {
        const body = new Uint8Array(14 + (extra?.length ?? 0));
        const dv = new DataView(body.buffer);
        body[0] = 16 + (extra?.length ?? 0); // cap_len (includes the id/next bytes)
        body[1] = cfgType;
        body[2] = R.VIRTIO_PCI_MODERN_BAR;
        body[3] = 0; // id
        dv.setUint32(6, offset, true);
        dv.setUint32(10, length, true);
        if (extra) body.set(extra, 14);
        return this.addCapability(PCI_CAP_ID_VNDR, body);
      };
      this.caps.common = cap(R.VIRTIO_PCI_CAP_COMMON_CFG, R.VIRTIO_PCI_MODERN_COMMON_OFF, R.VIRTIO_PCI_MODERN_REGION_SIZE);
      this.caps.isr = cap(R.VIRTIO_PCI_CAP_ISR_CFG, R.VIRTIO_PCI_MODERN_ISR_OFF, R.VIRTIO_PCI_MODERN_REGION_SIZE);
      this.caps.device = cap(R.VIRTIO_PCI_CAP_DEVICE_CFG, R.VIRTIO_PCI_MODERN_DEVICE_OFF, R.VIRTIO_PCI_MODERN_REGION_SIZE);
      this.caps.notify = cap(R.VIRTIO_PCI_CAP_NOTIFY_CFG, R.VIRTIO_PCI_MODERN_NOTIFY_OFF, R.VIRTIO_PCI_MODERN_REGION_SIZE, le32(R.VIRTIO_PCI_NOTIFY_OFF_MULTIPLIER));
    }
    if (vectors > 0) {
      const pba = R.VIRTIO_PCI_MSIX_BAR_SIZE / 2;
      this.caps.msix = this.addCapability(PCI_CAP_ID_MSIX, MsixTable.capabilityBody(vectors, R.VIRTIO_PCI_MSIX_BAR, 0, pba));
      this.msix = new MsixTable(vectors, pba, () => this.msixControl(), (vec, addr, data) => this.sendMsi(vec, addr, data));
    } else this.msix = undefined;
  }

  private freshState(): VirtioPciState {
    return {
      status: 0,
      isr: 0,
      dfselect: 0,
      gfselect: 0,
      gf: [0, 0],
      guestFeatures: 0n,
      queueSel: 0,
      msixConfigVector: R.VIRTIO_MSI_NO_VECTOR,
      configGeneration: 0,
      queues: this.type.queueSizes.map((n) => virtQueueInit(n, R.VIRTIO_PCI_VRING_ALIGN)),
      broken: undefined,
      lastFault: undefined,
      intxAsserted: false,
      lastInterface: undefined,
    };
  }

  /**
   * What this device's DMA goes through. Default: bypass, StreamID = RID.
   * The preset assigns it (path, sid, iommu, rootComplex); assignment
   * updates the one DmaMaster object in place, so references held by
   * KDevice.master and machine.masters see the change.
   */
  get dmaMaster(): DmaMaster {
    return this.master;
  }
  set dmaMaster(m: DmaMaster) {
    const t = this.master as { -readonly [K in keyof DmaMaster]?: DmaMaster[K] };
    delete t.iommu;
    delete t.rootComplex;
    delete t.rid;
    Object.assign(t, m);
  }

  // ---- what device types provide --------------------------------------------------

  /** Device-specific feature bits offered (bits 0..23, plus any legacy-only ones). */
  protected abstract deviceFeatures(): u64;
  /** Size of the device-specific config structure in bytes. */
  protected abstract deviceConfigSize(): number;
  /** One byte of device config (little-endian fields). */
  protected abstract deviceConfigRead(off: number): number;
  protected abstract deviceConfigWrite(off: number, byte: number): void;
  /** Handle a notification of queue q: pop chains, complete them, interrupt. */
  protected abstract handleQueue(q: number, ring: SplitRing): void;
  /** Device-type state for save/restore. */
  protected abstract saveDeviceState(): unknown;
  protected abstract restoreDeviceState(s: unknown): void;
  /** Device-type reset (status 0). */
  protected resetDevice(): void {}

  // ---- features ------------------------------------------------------------------------

  /**
   * Everything offered (QEMU vdev->host_features): the common transport
   * features + the device's + VERSION_1 / ACCESS_PLATFORM, and
   * VIRTIO_F_BAD_FEATURE (30), which QEMU's virtio_pci_pre_plugged adds to
   * every virtio-pci device ("A guest should never accept this").
   */
  hostFeatures(): u64 {
    let f = this.deviceFeatures();
    // QEMU DEFINE_VIRTIO_COMMON_FEATURES: indirect_desc, event_idx, notify_on_empty, any_layout all on.
    f |= featureBit(VIRTIO_F_NOTIFY_ON_EMPTY) | featureBit(VIRTIO_F_ANY_LAYOUT);
    if (this.indirectDesc) f |= featureBit(VIRTIO_RING_F_INDIRECT_DESC);
    if (this.eventIdx) f |= featureBit(VIRTIO_RING_F_EVENT_IDX);
    if (this.badFeature) f |= featureBit(VIRTIO_F_BAD_FEATURE);
    if (this.modern) f |= featureBit(VIRTIO_F_VERSION_1);
    if (this.iommuPlatform) f |= featureBit(VIRTIO_F_ACCESS_PLATFORM);
    if (this.modern && this.queueReset) f |= featureBit(VIRTIO_F_RING_RESET);
    return this.adjustFeatures(f);
  }

  /**
   * What the modern interface's device_feature window shows: QEMU's
   * virtio_pci_common_read hides vdc->legacy_features, which include
   * VIRTIO_LEGACY_FEATURES (BAD_FEATURE, NOTIFY_ON_EMPTY, ANY_LAYOUT). The
   * legacy HOST_FEATURES register shows bits 0-31 of everything.
   */
  modernHostFeatures(): u64 {
    return this.hostFeatures() & ~VIRTIO_LEGACY_FEATURES;
  }

  /** What the interface the driver uses (else the modern one, if any) offers: the bits a driver can read. */
  offeredFeatures(): u64 {
    const legacy = this.v.lastInterface === 'legacy' || (this.v.lastInterface === undefined && !this.modern);
    return legacy ? this.hostFeatures() & 0xffff_ffffn : this.modernHostFeatures();
  }

  /** Last say of the device type over the offered set (QEMU's get_features may clear transport bits). */
  protected adjustFeatures(f: u64): u64 {
    return f;
  }

  get guestFeatures(): u64 {
    return this.v.guestFeatures;
  }
  get status(): number {
    return this.v.status;
  }
  get isr(): number {
    return this.v.isr;
  }
  get broken(): string | undefined {
    return this.v.broken;
  }
  get lastFault(): VirtioLastFault | undefined {
    return this.v.lastFault;
  }
  /** A copy of queue q's state, for inspectors. */
  queueState(q: number): VirtQueueState | undefined {
    const s = this.v.queues[q];
    return s ? { ...s } : undefined;
  }
  get numQueues(): number {
    return this.v.queues.length;
  }
  get queueSel(): number {
    return this.v.queueSel;
  }
  get lastInterface(): 'legacy' | 'modern' | undefined {
    return this.v.lastInterface;
  }
  get intxAsserted(): boolean {
    return this.v.intxAsserted;
  }

  /** QEMU virtio_set_features: accept only offered bits. Returns false when the driver asked for more. */
  private setFeatures(f: u64): boolean {
    const host = this.hostFeatures();
    this.v.guestFeatures = f & host;
    return (f & ~host) === 0n;
  }

  // ---- status, reset, errors -------------------------------------------------------------

  private setStatus(val: number): void {
    if (val === 0) {
      this.reset();
      return;
    }
    if (this.v.lastInterface === 'modern' && val & VIRTIO_CONFIG_S_FEATURES_OK && !(this.v.status & VIRTIO_CONFIG_S_FEATURES_OK)) {
      // Modern drivers write feature words first and commit them with FEATURES_OK.
      const f = BigInt(this.v.gf[0] >>> 0) | (BigInt(this.v.gf[1] >>> 0) << 32n);
      if (!this.setFeatures(f)) val &= ~VIRTIO_CONFIG_S_FEATURES_OK;
    }
    this.v.status = val & 0xff;
  }

  /** Device reset (status 0, or legacy QUEUE_PFN 0): QEMU virtio_reset. */
  reset(): void {
    const gen = this.v.configGeneration;
    this.v = this.freshState();
    this.v.configGeneration = gen;
    this.resetDevice();
  }

  /**
   * QEMU virtio_error(): the device saw something it cannot go on from (a
   * DMA fault, a descriptor loop). It marks itself broken and ignores the
   * rings until reset; a VERSION_1 device also sets DEVICE_NEEDS_RESET and
   * raises a config interrupt.
   */
  protected virtioError(q: number, reason: string, fault?: { what: string; at: u64; fault: DmaFault }): void {
    this.v.broken = reason;
    if (fault) this.v.lastFault = { queue: q, ...fault };
    if (hasFeature(this.v.guestFeatures, VIRTIO_F_VERSION_1)) {
      this.v.status |= VIRTIO_CONFIG_S_NEEDS_RESET;
      this.notifyConfig();
    }
  }

  // ---- interrupts ---------------------------------------------------------------------------

  private msixControl(): { enabled: boolean; functionMasked: boolean } {
    if (this.caps.msix === undefined) return { enabled: false, functionMasked: false };
    const ctl = this.cfg().getUint16(this.caps.msix + PCI_MSIX_FLAGS, true);
    return { enabled: (ctl & PCI_MSIX_FLAGS_ENABLE) !== 0, functionMasked: (ctl & PCI_MSIX_FLAGS_MASKALL) !== 0 };
  }

  /** The device signals MSI-X vector v (what it does when a queue completes): 'sent', 'pending' (masked), or why not. */
  signalMsix(v: number): 'sent' | 'pending' | 'disabled' | 'no-such-vector' | 'no-msix' {
    if (!this.msix) return 'no-msix';
    return this.msix.notify(v);
  }

  /** The MSI-X table entry of vector v as the device holds it. */
  msixEntry(v: number): { addr: u64; data: number; masked: boolean } | undefined {
    const e = this.msix?.entry(v);
    return e ? { addr: this.msix!.address(v), data: e.data >>> 0, masked: (e.ctrl & 1) !== 0 } : undefined;
  }

  get msixVectors(): number {
    return this.msix?.vectors ?? 0;
  }

  get msixEnabled(): boolean {
    return this.msixControl().enabled;
  }

  /** An MSI is a DMA write of the 32-bit message data to the message address. */
  private sendMsi(vector: number, addr: u64, data: number): void {
    if (!this.busMaster) return; // an MSI is a memory write: no bus mastering, no message
    // QEMU sends MSI-X through the function's bus-master address space, which
    // is the IOMMU's whatever the virtio device uses for its rings
    // (hw/pci/pci.c pci_msi_trigger; hw/virtio/virtio-pci.c picks dma_as for
    // the rings only): a "bypass" device's MSI is still translated.
    const m = this.dmaMaster.path === 'bypass' && this.dmaMaster.iommu ? { ...this.dmaMaster, path: 'translated' as const } : this.dmaMaster;
    this.machine.dmaWrite(m, addr, le32(data), `msix vector ${vector}`);
  }

  private raise(vector: number, why: string): void {
    if (this.msixEnabled) {
      if (vector !== R.VIRTIO_MSI_NO_VECTOR) this.msix!.notify(vector);
      return;
    }
    if (this.command & PCI_COMMAND_INTX_DISABLE) return;
    this.v.intxAsserted = true;
    this.machine.interrupts.raise({
      controller: 'intx',
      source: `${formatBdf(this.bdf)} INTA`,
      addr: 0n,
      data: 1n,
      detail: `${this.name}: ${why} (ISR=${hex(this.v.isr)})`,
    });
  }

  /** A queue has used buffers: ISR bit 0, then MSI-X or INTx (QEMU virtio_notify). */
  protected notifyQueue(q: number): void {
    this.v.isr |= R.VIRTIO_PCI_ISR_QUEUE;
    this.raise(this.v.queues[q]!.msixVector, `queue ${q} used buffers`);
  }

  /** QEMU virtio_notify_config: only once DRIVER_OK; sets ISR 0x3, bumps the generation. */
  protected notifyConfig(): void {
    if (!(this.v.status & VIRTIO_CONFIG_S_DRIVER_OK)) return;
    this.v.isr |= R.VIRTIO_PCI_ISR_QUEUE | R.VIRTIO_PCI_ISR_CONFIG;
    this.v.configGeneration = (this.v.configGeneration + 1) & 0xff;
    this.raise(this.v.msixConfigVector, 'configuration changed');
  }

  private readIsr(): number {
    const v = this.v.isr;
    this.v.isr = 0;
    this.v.intxAsserted = false;
    return v;
  }

  // ---- queues: notify, pop, push ------------------------------------------------------------

  /** The driver notified queue q (a write to QUEUE_NOTIFY or the notify region). */
  notify(q: number): void {
    const vq = this.v.queues[q];
    if (!vq) return;
    vq.notifies++;
    if (!vq.enabled || this.v.broken !== undefined) return;
    if (!this.busMaster) {
      this.virtioError(q, 'bus mastering is disabled (PCI_COMMAND_MASTER clear): the device cannot read the ring');
      return;
    }
    this.handleQueue(q, new SplitRing(this.machine, this.dmaMaster, { num: vq.num, desc: vq.desc, avail: vq.avail, used: vq.used }));
  }

  /** Take the next available chain; an error stops the device (virtio_error) and returns 'stop'. */
  protected pop(q: number, ring: SplitRing): { kind: 'elem'; elem: VirtqElement } | { kind: 'empty' } | { kind: 'stop' } {
    const r = virtqueuePop(this.v.queues[q]!, ring, this.v.guestFeatures);
    if (r.kind !== 'error') return r;
    // The fast model's second read (readsFlagsAfterIdxFault): it faults too, and is recorded where the IOMMU records it.
    if (this.readsFlagsAfterIdxFault && r.error.fault?.what === 'avail.idx') ring.availFlags();
    this.virtioError(q, r.error.reason, r.error.fault);
    return { kind: 'stop' };
  }

  /** Return a chain to the driver; false (device stopped) on a fault. */
  protected push(q: number, ring: SplitRing, elem: VirtqElement, len: number): boolean {
    const e = virtqueuePush(this.v.queues[q]!, ring, elem, len);
    if (e) this.virtioError(q, e.reason, e.fault);
    return !e;
  }

  /** After completing buffers: interrupt unless the driver suppressed it (QEMU virtio_notify). */
  protected notifyUsed(q: number, ring: SplitRing): void {
    const r = virtqueueShouldNotify(this.v.queues[q]!, ring, this.v.guestFeatures);
    if ('error' in r) return this.virtioError(q, r.error.reason, r.error.fault);
    if (r.notify) this.notifyQueue(q);
  }

  /** Record a data-buffer DMA fault and stop the device. */
  protected dataFault(q: number, r: { ok: false; fault: DmaFault; at: u64; what: string }): void {
    const e = ringFault('on', r);
    this.virtioError(q, e.reason, e.fault);
  }

  // ---- the register blocks -------------------------------------------------------------

  private sel(): VirtQueueState | undefined {
    return this.v.queues[this.v.queueSel];
  }

  /** Legacy BAR0 (REFERENCE 7.3): 32-bit features, PFN, sizes, ISR; config at 20 or 24. */
  private legacyRegs(): Reg[] {
    const regs: Reg[] = [
      { off: R.VIRTIO_PCI_HOST_FEATURES, size: 4, read: () => Number(this.hostFeatures() & 0xffff_ffffn) },
      {
        off: R.VIRTIO_PCI_GUEST_FEATURES,
        size: 4,
        read: () => Number(this.v.guestFeatures & 0xffff_ffffn),
        write: (v) => {
          this.setFeatures(BigInt(v >>> 0));
        },
      },
      {
        off: R.VIRTIO_PCI_QUEUE_PFN,
        size: 4,
        read: () => this.sel()?.pfn ?? 0,
        write: (v) => {
          // QEMU: a PFN of 0 resets the whole device.
          if (v === 0) return this.reset();
          const vq = this.sel();
          if (!vq) return;
          const lay = vringLayout(BigInt(v >>> 0) << BigInt(R.VIRTIO_PCI_QUEUE_ADDR_SHIFT), vq.numMax, R.VIRTIO_PCI_VRING_ALIGN);
          Object.assign(vq, { pfn: v >>> 0, num: vq.numMax, desc: lay.desc, avail: lay.avail, used: lay.used, enabled: true });
        },
      },
      { off: R.VIRTIO_PCI_QUEUE_NUM, size: 2, read: () => this.sel()?.numMax ?? 0 },
      {
        off: R.VIRTIO_PCI_QUEUE_SEL,
        size: 2,
        read: () => this.v.queueSel,
        write: (v) => {
          if (v < VIRTIO_QUEUE_MAX) this.v.queueSel = v;
        },
      },
      { off: R.VIRTIO_PCI_QUEUE_NOTIFY, size: 2, read: () => 0, write: (v) => this.notify(v) },
      { off: R.VIRTIO_PCI_STATUS, size: 1, read: () => this.v.status, write: (v) => this.setStatus(v) },
      { off: R.VIRTIO_PCI_ISR, size: 1, read: () => this.readIsr(), peek: () => this.v.isr },
    ];
    if (this.msixEnabled) {
      regs.push(
        { off: R.VIRTIO_MSI_CONFIG_VECTOR, size: 2, read: () => this.v.msixConfigVector, write: (v) => (this.v.msixConfigVector = this.checkVector(v)) },
        {
          off: R.VIRTIO_MSI_QUEUE_VECTOR,
          size: 2,
          read: () => this.sel()?.msixVector ?? R.VIRTIO_MSI_NO_VECTOR,
          write: (v) => {
            const vq = this.sel();
            if (vq) vq.msixVector = this.checkVector(v);
          },
        },
      );
    }
    return regs;
  }

  /** A vector the table does not have reads back as NO_VECTOR (the driver checks). */
  private checkVector(v: number): number {
    return v < this.vectors ? v : R.VIRTIO_MSI_NO_VECTOR;
  }

  private legacyHandler(): MmioHandler {
    return {
      read: (offset, size) => {
        this.v.lastInterface = 'legacy';
        const cfg = R.VIRTIO_PCI_CONFIG_OFF(this.msixEnabled);
        return regRead(this.legacyRegs(), Number(offset), size, (b) => (b >= cfg && b - cfg < this.deviceConfigSize() ? this.deviceConfigRead(b - cfg) : 0));
      },
      write: (offset, size, value) => {
        this.v.lastInterface = 'legacy';
        const cfg = R.VIRTIO_PCI_CONFIG_OFF(this.msixEnabled);
        regWrite(this.legacyRegs(), Number(offset), size, value, (b, byte) => {
          if (b >= cfg && b - cfg < this.deviceConfigSize()) this.deviceConfigWrite(b - cfg, byte);
        });
      },
    };
  }

  /** struct virtio_pci_common_cfg (REFERENCE 7.4). */
  private commonRegs(): Reg[] {
    const qreg = (off: number, size: number, get: (q: VirtQueueState) => number | bigint, set?: (q: VirtQueueState, v: number) => void): Reg => ({
      off,
      size,
      read: () => {
        const q = this.sel();
        return q ? get(q) : 0;
      },
      write: set
        ? (v) => {
            const q = this.sel();
            if (q) set(q, v);
          }
        : undefined,
    });
    const lo = (a: u64): number => Number(a & 0xffff_ffffn);
    const hi = (a: u64): number => Number(a >> 32n);
    const setLo = (a: u64, v: number): u64 => (a & 0xffff_ffff_0000_0000n) | BigInt(v >>> 0);
    const setHi = (a: u64, v: number): u64 => (a & 0xffff_ffffn) | (BigInt(v >>> 0) << 32n);
    return [
      { off: R.VIRTIO_PCI_COMMON_DFSELECT, size: 4, read: () => this.v.dfselect, write: (v) => (this.v.dfselect = v >>> 0) },
      {
        off: R.VIRTIO_PCI_COMMON_DF,
        size: 4,
        read: () => (this.v.dfselect < 2 ? Number((this.modernHostFeatures() >> BigInt(32 * this.v.dfselect)) & 0xffff_ffffn) : 0),
      },
      { off: R.VIRTIO_PCI_COMMON_GFSELECT, size: 4, read: () => this.v.gfselect, write: (v) => (this.v.gfselect = v >>> 0) },
      {
        off: R.VIRTIO_PCI_COMMON_GF,
        size: 4,
        read: () => (this.v.gfselect < 2 ? this.v.gf[this.v.gfselect]! : 0),
        write: (v) => {
          if (this.v.gfselect < 2) this.v.gf[this.v.gfselect] = v >>> 0;
        },
      },
      { off: R.VIRTIO_PCI_COMMON_MSIX, size: 2, read: () => this.v.msixConfigVector, write: (v) => (this.v.msixConfigVector = this.checkVector(v)) },
      { off: R.VIRTIO_PCI_COMMON_NUMQ, size: 2, read: () => this.v.queues.length },
      { off: R.VIRTIO_PCI_COMMON_STATUS, size: 1, read: () => this.v.status, write: (v) => this.setStatus(v) },
      { off: R.VIRTIO_PCI_COMMON_CFGGENERATION, size: 1, read: () => this.v.configGeneration },
      {
        off: R.VIRTIO_PCI_COMMON_Q_SELECT,
        size: 2,
        read: () => this.v.queueSel,
        write: (v) => {
          if (v < VIRTIO_QUEUE_MAX) this.v.queueSel = v;
        },
      },
      qreg(R.VIRTIO_PCI_COMMON_Q_SIZE, 2, (q) => q.num, (q, v) => {
        if (v > 0 && v <= q.numMax && (v & (v - 1)) === 0) q.num = v;
      }),
      qreg(R.VIRTIO_PCI_COMMON_Q_MSIX, 2, (q) => q.msixVector, (q, v) => (q.msixVector = this.checkVector(v))),
      qreg(R.VIRTIO_PCI_COMMON_Q_ENABLE, 2, (q) => (q.enabled ? 1 : 0), (q, v) => {
        if (v === 1) q.enabled = true;
      }),
      qreg(R.VIRTIO_PCI_COMMON_Q_NOFF, 2, () => this.v.queueSel),
      qreg(R.VIRTIO_PCI_COMMON_Q_DESCLO, 4, (q) => lo(q.desc), (q, v) => (q.desc = setLo(q.desc, v))),
      qreg(R.VIRTIO_PCI_COMMON_Q_DESCHI, 4, (q) => hi(q.desc), (q, v) => (q.desc = setHi(q.desc, v))),
      qreg(R.VIRTIO_PCI_COMMON_Q_AVAILLO, 4, (q) => lo(q.avail), (q, v) => (q.avail = setLo(q.avail, v))),
      qreg(R.VIRTIO_PCI_COMMON_Q_AVAILHI, 4, (q) => hi(q.avail), (q, v) => (q.avail = setHi(q.avail, v))),
      qreg(R.VIRTIO_PCI_COMMON_Q_USEDLO, 4, (q) => lo(q.used), (q, v) => (q.used = setLo(q.used, v))),
      qreg(R.VIRTIO_PCI_COMMON_Q_USEDHI, 4, (q) => hi(q.used), (q, v) => (q.used = setHi(q.used, v))),
      qreg(R.VIRTIO_PCI_COMMON_Q_NDATA, 2, () => this.v.queueSel),
    ];
  }

  private modernHandler(): MmioHandler {
    return {
      read: (offset, size) => {
        this.v.lastInterface = 'modern';
        const o = Number(offset);
        if (o < R.VIRTIO_PCI_MODERN_ISR_OFF) return regRead(this.commonRegs(), o, size, () => 0);
        if (o < R.VIRTIO_PCI_MODERN_DEVICE_OFF) return o === R.VIRTIO_PCI_MODERN_ISR_OFF ? BigInt(this.readIsr()) : 0n;
        if (o < R.VIRTIO_PCI_MODERN_NOTIFY_OFF) {
          const d = o - R.VIRTIO_PCI_MODERN_DEVICE_OFF;
          let v = 0n;
          for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(d + i < this.deviceConfigSize() ? this.deviceConfigRead(d + i) : 0);
          return v;
        }
        return 0n;
      },
      write: (offset, size, value) => {
        this.v.lastInterface = 'modern';
        const o = Number(offset);
        if (o < R.VIRTIO_PCI_MODERN_ISR_OFF) return regWrite(this.commonRegs(), o, size, value, () => {});
        if (o < R.VIRTIO_PCI_MODERN_DEVICE_OFF) return; // ISR is read-only
        if (o < R.VIRTIO_PCI_MODERN_NOTIFY_OFF) {
          const d = o - R.VIRTIO_PCI_MODERN_DEVICE_OFF;
          for (let i = 0; i < size; i++) if (d + i < this.deviceConfigSize()) this.deviceConfigWrite(d + i, Number((value >> BigInt(8 * i)) & 0xffn));
          return;
        }
        // QEMU virtio_pci_notify_write: the queue is the offset / notify_off_multiplier.
        this.notify(Math.floor((o - R.VIRTIO_PCI_MODERN_NOTIFY_OFF) / R.VIRTIO_PCI_NOTIFY_OFF_MULTIPLIER));
      },
    };
  }

  override barHandler(index: number): MmioHandler | undefined {
    if (index === R.VIRTIO_PCI_LEGACY_BAR && this.legacy) return this.legacyHandler();
    if (index === R.VIRTIO_PCI_MSIX_BAR && this.msix) return this.msix.handler();
    if (index === R.VIRTIO_PCI_MODERN_BAR && this.modern) return this.modernHandler();
    return undefined;
  }

  /** Only MSI-X Enable and Function Mask are writable in our capabilities. */
  protected override onCapabilityWrite(off: number, byte: number): void {
    if (this.caps.msix !== undefined && off === this.caps.msix + PCI_MSIX_FLAGS + 1) {
      this.config[off] = (this.config[off]! & 0x3f) | (byte & 0xc0);
      this.msix?.flushPending();
    }
  }

  override configWrite(off: number, size: AccessSize, value: u64): void {
    super.configWrite(off, size, value);
    if (off <= PCI_COMMAND + 1 && off + size > PCI_COMMAND) this.msix?.flushPending();
  }

  // ---- state ----------------------------------------------------------------------------

  override saveState(): unknown {
    return { pci: super.saveState(), v: clone(this.v), msix: this.msix?.saveState(), dev: this.saveDeviceState() };
  }
  override restoreState(s: unknown): void {
    const st = s as { pci: unknown; v: VirtioPciState; msix?: ReturnType<MsixTable['saveState']>; dev: unknown };
    super.restoreState(st.pci);
    this.v = clone(st.v);
    if (this.msix && st.msix) this.msix.restoreState(st.msix);
    this.restoreDeviceState(st.dev);
  }
}
