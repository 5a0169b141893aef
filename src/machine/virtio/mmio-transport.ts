/**
 * An empty virtio-mmio transport, as QEMU's `virt` board creates 32 of them
 * at 0x0a000000 (0x200 apart) for `-device virtio-*-device` to plug into.
 * With no backend plugged, QEMU's virtio_mmio_read answers MagicValue
 * ("virt", 0x74726976), Version (1: the legacy interface, since the
 * transport's force-legacy property defaults to true), VendorID ("QEMU",
 * 0x554d4551) and 0 for everything else, DeviceID included (no device);
 * writes are ignored. Sources: hw/virtio/virtio-mmio.c (virtio_mmio_read,
 * virtio_mmio_properties), hw/arm/virt.c (VIRT_MMIO, NUM_VIRTIO_TRANSPORTS),
 * the virtio spec 4.2.2 (register offsets).
 */
import type { u64 } from '../u64.ts';
import type { AccessSize, MmioHandler } from '../memory.ts';

export const VIRTIO_MMIO_MAGIC_VALUE = 0x000;
export const VIRTIO_MMIO_VERSION = 0x004;
export const VIRTIO_MMIO_DEVICE_ID = 0x008;
export const VIRTIO_MMIO_VENDOR_ID = 0x00c;
export const VIRT_MAGIC = 0x74726976;
export const VIRT_VERSION_LEGACY = 1;
export const VIRT_VENDOR = 0x554d4551;
export const VIRTIO_MMIO_TRANSPORT_SIZE = 0x200n;

export class EmptyVirtioMmioTransport implements MmioHandler {
  read(offset: u64, size: AccessSize): u64 {
    const off = Number(offset);
    const word = off & ~3;
    const v = word === VIRTIO_MMIO_MAGIC_VALUE ? VIRT_MAGIC : word === VIRTIO_MMIO_VERSION ? VIRT_VERSION_LEGACY : word === VIRTIO_MMIO_VENDOR_ID ? VIRT_VENDOR : 0;
    return (BigInt(v >>> 0) >> BigInt(8 * (off - word))) & ((1n << BigInt(8 * Math.min(size, 4))) - 1n);
  }
  write(): void {}
}
