/**
 * The virtio-pci driver: linux drivers/virtio/virtio_pci_common.c
 * (virtio_pci_probe), virtio_pci_modern.c / virtio_pci_modern_dev.c
 * (vp_modern_probe, setup_vq, vp_finalize_features), virtio_pci_legacy.c /
 * virtio_pci_legacy_dev.c (vp_legacy_probe, setup_vq), and the status
 * handshake of drivers/virtio/virtio.c (register_virtio_device,
 * virtio_dev_probe, virtio_features_ok, virtio_device_ready).
 *
 * Every register access is a CPU load or store on machine.memory at the
 * CPU address of the BAR: the host bridge's window maps the BAR's bus
 * address (an I/O port for legacy BAR0, a memory address for the modern
 * BAR) to a CPU physical address, and the window's handler hands the access
 * to the device. Config space is read through ECAM, as Linux's
 * pci-host-ecam-generic does.
 *
 * Probe order (virtio_pci_probe): pci_enable_device, then the modern probe
 * (which gives up with "virtio_pci: leaving for legacy driver" when the
 * function has no common-config capability), else the legacy probe; then
 * pci_set_master. A transitional device is driven through its modern
 * interface: Linux has preferred modern since v4.0 or so.
 *
 * Interrupts: vp_find_vqs asks for MSI-X first, one vector for config
 * changes and one per queue (vp_find_vqs_msix, VP_VQ_VECTOR_POLICY_EACH),
 * before the rings are created; it writes each vector number to the device
 * and reads it back. Without an MSI domain (env.msix absent or failing) it
 * falls back to INTx (vp_find_vqs_intx: vp_interrupt reads the ISR). The
 * MSI plumbing (ITS or IRTEs, the iommu-dma doorbell) is kernel/pci-msi.ts.
 */
import { type u64, hex, dmaBitMask } from '../../machine/u64.ts';
import { PCI_CAPABILITY_LIST, PCI_CAP_ID_VNDR, PCI_COMMAND, PCI_COMMAND_IO, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, PCI_DEVICE_ID, PCI_REVISION_ID, PCI_STATUS, PCI_STATUS_CAP_LIST, PCI_SUBSYSTEM_ID, PCI_SUBSYSTEM_VENDOR_ID, PCI_VENDOR_ID, type PciFunction, type PciHostBridge } from '../../machine/pci.ts';
import type { AccessSize } from '../../machine/memory.ts';
import type { KDevice } from '../types.ts';
import * as R from '../../machine/virtio/virtio-pci-regs.ts';
import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTIO_F_ACCESS_PLATFORM,
  VIRTIO_F_NOTIFICATION_DATA,
  VIRTIO_F_ORDER_PLATFORM,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_RING_RESET,
  VIRTIO_F_VERSION_1,
  VIRTIO_RING_F_EVENT_IDX,
  VIRTIO_RING_F_INDIRECT_DESC,
  VIRTIO_TRANSPORT_F_START,
  featureBit,
  hasFeature,
} from '../../machine/virtio/virtio-config.ts';
import { vringCreateVirtqueue, type VringState } from './virtio-ring.ts';
import type { VirtioEnv } from './env.ts';

/** Where the driver found the device's registers (CPU physical addresses). */
export interface VirtioPciTransport {
  mode: 'legacy' | 'modern';
  /** Legacy: BAR0 through the host bridge's I/O window. */
  ioaddr?: u64;
  /** Modern: the four structures the capabilities point at. */
  common?: u64;
  isr?: u64;
  device?: u64;
  notifyBase?: u64;
  notifyOffMultiplier?: number;
  /** Notify address per queue index (modern: base + queue_notify_off * multiplier). */
  notifyAddr: Record<number, u64>;
  msixEnabled: boolean;
}

/** struct virtio_device (plus virtio_pci_device), as plain data. */
export interface VirtioDevice {
  /** dev_name: "virtio0". */
  name: string;
  index: number;
  /** The PCI function's dev_name: "0000:00:01.0". */
  pciName: string;
  id: { device: number; vendor: number };
  /** What the device offered (get_features). */
  deviceFeatures: u64;
  /** What was negotiated (vdev->features). */
  features: u64;
  transport: VirtioPciTransport;
}

export type VirtioResult<T> = { ok: true; value: T } | { ok: false; error: string };

// ---- CPU access helpers ---------------------------------------------------------

function hostOf(env: VirtioEnv, pci: PciFunction): PciHostBridge {
  const h = env.machine.hostOf(pci);
  if (!h) throw new Error(`${pci.name} is not below any PCI host bridge`);
  return h;
}

/** ECAM address of config register `reg` (PCIe 7.2.2: bus << 20 | dev << 15 | fn << 12). */
export function ecamAddr(host: PciHostBridge, pci: PciFunction, reg: number): u64 {
  const b = pci.bdf;
  return host.ecamBase + (BigInt(b.bus - host.busStart) << 20n) + (BigInt(b.dev) << 15n) + (BigInt(b.fn) << 12n) + BigInt(reg);
}

const cfgRead = (env: VirtioEnv, pci: PciFunction, reg: number, size: AccessSize): number => Number(env.machine.memory.readU(ecamAddr(hostOf(env, pci), pci, reg), size));
const cfgWrite = (env: VirtioEnv, pci: PciFunction, reg: number, size: AccessSize, v: number): void => env.machine.memory.writeU(ecamAddr(hostOf(env, pci), pci, reg), size, BigInt(v));

/** pci_resource_start: the CPU address of a BAR, via the host bridge window. */
export function barCpuAddr(env: VirtioEnv, pci: PciFunction, index: number): u64 | undefined {
  const bar = pci.bars.find((b) => b.index === index);
  if (!bar || bar.addr === 0n) return undefined;
  return hostOf(env, pci).busToCpu(bar.kind === 'io' ? 'io' : 'mem', bar.addr);
}

const rd = (env: VirtioEnv, a: u64, size: AccessSize): number => Number(env.machine.memory.readU(a, size));
const wr = (env: VirtioEnv, a: u64, size: AccessSize, v: number | u64): void => env.machine.memory.writeU(a, size, BigInt(v));

// ---- probe ------------------------------------------------------------------------

/** virtio_pci_find_capability: the first vendor capability of cfg_type whose BAR is assigned. */
function findCapability(env: VirtioEnv, pci: PciFunction, cfgType: number): { off: number; bar: number; offset: number; length: number } | undefined {
  if (!(cfgRead(env, pci, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST)) return undefined;
  let pos = cfgRead(env, pci, PCI_CAPABILITY_LIST, 1) & ~3;
  for (let guard = 0; pos && guard < 48; guard++) {
    if (cfgRead(env, pci, pos, 1) === PCI_CAP_ID_VNDR) {
      const type = cfgRead(env, pci, pos + R.VIRTIO_PCI_CAP_CFG_TYPE, 1);
      const bar = cfgRead(env, pci, pos + R.VIRTIO_PCI_CAP_BAR, 1);
      if (type === cfgType && bar < 6 && barCpuAddr(env, pci, bar) !== undefined) {
        return { off: pos, bar, offset: cfgRead(env, pci, pos + R.VIRTIO_PCI_CAP_OFFSET, 4) >>> 0, length: cfgRead(env, pci, pos + R.VIRTIO_PCI_CAP_LENGTH, 4) >>> 0 };
      }
    }
    pos = cfgRead(env, pci, pos + 1, 1) & ~3;
  }
  return undefined;
}

const pciLog = (env: VirtioEnv, pciName: string, level: 'info' | 'err' | 'warn', text: string): void => env.kernel.log(level, `virtio-pci ${pciName}: ${text}`);

/**
 * vp_modern_probe. Returns undefined (-ENODEV) when the function is not a
 * modern/transitional virtio device, after logging why.
 */
function modernProbe(env: VirtioEnv, kdev: KDevice, pci: PciFunction): VirtioResult<{ transport: VirtioPciTransport; id: VirtioDevice['id'] }> | undefined {
  const did = cfgRead(env, pci, PCI_DEVICE_ID, 2);
  if (did < 0x1000 || did > 0x107f) return undefined;
  const id = {
    // Transitional devices: the subsystem device ID is the virtio ID, as the legacy driver always did.
    device: did < R.PCI_DEVICE_ID_VIRTIO_10_BASE ? cfgRead(env, pci, PCI_SUBSYSTEM_ID, 2) : did - R.PCI_DEVICE_ID_VIRTIO_10_BASE,
    vendor: cfgRead(env, pci, PCI_SUBSYSTEM_VENDOR_ID, 2),
  };
  const common = findCapability(env, pci, R.VIRTIO_PCI_CAP_COMMON_CFG);
  if (!common) {
    pciLog(env, kdev.name, 'info', 'virtio_pci: leaving for legacy driver');
    return undefined;
  }
  const isr = findCapability(env, pci, R.VIRTIO_PCI_CAP_ISR_CFG);
  const notify = findCapability(env, pci, R.VIRTIO_PCI_CAP_NOTIFY_CFG);
  if (!isr || !notify) {
    pciLog(env, kdev.name, 'err', `virtio_pci: missing capabilities ${common.off}/${isr?.off ?? 0}/${notify?.off ?? 0}`);
    return { ok: false, error: 'missing capabilities' };
  }
  const device = findCapability(env, pci, R.VIRTIO_PCI_CAP_DEVICE_CFG);
  // dma_set_mask_and_coherent(DMA_BIT_MASK(64)): the model's PCI root complex takes 64-bit DMA.
  kdev.dmaMask = dmaBitMask(64);
  kdev.coherentDmaMask = dmaBitMask(64);
  const at = (c: { bar: number; offset: number }): u64 => barCpuAddr(env, pci, c.bar)! + BigInt(c.offset);
  return {
    ok: true,
    value: {
      id,
      transport: {
        mode: 'modern',
        common: at(common),
        isr: at(isr),
        device: device ? at(device) : undefined,
        notifyBase: at(notify),
        notifyOffMultiplier: cfgRead(env, pci, notify.off + R.VIRTIO_PCI_NOTIFY_CAP_MULT, 4) >>> 0,
        notifyAddr: {},
        msixEnabled: false,
      },
    },
  };
}

/** vp_legacy_probe. */
function legacyProbe(env: VirtioEnv, kdev: KDevice, pci: PciFunction): VirtioResult<{ transport: VirtioPciTransport; id: VirtioDevice['id'] }> {
  const did = cfgRead(env, pci, PCI_DEVICE_ID, 2);
  if (did < R.VIRTIO_PCI_LEGACY_DEVICE_ID_FIRST || did > R.VIRTIO_PCI_LEGACY_DEVICE_ID_LAST) return { ok: false, error: `-ENODEV: device ID ${hex(did)} is not a legacy virtio device` };
  const rev = cfgRead(env, pci, PCI_REVISION_ID, 1);
  if (rev !== R.VIRTIO_PCI_ABI_VERSION) {
    env.kernel.log('err', `virtio_pci: expected ABI version ${R.VIRTIO_PCI_ABI_VERSION}, got ${rev}`);
    return { ok: false, error: '-ENODEV: bad ABI version' };
  }
  const ioaddr = barCpuAddr(env, pci, R.VIRTIO_PCI_LEGACY_BAR);
  if (ioaddr === undefined) return { ok: false, error: '-ENODEV: BAR0 is not assigned' };
  // Streaming mask 64 bits; coherent mask 44 bits: the ring address is a
  // 32-bit PFN of 4 KiB pages (virtio_pci_legacy_dev.c; added ~v4.8, unverified).
  kdev.dmaMask = dmaBitMask(64);
  kdev.coherentDmaMask = dmaBitMask(32 + R.VIRTIO_PCI_QUEUE_ADDR_SHIFT);
  return {
    ok: true,
    value: {
      id: { device: cfgRead(env, pci, PCI_SUBSYSTEM_ID, 2), vendor: cfgRead(env, pci, PCI_SUBSYSTEM_VENDOR_ID, 2) },
      transport: { mode: 'legacy', ioaddr, notifyAddr: {}, msixEnabled: false },
    },
  };
}

/**
 * virtio_pci_probe + register_virtio_device: enable the function, pick the
 * transport, set bus mastering, reset the device and set ACKNOWLEDGE.
 */
export function virtioPciProbe(env: VirtioEnv, kdev: KDevice, index: number): VirtioResult<VirtioDevice> {
  const pci = kdev.pci;
  if (!pci) return { ok: false, error: `${kdev.name} is not a PCI device` };
  if (cfgRead(env, pci, PCI_VENDOR_ID, 2) !== R.PCI_VENDOR_ID_REDHAT_QUMRANET) return { ok: false, error: `-ENODEV: ${kdev.name} is not a virtio device` };
  // pci_enable_device: turn on decoding for the BAR types the function has.
  const old = cfgRead(env, pci, PCI_COMMAND, 2);
  let cmd = old;
  for (const b of pci.bars) cmd |= b.kind === 'io' ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
  if (cmd !== old) {
    pciLog(env, kdev.name, 'info', `enabling device (${old.toString(16).padStart(4, '0')} -> ${cmd.toString(16).padStart(4, '0')})`);
    cfgWrite(env, pci, PCI_COMMAND, 2, cmd);
  }
  const m = modernProbe(env, kdev, pci);
  const r = m ?? legacyProbe(env, kdev, pci);
  if (!r.ok) return r;
  // pci_set_master
  cfgWrite(env, pci, PCI_COMMAND, 2, cfgRead(env, pci, PCI_COMMAND, 2) | PCI_COMMAND_MASTER);
  const vdev: VirtioDevice = {
    name: `virtio${index}`,
    index,
    pciName: kdev.name,
    id: r.value.id,
    deviceFeatures: 0n,
    features: 0n,
    transport: r.value.transport,
  };
  // register_virtio_device: reset, then ACKNOWLEDGE.
  vpReset(env, vdev);
  virtioAddStatus(env, vdev, VIRTIO_CONFIG_S_ACKNOWLEDGE);
  return { ok: true, value: vdev };
}

// ---- virtio_config_ops ---------------------------------------------------------------

export function vpGetStatus(env: VirtioEnv, vdev: VirtioDevice): number {
  const t = vdev.transport;
  return t.mode === 'legacy' ? rd(env, t.ioaddr! + BigInt(R.VIRTIO_PCI_STATUS), 1) : rd(env, t.common! + BigInt(R.VIRTIO_PCI_COMMON_STATUS), 1);
}

export function vpSetStatus(env: VirtioEnv, vdev: VirtioDevice, status: number): void {
  const t = vdev.transport;
  if (t.mode === 'legacy') wr(env, t.ioaddr! + BigInt(R.VIRTIO_PCI_STATUS), 1, status);
  else wr(env, t.common! + BigInt(R.VIRTIO_PCI_COMMON_STATUS), 1, status);
}

/** vp_reset: write 0 and (modern) wait for the device to read back 0 (bounded). */
export function vpReset(env: VirtioEnv, vdev: VirtioDevice): void {
  vpSetStatus(env, vdev, 0);
  for (let i = 0; i < 8 && vpGetStatus(env, vdev) !== 0; i++) env.kernel.tick(1000);
}

/** virtio_add_status: read-modify-write of the status byte. */
export function virtioAddStatus(env: VirtioEnv, vdev: VirtioDevice, bits: number): void {
  vpSetStatus(env, vdev, vpGetStatus(env, vdev) | bits);
}

/** vp_get_features: 32 bits through the legacy register, 64 through the modern select window. */
export function vpGetFeatures(env: VirtioEnv, vdev: VirtioDevice): u64 {
  const t = vdev.transport;
  if (t.mode === 'legacy') return BigInt(rd(env, t.ioaddr! + BigInt(R.VIRTIO_PCI_HOST_FEATURES), 4) >>> 0);
  const c = t.common!;
  wr(env, c + BigInt(R.VIRTIO_PCI_COMMON_DFSELECT), 4, 0);
  const lo = BigInt(rd(env, c + BigInt(R.VIRTIO_PCI_COMMON_DF), 4) >>> 0);
  wr(env, c + BigInt(R.VIRTIO_PCI_COMMON_DFSELECT), 4, 1);
  const hi = BigInt(rd(env, c + BigInt(R.VIRTIO_PCI_COMMON_DF), 4) >>> 0);
  return lo | (hi << 32n);
}

/** vp_finalize_features: write what the driver accepted. */
export function vpFinalizeFeatures(env: VirtioEnv, vdev: VirtioDevice): VirtioResult<void> {
  const t = vdev.transport;
  if (t.mode === 'legacy') {
    wr(env, t.ioaddr! + BigInt(R.VIRTIO_PCI_GUEST_FEATURES), 4, Number(vdev.features & 0xffff_ffffn));
    return { ok: true, value: undefined };
  }
  if (!hasFeature(vdev.features, VIRTIO_F_VERSION_1)) {
    env.kernel.log('err', `virtio-pci ${vdev.pciName}: virtio: device uses modern interface but does not have VIRTIO_F_VERSION_1`);
    return { ok: false, error: '-EINVAL: modern device without VIRTIO_F_VERSION_1' };
  }
  const c = t.common!;
  wr(env, c + BigInt(R.VIRTIO_PCI_COMMON_GFSELECT), 4, 0);
  wr(env, c + BigInt(R.VIRTIO_PCI_COMMON_GF), 4, Number(vdev.features & 0xffff_ffffn));
  wr(env, c + BigInt(R.VIRTIO_PCI_COMMON_GFSELECT), 4, 1);
  wr(env, c + BigInt(R.VIRTIO_PCI_COMMON_GF), 4, Number(vdev.features >> 32n));
  return { ok: true, value: undefined };
}

/**
 * The transport feature bits vring_transport_features
 * (drivers/virtio/virtio_ring.c) lets through, by kernel version; every
 * other bit in [VIRTIO_TRANSPORT_F_START, VIRTIO_TRANSPORT_F_END) is
 * cleared ("We don't understand this bit"), so QEMU's VIRTIO_F_BAD_FEATURE
 * (30) never survives. INDIRECT_DESC, EVENT_IDX and VERSION_1 in every
 * modelled era; IOMMU_PLATFORM/ACCESS_PLATFORM (33) since v4.8;
 * RING_PACKED (34) v5.0; ORDER_PLATFORM (36) v5.? (before 5.14);
 * RING_RESET (40) v6.0; NOTIFICATION_DATA (38) v6.4 (approximate
 * versions for the last three).
 */
export function vringTransportKeeps(version: number): number[] {
  const keep = [VIRTIO_RING_F_INDIRECT_DESC, VIRTIO_RING_F_EVENT_IDX, VIRTIO_F_VERSION_1];
  if (version >= 408) keep.push(VIRTIO_F_ACCESS_PLATFORM);
  if (version >= 500) keep.push(VIRTIO_F_RING_PACKED);
  if (version >= 514) keep.push(VIRTIO_F_ORDER_PLATFORM);
  if (version >= 600) keep.push(VIRTIO_F_RING_RESET);
  if (version >= 604) keep.push(VIRTIO_F_NOTIFICATION_DATA);
  return keep;
}

/** VIRTIO_TRANSPORT_F_END by version: 34 (v4.x), 38 (v5.x), 41 (v6.0), 42 (v6.x, ADMIN_VQ). */
const transportEnd = (version: number): number => (version < 500 ? 34 : version < 600 ? 38 : version < 608 ? 41 : 42);

/** The kernel version virtio follows (VirtioKernelConfig.version, else from the era). */
export const virtioVersion = (env: VirtioEnv): number => env.config.version ?? (env.config.era === '6.x' ? 615 : 410);

/**
 * virtio_dev_probe's feature negotiation: what the driver accepts of what
 * the device offers. Device-type bits: the driver's table & the offer
 * (virtio_blk has one table for legacy and modern in the modelled bits).
 * Transport bits [28, END): kept if offered, then vring_transport_features
 * drops what the ring does not implement.
 */
export function negotiateFeatures(deviceFeatures: u64, driverFeatures: u64, version: number): u64 {
  let f = driverFeatures & deviceFeatures;
  const keep = new Set(vringTransportKeeps(version));
  for (let i = VIRTIO_TRANSPORT_F_START; i < transportEnd(version); i++) {
    const bit = featureBit(i);
    f &= ~bit;
    if (keep.has(i) && (deviceFeatures & bit) !== 0n) f |= bit;
  }
  return f;
}

/**
 * virtio_dev_probe, up to the driver's own probe: DRIVER, read the offered
 * features (legacy: 32 bits from HOST_FEATURES; modern: both words of
 * device_feature), accept them (negotiateFeatures), write them
 * (vp_finalize_features; a modern device without VERSION_1 is refused),
 * and for VERSION_1 set FEATURES_OK and read the status back: a device
 * that cleared it refuses the features (virtio_features_ok).
 */
export function virtioNegotiate(env: VirtioEnv, vdev: VirtioDevice, driverFeatures: u64, driverName: string): VirtioResult<void> {
  virtioAddStatus(env, vdev, VIRTIO_CONFIG_S_DRIVER);
  vdev.deviceFeatures = vpGetFeatures(env, vdev);
  vdev.features = negotiateFeatures(vdev.deviceFeatures, driverFeatures, virtioVersion(env));
  const f = vpFinalizeFeatures(env, vdev);
  if (!f.ok) {
    virtioAddStatus(env, vdev, VIRTIO_CONFIG_S_FAILED);
    return f;
  }
  if (hasFeature(vdev.features, VIRTIO_F_VERSION_1)) {
    virtioAddStatus(env, vdev, VIRTIO_CONFIG_S_FEATURES_OK);
    if (!(vpGetStatus(env, vdev) & VIRTIO_CONFIG_S_FEATURES_OK)) {
      env.kernel.log('err', `${driverName} ${vdev.name}: virtio: device refuses features: ${vpGetStatus(env, vdev).toString(16)}`);
      virtioAddStatus(env, vdev, VIRTIO_CONFIG_S_FAILED);
      return { ok: false, error: '-ENODEV: device refuses features' };
    }
  }
  return { ok: true, value: undefined };
}

/** virtio_device_ready: DRIVER_OK. */
export function virtioDeviceReady(env: VirtioEnv, vdev: VirtioDevice): void {
  virtioAddStatus(env, vdev, VIRTIO_CONFIG_S_DRIVER_OK);
}

/**
 * setup_vq for one queue: read its size, create the ring (DMA API or not:
 * vring_use_dma_api on the negotiated features), and tell the device where
 * it is. Legacy: QUEUE_PFN = ring address >> 12 (align 4096). Modern:
 * queue_size, desc/driver/device addresses, then queue_enable (Linux
 * enables each queue after all are set up; with one queue it is the same).
 */
export function vpSetupVq(env: VirtioEnv, kdev: KDevice, vdev: VirtioDevice, index: number, name: string, msixVec = R.VIRTIO_MSI_NO_VECTOR): VirtioResult<VringState> {
  const t = vdev.transport;
  if (t.mode === 'legacy') {
    const io = t.ioaddr!;
    wr(env, io + BigInt(R.VIRTIO_PCI_QUEUE_SEL), 2, index);
    const num = rd(env, io + BigInt(R.VIRTIO_PCI_QUEUE_NUM), 2);
    if (!num || rd(env, io + BigInt(R.VIRTIO_PCI_QUEUE_PFN), 4)) return { ok: false, error: '-ENOENT: queue unavailable or already active' };
    const r = vringCreateVirtqueue(env, kdev, index, num, R.VIRTIO_PCI_VRING_ALIGN, vdev.features, name);
    if (!r.ok) return r;
    const pfn = r.value.dma >> BigInt(R.VIRTIO_PCI_QUEUE_ADDR_SHIFT);
    if (pfn >> 32n) {
      // sic: the legacy PCI driver's message says virtio-mmio (virtio_pci_legacy.c; wording unverified).
      pciLog(env, kdev.name, 'err', `platform bug: legacy virtio-mmio must not be used with RAM above 0x${(1n << (32n + 12n - 30n)).toString(16)}GB`);
      return { ok: false, error: '-E2BIG: ring above the 44-bit PFN limit' };
    }
    wr(env, io + BigInt(R.VIRTIO_PCI_QUEUE_PFN), 4, Number(pfn));
    t.notifyAddr[index] = io + BigInt(R.VIRTIO_PCI_QUEUE_NOTIFY);
    if (msixVec !== R.VIRTIO_MSI_NO_VECTOR) {
      // vp_legacy_queue_vector: write, then read back what the device took.
      wr(env, io + BigInt(R.VIRTIO_MSI_QUEUE_VECTOR), 2, msixVec);
      if (rd(env, io + BigInt(R.VIRTIO_MSI_QUEUE_VECTOR), 2) === R.VIRTIO_MSI_NO_VECTOR) return { ok: false, error: '-EBUSY: the device did not take the queue vector' };
    }
    return r;
  }
  const c = t.common!;
  wr(env, c + BigInt(R.VIRTIO_PCI_COMMON_Q_SELECT), 2, index);
  const num = rd(env, c + BigInt(R.VIRTIO_PCI_COMMON_Q_SIZE), 2);
  if (!num || rd(env, c + BigInt(R.VIRTIO_PCI_COMMON_Q_ENABLE), 2)) return { ok: false, error: '-ENOENT: queue unavailable or already enabled' };
  // SMP_CACHE_BYTES: 64 on arm64 and x86-64.
  const r = vringCreateVirtqueue(env, kdev, index, num, 64, vdev.features, name);
  if (!r.ok) return r;
  const vq = r.value;
  const w64 = (lo: number, v: u64): void => {
    wr(env, c + BigInt(lo), 4, Number(v & 0xffff_ffffn));
    wr(env, c + BigInt(lo + 4), 4, Number(v >> 32n));
  };
  wr(env, c + BigInt(R.VIRTIO_PCI_COMMON_Q_SIZE), 2, vq.num);
  w64(R.VIRTIO_PCI_COMMON_Q_DESCLO, vq.descDma);
  w64(R.VIRTIO_PCI_COMMON_Q_AVAILLO, vq.availDma);
  w64(R.VIRTIO_PCI_COMMON_Q_USEDLO, vq.usedDma);
  const off = rd(env, c + BigInt(R.VIRTIO_PCI_COMMON_Q_NOFF), 2);
  t.notifyAddr[index] = t.notifyBase! + BigInt(off * (t.notifyOffMultiplier ?? 0));
  if (msixVec !== R.VIRTIO_MSI_NO_VECTOR) {
    // vp_modern_queue_vector: write, then read back what the device took.
    wr(env, c + BigInt(R.VIRTIO_PCI_COMMON_Q_MSIX), 2, msixVec);
    if (rd(env, c + BigInt(R.VIRTIO_PCI_COMMON_Q_MSIX), 2) === R.VIRTIO_MSI_NO_VECTOR) return { ok: false, error: '-EBUSY: the device did not take the queue vector' };
  }
  wr(env, c + BigInt(R.VIRTIO_PCI_COMMON_Q_ENABLE), 2, 1);
  return r;
}

/** vp_config_vector: write the config-change vector and read back what the device took. */
function vpConfigVector(env: VirtioEnv, vdev: VirtioDevice, v: number): number {
  const t = vdev.transport;
  const a = t.mode === 'legacy' ? t.ioaddr! + BigInt(R.VIRTIO_MSI_CONFIG_VECTOR) : t.common! + BigInt(R.VIRTIO_PCI_COMMON_MSIX);
  wr(env, a, 2, v);
  return rd(env, a, 2);
}

/**
 * vp_find_vqs: MSI-X with a vector per queue (config first: vector 0, then
 * queue i on vector i + 1), allocated before any ring; INTx when there is no
 * MSI domain or the device cannot take the vectors. Returns the queues.
 */
export function vpFindVqs(env: VirtioEnv, kdev: KDevice, vdev: VirtioDevice, names: readonly string[]): VirtioResult<VringState[]> {
  const t = vdev.transport;
  let msix = false;
  // vp_request_msix_vectors: PCI_IRQ_AFFINITY with the config vector as a pre vector (desc->pre_vectors++).
  const m = env.msix?.alloc(kdev, names.length + 1, [`${vdev.name}-config`, ...names.map((n) => `${vdev.name}-${n}`)], { preVectors: 1 });
  if (m?.ok) {
    t.msixEnabled = true;
    if (vpConfigVector(env, vdev, 0) === R.VIRTIO_MSI_NO_VECTOR) {
      // -EBUSY from vp_request_msix_vectors: give the vectors back, fall back to INTx.
      env.msix!.free(kdev);
      t.msixEnabled = false;
    } else msix = true;
  }
  const vqs: VringState[] = [];
  for (let i = 0; i < names.length; i++) {
    const q = vpSetupVq(env, kdev, vdev, i, names[i]!, msix ? i + 1 : R.VIRTIO_MSI_NO_VECTOR);
    if (!q.ok) return q;
    vqs.push(q.value);
  }
  return { ok: true, value: vqs };
}

/** vp_del_vqs' interrupt half: free the vectors and disable MSI-X. */
export function vpDelVqIrqs(env: VirtioEnv, kdev: KDevice, vdev: VirtioDevice): void {
  if (!vdev.transport.msixEnabled) return;
  env.msix?.free(kdev);
  vdev.transport.msixEnabled = false;
}

/** vp_notify: write the queue index to its notify address. */
export function vpNotify(env: VirtioEnv, vdev: VirtioDevice, index: number): void {
  const a = vdev.transport.notifyAddr[index];
  if (a !== undefined) wr(env, a, 2, index);
}

/** vp_interrupt's first step: read (and so acknowledge) the ISR. */
export function vpReadIsr(env: VirtioEnv, vdev: VirtioDevice): number {
  const t = vdev.transport;
  return t.mode === 'legacy' ? rd(env, t.ioaddr! + BigInt(R.VIRTIO_PCI_ISR), 1) : rd(env, t.isr!, 1);
}

/**
 * virtio_cread: device-specific config. Legacy: BAR0 + 20 (24 with MSI-X
 * enabled). Modern: the device-config structure, re-read while
 * config_generation changes (bounded).
 */
export function vpConfigRead(env: VirtioEnv, vdev: VirtioDevice, off: number, size: AccessSize): u64 {
  const t = vdev.transport;
  if (t.mode === 'legacy') {
    // Legacy config is read a byte at a time by vp_get (ioread8 loop).
    const base = t.ioaddr! + BigInt(R.VIRTIO_PCI_CONFIG_OFF(t.msixEnabled) + off);
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(rd(env, base + BigInt(i), 1));
    return v;
  }
  if (t.device === undefined) return 0n;
  const genAddr = t.common! + BigInt(R.VIRTIO_PCI_COMMON_CFGGENERATION);
  let v = 0n;
  for (let tries = 0; tries < 4; tries++) {
    const g0 = rd(env, genAddr, 1);
    if (size === 8) v = BigInt(rd(env, t.device + BigInt(off), 4) >>> 0) | (BigInt(rd(env, t.device + BigInt(off + 4), 4) >>> 0) << 32n);
    else v = BigInt(rd(env, t.device + BigInt(off), size) >>> 0);
    if (rd(env, genAddr, 1) === g0) break;
  }
  return v;
}

