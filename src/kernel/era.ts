/**
 * The kernel eras the lab models, one knob (`set kernel=...`) that sets
 * every era-dependent behaviour at once. Each subsystem keeps its own
 * history comment beside the behaviour; this table only maps the era to
 * their knobs.
 */
import type { VringDmaEra } from './virtio/env.ts';
import type { SmmuEra } from './arm-smmu-v3.ts';

export type KernelEra = '4.9' | '4.10-rc' | '4.10' | '6.1' | '6.x' | '4.11' | '4.12' | '4.13' | '5.14';

export interface EraInfo {
  /** major*100 + minor, as the iommu core and dma-iommu compare. */
  version: number;
  /** uname -r, for the banner. */
  release: string;
  smmu: SmmuEra;
  virtio: VringDmaEra;
  what: string;
  /**
   * What `show kernel` says about the era's DMA configuration (seed 003,
   * REFERENCE.md 9): when dma_configure runs and how the DMA range reaches
   * iommu_dma_init_domain. Optional: eras before the probe-deferral entries
   * say it through `what`.
   */
  dma?: string;
}

export const KERNEL_ERAS: Record<KernelEra, EraInfo> = {
  '4.9': { version: 409, release: '4.9.0', smmu: '2017', virtio: '4.9', what: 'v4.9 (Dec 2016): the ring uses the DMA API only for IOMMU_PLATFORM devices and Xen' },
  '4.10-rc': {
    version: 410,
    release: '4.10.0-rc4',
    smmu: '2017',
    virtio: '4.10-rc',
    what: 'v4.10-rc with "vring: Force use of DMA API for ARM-based systems with legacy devices" (Jan 2017)',
  },
  '4.10': { version: 410, release: '4.10.0', smmu: '2017', virtio: '4.10', what: 'v4.10 (Feb 2017): that patch reverted before the release' },
  '6.1': { version: 601, release: '6.1.0', smmu: 'current', virtio: '6.x', what: 'Linux 6.1 (Dec 2022, LTS)' },
  '6.x': {
    version: 615,
    release: '6.15.0',
    smmu: 'current',
    virtio: '6.x',
    what: 'current Linux: ACCESS_PLATFORM (or Xen) means the DMA API; arm-smmu-v3.disable_bypass gone (v6.10); SMMU events decoded in the log (v6.14)',
  },
  // Seed 003: the IOMMU probe deferral series and the coherent_dma_mask + 1
  // overflow (kernel/driver-core.ts, kernel/dma-iommu.ts dmaConfigureRange).
  '4.11': {
    version: 411,
    release: '4.11.0',
    smmu: '2017',
    virtio: '4.10',
    what: 'v4.11 (Apr 2017): before the IOMMU probe deferral series',
    dma: 'DMA configured once, when the PCI core creates the device (pci_device_add -> of/acpi_dma_configure, size = coherent_dma_mask + 1 from the fresh 32-bit mask); arm64 attaches the IOMMU at the first driver bind with that range; later binds configure nothing',
  },
  '4.12': {
    version: 412,
    release: '4.12.0',
    smmu: '2017',
    virtio: '4.10',
    what: 'v4.12 (Jul 2017): the IOMMU probe deferral series, as tested in the thread (V9 on v4.11-rc1), before the max() fix',
    dma: 'dma_configure at every really_probe, -EPROBE_DEFER while the IOMMU driver is not ready, dma_deconfigure at release; size = coherent_dma_mask + 1, which wraps to 0 for a 64-bit mask: "specified DMA range outside IOMMU capability". Which release first carried the max() fix is unverified: it may have been merged with the series itself',
  },
  '4.13': {
    version: 413,
    release: '4.13.0',
    smmu: '2017',
    virtio: '4.10',
    what: 'v4.13 (Sep 2017): the series with the fix from the thread',
    dma: 'dma_configure at every probe; size = max(coherent_dma_mask, coherent_dma_mask + 1): 0xffffffffffffffff for a 64-bit mask, one byte short of 2^64, so base + size no longer wraps',
  },
  '5.14': {
    version: 514,
    release: '5.14.0',
    smmu: 'current',
    virtio: '6.x',
    what: 'v5.14 (Aug 2021): iommu_setup_dma_ops() takes a limit, not a size ("iommu/dma: Pass address limit rather than size", VIOT series, iommu-updates-v5.14)',
    dma: 'dma_configure at every probe; iommu_dma_init_domain checks limit < aperture_start, limit = base + size - 1: a 64-bit mask passes with or without the max()',
  },
};

/** What an era does with DMA configuration (seed 003, REFERENCE.md 9), for `show kernel`. */
export function eraDmaStory(e: EraInfo): string {
  if (e.dma) return e.dma;
  if (e.version < 412) return 'DMA configured once, when the device was created (before the v4.12 probe-deferral series); later binds configure nothing';
  if (e.version >= 604) return 'dma_configure at every probe; iommu_dma_init_domain takes no base or size any more (≈v6.4): it checks only a firmware dma_range_map against the aperture';
  return 'dma_configure at every probe; iommu_dma_init_domain checks limit < aperture_start (v5.14+)';
}
