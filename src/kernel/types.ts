/**
 * Shared vocabulary of the Linux-side model, named after the kernel's own
 * (include/linux/dma-mapping.h, include/linux/iommu.h). Each piece of the
 * kernel model (iommu core, dma-iommu, dma-direct, swiotlb, the SMMUv3 and
 * VT-d drivers, virtio) talks to the others through these types.
 */
import type { u64 } from '../machine/u64.ts';
import type { DmaMaster } from '../machine/dma.ts';
import type { PciFunction } from '../machine/pci.ts';

/** enum dma_data_direction (include/linux/dma-direction.h). */
export const DMA_BIDIRECTIONAL = 0;
export const DMA_TO_DEVICE = 1;
export const DMA_FROM_DEVICE = 2;
export const DMA_NONE = 3;
export type DmaDirection = 0 | 1 | 2 | 3;
export const DMA_DIR_NAMES = ['DMA_BIDIRECTIONAL', 'DMA_TO_DEVICE', 'DMA_FROM_DEVICE', 'DMA_NONE'] as const;

/** DMA_MAPPING_ERROR: (dma_addr_t)~0. */
export const DMA_MAPPING_ERROR: u64 = 0xffff_ffff_ffff_ffffn;

/** IOMMU_READ/WRITE/CACHE/NOEXEC/MMIO/PRIV (include/linux/iommu.h). */
export const IOMMU_READ = 1 << 0;
export const IOMMU_WRITE = 1 << 1;
export const IOMMU_CACHE = 1 << 2;
export const IOMMU_NOEXEC = 1 << 3;
export const IOMMU_MMIO = 1 << 4;
export const IOMMU_PRIV = 1 << 5;

/** Default-domain types as sysfs names them (REFERENCE.md 4.1). */
export type DomainType = 'blocked' | 'identity' | 'unmanaged' | 'DMA' | 'DMA-FQ';

/** Reserved region types, enum iommu_resv_type (REFERENCE.md 4.3). */
export type ResvType = 'direct' | 'direct-relaxable' | 'reserved' | 'msi' | 'sw-msi';

export interface ResvRegion {
  start: u64;
  length: u64;
  prot: number;
  type: ResvType;
}

/** sysfs string of a reserved region type: both MSI kinds print "msi". */
export const resvTypeName = (t: ResvType): string => (t === 'sw-msi' ? 'msi' : t);

/**
 * struct device, the parts the DMA layer reads. One per device the kernel
 * probes. `master` is the hardware's DMA path (what the device really does);
 * the rest is what the kernel believes and configured.
 */
export interface KDevice {
  /** dev_name(): "0000:00:01.0" for PCI. */
  name: string;
  /** The driver's name for it ("vda" for a virtio-blk disk), once probed. */
  alias?: string;
  pci?: PciFunction;
  master: DmaMaster;
  /** *dev->dma_mask: streaming mappings. PCI devices start at 32 bits. */
  dmaMask: u64;
  /** dev->coherent_dma_mask. */
  coherentDmaMask: u64;
  /** dev->bus_dma_limit from firmware dma-ranges, 0 = none. */
  busDmaLimit: u64;
  /** Which DMA ops the kernel installed at probe: 'direct' (dma-direct + swiotlb) or 'iommu' (iommu-dma). */
  dmaOps: 'direct' | 'iommu';
  /** Firmware says this device is behind this IOMMU (IORT/DT iommu-map, DMAR scope). */
  iommuName?: string;
  /** StreamID / source-id firmware gave the kernel (fwspec). */
  fwSid?: number;
  /** iommu_group id once the core has placed it. */
  group?: number;
  /** dma-coherent? (no cache maintenance needed). */
  coherent: boolean;
  /** pci_dev->untrusted: external-facing port; the IOMMU core forces a strict DMA domain. */
  untrusted?: boolean;
  /** dev->dma_range_map from firmware dma-ranges (phys_to_dma offsets); absent = identity. */
  dmaRangeMap?: BusDmaRegion[];
}

/** struct bus_dma_region (include/linux/dma-direct.h): CPU [cpuStart, +size) is bus [dmaStart, +size). */
export interface BusDmaRegion {
  cpuStart: u64;
  dmaStart: u64;
  size: u64;
}

/** A struct iommu_domain as the core and the drivers share it. */
export interface IommuDomain {
  id: number;
  type: DomainType;
  /** The IOMMU instance whose tables this domain lives in. */
  iommu: string;
  /** geometry.aperture_start/end. */
  apertureStart: u64;
  apertureEnd: u64;
  /** pgsize_bitmap: 4K | 2M | 1G for 4 KiB-granule stage 1. */
  pgsizeBitmap: u64;
}

/**
 * What the iommu core needs from a hardware driver (struct iommu_ops plus
 * iommu_domain_ops, reduced): arm-smmu-v3 and intel-iommu implement it.
 */
export interface IommuDriver {
  readonly name: string;
  /** Create the hardware side of a domain (page tables for paging domains). */
  domainAlloc(type: DomainType): IommuDomain;
  /** Release a domain no device uses any more (iommu_domain_free); optional. */
  domainFree?(domain: IommuDomain): void;
  /** Point the device's stream table entry / context entry at the domain. */
  attachDev(dev: KDevice, domain: IommuDomain): void;
  /** iommu_map: map [iova, iova+size) to pa with IOMMU_* prot. */
  map(domain: IommuDomain, iova: u64, pa: u64, size: u64, prot: number): void;
  /** iommu_unmap: returns bytes unmapped. Does not invalidate the IOTLB (see iotlbSync). */
  unmap(domain: IommuDomain, iova: u64, size: u64): u64;
  /** Invalidate [iova, iova+size) for the domain and wait (CMD_SYNC). */
  iotlbSync(domain: IommuDomain, iova: u64, size: u64): void;
  /** Invalidate everything for the domain (flush-queue drain). */
  flushIotlbAll(domain: IommuDomain): void;
  /** iova_to_phys by walking the domain's tables in memory; undefined when unmapped. */
  iovaToPhys(domain: IommuDomain, iova: u64): u64 | undefined;
  /** Driver-specific reserved regions for a device (SW_MSI for SMMU, MSI window for VT-d). */
  getResvRegions(dev: KDevice): ResvRegion[];
  /**
   * The id the hardware tags the domain's TLB entries with, as inspectors
   * print it ("ASID 1", "DID 2 on dmar0"): the number a reader finds again
   * in the STE/CD or the context entry. Optional.
   */
  domainTag?(domain: IommuDomain): string | undefined;
  /**
   * True when the driver makes no default domains and its own DMA ops give
   * each device a private domain at the device's first mapping: intel-iommu
   * before ≈v5.3 (intel_iommu_domain_alloc made only UNMANAGED domains;
   * intel_dma_ops called get_valid_domain_for_dev). Optional; false when absent.
   */
  privateDomains?(): boolean;
  /** Invalidate the whole IOTLB of every unit (v4.x intel-iommu's flush_unmaps); optional. */
  flushIotlbGlobal?(): void;
}

/** A scatterlist entry: CPU physical address and length. */
export interface SgEntry {
  pa: u64;
  len: number;
}

/** A mapped scatterlist segment: DMA address and length. */
export interface DmaSegment {
  dma: u64;
  len: number;
}

/**
 * The DMA API a driver calls (include/linux/dma-mapping.h), dispatched per
 * device to dma-direct (+ swiotlb) or iommu-dma by `dev.dmaOps`.
 * Errors follow the kernel: DMA_MAPPING_ERROR, undefined or 0 segments.
 */
export interface DmaApi {
  mapSingle(dev: KDevice, pa: u64, size: number, dir: DmaDirection): u64;
  unmapSingle(dev: KDevice, dma: u64, size: number, dir: DmaDirection): void;
  mapSg(dev: KDevice, sg: SgEntry[], dir: DmaDirection): DmaSegment[];
  unmapSg(dev: KDevice, segs: DmaSegment[], sg: SgEntry[], dir: DmaDirection): void;
  /** dma_alloc_coherent: zeroed memory; pa is the CPU-side physical address. */
  allocCoherent(dev: KDevice, size: number): { pa: u64; dma: u64 } | undefined;
  freeCoherent(dev: KDevice, size: number, pa: u64, dma: u64): void;
  syncSingleForCpu(dev: KDevice, dma: u64, size: number, dir: DmaDirection): void;
  syncSingleForDevice(dev: KDevice, dma: u64, size: number, dir: DmaDirection): void;
  /** dma_mapping_error(dev, addr) as a driver calls it (DMA-API debug notes the check); optional for test doubles. */
  mappingError?(dev: KDevice, addr: u64): boolean;
}
