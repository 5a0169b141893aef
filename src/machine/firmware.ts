/**
 * What firmware (device tree / IORT) tells the kernel: which IOMMU covers
 * which PCI requester IDs and with which StreamIDs (an `iommu-map`), and
 * where the MSI controller is. This is the kernel's belief, kept apart from
 * each device's real DMA path (DmaMaster.path) so a preset can make them
 * disagree — the QEMU-era bug of firmware misdescribing virtio devices.
 */
import type { u64 } from './u64.ts';
import type { PciFunction, PciHostBridge } from './pci.ts';
import type { SmmuV3 } from './smmuv3/smmuv3.ts';
import type { VtdUnit } from './vtd/vtd.ts';

export interface FirmwareSmmu {
  kind: 'smmuv3';
  /** Register frame base (the DT `reg`), e.g. 0x2b400000. */
  base: u64;
  hw: SmmuV3;
  /** The platform device's name as Linux makes it from the DT node ("2b400000.smmu"). */
  devName: string;
  /** iommu-map of the root complex: RID -> StreamID, or undefined when not covered. */
  streamId(host: PciHostBridge, f: PciFunction): number | undefined;
}

/** An ACPI DMAR table and the VT-d units it describes (x86). */
export interface FirmwareDmar {
  /** The table's bytes, as acpi_get_table hands them to the kernel. */
  bytes: Uint8Array;
  units: VtdUnit[];
}

export interface Firmware {
  /** "DT" or "ACPI/IORT": only for the boot log. */
  kind: 'dt' | 'acpi';
  smmus: FirmwareSmmu[];
  /** x86: the DMAR table (absent: no VT-d described). */
  dmar?: FirmwareDmar;
  /** All DMA from these devices is cache coherent (DT dma-coherent). */
  dmaCoherent: boolean;
  /** Devices (DMA master names) whose node lacks dma-coherent although dmaCoherent is set for the rest. */
  nonCoherent?: string[];
}
