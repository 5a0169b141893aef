/**
 * virtio over PCI: register offsets, capability types and IDs of both
 * transports, as linux include/uapi/linux/virtio_pci.h spells them.
 *
 * Sources: linux include/uapi/linux/virtio_pci.h; virtio spec 1.x 4.1
 * "Virtio Over PCI Bus" (4.1.4 capabilities, 4.1.4.3 common configuration,
 * 4.1.4.8 legacy interfaces); QEMU hw/virtio/virtio-pci.c (BAR numbers and
 * region layout); REFERENCE.md 7.3 and 7.4.
 */
import type { Layout } from '../fields.ts';

// ---- IDs ------------------------------------------------------------------------
/** PCI_VENDOR_ID_REDHAT_QUMRANET: every virtio-pci function. */
export const PCI_VENDOR_ID_REDHAT_QUMRANET = 0x1af4;
export const PCI_SUBVENDOR_ID_REDHAT_QUMRANET = 0x1af4;
/** Legacy / transitional device IDs are 0x1000..0x103f; the subsystem ID says the virtio type. */
export const VIRTIO_PCI_LEGACY_DEVICE_ID_FIRST = 0x1000;
export const VIRTIO_PCI_LEGACY_DEVICE_ID_LAST = 0x103f;
/** Transitional virtio-blk (QEMU PCI_DEVICE_ID_VIRTIO_BLOCK). */
export const PCI_DEVICE_ID_VIRTIO_BLOCK = 0x1001;
/** Modern-only devices: 0x1040 + virtio device type (blk: 0x1042). */
export const PCI_DEVICE_ID_VIRTIO_10_BASE = 0x1040;
/** QEMU's subsystem ID for modern-only devices (PCI_SUBDEVICE_ID_QEMU). */
export const PCI_SUBDEVICE_ID_QEMU = 0x1100;
/** Legacy devices must have revision 0 (VIRTIO_PCI_ABI_VERSION); QEMU gives modern-only ones revision 1. */
export const VIRTIO_PCI_ABI_VERSION = 0;
/** PCI class of virtio-blk-pci in QEMU: PCI_CLASS_STORAGE_SCSI (0x0100), prog-if 0. */
export const PCI_CLASS_STORAGE_SCSI = 0x010000;

// ---- legacy: the I/O BAR0 register block (virtio_pci.h; REFERENCE 7.3) ------------
/** 32 bits, RO: the device's feature bits 0..31 (legacy can show no more). */
export const VIRTIO_PCI_HOST_FEATURES = 0;
/** 32 bits, RW: the feature bits the driver accepted. */
export const VIRTIO_PCI_GUEST_FEATURES = 4;
/** 32 bits, RW: ring guest-physical address >> VIRTIO_PCI_QUEUE_ADDR_SHIFT; 0 disables the queue. */
export const VIRTIO_PCI_QUEUE_PFN = 8;
/** 16 bits, RO: size of the selected queue. */
export const VIRTIO_PCI_QUEUE_NUM = 12;
/** 16 bits, RW: queue selector. */
export const VIRTIO_PCI_QUEUE_SEL = 14;
/** 16 bits, WO: write a queue index to notify the device. */
export const VIRTIO_PCI_QUEUE_NOTIFY = 16;
/** 8 bits, RW: device status; writing 0 resets. */
export const VIRTIO_PCI_STATUS = 18;
/** 8 bits, RO, read-to-clear: bit 0 queue interrupt, bit 1 config change. */
export const VIRTIO_PCI_ISR = 19;
/** 16 bits, present only when MSI-X is enabled. */
export const VIRTIO_MSI_CONFIG_VECTOR = 20;
export const VIRTIO_MSI_QUEUE_VECTOR = 22;
/** No MSI-X vector assigned. */
export const VIRTIO_MSI_NO_VECTOR = 0xffff;
/** Device-specific config starts at 20, or 24 while MSI-X is enabled. */
export const VIRTIO_PCI_CONFIG_OFF = (msixEnabled: boolean): number => (msixEnabled ? 24 : 20);
/** ISR bit 0: a queue has used buffers (spec 4.1.4.5 ISR status capability). */
export const VIRTIO_PCI_ISR_QUEUE = 0x1;
/** ISR bit 1: the device configuration changed. */
export const VIRTIO_PCI_ISR_CONFIG = 0x2;
/** Legacy rings: PFN shift and the fixed alignment of the used ring. */
export const VIRTIO_PCI_QUEUE_ADDR_SHIFT = 12;
export const VIRTIO_PCI_VRING_ALIGN = 4096;

// ---- modern: vendor capabilities (virtio_pci.h; spec 4.1.4) ----------------------
export const VIRTIO_PCI_CAP_COMMON_CFG = 1;
export const VIRTIO_PCI_CAP_NOTIFY_CFG = 2;
export const VIRTIO_PCI_CAP_ISR_CFG = 3;
export const VIRTIO_PCI_CAP_DEVICE_CFG = 4;
export const VIRTIO_PCI_CAP_PCI_CFG = 5;
export const VIRTIO_PCI_CAP_SHARED_MEMORY_CFG = 8;
export const VIRTIO_PCI_CAP_VENDOR_CFG = 9;
export const VIRTIO_PCI_CAP_NAMES: Record<number, string> = {
  1: 'common', 2: 'notify', 3: 'isr', 4: 'device', 5: 'pci-cfg', 8: 'shared-memory', 9: 'vendor',
};

/** struct virtio_pci_cap field offsets (from the capability's start). */
export const VIRTIO_PCI_CAP_VNDR = 0;
export const VIRTIO_PCI_CAP_NEXT = 1;
export const VIRTIO_PCI_CAP_LEN = 2;
export const VIRTIO_PCI_CAP_CFG_TYPE = 3;
export const VIRTIO_PCI_CAP_BAR = 4;
export const VIRTIO_PCI_CAP_ID = 5;
export const VIRTIO_PCI_CAP_OFFSET = 8;
export const VIRTIO_PCI_CAP_LENGTH = 12;
/** struct virtio_pci_notify_cap: le32 notify_off_multiplier after the cap. */
export const VIRTIO_PCI_NOTIFY_CAP_MULT = 16;

/** struct virtio_pci_cap as two little-endian words, for the inspector. */
export const VIRTIO_PCI_CAP_LAYOUT: Layout = {
  name: 'virtio_pci_cap',
  words: 2,
  source: 'virtio spec 4.1.4 Virtio Structure PCI Capabilities; linux include/uapi/linux/virtio_pci.h struct virtio_pci_cap',
  fields: [
    { name: 'cap_vndr', word: 0, hi: 7, lo: 0, desc: 'PCI_CAP_ID_VNDR (0x09)' },
    { name: 'cap_next', word: 0, hi: 15, lo: 8, desc: 'next capability offset' },
    { name: 'cap_len', word: 0, hi: 23, lo: 16, desc: 'length of this capability (16, 20 for notify)' },
    { name: 'cfg_type', word: 0, hi: 31, lo: 24, desc: 'structure type', values: { 1: 'common', 2: 'notify', 3: 'isr', 4: 'device', 5: 'pci-cfg', 8: 'shared-memory', 9: 'vendor' } },
    { name: 'bar', word: 0, hi: 39, lo: 32, desc: 'BAR holding the structure' },
    { name: 'id', word: 0, hi: 47, lo: 40, desc: 'identifies multiple capabilities of one type' },
    { name: 'offset', word: 1, hi: 31, lo: 0, desc: 'offset of the structure in the BAR' },
    { name: 'length', word: 1, hi: 63, lo: 32, desc: 'length of the structure in bytes' },
  ],
};

// ---- modern: common configuration (struct virtio_pci_common_cfg; REFERENCE 7.4) ---
export const VIRTIO_PCI_COMMON_DFSELECT = 0;
export const VIRTIO_PCI_COMMON_DF = 4;
export const VIRTIO_PCI_COMMON_GFSELECT = 8;
export const VIRTIO_PCI_COMMON_GF = 12;
export const VIRTIO_PCI_COMMON_MSIX = 16;
export const VIRTIO_PCI_COMMON_NUMQ = 18;
export const VIRTIO_PCI_COMMON_STATUS = 20;
export const VIRTIO_PCI_COMMON_CFGGENERATION = 21;
export const VIRTIO_PCI_COMMON_Q_SELECT = 22;
export const VIRTIO_PCI_COMMON_Q_SIZE = 24;
export const VIRTIO_PCI_COMMON_Q_MSIX = 26;
export const VIRTIO_PCI_COMMON_Q_ENABLE = 28;
export const VIRTIO_PCI_COMMON_Q_NOFF = 30;
export const VIRTIO_PCI_COMMON_Q_DESCLO = 32;
export const VIRTIO_PCI_COMMON_Q_DESCHI = 36;
export const VIRTIO_PCI_COMMON_Q_AVAILLO = 40;
export const VIRTIO_PCI_COMMON_Q_AVAILHI = 44;
export const VIRTIO_PCI_COMMON_Q_USEDLO = 48;
export const VIRTIO_PCI_COMMON_Q_USEDHI = 52;
export const VIRTIO_PCI_COMMON_Q_NDATA = 56;
export const VIRTIO_PCI_COMMON_Q_RESET = 58;

// ---- QEMU's BAR layout (hw/virtio/virtio-pci.c) --------------------------------------
/** Legacy register block: I/O BAR 0. */
export const VIRTIO_PCI_LEGACY_BAR = 0;
/** MSI-X table and PBA: BAR 1 (msix_bar_idx), table at 0, PBA at half the BAR. */
export const VIRTIO_PCI_MSIX_BAR = 1;
/** Modern structures: 64-bit prefetchable memory BAR 4 (modern_mem_bar_idx). */
export const VIRTIO_PCI_MODERN_BAR = 4;
/** Regions of the modern BAR, each 4 KiB (QEMU virtio_pci_realize). */
export const VIRTIO_PCI_MODERN_COMMON_OFF = 0x0000;
export const VIRTIO_PCI_MODERN_ISR_OFF = 0x1000;
export const VIRTIO_PCI_MODERN_DEVICE_OFF = 0x2000;
export const VIRTIO_PCI_MODERN_NOTIFY_OFF = 0x3000;
export const VIRTIO_PCI_MODERN_REGION_SIZE = 0x1000;
export const VIRTIO_PCI_MODERN_BAR_SIZE = 0x4000;
/** notify_off_multiplier: 4 bytes per queue (QEMU without page-per-vq; 0x1000 with it). */
export const VIRTIO_PCI_NOTIFY_OFF_MULTIPLIER = 4;
/** Legacy I/O BAR size used here: 20/24 bytes of registers + device config, rounded to a power of two. */
export const VIRTIO_PCI_LEGACY_BAR_SIZE = 0x40;
export const VIRTIO_PCI_MSIX_BAR_SIZE = 0x1000;
