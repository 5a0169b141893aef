/**
 * Device-independent virtio constants: device status bits, transport
 * feature bits and device IDs, spelled as the Linux uapi headers spell them.
 *
 * Sources: linux include/uapi/linux/virtio_config.h (status, features),
 * include/uapi/linux/virtio_ids.h, include/uapi/linux/virtio_ring.h
 * (ring feature bits); virtio spec 1.x "Device Status Field" and
 * "Reserved Feature Bits"; REFERENCE.md 7.1 and 7.5.
 */
import type { u64 } from '../u64.ts';

// ---- device status (virtio_config.h; spec 2.1) -------------------------------
/** The guest OS has noticed the device. */
export const VIRTIO_CONFIG_S_ACKNOWLEDGE = 1;
/** The guest OS knows how to drive the device. */
export const VIRTIO_CONFIG_S_DRIVER = 2;
/** The driver is set up and ready to drive the device. */
export const VIRTIO_CONFIG_S_DRIVER_OK = 4;
/** Feature negotiation is complete (modern only). */
export const VIRTIO_CONFIG_S_FEATURES_OK = 8;
/** The device has hit an error it cannot recover from without a reset. */
export const VIRTIO_CONFIG_S_NEEDS_RESET = 0x40;
/** Something went wrong in the guest; it has given up on the device. */
export const VIRTIO_CONFIG_S_FAILED = 0x80;

export const VIRTIO_STATUS_NAMES: readonly [number, string][] = [
  [VIRTIO_CONFIG_S_ACKNOWLEDGE, 'ACKNOWLEDGE'],
  [VIRTIO_CONFIG_S_DRIVER, 'DRIVER'],
  [VIRTIO_CONFIG_S_DRIVER_OK, 'DRIVER_OK'],
  [VIRTIO_CONFIG_S_FEATURES_OK, 'FEATURES_OK'],
  [VIRTIO_CONFIG_S_NEEDS_RESET, 'DEVICE_NEEDS_RESET'],
  [VIRTIO_CONFIG_S_FAILED, 'FAILED'],
];

/** "ACKNOWLEDGE|DRIVER|..." for a status byte ("0" for reset). */
export function statusNames(s: number): string {
  const names = VIRTIO_STATUS_NAMES.filter(([b]) => s & b).map(([, n]) => n);
  return names.length ? names.join('|') : '0';
}

// ---- transport feature bits (virtio_config.h, virtio_ring.h; REFERENCE 7.1) --
/** Legacy: the device interrupts when it runs out of available buffers, even if interrupts are suppressed. */
export const VIRTIO_F_NOTIFY_ON_EMPTY = 24;
/** Legacy: the device accepts any descriptor layout (legacy only). */
export const VIRTIO_F_ANY_LAYOUT = 27;
/**
 * QEMU's VIRTIO_F_BAD_FEATURE (include/hw/virtio/virtio.h): offered by every
 * virtio-pci device, on the legacy interface only; "A guest should never
 * accept this. It implies negotiation is broken." Linux's
 * vring_transport_features clears it.
 */
export const VIRTIO_F_BAD_FEATURE = 30;
/** Indirect descriptor tables (virtio_ring.h). */
export const VIRTIO_RING_F_INDIRECT_DESC = 28;
/** used_event / avail_event interrupt and notify suppression (virtio_ring.h). */
export const VIRTIO_RING_F_EVENT_IDX = 29;
/** The device conforms to virtio 1.0 or later (modern). */
export const VIRTIO_F_VERSION_1 = 32;
/**
 * The device's DMA goes through the platform's IOMMU / DMA translation.
 * Inverted polarity: a device WITHOUT it bypasses the IOMMU (the "DMA quirk").
 * Old name VIRTIO_F_IOMMU_PLATFORM (renamed around v5.8; uapi keeps both).
 */
export const VIRTIO_F_ACCESS_PLATFORM = 33;
export const VIRTIO_F_IOMMU_PLATFORM = VIRTIO_F_ACCESS_PLATFORM;
export const VIRTIO_F_RING_PACKED = 34;
export const VIRTIO_F_IN_ORDER = 35;
export const VIRTIO_F_ORDER_PLATFORM = 36;
export const VIRTIO_F_SR_IOV = 37;
export const VIRTIO_F_NOTIFICATION_DATA = 38;
export const VIRTIO_F_NOTIF_CONFIG_DATA = 39;
export const VIRTIO_F_RING_RESET = 40;
export const VIRTIO_F_ADMIN_VQ = 41;
/** Transport feature range [VIRTIO_TRANSPORT_F_START, VIRTIO_TRANSPORT_F_END). */
export const VIRTIO_TRANSPORT_F_START = 28;
export const VIRTIO_TRANSPORT_F_END = 42;

/**
 * QEMU VIRTIO_LEGACY_FEATURES: bits a modern interface hides from the
 * driver (virtio_pci_common_read masks vdc->legacy_features out of
 * device_feature).
 */
export const VIRTIO_LEGACY_FEATURES: u64 = (1n << BigInt(VIRTIO_F_BAD_FEATURE)) | (1n << BigInt(VIRTIO_F_NOTIFY_ON_EMPTY)) | (1n << BigInt(VIRTIO_F_ANY_LAYOUT));

export const TRANSPORT_FEATURE_NAMES: Record<number, string> = {
  [VIRTIO_F_NOTIFY_ON_EMPTY]: 'VIRTIO_F_NOTIFY_ON_EMPTY',
  [VIRTIO_F_BAD_FEATURE]: 'VIRTIO_F_BAD_FEATURE',
  [VIRTIO_F_ANY_LAYOUT]: 'VIRTIO_F_ANY_LAYOUT',
  [VIRTIO_RING_F_INDIRECT_DESC]: 'VIRTIO_RING_F_INDIRECT_DESC',
  [VIRTIO_RING_F_EVENT_IDX]: 'VIRTIO_RING_F_EVENT_IDX',
  [VIRTIO_F_VERSION_1]: 'VIRTIO_F_VERSION_1',
  [VIRTIO_F_ACCESS_PLATFORM]: 'VIRTIO_F_ACCESS_PLATFORM',
  [VIRTIO_F_RING_PACKED]: 'VIRTIO_F_RING_PACKED',
  [VIRTIO_F_IN_ORDER]: 'VIRTIO_F_IN_ORDER',
  [VIRTIO_F_ORDER_PLATFORM]: 'VIRTIO_F_ORDER_PLATFORM',
  [VIRTIO_F_SR_IOV]: 'VIRTIO_F_SR_IOV',
  [VIRTIO_F_NOTIFICATION_DATA]: 'VIRTIO_F_NOTIFICATION_DATA',
  [VIRTIO_F_NOTIF_CONFIG_DATA]: 'VIRTIO_F_NOTIF_CONFIG_DATA',
  [VIRTIO_F_RING_RESET]: 'VIRTIO_F_RING_RESET',
  [VIRTIO_F_ADMIN_VQ]: 'VIRTIO_F_ADMIN_VQ',
};

/** 1n << bit as a u64 feature mask. */
export const featureBit = (bit: number): u64 => 1n << BigInt(bit);
export const hasFeature = (features: u64, bit: number): boolean => ((features >> BigInt(bit)) & 1n) === 1n;

/** Names of the set bits, device-specific names first from `deviceNames`. */
export function featureNames(features: u64, deviceNames: Record<number, string> = {}): string[] {
  const out: string[] = [];
  for (let b = 0; b < 64; b++) {
    if (!hasFeature(features, b)) continue;
    out.push(TRANSPORT_FEATURE_NAMES[b] ?? deviceNames[b] ?? `bit ${b}`);
  }
  return out;
}

// ---- device IDs (virtio_ids.h) ------------------------------------------------
export const VIRTIO_ID_NET = 1;
export const VIRTIO_ID_BLOCK = 2;
export const VIRTIO_ID_CONSOLE = 3;
